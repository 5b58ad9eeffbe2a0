//! Barcode scanners: the narrow trait every kind implements (open, then read decoded
//! frames), the thread that keeps one open — reopening it with backoff after it is
//! unplugged, while the kiosk keeps running — and the simulated scanner tests and the
//! demo use. The HID kind is in `hid.rs`, the serial kind in `rpi.rs`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::decode::{Frame, SerialDecoder};
use super::StopSignal;
use crate::clock::unix_now;
use crate::config::ScannerConfig;
use crate::backoff::Backoff;

/// How long one read waits before the thread looks at the stop signal again.
const READ_SLICE: Duration = Duration::from_millis(200);

/// Scans waiting for the screen; more than this means the UI is stuck, and a stuck UI
/// must not make the kiosk hoard scans it will show out of context later.
pub const SCAN_QUEUE: usize = 32;

/// An open scanner.
pub trait ScannerPort: Send {
    /// Waits up to `wait` for input and appends what it decodes to `out`. An error means
    /// the device is gone (unplugged, powered off) and has to be opened again.
    fn read(&mut self, wait: Duration, out: &mut Vec<Frame>) -> io::Result<()>;
}

/// A scanner the kiosk can open, and open again after it went away.
pub trait ScannerDevice: Send + 'static {
    /// What it is, for logs and `status`: "HID scanner /dev/omnikiosk-scanner".
    fn describe(&self) -> String;
    fn open(&mut self) -> io::Result<Box<dyn ScannerPort>>;
}

/// Whether the scanner is there, as `status` and the logs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScannerLink {
    /// Not opened yet.
    Starting,
    /// Open and read; `since` is Unix seconds.
    Connected { since: i64 },
    /// Not there, since `since`; the kiosk keeps trying to open it.
    Disconnected { since: i64, reason: String },
}

/// What the app knows of its scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannerState {
    pub device: String,
    #[serde(flatten)]
    pub link: ScannerLink,
}

/// A running scanner thread.
pub struct ScannerHandle {
    /// The scanner's state, updated by its thread.
    pub state: watch::Receiver<ScannerState>,
    stop: StopSignal,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ScannerHandle {
    /// Stops reading (no scan is taken after this returns) and waits for the thread.
    pub fn stop(&mut self) {
        self.stop.raise();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ScannerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the thread that keeps `device` open and sends each scanned code to `scans`.
pub fn spawn(mut device: Box<dyn ScannerDevice>, cfg: &ScannerConfig, scans: SyncSender<String>) -> ScannerHandle {
    let name = device.describe();
    let (state_tx, state_rx) = watch::channel(ScannerState { device: name.clone(), link: ScannerLink::Starting });
    let stop = StopSignal::default();
    let mut backoff =
        Backoff::new(Duration::from_millis(cfg.reconnect_initial_ms), Duration::from_millis(cfg.reconnect_max_ms));
    let thread_stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name("scanner".into())
        .spawn(move || {
            let set = |link: ScannerLink| {
                state_tx.send_modify(|s| s.link = link);
            };
            while !thread_stop.is_raised() {
                let mut port = match device.open() {
                    Ok(port) => port,
                    Err(e) => {
                        let reason = e.to_string();
                        let changed = !matches!(&state_tx.borrow().link, ScannerLink::Disconnected { reason: r, .. } if *r == reason);
                        if changed {
                            tracing::warn!(scanner = %name, error = %reason, "scanner not available; retrying");
                            set(ScannerLink::Disconnected { since: unix_now(), reason });
                        }
                        thread_stop.wait(backoff.next_delay());
                        continue;
                    }
                };
                backoff.reset();
                tracing::info!(scanner = %name, "scanner connected");
                set(ScannerLink::Connected { since: unix_now() });
                let mut frames = Vec::new();
                while !thread_stop.is_raised() {
                    if let Err(e) = port.read(READ_SLICE, &mut frames) {
                        tracing::warn!(scanner = %name, error = %e, "scanner disconnected; waiting for it to come back");
                        set(ScannerLink::Disconnected { since: unix_now(), reason: e.to_string() });
                        break;
                    }
                    for frame in frames.drain(..) {
                        match frame {
                            Frame::Scan(code) if !thread_stop.is_raised() => match scans.try_send(code) {
                                Ok(()) => {}
                                Err(TrySendError::Full(_)) => {
                                    tracing::warn!(scanner = %name, "the screen is not taking scans; scan dropped")
                                }
                                // Nobody listens any more: the app is stopping.
                                Err(TrySendError::Disconnected(_)) => return,
                            },
                            Frame::Scan(_) => {}
                            Frame::Discarded(reason) => tracing::warn!(scanner = %name, %reason, "scanner input discarded"),
                        }
                    }
                }
            }
        })
        .expect("spawning the scanner thread");
    ScannerHandle { state: state_rx, stop, thread: Some(thread) }
}

/// The channel scans travel in, from any scanner to the screen.
pub fn scan_channel() -> (SyncSender<String>, Receiver<String>) {
    mpsc::sync_channel(SCAN_QUEUE)
}

/// A scanner that lives in the process: tests and the demo "scan" with its handle, and
/// can unplug and plug it back. Its bytes go through the same decoder as a serial
/// scanner's.
pub struct SimulatedScanner {
    cfg: ScannerConfig,
    shared: Arc<Simulated>,
}

struct Simulated {
    plugged: AtomicBool,
    bytes: Mutex<Receiver<Vec<u8>>>,
}

/// Drives a [`SimulatedScanner`] from a test or the demo.
#[derive(Clone)]
pub struct SimulatedScannerHandle {
    shared: Arc<Simulated>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl SimulatedScanner {
    pub fn new(cfg: &ScannerConfig) -> (SimulatedScanner, SimulatedScannerHandle) {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Simulated { plugged: AtomicBool::new(true), bytes: Mutex::new(rx) });
        (SimulatedScanner { cfg: cfg.clone(), shared: shared.clone() }, SimulatedScannerHandle { shared, tx })
    }
}

impl SimulatedScannerHandle {
    /// Scans `code`, with the Enter the scanner sends after it.
    pub fn scan(&self, code: &str) {
        self.send_raw(format!("{code}\r").as_bytes());
    }

    /// Sends bytes as they are: noise, bursts, half a scan. An unplugged scanner sends
    /// nothing.
    pub fn send_raw(&self, bytes: &[u8]) {
        if self.shared.plugged.load(Ordering::SeqCst) {
            let _ = self.tx.send(bytes.to_vec());
        }
    }

    pub fn unplug(&self) {
        self.shared.plugged.store(false, Ordering::SeqCst);
    }

    pub fn plug(&self) {
        self.shared.plugged.store(true, Ordering::SeqCst);
    }
}

impl ScannerDevice for SimulatedScanner {
    fn describe(&self) -> String {
        "simulated scanner".into()
    }

    fn open(&mut self) -> io::Result<Box<dyn ScannerPort>> {
        if !self.shared.plugged.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "simulated scanner is unplugged"));
        }
        Ok(Box::new(SimulatedPort { shared: self.shared.clone(), decoder: SerialDecoder::new(&self.cfg) }))
    }
}

struct SimulatedPort {
    shared: Arc<Simulated>,
    decoder: SerialDecoder,
}

impl ScannerPort for SimulatedPort {
    fn read(&mut self, wait: Duration, out: &mut Vec<Frame>) -> io::Result<()> {
        if !self.shared.plugged.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "simulated scanner was unplugged"));
        }
        let bytes = self.shared.bytes.lock().unwrap_or_else(|p| p.into_inner()).recv_timeout(wait);
        if let Ok(bytes) = bytes {
            self.decoder.feed(&bytes, out);
        }
        Ok(())
    }
}
