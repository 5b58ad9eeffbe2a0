//! The kiosk's configuration file (`kiosk.toml`) and the data directory rule.
//! Every number that is a policy lives here with its documented default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default place of the configuration file when run as a service.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/omnikiosk/kiosk.toml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the local store lives; overridden by `--data-dir` and `OMNIKIOSK_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    pub sync: SyncConfig,
    pub store: StoreConfig,
    pub scan: ScanConfig,
    pub loyalty: LoyaltyConfig,
    /// Returns at the till (`[till]`).
    pub till: TillConfig,
    pub ui: UiConfig,
    /// The barcode scanner (`[scanner]`); none by default (codes typed into the window).
    pub scanner: ScannerConfig,
    /// The pickup light and buzzer (`[indicator]`); simulated by default.
    pub indicator: IndicatorConfig,
    /// The receipt printer (`[printer]`); off by default.
    pub printer: PrinterConfig,
    /// Which display and how it is mounted (`[display]`).
    pub display: DisplayConfig,
}

/// How the window reaches the screen. On a desktop (X11 or Wayland) the window is a
/// normal one (winit); on a Raspberry Pi without a desktop the kiosk draws on the display
/// directly through DRM/KMS (`linuxkms`, in builds with the `linuxkms` feature).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    pub backend: DisplayBackend,
    pub renderer: DisplayRenderer,
    /// Clockwise rotation of the picture for a display mounted turned (linuxkms only;
    /// on a desktop the compositor rotates): 0, 90, 180 or 270.
    pub rotation: Rotation,
    /// The DRM connector to draw on, e.g. "HDMI-A-1" or "DSI-1" (linuxkms only); the
    /// first connected one when unset.
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayBackend {
    /// A desktop window when DISPLAY or WAYLAND_DISPLAY is set, else DRM/KMS.
    #[default]
    Auto,
    Winit,
    Linuxkms,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayRenderer {
    /// FemtoVG (OpenGL ES) where the GPU allows it, the software renderer otherwise.
    #[default]
    Auto,
    Femtovg,
    Software,
}

/// Degrees clockwise; only the four a display can be mounted at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Rotation(u16);

impl Rotation {
    pub fn degrees(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Rotation {
    type Error = String;
    fn try_from(v: u16) -> Result<Self, String> {
        match v {
            0 | 90 | 180 | 270 => Ok(Rotation(v)),
            _ => Err(format!("rotation must be 0, 90, 180 or 270 (degrees clockwise), not {v}")),
        }
    }
}

impl From<Rotation> for u16 {
    fn from(r: Rotation) -> u16 {
        r.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// A shopper's session ends after this many seconds without a touch (countdown shown).
    pub idle_timeout_secs: u32,
    /// Gone: every time shown is local in the store record's IANA time zone (summer time
    /// included). Still read, so an older config starts; `Config::ignored` warns of it.
    #[serde(skip_serializing)]
    pub utc_offset_minutes: Option<i32>,
    /// Where "Continue on your phone" leads: the web shop's cart page.
    pub phone_url: String,
    /// A signed-in colleague is signed out after this many seconds without a touch.
    pub staff_idle_timeout_secs: u32,
    /// Days after its promised time that an uncollected ready order expires: the same
    /// number as the hub's `--no-show-days`, for the manager's "about to expire" list.
    pub no_show_days: u32,
    /// The screens' language when no shopper is signed in, and of money and receipts on the
    /// command line (`en`, `pl`, `ru`, `uk`, `zh`). Unset: the store record's language.
    pub language: Option<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            idle_timeout_secs: 45,
            utc_offset_minutes: None,
            phone_url: "https://shop.example.com/cart".into(),
            staff_idle_timeout_secs: 120,
            no_show_days: 7,
            language: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Changes asked for per pull request.
    pub page_size: u32,
    /// Changes asked for per pull request while catching up (a round that began on a store
    /// holding nothing pulled): fewer round trips and commits. At most two pages are held
    /// (one applied, the next arriving); a catch-up page of 5,000 is about 2 MiB of JSON
    /// (2,000: 0.8 MiB), plus its parsed changes.
    pub catch_up_page_size: u32,
    /// How long the hub may hold a pull open when nothing is new (long-poll), seconds.
    pub long_poll_secs: u32,
    /// First retry delay after a failed round, milliseconds; doubles per failure.
    pub backoff_initial_ms: u64,
    /// Retry delay cap, milliseconds. The actual delay is drawn uniformly below the
    /// current bound (full jitter) so a fleet coming back online does not stampede.
    pub backoff_max_ms: u64,
    /// Time allowed to open a TCP/TLS connection to the hub, milliseconds.
    pub connect_timeout_ms: u64,
    /// Extra time over the long-poll wait before a hub request counts as hung, seconds.
    pub request_grace_secs: u64,
    /// How often the push loop looks for new ops in the outbox, milliseconds.
    pub push_interval_ms: u64,
    /// Ops sent per push request.
    pub push_batch: u32,
    /// A private CA to trust for the hub's certificate, beside the public web roots
    /// (PEM; `enroll --ca-file` keeps one in the kiosk's database instead).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            page_size: 2000,
            catch_up_page_size: 5000,
            long_poll_secs: 25,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            connect_timeout_ms: 5_000,
            request_grace_secs: 15,
            push_interval_ms: 1000,
            push_batch: 500,
            ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Upper bound on the local database size in MiB (SD cards fill up); 0 = no bound.
    /// When reached, sync stops with a "disk full" status and applies nothing partial.
    pub max_size_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoyaltyConfig {
    /// Points of one customer this kiosk may redeem before the hub confirms them: the
    /// most two offline kiosks can together over-spend.
    pub offline_redeem_allowance: i64,
    /// The till's points rule where the hub has sent none for the store's currency (`PUT
    /// /v1/loyalty/rule` is the chain's, and wins): points earned per whole unit of
    /// currency paid, rounded down.
    pub earn_per_unit: i64,
    /// What one redeemed point takes off a sale, in minor units (the fallback, as above).
    pub point_value_cents: i64,
}

impl Default for LoyaltyConfig {
    fn default() -> Self {
        let rule = omnikiosk_protocol::till::PointsRule::default();
        LoyaltyConfig { offline_redeem_allowance: 1000, earn_per_unit: rule.earn_per_unit, point_value_cents: rule.point_value_cents }
    }
}

impl LoyaltyConfig {
    pub fn points_rule(&self) -> omnikiosk_protocol::till::PointsRule {
        omnikiosk_protocol::till::PointsRule { earn_per_unit: self.earn_per_unit, point_value_cents: self.point_value_cents }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TillConfig {
    /// Why goods may come back: a return names one of these. Empty: any reason, typed.
    pub return_reasons: Vec<String>,
    /// Why cash goes into or out of the drawer during a shift: the till offers these.
    pub cash_reasons: Vec<String>,
}

impl Default for TillConfig {
    fn default() -> Self {
        let reasons = ["damaged", "faulty", "wrong size", "not as described", "changed mind"];
        let cash = ["change from the bank", "takings to the bank", "petty cash"];
        TillConfig { return_reasons: reasons.map(String::from).to_vec(), cash_reasons: cash.map(String::from).to_vec() }
    }
}

impl TillConfig {
    /// The return's reason as given, if it is one of the store's (any, when none are set).
    pub fn return_reason(&self, given: Option<&str>) -> Result<String, omnikiosk_protocol::ops::Rejection> {
        let list = || self.return_reasons.join(", ");
        match given.map(str::trim).filter(|r| !r.is_empty()) {
            None if self.return_reasons.is_empty() => Err(omnikiosk_protocol::ops::Rejection::new("return_reason", "say why it came back")),
            None => Err(omnikiosk_protocol::ops::Rejection::new("return_reason", format!("say why it came back: {}", list()))),
            Some(r) if self.return_reasons.is_empty() || self.return_reasons.iter().any(|x| x.eq_ignore_ascii_case(r)) => Ok(r.to_string()),
            Some(r) => Err(omnikiosk_protocol::ops::Rejection::new("return_reason", format!("{r:?} is not a return reason here: {}", list()))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// EAN-13 prefix of the chain's loyalty cards.
    pub loyalty_prefix: String,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig { loyalty_prefix: omnikiosk_protocol::gtin::DEFAULT_LOYALTY_PREFIX.to_string() }
    }
}

/// Which scanner the kiosk reads, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScannerKind {
    /// No scanner device: codes come from the window's own input (a desktop keyboard).
    #[default]
    None,
    /// A USB HID "keyboard wedge" scanner, read with evdev and grabbed.
    Hid,
    /// A serial scanner: USB-CDC (`/dev/ttyACM0`) or the Pi's UART (`/dev/serial0`).
    Serial,
}

/// The keyboard layout a HID scanner is programmed for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyboardLayout {
    /// US English (QWERTY), most scanners' factory setting.
    #[default]
    Us,
    /// German (QWERTZ).
    De,
}

/// A key that ends a scan; scanners are programmed to send one after each code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanTerminator {
    /// Enter (CR or LF on a serial line).
    Enter,
    /// Tab.
    Tab,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerConfig {
    pub kind: ScannerKind,
    /// The scanner's device: an evdev node for `hid` (a udev symlink such as
    /// `/dev/omnikiosk-scanner` or `/dev/input/by-id/…-event-kbd`), a tty for `serial`.
    pub device: PathBuf,
    /// Layout the HID scanner types in.
    pub layout: KeyboardLayout,
    /// Keys (or serial line ends) that end a scan.
    pub terminators: Vec<ScanTerminator>,
    /// Text the scanner is programmed to put before every code (e.g. an AIM identifier);
    /// removed when present.
    pub prefix: String,
    /// Text the scanner puts after every code, before the terminator; removed when present.
    pub suffix: String,
    /// Longest scan kept; a longer burst without a terminator is discarded (and logged).
    pub max_scan_chars: usize,
    /// Line speed of a serial scanner (a USB-CDC scanner ignores it).
    pub baud_rate: u32,
    /// First wait before reopening a scanner that is unplugged or failed, milliseconds;
    /// doubles per failed try.
    pub reconnect_initial_ms: u64,
    /// Longest wait between tries to reopen the scanner, milliseconds.
    pub reconnect_max_ms: u64,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            kind: ScannerKind::None,
            device: PathBuf::from("/dev/omnikiosk-scanner"),
            layout: KeyboardLayout::Us,
            terminators: vec![ScanTerminator::Enter, ScanTerminator::Tab],
            prefix: String::new(),
            suffix: String::new(),
            max_scan_chars: omnikiosk_protocol::scan::MAX_SCAN_LEN,
            baud_rate: 9600,
            reconnect_initial_ms: 500,
            reconnect_max_ms: 10_000,
        }
    }
}

/// How the pickup light and buzzer are driven.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    /// Nothing is wired: the state is recorded and logged (desktops, tests, the demo).
    #[default]
    Simulated,
    /// GPIO pins of the Raspberry Pi (see `hardware/README.md` for the wiring).
    Gpio,
}

/// A BCM GPIO number of the Pi's 40-pin header (GPIO 2 to 27; 0 and 1 belong to the
/// HAT EEPROM). Checked while the file is read, so a wrong pin is refused with its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct GpioPin(u8);

impl GpioPin {
    pub fn number(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for GpioPin {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match u8::try_from(n) {
            Ok(p @ 2..=27) => Ok(GpioPin(p)),
            _ => Err(format!(
                "GPIO {n} is not a usable pin of the 40-pin header: use a BCM GPIO number from 2 to 27 (not a physical pin number)"
            )),
        }
    }
}

impl From<GpioPin> for i64 {
    fn from(p: GpioPin) -> i64 {
        p.0.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndicatorConfig {
    pub kind: IndicatorKind,
    /// BCM GPIO driving the pickup light (through a transistor or relay module).
    pub light_pin: GpioPin,
    /// BCM GPIO driving the buzzer (through a transistor).
    pub buzzer_pin: GpioPin,
    /// The light is on when its pin is low (many relay modules).
    pub light_active_low: bool,
    /// The buzzer sounds when its pin is low.
    pub buzzer_active_low: bool,
    /// Whether the buzzer sounds at all (a quiet store can keep the light only).
    pub buzzer: bool,
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        IndicatorConfig {
            kind: IndicatorKind::Simulated,
            light_pin: GpioPin(17),
            buzzer_pin: GpioPin(27),
            light_active_low: false,
            buzzer_active_low: false,
            buzzer: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrinterConfig {
    /// Print at all. Off by default: most kiosks have no printer.
    pub enabled: bool,
    /// The printer's device file: a USB printer (`/dev/usb/lp0`), or any file.
    pub device: PathBuf,
    /// A network printer as `host:port` (raw ESC/POS, usually port 9100); used instead
    /// of `device` when set.
    pub address: String,
    /// Characters per line in the printer's font A (42 or 48 on 80 mm paper, 32 on 58 mm).
    pub chars_per_line: usize,
    /// The first line of every slip and receipt (the store's name).
    pub header: String,
    /// Print the shopper a pickup slip (order, pickup code and its QR) when they say "I'm here".
    pub slip_on_checkin: bool,
    /// Print a receipt when an order is handed over (`omnikiosk order ID collect`).
    pub receipt_on_collect: bool,
    /// Time allowed to reach a network printer, milliseconds.
    pub connect_timeout_ms: u64,
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            enabled: false,
            device: PathBuf::from("/dev/usb/lp0"),
            address: String::new(),
            chars_per_line: 42,
            header: String::new(),
            slip_on_checkin: true,
            receipt_on_collect: true,
            connect_timeout_ms: 3000,
        }
    }
}

impl Config {
    /// Reads and validates a config file; the error names the file, line and reason.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }

    /// What the config still says that the kiosk no longer reads, for a warning at start.
    pub fn ignored(&self) -> Vec<&'static str> {
        let mut ignored = Vec::new();
        if self.ui.utc_offset_minutes.is_some() {
            ignored.push("ui.utc_offset_minutes is ignored: times are local in the store's time zone, from its record at the hub");
        }
        ignored
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let s = &self.sync;
        anyhow::ensure!((1..=10_000).contains(&s.page_size), "sync.page_size must be 1..=10000");
        anyhow::ensure!((1..=10_000).contains(&s.catch_up_page_size), "sync.catch_up_page_size must be 1..=10000");
        anyhow::ensure!(s.long_poll_secs <= 60, "sync.long_poll_secs must be at most 60");
        anyhow::ensure!(s.backoff_initial_ms >= 1, "sync.backoff_initial_ms must be at least 1");
        anyhow::ensure!((5..=600).contains(&self.ui.idle_timeout_secs), "ui.idle_timeout_secs must be 5..=600");
        anyhow::ensure!((1..=1000).contains(&s.push_batch), "sync.push_batch must be 1..=1000");
        anyhow::ensure!(s.push_interval_ms >= 10, "sync.push_interval_ms must be at least 10");
        anyhow::ensure!(self.loyalty.offline_redeem_allowance >= 0, "loyalty.offline_redeem_allowance must not be negative");
        anyhow::ensure!(
            self.ui.language.as_deref().is_none_or(|l| ["en", "pl", "ru", "uk", "zh"].contains(&l)),
            "ui.language must be one of en, pl, ru, uk, zh"
        );
        use omnikiosk_protocol::till::{MAX_EARN_PER_UNIT, MAX_POINT_VALUE_CENTS};
        anyhow::ensure!((0..=MAX_EARN_PER_UNIT).contains(&self.loyalty.earn_per_unit), "loyalty.earn_per_unit must be 0 to {MAX_EARN_PER_UNIT}");
        anyhow::ensure!(
            (1..=MAX_POINT_VALUE_CENTS).contains(&self.loyalty.point_value_cents),
            "loyalty.point_value_cents must be 1 to {MAX_POINT_VALUE_CENTS}"
        );
        let reason_ok = |r: &String| !r.trim().is_empty() && r.chars().count() <= 200;
        anyhow::ensure!(self.till.return_reasons.iter().all(reason_ok), "till.return_reasons must each be 1-200 characters");
        anyhow::ensure!(
            !self.till.cash_reasons.is_empty() && self.till.cash_reasons.iter().all(reason_ok),
            "till.cash_reasons must list at least one reason, each 1-200 characters"
        );
        anyhow::ensure!(
            s.backoff_max_ms >= s.backoff_initial_ms,
            "sync.backoff_max_ms must be at least sync.backoff_initial_ms"
        );
        let p = &self.scan.loyalty_prefix;
        anyhow::ensure!(
            !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()),
            "scan.loyalty_prefix must be 1 to 6 digits"
        );
        anyhow::ensure!(
            (10..=3600).contains(&self.ui.staff_idle_timeout_secs),
            "ui.staff_idle_timeout_secs must be 10..=3600"
        );
        anyhow::ensure!((1..=365).contains(&self.ui.no_show_days), "ui.no_show_days must be 1..=365");
        anyhow::ensure!(
            self.display.backend != DisplayBackend::Linuxkms || cfg!(feature = "linuxkms"),
            "display.backend = \"linuxkms\" needs a build with the linuxkms feature (the Raspberry Pi package has it)"
        );
        self.validate_peripherals()
    }

    fn validate_peripherals(&self) -> anyhow::Result<()> {
        let sc = &self.scanner;
        anyhow::ensure!(
            (16..=4096).contains(&sc.max_scan_chars),
            "scanner.max_scan_chars must be 16..=4096"
        );
        anyhow::ensure!(!sc.terminators.is_empty(), "scanner.terminators must name at least one of \"enter\", \"tab\"");
        anyhow::ensure!(sc.reconnect_initial_ms >= 10, "scanner.reconnect_initial_ms must be at least 10");
        anyhow::ensure!(
            sc.reconnect_max_ms >= sc.reconnect_initial_ms,
            "scanner.reconnect_max_ms must be at least scanner.reconnect_initial_ms"
        );
        anyhow::ensure!(sc.baud_rate > 0, "scanner.baud_rate must be positive");
        anyhow::ensure!(
            sc.kind == ScannerKind::None || !sc.device.as_os_str().is_empty(),
            "scanner.device must name the scanner's device file"
        );
        let ind = &self.indicator;
        if ind.kind == IndicatorKind::Gpio {
            anyhow::ensure!(
                ind.light_pin != ind.buzzer_pin,
                "indicator.light_pin and indicator.buzzer_pin are both GPIO {}: each needs its own pin",
                ind.light_pin.number()
            );
            if sc.kind == ScannerKind::Serial && uses_header_uart(&sc.device) {
                for (key, pin) in [("indicator.light_pin", ind.light_pin), ("indicator.buzzer_pin", ind.buzzer_pin)] {
                    anyhow::ensure!(
                        !matches!(pin.number(), 14 | 15),
                        "{key} = {} is taken by the UART the serial scanner uses ({}): GPIO 14 and 15 are TXD and RXD",
                        pin.number(),
                        sc.device.display()
                    );
                }
            }
        }
        let pr = &self.printer;
        anyhow::ensure!((24..=64).contains(&pr.chars_per_line), "printer.chars_per_line must be 24..=64");
        if pr.enabled && !pr.address.is_empty() {
            anyhow::ensure!(
                pr.address.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
                "printer.address must be host:port (for example 192.0.2.50:9100), not {:?}",
                pr.address
            );
        }
        Ok(())
    }
}

/// Whether a serial device is the UART on GPIO 14/15 of the header.
fn uses_header_uart(device: &Path) -> bool {
    let name = device.to_string_lossy();
    matches!(name.as_ref(), "/dev/serial0" | "/dev/ttyAMA0" | "/dev/ttyS0")
}

/// The data directory: `--data-dir`, else `$OMNIKIOSK_DATA_DIR`, else the config's
/// `data_dir`, else systemd's `$STATE_DIRECTORY` (run as a service, normally
/// `/var/lib/omnikiosk`), else `./omnikiosk-data`.
pub fn data_dir(flag: Option<&Path>, cfg: &Config) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("OMNIKIOSK_DATA_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = &cfg.data_dir {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        // systemd may pass several colon-separated directories; the first is ours.
        let first = p.to_string_lossy().split(':').next().unwrap_or_default().to_string();
        return PathBuf::from(first);
    }
    PathBuf::from("omnikiosk-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_documented_defaults() {
        let cfg = Config::parse("").unwrap();
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.scan.loyalty_prefix, "042");
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let err = Config::parse("[sync]\npage_size = 10\nlong_pol_secs = 3\n").unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("long_pol_secs"), "{err}");
    }

    #[test]
    fn out_of_range_policy_is_refused() {
        let err = Config::parse("[sync]\npage_size = 0\n").unwrap_err().to_string();
        assert!(err.contains("page_size"), "{err}");
        let err = Config::parse("[scan]\nloyalty_prefix = \"04x\"\n").unwrap_err().to_string();
        assert!(err.contains("loyalty_prefix"), "{err}");
        let err = Config::parse("[till]\ncash_reasons = []\n").unwrap_err().to_string();
        assert!(err.contains("cash_reasons"), "{err}");
        let err = Config::parse("[till]\nreturn_reasons = [\" \"]\n").unwrap_err().to_string();
        assert!(err.contains("return_reasons"), "{err}");
    }

    #[test]
    fn a_return_names_one_of_the_stores_reasons() {
        let till = TillConfig::default();
        assert_eq!(till.return_reason(Some(" Damaged ")).as_deref(), Ok("Damaged"));
        assert_eq!(till.return_reason(Some("bored")).unwrap_err().code, "return_reason");
        assert_eq!(till.return_reason(None).unwrap_err().code, "return_reason");
        let any = TillConfig { return_reasons: vec![], ..TillConfig::default() };
        assert_eq!(any.return_reason(Some("bored")).as_deref(), Ok("bored"));
    }

    #[test]
    fn peripherals_default_to_what_runs_on_a_desktop() {
        let cfg = Config::default();
        assert_eq!(cfg.scanner.kind, ScannerKind::None);
        assert_eq!(cfg.indicator.kind, IndicatorKind::Simulated);
        assert!(!cfg.printer.enabled);
    }

    /// Every way a peripheral section can be wrong is refused at start with a reason a
    /// technician can act on, and with its line when the file itself is wrong.
    #[test]
    fn wrong_peripheral_settings_are_refused_with_line_and_reason() {
        let cases: &[(&str, &[&str])] = &[
            ("[indicator]\nkind = \"gpio\"\nlight_pin = 40\n", &["line 3", "GPIO 40", "2 to 27"]),
            ("[indicator]\nlight_pin = -1\n", &["line 2", "GPIO -1"]),
            ("[indicator]\nlight_pin = \"GPIO17\"\n", &["line 2", "light_pin"]),
            ("[indicator]\nbuzer_pin = 22\n", &["line 2", "buzer_pin"]),
            ("[scanner]\nkind = \"bluetooth\"\n", &["line 2", "bluetooth"]),
            ("[scanner]\nlayout = \"fr\"\n", &["line 2", "fr"]),
            ("[printer]\nenabled = true\nadress = \"x\"\n", &["line 3", "adress"]),
            (
                "[indicator]\nkind = \"gpio\"\nlight_pin = 22\nbuzzer_pin = 22\n",
                &["indicator.light_pin", "indicator.buzzer_pin", "GPIO 22"],
            ),
            (
                "[scanner]\nkind = \"serial\"\ndevice = \"/dev/serial0\"\n[indicator]\nkind = \"gpio\"\nlight_pin = 14\n",
                &["indicator.light_pin = 14", "UART"],
            ),
            ("[scanner]\nterminators = []\n", &["scanner.terminators"]),
            ("[scanner]\nmax_scan_chars = 100000\n", &["scanner.max_scan_chars"]),
            ("[printer]\nenabled = true\naddress = \"printer\"\n", &["printer.address", "host:port"]),
        ];
        for (text, wanted) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            for w in *wanted {
                assert!(err.contains(w), "{text:?}: {err:?} should mention {w:?}");
            }
        }
    }
}
