//! USB HID "keyboard wedge" scanners, read from their evdev node and **grabbed**: while
//! the kiosk holds the device, no other reader (the display backend, a console) sees its
//! keys, so a scan never types itself into whatever field has focus.

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use evdev::{Device, EventSummary, InputEvent, KeyCode};

use super::decode::{Frame, KeyDecoder, KeyStroke};
use super::scanner::{ScannerDevice, ScannerPort};
use crate::config::ScannerConfig;

/// A HID scanner at a device path (a udev symlink survives replugging into another port).
pub struct HidScanner {
    path: PathBuf,
    cfg: ScannerConfig,
}

impl HidScanner {
    pub fn new(cfg: &ScannerConfig) -> HidScanner {
        HidScanner { path: cfg.device.clone(), cfg: cfg.clone() }
    }
}

impl ScannerDevice for HidScanner {
    fn describe(&self) -> String {
        format!("HID scanner {}", self.path.display())
    }

    fn open(&mut self) -> io::Result<Box<dyn ScannerPort>> {
        let mut device = Device::open(&self.path).map_err(|e| with_path(e, &self.path, "cannot open"))?;
        if !device.supported_keys().is_some_and(|k| k.contains(KeyCode::KEY_ENTER)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a keyboard-like device (no Enter key); is it the scanner?", self.path.display()),
            ));
        }
        device.grab().map_err(|e| with_path(e, &self.path, "cannot grab (does another program hold it?)"))?;
        device.set_nonblocking(true)?;
        tracing::info!(path = %self.path.display(), name = device.name().unwrap_or("?"), "HID scanner grabbed");
        Ok(Box::new(HidPort { device, decoder: KeyDecoder::new(&self.cfg) }))
    }
}

fn with_path(e: io::Error, path: &std::path::Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

struct HidPort {
    /// Grabbed for as long as it is open; closing the fd releases the grab.
    device: Device,
    decoder: KeyDecoder,
}

impl ScannerPort for HidPort {
    fn read(&mut self, wait: Duration, out: &mut Vec<Frame>) -> io::Result<()> {
        if !wait_readable(self.device.as_raw_fd(), wait)? {
            return Ok(());
        }
        let events = match self.device.fetch_events() {
            Ok(events) => events,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            // ENODEV when unplugged.
            Err(e) => return Err(e),
        };
        for event in events {
            out.extend(key_stroke(event).and_then(|k| self.decoder.feed(k)));
        }
        Ok(())
    }
}

/// A key event as the decoder takes it; autorepeat (value 2) is not something a scanner
/// means, and other events (sync, LEDs, scan codes) carry no characters.
pub fn key_stroke(event: InputEvent) -> Option<KeyStroke> {
    match EventSummary::from(event) {
        EventSummary::Key(_, key, 1) => Some(KeyStroke::down(key)),
        EventSummary::Key(_, key, 0) => Some(KeyStroke::up(key)),
        _ => None,
    }
}

/// Waits until `fd` is readable, has hung up, or `wait` passes; `true` when there is
/// something to read (or an error to collect by reading).
fn wait_readable(fd: i32, wait: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    match n {
        -1 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evdev::EventType;

    #[test]
    fn key_events_become_strokes_and_the_rest_is_ignored() {
        let ev = |t: EventType, code: u16, value: i32| InputEvent::new(t.0, code, value);
        assert_eq!(key_stroke(ev(EventType::KEY, KeyCode::KEY_A.0, 1)), Some(KeyStroke::down(KeyCode::KEY_A)));
        assert_eq!(key_stroke(ev(EventType::KEY, KeyCode::KEY_A.0, 0)), Some(KeyStroke::up(KeyCode::KEY_A)));
        assert_eq!(key_stroke(ev(EventType::KEY, KeyCode::KEY_A.0, 2)), None, "autorepeat");
        assert_eq!(key_stroke(ev(EventType::SYNCHRONIZATION, 0, 0)), None);
        assert_eq!(key_stroke(ev(EventType::MISC, 4, 0x70004)), None, "MSC_SCAN");
    }

    #[test]
    fn a_missing_device_is_an_error_naming_the_path() {
        let cfg = ScannerConfig { device: "/nonexistent/omnikiosk-scanner".into(), ..ScannerConfig::default() };
        let err = HidScanner::new(&cfg).open().err().expect("no such device");
        assert!(err.to_string().contains("/nonexistent/omnikiosk-scanner"), "{err}");
    }

    #[test]
    fn a_file_that_is_no_input_device_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let cfg = ScannerConfig { device: file.path().to_path_buf(), ..ScannerConfig::default() };
        let err = HidScanner::new(&cfg).open().err().expect("a plain file is no scanner");
        assert!(err.to_string().contains(&file.path().display().to_string()), "{err}");
    }
}
