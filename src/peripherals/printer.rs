//! The optional receipt printer: ESC/POS pickup slips (what a shopper takes to the desk
//! after "I'm here": order, pickup code and its QR) and handover receipts, laid out here
//! and sent through an `escpos` driver — a USB printer's device file, a network printer,
//! or, in tests, a driver that keeps the bytes.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use escpos::driver::{Driver, FileDriver, NetworkDriver};
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};
use jiff::tz::TimeZone;

use super::PeripheralError;
use crate::clock::date_time;
use crate::config::PrinterConfig;

/// A slip for the shopper: show it (or scan its QR) at the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickupSlip {
    pub order_id: String,
    /// The shopper's first name and last-name initial, as the kiosk caches them.
    pub customer: String,
    pub pickup_code: String,
    /// Item lines: "2 × Oat milk 1 l".
    pub lines: Vec<String>,
    /// When it was printed, as the store reads its clock.
    pub printed_at: String,
}

/// What was handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub order_id: String,
    pub lines: Vec<String>,
    pub handed_over_at: String,
    pub staff_id: String,
}

/// Prints slips and receipts.
pub trait SlipPrinter: Send {
    fn pickup_slip(&mut self, slip: &PickupSlip) -> Result<(), PeripheralError>;
    fn receipt(&mut self, receipt: &Receipt) -> Result<(), PeripheralError>;
    /// A till receipt; `copy` is the reprint's number, `None` for the original.
    /// `qr` is the receipt's signed code (`LocalStore::receipt_code`), which opens its e-receipt;
    /// its time is printed on the store's clock (`zone`).
    fn sale_receipt(&mut self, receipt: &omnikiosk_protocol::till::Receipt, qr: &str, copy: Option<i64>, zone: &TimeZone) -> Result<(), PeripheralError>;
    /// A shift's close: the Z report, its opening and closing on the store's clock.
    fn z_report(&mut self, z: &omnikiosk_protocol::shift::ZReport, zone: &TimeZone) -> Result<(), PeripheralError>;
}

/// An ESC/POS printer behind any `escpos` driver.
pub struct EscPos<D: Driver> {
    driver: D,
    cfg: PrinterConfig,
}

impl<D: Driver> EscPos<D> {
    pub fn new(driver: D, cfg: &PrinterConfig) -> EscPos<D> {
        EscPos { driver, cfg: cfg.clone() }
    }

    fn print(&mut self, what: &str, layout: impl FnOnce(&mut Printer<D>) -> escpos::errors::Result<()>) -> Result<(), PeripheralError>
    where
        D: Clone,
    {
        let mut p = Printer::new(self.driver.clone(), Protocol::default(), None);
        let result = (|| {
            p.init()?;
            if !self.cfg.header.is_empty() {
                p.justify(JustifyMode::CENTER)?.bold(true)?.writeln(&ascii(&self.cfg.header))?.bold(false)?;
            }
            layout(&mut p)?;
            p.feeds(3)?.partial_cut()?.print()?;
            Ok(())
        })();
        result.map_err(|e: escpos::errors::PrinterError| PeripheralError::Printer {
            printer: self.driver.name(),
            reason: format!("{what} not printed: {e}"),
        })
    }
}

impl<D: Driver + Clone + Send> SlipPrinter for EscPos<D> {
    fn pickup_slip(&mut self, slip: &PickupSlip) -> Result<(), PeripheralError> {
        let width = self.cfg.chars_per_line;
        self.print("pickup slip", |p| {
            p.justify(JustifyMode::CENTER)?
                .writeln(&format!("Order {}", ascii(&slip.order_id)))?
                .writeln(&ascii(&slip.customer))?
                .feed()?
                .writeln("Pickup code")?
                .size(2, 2)?
                .bold(true)?
                .writeln(&slip.pickup_code)?
                .bold(false)?
                .reset_size()?
                .feed()?;
            // The QR holds the pickup code: scanning it at the desk is typing the code.
            p.qrcode_option(
                &slip.pickup_code,
                QRCodeOption::new(QRCodeModel::Model2, 6, QRCodeCorrectionLevel::M),
            )?;
            p.justify(JustifyMode::LEFT)?.writeln(&"-".repeat(width))?;
            for line in &slip.lines {
                p.writeln(&fit(line, width))?;
            }
            p.writeln(&"-".repeat(width))?.writeln(&ascii(&slip.printed_at))?;
            Ok(())
        })
    }

    fn receipt(&mut self, receipt: &Receipt) -> Result<(), PeripheralError> {
        let width = self.cfg.chars_per_line;
        self.print("receipt", |p| {
            p.justify(JustifyMode::CENTER)?.writeln("Click & collect: handed over")?.writeln(&format!(
                "Order {}",
                ascii(&receipt.order_id)
            ))?;
            p.qrcode_option(&receipt.order_id, QRCodeOption::new(QRCodeModel::Model2, 4, QRCodeCorrectionLevel::M))?;
            p.justify(JustifyMode::LEFT)?.writeln(&"-".repeat(width))?;
            for line in &receipt.lines {
                p.writeln(&fit(line, width))?;
            }
            p.writeln(&"-".repeat(width))?
                .writeln(&ascii(&format!("{} by {}", receipt.handed_over_at, receipt.staff_id)))?;
            Ok(())
        })
    }

    fn sale_receipt(&mut self, receipt: &omnikiosk_protocol::till::Receipt, qr: &str, copy: Option<i64>, zone: &TimeZone) -> Result<(), PeripheralError> {
        self.till_receipt(receipt, qr, copy, zone)
    }

    fn z_report(&mut self, z: &omnikiosk_protocol::shift::ZReport, zone: &TimeZone) -> Result<(), PeripheralError> {
        let width = self.cfg.chars_per_line;
        let m = |cents: i64| ascii_money(&z.currency, cents);
        let two = |left: &str, right: &str| two_columns(left, right, width);
        self.print("Z report", |p| {
            p.justify(JustifyMode::CENTER)?.bold(true)?.writeln(&format!("Z REPORT {}", ascii(&z.number())))?.bold(false)?;
            p.justify(JustifyMode::LEFT)?.writeln(&"-".repeat(width))?;
            p.writeln(&fit(&format!("Opened by {} - closed by {}", z.opened_by, z.closed_by), width))?;
            p.writeln(&format!("{} - {}", date_time(z.opened_at, zone), date_time(z.closed_at, zone)))?;
            if let (Some(first), Some(last)) = (&z.first_receipt, &z.last_receipt) {
                p.writeln(&fit(&format!("Receipts {first} to {last}"), width))?;
            }
            p.writeln(&two(&format!("Sales ({})", z.sales.count), &m(z.sales.total_cents)))?;
            p.writeln(&two(&format!("Returns ({})", z.returns.count), &m(z.returns.total_cents)))?;
            for t in &z.tenders {
                p.writeln(&two(&format!("{} taken", t.method.as_str()), &m(t.taken_cents)))?;
                if t.refunded_cents > 0 {
                    p.writeln(&two(&format!("{} refunded", t.method.as_str()), &m(-t.refunded_cents)))?;
                }
            }
            for t in &z.tax {
                p.writeln(&two(&format!("VAT {}.{:02}% of {}", t.vat_bp / 100, t.vat_bp % 100, m(t.gross_cents)), &m(t.tax_cents)))?;
            }
            p.writeln(&"-".repeat(width))?.writeln(&two("Float", &m(z.float_cents)))?;
            if z.change_cents > 0 {
                p.writeln(&two("Change given", &m(-z.change_cents)))?;
            }
            for c in &z.cash_moves {
                p.writeln(&two(&format!("Cash {} ({})", if c.cents > 0 { "in" } else { "out" }, c.reason), &m(c.cents)))?;
            }
            p.bold(true)?.writeln(&two("Expected cash", &m(z.expected_cash_cents)))?.writeln(&two("Counted cash", &m(z.counted_cash_cents)))?;
            p.writeln(&two("Difference", &m(z.difference_cents)))?.bold(false)?;
            if z.unsent_ops > 0 {
                p.writeln(&fit(&format!("OFFLINE: {} operations not yet at the hub", z.unsent_ops), width))?;
            }
            Ok(())
        })
    }
}

/// Money as a printer can print it: the currency's code, not its symbol (PLN 12.40).
fn ascii_money(currency: &str, cents: i64) -> String {
    format!("{currency} {}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
}

/// `left` and `right` on one line of `width`, `left` cut short when they do not fit.
fn two_columns(left: &str, right: &str, width: usize) -> String {
    let left: String = ascii(left).chars().take(width.saturating_sub(right.len() + 1)).collect();
    format!("{left}{}{right}", " ".repeat(width.saturating_sub(left.chars().count() + right.len())))
}

impl<D: Driver + Clone + Send> EscPos<D> {
    fn till_receipt(&mut self, r: &omnikiosk_protocol::till::Receipt, qr: &str, copy: Option<i64>, zone: &TimeZone) -> Result<(), PeripheralError> {
        let width = self.cfg.chars_per_line;
        // Printers take ASCII: the code, not the symbol (PLN 12.40, not 12,40 zł).
        let m = |cents: i64| ascii_money(&r.currency, cents);
        let two = |left: &str, right: &str| two_columns(left, right, width);
        self.print("receipt", |p| {
            p.justify(JustifyMode::CENTER)?;
            if let Some(n) = copy {
                p.bold(true)?.writeln(&format!("COPY {n} - NOT A RECEIPT OF SALE"))?.bold(false)?;
            }
            let title = match r.kind {
                omnikiosk_protocol::till::ReceiptKind::Sale => "Receipt",
                omnikiosk_protocol::till::ReceiptKind::Return => "RETURN",
            };
            p.writeln(&format!("{title} {}", ascii(&r.number)))?.writeln(&date_time(r.at, zone))?;
            p.justify(JustifyMode::LEFT)?.writeln(&"-".repeat(width))?;
            if let Some(reason) = &r.reason {
                p.writeln(&fit(&format!("Reason: {reason}"), width))?;
            }
            for l in &r.lines {
                p.writeln(&fit(&l.name, width))?.writeln(&two(&format!("  {} x {}", l.qty, m(l.price_cents)), &m(l.total_cents())))?;
                if let Some(origin) = &l.origin {
                    p.writeln(&fit(&format!("  returned from {origin}"), width))?;
                }
            }
            if r.discount_cents > 0 {
                p.writeln(&two(&format!("Points redeemed ({})", r.points_redeemed), &m(-r.discount_cents)))?;
            }
            p.writeln(&"-".repeat(width))?.bold(true)?.writeln(&two("TOTAL", &m(r.total_cents)))?.bold(false)?;
            for t in &r.tenders {
                let how = match (t.method, &t.reference) {
                    (omnikiosk_protocol::till::TenderMethod::Card, Some(reference)) => format!("Card {reference}"),
                    (omnikiosk_protocol::till::TenderMethod::Card, None) => "Card".to_string(),
                    (omnikiosk_protocol::till::TenderMethod::Cash, _) => "Cash".to_string(),
                    (omnikiosk_protocol::till::TenderMethod::Points, _) => "Points".to_string(),
                };
                p.writeln(&two(&how, &m(t.cents)))?;
            }
            if r.change_cents > 0 {
                p.writeln(&two("Change", &m(r.change_cents)))?;
            }
            p.writeln(&"-".repeat(width))?;
            for t in &r.tax {
                let rate = format!("VAT {}.{:02}% of {}", t.vat_bp / 100, t.vat_bp % 100, m(t.gross_cents));
                p.writeln(&two(&rate, &m(t.tax_cents)))?;
            }
            if r.points_earned != 0 {
                p.writeln(&format!("Points earned: {}", r.points_earned))?;
            }
            if r.points_redeemed < 0 || r.points_refunded > 0 {
                p.writeln(&format!("Points given back: {}", r.points_refunded - r.points_redeemed))?;
            }
            p.justify(JustifyMode::CENTER)?;
            // The e-receipt: the receipt's number signed by this till (`GET /v1/e-receipts/{code}`).
            p.qrcode_option(qr, QRCodeOption::new(QRCodeModel::Model2, 4, QRCodeCorrectionLevel::M))?;
            p.writeln(&fit(&format!("#{}", &r.hash[..16]), width))?;
            Ok(())
        })
    }
}

/// Printers print their code page, not UTF-8: keep text to ASCII (`×` becomes `x`,
/// other characters `?`), so nothing prints as mojibake.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c,
            '×' => 'x',
            _ => '?',
        })
        .collect()
}

fn fit(text: &str, width: usize) -> String {
    ascii(text).chars().take(width).collect()
}

/// Opens the configured printer: a network printer when `address` is set, else the
/// device file.
pub fn open(cfg: &PrinterConfig) -> Result<Box<dyn SlipPrinter>, PeripheralError> {
    if !cfg.address.is_empty() {
        let (host, port) = cfg.address.rsplit_once(':').unwrap_or((&cfg.address, "9100"));
        let port: u16 = port.parse().unwrap_or(9100);
        let driver = NetworkDriver::open(host, port, Some(Duration::from_millis(cfg.connect_timeout_ms)))
            .map_err(|e| PeripheralError::Printer { printer: cfg.address.clone(), reason: e.to_string() })?;
        return Ok(Box::new(EscPos::new(driver, cfg)));
    }
    let driver = FileDriver::open_with_options(&cfg.device, std::fs::OpenOptions::new().write(true)).map_err(|e| {
        PeripheralError::Printer { printer: cfg.device.display().to_string(), reason: e.to_string() }
    })?;
    Ok(Box::new(EscPos::new(driver, cfg)))
}

/// A driver that keeps every byte: tests read what the printer would have been sent.
#[derive(Clone, Default)]
pub struct CapturingDriver {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl CapturingDriver {
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Driver for CapturingDriver {
    fn name(&self) -> String {
        "capture".into()
    }

    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.bytes.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// A driver whose printer is off: every write fails.
#[derive(Clone, Default)]
pub struct UnpluggedDriver;

impl Driver for UnpluggedDriver {
    fn name(&self) -> String {
        "unplugged".into()
    }

    fn write(&self, _data: &[u8]) -> escpos::errors::Result<()> {
        Err(io::Error::new(io::ErrorKind::NotConnected, "printer is not connected").into())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    const GS: u8 = 0x1d;

    #[test]
    fn a_pickup_slip_carries_order_code_and_the_qr_commands() {
        let driver = CapturingDriver::default();
        let cfg = PrinterConfig { header: "Store 1 Krakow".into(), ..PrinterConfig::default() };
        let mut printer = EscPos::new(driver.clone(), &cfg);
        printer
            .pickup_slip(&PickupSlip {
                order_id: "O-1-2".into(),
                customer: "Anna K.".into(),
                pickup_code: "310270".into(),
                lines: vec!["2 × Oat milk 1 l".into()],
                printed_at: "2026-05-01 10:42".into(),
            })
            .unwrap();
        let bytes = driver.bytes();
        assert!(bytes.starts_with(&[0x1b, b'@']), "ESC @ initialises the printer");
        for text in ["Store 1 Krakow", "Order O-1-2", "Anna K.", "310270", "2 x Oat milk 1 l"] {
            assert!(contains(&bytes, text.as_bytes()), "{text} missing");
        }
        // GS ( k: QR model 2, size 6, level M, store the pickup code, print it.
        assert!(contains(&bytes, &[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]), "model 2");
        assert!(contains(&bytes, &[GS, b'(', b'k', 3, 0, 49, 67, 6]), "module size");
        assert!(contains(&bytes, &[GS, b'(', b'k', 9, 0, 49, 80, 48, b'3', b'1', b'0', b'2', b'7', b'0']), "QR data");
        assert!(contains(&bytes, &[GS, b'(', b'k', 3, 0, 49, 81, 48]), "QR print");
        assert!(contains(&bytes, &[GS, b'V']), "paper cut");
    }

    #[test]
    fn a_receipt_names_the_order_and_who_handed_it_over() {
        let driver = CapturingDriver::default();
        let mut printer = EscPos::new(driver.clone(), &PrinterConfig::default());
        printer
            .receipt(&Receipt {
                order_id: "O-1-7".into(),
                lines: vec!["1 × Kettle".into()],
                handed_over_at: "2026-05-01 11:00".into(),
                staff_id: "S1-STAFF".into(),
            })
            .unwrap();
        let bytes = driver.bytes();
        for text in ["Order O-1-7", "1 x Kettle", "by S1-STAFF"] {
            assert!(contains(&bytes, text.as_bytes()), "{text} missing");
        }
        assert!(contains(&bytes, &[GS, b'(', b'k', 8, 0, 49, 80, 48]), "the order id as QR data");
    }

    #[test]
    fn a_printer_that_is_off_is_a_clear_error_not_a_panic() {
        let mut printer = EscPos::new(UnpluggedDriver, &PrinterConfig::default());
        let err = printer
            .receipt(&Receipt { order_id: "O-1-7".into(), lines: vec![], handed_over_at: String::new(), staff_id: String::new() })
            .unwrap_err()
            .to_string();
        assert!(err.contains("receipt not printed") && err.contains("not connected"), "{err}");
    }

    #[test]
    fn a_missing_usb_printer_names_its_device() {
        let cfg = PrinterConfig { enabled: true, device: "/nonexistent/lp0".into(), ..PrinterConfig::default() };
        let err = open(&cfg).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/lp0"), "{err}");
    }
}
