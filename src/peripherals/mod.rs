//! The devices around the screen: barcode scanners, the pickup light and buzzer, and the
//! optional receipt printer. Each is a narrow trait with a Raspberry Pi implementation and
//! a simulated one, chosen in `kiosk.toml`; only this module opens anything under `/dev`.
//!
//! - [`decode`]: scanner input → codes (pure: layouts, terminators, bounded buffer).
//! - [`scanner`]: the scanner trait, the reconnecting reader thread, the simulated scanner.
//! - [`hid`]: USB HID keyboard-wedge scanners (evdev, grabbed).
//! - [`rpi`]: everything on `rppal` — serial scanners and GPIO lines.
//! - [`indicator`]: alerts, their light-and-buzzer patterns, the driver thread.
//! - [`printer`]: ESC/POS pickup slips and receipts.
//! - [`report`]: the peripherals' state as `omnikiosk status` reads it.

pub mod decode;
pub mod hid;
pub mod indicator;
pub mod printer;
pub mod report;
pub mod rpi;
pub mod scanner;

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::config::{Config, IndicatorKind, ScannerKind};
use indicator::{Indicator, OutputLine, SimulatedLine};
use printer::SlipPrinter;
use scanner::{ScannerDevice, ScannerHandle};

/// Why a peripheral cannot be used. At start-up these stop the kiosk with one line that
/// names the pin or device and the config key.
#[derive(Debug, thiserror::Error)]
pub enum PeripheralError {
    #[error("{pin}: {reason}")]
    Gpio { pin: String, reason: String },
    #[error("printer {printer}: {reason}")]
    Printer { printer: String, reason: String },
}

/// The two output lines of the indicator.
type LightAndBuzzer = (Box<dyn OutputLine>, Box<dyn OutputLine>);

/// The peripherals of a running kiosk.
pub struct Peripherals {
    /// Codes from the scanner, decoded, until taken by whatever shows them (the window).
    pub scans: Option<Receiver<String>>,
    /// The scanner's reader thread, when a scanner is configured.
    pub scanner: Option<ScannerHandle>,
    pub indicator: Arc<Indicator>,
    /// The simulated light and buzzer, when the indicator is simulated.
    pub simulated_lines: Option<(SimulatedLine, SimulatedLine)>,
    /// The receipt printer, when enabled. A printer that is off or out of paper is an
    /// error at print time, never at start: the kiosk runs without one.
    pub printer: Option<Arc<Mutex<Box<dyn SlipPrinter>>>>,
}

impl Peripherals {
    /// Opens what `cfg` names. GPIO problems (a pin taken, not a Pi, no permission) stop
    /// the start with a clear error; a scanner that is not plugged in does not — the
    /// kiosk keeps trying to open it.
    pub fn start(cfg: &Config) -> Result<Peripherals, PeripheralError> {
        let device: Option<Box<dyn ScannerDevice>> = match cfg.scanner.kind {
            ScannerKind::None => None,
            ScannerKind::Hid => Some(Box::new(hid::HidScanner::new(&cfg.scanner))),
            ScannerKind::Serial => Some(Box::new(rpi::SerialScanner::new(&cfg.scanner))),
        };
        Peripherals::with_scanner(cfg, device)
    }

    /// As [`Peripherals::start`], with this scanner (the simulated one in tests and the demo).
    pub fn with_scanner(cfg: &Config, device: Option<Box<dyn ScannerDevice>>) -> Result<Peripherals, PeripheralError> {
        let ind = &cfg.indicator;
        let (lines, simulated_lines): (LightAndBuzzer, _) = match ind.kind {
            IndicatorKind::Simulated => {
                let (l, b) = (SimulatedLine::new("light"), SimulatedLine::new("buzzer"));
                ((Box::new(l.clone()), Box::new(b.clone())), Some((l, b)))
            }
            IndicatorKind::Gpio => {
                let gpio = rpi::GpioLines::open()?;
                let light = gpio.output("indicator.light_pin", ind.light_pin, ind.light_active_low)?;
                let buzzer = gpio.output("indicator.buzzer_pin", ind.buzzer_pin, ind.buzzer_active_low)?;
                ((light, buzzer), None)
            }
        };
        let printer = if cfg.printer.enabled {
            match printer::open(&cfg.printer) {
                Ok(p) => Some(Arc::new(Mutex::new(p))),
                Err(e) => {
                    tracing::warn!(error = %e, "printer not available; slips and receipts are skipped");
                    None
                }
            }
        } else {
            None
        };
        let (tx, scans) = scanner::scan_channel();
        let scanner = device.map(|d| scanner::spawn(d, &cfg.scanner, tx));
        Ok(Peripherals {
            scans: Some(scans),
            scanner,
            indicator: Arc::new(Indicator::start(lines.0, lines.1, ind.buzzer)),
            simulated_lines,
            printer,
        })
    }

    /// What `omnikiosk status` shows of the peripherals, readable from any thread.
    pub fn report_source(&self) -> ReportSource {
        ReportSource {
            scanner: self.scanner.as_ref().map(|s| s.state.clone()),
            indicator: self.indicator.clone(),
            printer: self.printer.is_some(),
        }
    }

    /// Stops taking scans and turns the light and buzzer off.
    pub fn stop(&mut self) {
        if let Some(s) = self.scanner.as_mut() {
            s.stop();
        }
        self.indicator.stop();
    }
}

/// Reads the peripherals' state for the report `omnikiosk status` shows.
#[derive(Clone)]
pub struct ReportSource {
    scanner: Option<tokio::sync::watch::Receiver<scanner::ScannerState>>,
    indicator: Arc<Indicator>,
    printer: bool,
}

impl ReportSource {
    pub fn report(&self) -> report::PeripheralsReport {
        report::PeripheralsReport {
            pid: std::process::id(),
            updated_at: crate::clock::unix_now(),
            scanner: self.scanner.as_ref().and_then(|s| serde_json::to_value(&*s.borrow()).ok()),
            indicator: serde_json::to_value(self.indicator.current())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            printer: self.printer.then(|| "enabled".to_string()),
        }
    }
}

/// A stop request that sleeping threads wake up for.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    pub fn raise(&self) {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0 .1.notify_all();
    }

    pub fn is_raised(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps for `d`, or less when the stop comes first.
    pub fn wait(&self, d: Duration) {
        let guard = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.0 .1.wait_timeout_while(guard, d, |stopped| !*stopped);
    }
}
