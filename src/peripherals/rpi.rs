//! Everything that uses `rppal`: serial scanners on a tty (USB-CDC or the Pi's UART) and
//! the GPIO lines of the pickup light and buzzer. `rppal` is retired upstream; moving to
//! `gpiocdev` (and a plain termios tty) means rewriting this file only.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rppal::gpio::{Gpio, OutputPin};
use rppal::uart::{Parity, Uart};

use super::decode::{Frame, SerialDecoder};
use super::indicator::OutputLine;
use super::scanner::{ScannerDevice, ScannerPort};
use super::PeripheralError;
use crate::config::{GpioPin, ScannerConfig};

/// A serial scanner: 8N1 at the configured speed, codes ended by CR/LF (or Tab).
pub struct SerialScanner {
    path: PathBuf,
    cfg: ScannerConfig,
}

impl SerialScanner {
    pub fn new(cfg: &ScannerConfig) -> SerialScanner {
        SerialScanner { path: cfg.device.clone(), cfg: cfg.clone() }
    }
}

impl ScannerDevice for SerialScanner {
    fn describe(&self) -> String {
        format!("serial scanner {}", self.path.display())
    }

    fn open(&mut self) -> io::Result<Box<dyn ScannerPort>> {
        let mut uart = Uart::with_path(&self.path, self.cfg.baud_rate, Parity::None, 8, 1)
            .map_err(|e| uart_error(e, &self.path))?;
        // Block up to 0.1 s for a first byte: a read slice never waits much past its end.
        uart.set_read_mode(0, Duration::from_millis(100)).map_err(|e| uart_error(e, &self.path))?;
        Ok(Box::new(SerialPort { uart, path: self.path.clone(), decoder: SerialDecoder::new(&self.cfg) }))
    }
}

fn uart_error(e: rppal::uart::Error, path: &std::path::Path) -> io::Error {
    match e {
        rppal::uart::Error::Io(io) => io::Error::new(io.kind(), format!("{}: {io}", path.display())),
        other => io::Error::other(format!("{}: {other}", path.display())),
    }
}

struct SerialPort {
    uart: Uart,
    path: PathBuf,
    decoder: SerialDecoder,
}

impl ScannerPort for SerialPort {
    fn read(&mut self, wait: Duration, out: &mut Vec<Frame>) -> io::Result<()> {
        let start = Instant::now();
        let mut buf = [0u8; 256];
        loop {
            let n = self.uart.read(&mut buf).map_err(|e| uart_error(e, &self.path))?;
            if n > 0 {
                self.decoder.feed(&buf[..n], out);
                continue;
            }
            // Nothing within 0.1 s — or a hung-up line, whose reads return nothing at
            // once forever. A USB scanner that went away takes its device node along; a
            // hung-up tty refuses ioctls.
            if !self.path.exists() {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} is gone", self.path.display())));
            }
            self.uart.input_len().map_err(|e| uart_error(e, &self.path))?;
            if start.elapsed() >= wait {
                return Ok(());
            }
        }
    }
}

/// Opens GPIO output lines, refusing a pin that is taken or absent with the config key
/// that named it.
pub struct GpioLines {
    gpio: Gpio,
}

impl GpioLines {
    pub fn open() -> Result<GpioLines, PeripheralError> {
        Gpio::new().map(|gpio| GpioLines { gpio }).map_err(|e| gpio_error(e, "indicator.kind", None))
    }

    /// The line `key` names, off. `active_low`: on means the pin goes low.
    pub fn output(&self, key: &'static str, pin: GpioPin, active_low: bool) -> Result<Box<dyn OutputLine>, PeripheralError> {
        let pin_out = self.gpio.get(pin.number()).map_err(|e| gpio_error(e, key, Some(pin)))?;
        let out = if active_low { pin_out.into_output_high() } else { pin_out.into_output_low() };
        Ok(Box::new(RpiLine { out, active_low }))
    }
}

struct RpiLine {
    out: OutputPin,
    active_low: bool,
}

impl OutputLine for RpiLine {
    fn set(&mut self, on: bool, _at: Duration) {
        if on != self.active_low {
            self.out.set_high();
        } else {
            self.out.set_low();
        }
    }
}

/// An `rppal` GPIO error as a start-up error a technician can act on.
pub fn gpio_error(e: rppal::gpio::Error, key: &'static str, pin: Option<GpioPin>) -> PeripheralError {
    use rppal::gpio::Error as E;
    let pin_text = pin.map(|p| format!("GPIO {} ({key})", p.number())).unwrap_or_else(|| key.to_string());
    let reason = match e {
        E::PinUsed(n) => format!("GPIO {n} is already in use by another output of the kiosk"),
        E::PinNotAvailable(n) => format!("GPIO {n} does not exist on this board"),
        E::PermissionDenied(path) => {
            format!("permission denied on {path}: the kiosk's user must be in the gpio group")
        }
        E::UnknownModel => "this is not a Raspberry Pi (the board cannot be identified); \
                            set indicator.kind = \"simulated\" to run without GPIO"
            .to_string(),
        other => other.to_string(),
    };
    PeripheralError::Gpio { pin: pin_text, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpio_errors_name_the_pin_and_the_config_key() {
        let pin = GpioPin::try_from(17).unwrap();
        let cases = [
            (rppal::gpio::Error::PinUsed(17), "GPIO 17 (indicator.light_pin)", "already in use"),
            (rppal::gpio::Error::PinNotAvailable(17), "GPIO 17 (indicator.light_pin)", "does not exist"),
            (rppal::gpio::Error::PermissionDenied("/dev/gpiomem".into()), "indicator.light_pin", "gpio group"),
            (rppal::gpio::Error::UnknownModel, "indicator.light_pin", "not a Raspberry Pi"),
        ];
        for (e, names, reason) in cases {
            let msg = gpio_error(e, "indicator.light_pin", Some(pin)).to_string();
            assert!(msg.contains(names) && msg.contains(reason), "{msg}");
        }
    }
}
