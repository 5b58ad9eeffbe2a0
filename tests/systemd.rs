//! The kiosk as systemd runs it: both unit files pass `systemd-analyze verify` with no
//! warning about them; the real binaries send READY=1, WATCHDOG=1 and STOPPING=1 to a
//! notify socket; `omnikiosk run` under a virtual X server reads a serial scanner (a pty),
//! shows its state in `status`, and stops cleanly on SIGTERM; and a kiosk that cannot
//! start (no display, no GPIO, a wrong pin) says why in one line and exits non-zero.

mod support;

use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use omnikiosk_hub::SeedOptions;
use serde_json::Value;
use support::{stderr, Kiosk, TestHub};

const UNITS: [&str; 2] = ["omnikiosk.service", "omnikiosk-hub.service"];

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd").join(name)).unwrap()
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

#[test]
fn both_units_verify_without_warnings() {
    let Some(analyze) = which("systemd-analyze") else {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian package `systemd`; .ci/run installs it)");
        return;
    };
    // verify insists that ExecStart's binary exists: point the units at the ones just built.
    let dir = tempfile::tempdir().unwrap();
    let kiosk_bin = Path::new(env!("CARGO_BIN_EXE_omnikiosk"));
    // The hub's binary is another package's; `cargo test --workspace` builds it beside ours.
    let hub_bin = kiosk_bin.with_file_name("omnikiosk-hub");
    let hub_bin = if hub_bin.is_file() {
        hub_bin
    } else {
        eprintln!("note: {} is not built; verifying the hub unit against the kiosk binary", hub_bin.display());
        kiosk_bin.to_path_buf()
    };
    for name in UNITS {
        let text = unit_text(name)
            .replace("/usr/bin/omnikiosk-hub ", &format!("{} ", hub_bin.display()))
            .replace("/usr/bin/omnikiosk ", &format!("{} ", env!("CARGO_BIN_EXE_omnikiosk")));
        assert!(text.contains(env!("CARGO_BIN_EXE_omnikiosk")), "{name}: ExecStart not rewritten");
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new(analyze)
        .arg("verify")
        .args(UNITS.iter().map(|u| dir.path().join(u)))
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("omnikiosk")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify has something to say about our units:\n{text}");
    assert!(out.status.success(), "systemd-analyze verify failed:\n{text}");
}

/// What the units promise; each line is something an operator relies on.
#[test]
fn the_kiosk_unit_is_a_watched_hardened_notify_service() {
    let unit = unit_text("omnikiosk.service");
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=/usr/bin/omnikiosk run --config /etc/omnikiosk/kiosk.toml",
        "Environment=OMNIKIOSK_DATA_DIR=/var/lib/omnikiosk",
        "Restart=always",
        "StateDirectory=omnikiosk",
        "ConfigurationDirectory=omnikiosk",
        "User=omnikiosk",
        "SupplementaryGroups=input video render gpio dialout lp",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=no",
        "DeviceAllow=char-drm rw",
        "DeviceAllow=char-input rw",
        "DeviceAllow=char-gpiochip rw",
        "DeviceAllow=char-ttyAMA rw",
        "DeviceAllow=char-ttyACM rw",
        "DeviceAllow=char-usb rw",
    ] {
        assert!(unit.lines().any(|l| l == line), "omnikiosk.service lacks {line:?}");
    }
    let watchdog: u64 = unit.lines().find_map(|l| l.strip_prefix("WatchdogSec=")).unwrap().parse().unwrap();
    assert!((10..=120).contains(&watchdog), "WatchdogSec={watchdog}");
    let hub = unit_text("omnikiosk-hub.service");
    for line in ["User=omnikiosk-hub", "StateDirectory=omnikiosk-hub", "Restart=always"] {
        assert!(hub.lines().any(|l| l == line), "omnikiosk-hub.service lacks {line:?}");
    }
    assert!(hub.contains("ExecStart=/usr/bin/omnikiosk-hub serve --db ") && hub.contains(" --listen "));
}

/// A stand-in for systemd's notify socket.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        NotifySocket { _dir: dir, path, socket, seen: Vec::new() }
    }

    /// Waits until `message` arrives (every message is kept, in order).
    fn wait_for(&mut self, message: &str, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.seen.iter().any(|m| m == message) {
            assert!(Instant::now() < deadline, "no {message} within 60 s; got {:?}", self.seen);
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                use std::io::Read;
                let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                panic!("the kiosk exited ({status}) before {message}: {err}");
            }
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.seen.extend(String::from_utf8_lossy(&buf[..n]).lines().map(str::to_string));
            }
        }
    }
}

/// Under systemd: notify socket, a 1 s watchdog (pings every 0.5 s), logs to stderr.
fn as_service(cmd: &mut Command, notify: &NotifySocket) {
    cmd.env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
}

fn terminate(child: &Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("the kiosk did not stop within 30 s of SIGTERM:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sync_daemon_notifies_systemd_and_stops_cleanly_on_sigterm() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 20, products: 10, orders: 3, seed: 5 }).await;
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    let mut notify = NotifySocket::new();
    let mut cmd = kiosk.command();
    cmd.arg("sync");
    as_service(&mut cmd, &notify);
    let mut child = cmd.spawn().unwrap();
    tokio::task::block_in_place(|| {
        notify.wait_for("READY=1", &mut child);
        notify.wait_for("WATCHDOG=1", &mut child);
        terminate(&child);
        notify.wait_for("STOPPING=1", &mut child);
        assert!(wait_exit(&mut child).success(), "SIGTERM is an orderly stop: exit 0");
    });
    let ready = notify.seen.iter().position(|m| m == "READY=1").unwrap();
    let stopping = notify.seen.iter().position(|m| m == "STOPPING=1").unwrap();
    assert!(ready < stopping, "{:?}", notify.seen);
}

/// A pty standing in for a serial scanner; the test writes what the scanner sends.
struct Pty {
    master: std::fs::File,
    slave: PathBuf,
}

fn open_pty() -> Pty {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two fds; the slave is closed once its path is known.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0);
    let path = std::fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
    unsafe { libc::close(slave) };
    Pty { master: unsafe { std::fs::File::from_raw_fd(master) }, slave: path }
}

/// A virtual X server for the window, on a display number of its own.
struct Xvfb(Child, String);

impl Xvfb {
    fn start() -> Option<Xvfb> {
        let xvfb = which("Xvfb")?;
        for n in 90..120 {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let child = Command::new(&xvfb)
                .arg(format!(":{n}"))
                .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Some(Xvfb(child, format!(":{n}")));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        None
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn status(kiosk: &Kiosk) -> Value {
    kiosk.json(&["status", "--json"]).await
}

/// Polls `status --json` until `ok` holds for it.
async fn wait_status(kiosk: &Kiosk, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(kiosk).await;
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "status never showed {what}: {}", s["peripherals"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kiosk_window_runs_as_a_service_with_a_serial_scanner() {
    let Some(x) = Xvfb::start() else {
        eprintln!("SKIPPED: Xvfb is not installed (Debian package `xvfb`; .ci/run installs it)");
        return;
    };
    // No orders: nothing to pick, so the light has only the network to show.
    let mut hub = TestHub::start(SeedOptions { stores: 1, customers: 30, products: 10, orders: 0, seed: 6 }).await;
    let dir = tempfile::tempdir().unwrap();
    let stable = dir.path().join("omnikiosk-scanner");
    let mut pty = open_pty();
    std::os::unix::fs::symlink(&pty.slave, &stable).unwrap();
    let kiosk = Kiosk::with_config(&format!(
        "[scanner]\nkind = \"serial\"\ndevice = \"{}\"\nreconnect_initial_ms = 50\nreconnect_max_ms = 200\n",
        stable.display()
    ));
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    hub.stop().await; // offline from here: what the kiosk does stays in its outbox
    let card = kiosk.query_strings("SELECT card FROM loyalty_cards ORDER BY card LIMIT 1").remove(0);

    let mut notify = NotifySocket::new();
    let mut cmd = kiosk.command();
    cmd.arg("run").env("DISPLAY", &x.1).env_remove("WAYLAND_DISPLAY").env("OMNIKIOSK_LOG", "info");
    as_service(&mut cmd, &notify);
    let mut child = cmd.spawn().unwrap();
    tokio::task::block_in_place(|| {
        notify.wait_for("READY=1", &mut child);
        notify.wait_for("WATCHDOG=1", &mut child);
    });

    // The scanner is connected, and the status says so.
    let s = wait_status(&kiosk, "the scanner connected", |s| s["peripherals"]["scanner"]["state"] == "connected").await;
    assert!(s["peripherals"]["scanner"]["device"].as_str().unwrap().contains("omnikiosk-scanner"));

    // A shopper scans her card on the serial scanner: the window takes it like a typed
    // scan and records the visit (offline, so it waits in the outbox).
    pty.master.write_all(format!("{card}\r\n").as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kiosk.query_strings("SELECT name FROM outbox").iter().any(|n| n == "visit.seen") {
        assert!(Instant::now() < deadline, "the scan never reached the window");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Offline: the light says so.
    wait_status(&kiosk, "the light showing offline", |s| s["peripherals"]["indicator"] == "offline").await;

    // Unplugged: the kiosk keeps running and the status says the scanner is gone.
    drop(pty);
    std::fs::remove_file(&stable).unwrap();
    let s = wait_status(&kiosk, "the scanner disconnected", |s| s["peripherals"]["scanner"]["state"] == "disconnected").await;
    assert!(s["peripherals"]["scanner"]["since"].as_i64().unwrap() > 0);
    assert!(child.try_wait().unwrap().is_none(), "the kiosk keeps running without its scanner");

    // Plugged back in: picked up again.
    let pty = open_pty();
    std::os::unix::fs::symlink(&pty.slave, &stable).unwrap();
    wait_status(&kiosk, "the scanner connected again", |s| s["peripherals"]["scanner"]["state"] == "connected").await;

    tokio::task::block_in_place(|| {
        terminate(&child);
        notify.wait_for("STOPPING=1", &mut child);
        let status = wait_exit(&mut child);
        assert!(status.success(), "SIGTERM is an orderly stop: {status}");
    });
    let s = status(&kiosk).await;
    assert!(s["peripherals"].is_null(), "a stopped kiosk reports no peripherals: {}", s["peripherals"]);
    drop(pty);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kiosk_that_cannot_start_says_why_in_one_line() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 10, products: 5, orders: 1, seed: 7 }).await;
    let cases: &[(&str, &[&str])] = &[
        // No display at all (a Pi booted without its screen, a service started too early).
        ("", &["no display", "DISPLAY"]),
        // GPIO wanted on a machine that is not a Pi: refused before any window opens.
        ("[indicator]\nkind = \"gpio\"\n", &["indicator", "not a Raspberry Pi"]),
        // A physical pin number where a BCM GPIO number belongs.
        ("[indicator]\nkind = \"gpio\"\nlight_pin = 40\n", &["line 3", "GPIO 40"]),
        ("[indicator]\nkind = \"gpio\"\nlight_pin = 5\nbuzzer_pin = 5\n", &["indicator.buzzer_pin", "GPIO 5"]),
        ("[scaner]\nkind = \"hid\"\n", &["line 1", "scaner"]),
    ];
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    let config = kiosk.dir.path().join("kiosk.toml");
    for (toml, wanted) in cases {
        std::fs::write(&config, toml).unwrap();
        let mut cmd = kiosk.command();
        cmd.arg("run").arg("--config").arg(&config).env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{toml:?}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(last.starts_with("omnikiosk: "), "{toml:?}: {err}");
        for w in *wanted {
            assert!(last.contains(w), "{toml:?}: {last:?} should mention {w:?}");
        }
    }
}
