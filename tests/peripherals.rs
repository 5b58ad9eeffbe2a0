//! Scanners as a technician meets them: a serial scanner fed through a pty (the kiosk
//! opens the pty's slave with `rppal::uart`, exactly as it opens `/dev/ttyACM0`), noise
//! and 4 KB bursts on the line, and the scanner unplugged and plugged back — the kiosk
//! keeps running, reopens it, and its state says so all along.

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use omnikiosk::config::{ScannerConfig, ScannerKind};
use omnikiosk::peripherals::rpi::SerialScanner;
use omnikiosk::peripherals::scanner::{self, ScannerLink, ScannerState, SimulatedScanner};
use tokio::sync::watch;

/// A pseudo-terminal: the test writes to `master` what a scanner would send.
struct Pty {
    master: File,
    slave_path: PathBuf,
}

fn open_pty() -> Pty {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds; no name buffer, default termios and size.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    let slave_path = std::fs::read_link(format!("/proc/self/fd/{slave}")).expect("the slave's path");
    // SAFETY: we own both fds; the slave is closed at once (the kiosk opens it by path).
    unsafe { libc::close(slave) };
    Pty { master: unsafe { File::from_raw_fd(master) }, slave_path }
}

/// Points the stable name at a device, as udev's symlink rule does on plug-in.
fn link(stable: &Path, device: &Path) {
    let _ = std::fs::remove_file(stable);
    std::os::unix::fs::symlink(device, stable).unwrap();
}

fn serial_config(device: &Path) -> ScannerConfig {
    ScannerConfig {
        kind: ScannerKind::Serial,
        device: device.to_path_buf(),
        reconnect_initial_ms: 20,
        reconnect_max_ms: 200,
        ..ScannerConfig::default()
    }
}

/// Waits (up to a generous bound, for a loaded CI machine) until the state matches.
fn wait_state(state: &watch::Receiver<ScannerState>, what: &str, ok: impl Fn(&ScannerLink) -> bool) -> ScannerLink {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let link = state.borrow().link.clone();
        if ok(&link) {
            return link;
        }
        assert!(Instant::now() < deadline, "scanner never became {what}: {link:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn next_scan(scans: &Receiver<String>) -> String {
    scans.recv_timeout(Duration::from_secs(20)).expect("a scan")
}

#[test]
fn a_serial_scanner_reads_through_noise_and_survives_being_unplugged() {
    let dir = tempfile::tempdir().unwrap();
    let stable = dir.path().join("omnikiosk-scanner");
    let mut pty = open_pty();
    link(&stable, &pty.slave_path);
    let cfg = serial_config(&stable);
    let (tx, scans) = scanner::scan_channel();
    let mut handle = scanner::spawn(Box::new(SerialScanner::new(&cfg)), &cfg, tx);
    wait_state(&handle.state, "connected", |l| matches!(l, ScannerLink::Connected { .. }));
    assert!(handle.state.borrow().device.contains("omnikiosk-scanner"));

    pty.master.write_all(b"0420000000068\r\n").unwrap();
    assert_eq!(next_scan(&scans), "0420000000068");

    // Line noise, a 4 KB burst with no terminator, then a good scan: only the good scan
    // comes through, and the reader is still there.
    pty.master.write_all(b"\x00\xff\x1b[2J noise\r").unwrap();
    pty.master.write_all(&[b'9'; 4096]).unwrap();
    pty.master.write_all(b"\r310270\r").unwrap();
    assert_eq!(next_scan(&scans), "310270");

    // Unplugged: the device goes away (and its udev symlink with it).
    drop(pty);
    std::fs::remove_file(&stable).unwrap();
    let gone = wait_state(&handle.state, "disconnected", |l| matches!(l, ScannerLink::Disconnected { .. }));
    let ScannerLink::Disconnected { reason, .. } = gone else { unreachable!() };
    assert!(!reason.is_empty());
    assert!(scans.try_recv().is_err(), "no scan out of nowhere");

    // Plugged back (a new tty, the same stable name): read again without a restart.
    let mut pty = open_pty();
    link(&stable, &pty.slave_path);
    wait_state(&handle.state, "connected again", |l| matches!(l, ScannerLink::Connected { .. }));
    pty.master.write_all(b"K1.abc.def\r\n").unwrap();
    assert_eq!(next_scan(&scans), "K1.abc.def");

    handle.stop();
    pty.master.write_all(b"0420000000075\r").unwrap();
    assert!(scans.recv_timeout(Duration::from_millis(300)).is_err(), "a stopped scanner takes no scans");
}

#[test]
fn a_scanner_that_is_not_plugged_in_at_start_is_picked_up_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let stable = dir.path().join("omnikiosk-scanner");
    let cfg = serial_config(&stable);
    let (tx, scans) = scanner::scan_channel();
    let mut handle = scanner::spawn(Box::new(SerialScanner::new(&cfg)), &cfg, tx);
    let link_state = wait_state(&handle.state, "disconnected", |l| matches!(l, ScannerLink::Disconnected { .. }));
    let ScannerLink::Disconnected { reason, .. } = link_state else { unreachable!() };
    assert!(reason.contains("omnikiosk-scanner"), "the reason names the device: {reason}");

    let mut pty = open_pty();
    link(&stable, &pty.slave_path);
    wait_state(&handle.state, "connected", |l| matches!(l, ScannerLink::Connected { .. }));
    pty.master.write_all(b"0420000000068\n").unwrap();
    assert_eq!(next_scan(&scans), "0420000000068");
    handle.stop();
}

#[test]
fn the_simulated_scanner_goes_through_the_same_decoder_and_can_be_unplugged() {
    let cfg = ScannerConfig { reconnect_initial_ms: 10, reconnect_max_ms: 50, ..ScannerConfig::default() };
    let (device, sim) = SimulatedScanner::new(&cfg);
    let (tx, scans) = scanner::scan_channel();
    let mut handle = scanner::spawn(Box::new(device), &cfg, tx);
    wait_state(&handle.state, "connected", |l| matches!(l, ScannerLink::Connected { .. }));
    sim.send_raw(&vec![b'x'; 4096]);
    sim.send_raw(b"\r");
    sim.scan("0420000000068");
    assert_eq!(next_scan(&scans), "0420000000068");
    sim.unplug();
    wait_state(&handle.state, "disconnected", |l| matches!(l, ScannerLink::Disconnected { .. }));
    sim.scan("0420000000075"); // an unplugged scanner sends nothing
    sim.plug();
    wait_state(&handle.state, "connected", |l| matches!(l, ScannerLink::Connected { .. }));
    sim.scan("310270");
    assert_eq!(next_scan(&scans), "310270");
    handle.stop();
}

/// `hardware/kiosk.toml` is what the package installs as /etc/omnikiosk/kiosk.toml: it
/// must load with the real loader, hold exactly the defaults, and name every option the
/// code has — so the example can never drift from the code.
#[test]
fn the_example_config_loads_and_documents_every_option() {
    use omnikiosk::config::Config;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/kiosk.toml");
    let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let installed = Config { data_dir: Some("/var/lib/omnikiosk".into()), ..Config::default() };
    assert_eq!(cfg, installed, "the example shows the defaults, and the service's data dir");

    fn keys(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                keys(&key, v, out);
                out.push(key);
            }
        }
    }
    let (mut wanted, mut written) = (Vec::new(), Vec::new());
    keys("", &toml::Value::try_from(Config::default()).unwrap(), &mut wanted);
    keys("", &toml::from_str::<toml::Value>(&std::fs::read_to_string(&path).unwrap()).unwrap(), &mut written);
    let missing: Vec<_> = wanted.iter().filter(|k| !written.contains(k)).collect();
    assert!(missing.is_empty(), "hardware/kiosk.toml does not document {missing:?}");
}

#[test]
fn the_udev_rules_name_the_scanner_and_give_the_kiosk_its_devices() {
    let rules = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/99-omnikiosk.rules")).unwrap();
    for vendor in ["0c2e", "05e0", "05f9", "1eab"] {
        assert!(rules.contains(vendor), "scanner vendor {vendor}");
    }
    for needle in ["SYMLINK+=\"omnikiosk-scanner\"", "GROUP=\"input\"", "GROUP=\"gpio\"", "GROUP=\"dialout\"", "LIBINPUT_CALIBRATION_MATRIX"] {
        assert!(rules.contains(needle), "{needle}");
    }
    // Every rule line is key-op-value pairs separated by commas (a stray character makes
    // udev skip the whole line, silently).
    for line in rules.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        for pair in line.split(", ") {
            assert!(pair.contains("==") || pair.contains("+=") || pair.contains('='), "{line}");
        }
    }
}
