//! Running as a systemd service: readiness, watchdog and stopping notifications (no-ops
//! outside systemd), whether logs go to the journal, and where the running kiosk leaves
//! its peripherals' state for `omnikiosk status`.
//!
//! - [`window`]: the kiosk window as a service — scans from the scanner thread into the
//!   window, READY=1 once it shows, watchdog pings from a timer on the UI thread (a frozen
//!   UI stops them and systemd restarts the kiosk), and the orderly stop on SIGTERM.
//! - [`desk`]: the pickup light, buzzer and slip printer following the desk's signals.

pub mod desk;
pub mod window;

pub use crate::peripherals::report::{report_path, PeripheralsReport};

use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sd_notify::NotifyState;

/// Tells the service manager how the kiosk is doing.
#[derive(Clone)]
pub enum Notifier {
    /// systemd's `$NOTIFY_SOCKET`; nothing happens when it is not set.
    Systemd,
    /// Keeps the messages, for tests.
    Recording(Arc<Mutex<Vec<String>>>),
}

impl Notifier {
    pub fn recording() -> Notifier {
        Notifier::Recording(Arc::default())
    }

    /// The messages sent so far (a recording notifier only).
    pub fn sent(&self) -> Vec<String> {
        match self {
            Notifier::Systemd => Vec::new(),
            Notifier::Recording(r) => r.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Started and serving (for the app: the window shows).
    pub fn ready(&self) {
        self.send(NotifyState::Ready, "READY=1");
    }

    /// Still alive; sent more often than `WatchdogSec=`.
    pub fn watchdog(&self) {
        self.send(NotifyState::Watchdog, "WATCHDOG=1");
    }

    /// Shutting down on purpose: no restart is needed for this exit.
    pub fn stopping(&self) {
        self.send(NotifyState::Stopping, "STOPPING=1");
    }

    fn send(&self, state: NotifyState, text: &str) {
        match self {
            Notifier::Systemd => {
                if let Err(e) = sd_notify::notify(&[state]) {
                    tracing::warn!(error = %e, message = text, "cannot notify systemd");
                }
            }
            Notifier::Recording(r) => r.lock().unwrap_or_else(|p| p.into_inner()).push(text.to_string()),
        }
    }
}

/// How often to ping the watchdog: half of systemd's `WatchdogSec=`, or never when the
/// service has no watchdog (or the kiosk runs by hand).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2).filter(|d| !d.is_zero())
}

/// Whether stderr is connected to the journal (systemd sets `JOURNAL_STREAM` to the
/// device and inode of that stream), so logs should go to journald with their fields.
/// A child whose stderr was redirected elsewhere inherits the variable but not the
/// stream, hence the comparison.
pub fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else { return false };
    journal_stream_matches(&value.to_string_lossy(), meta.dev(), meta.ino())
}

fn journal_stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    value.split_once(':').and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?))) == Some((dev, ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_is_recognised_only_for_our_own_stderr() {
        assert!(journal_stream_matches("8:12345", 8, 12345));
        assert!(!journal_stream_matches("8:12345", 8, 12346));
        assert!(!journal_stream_matches("garbage", 8, 12345));
        assert!(!journal_stream_matches("", 0, 0));
    }
}
