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
    pub ui: UiConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// A shopper's session ends after this many seconds without a touch (countdown shown).
    pub idle_timeout_secs: u32,
    /// The store's offset from UTC in minutes, for promised-ready times on screen.
    pub utc_offset_minutes: i32,
    /// Where "Continue on your phone" leads: the web shop's cart page.
    pub phone_url: String,
    /// A signed-in colleague is signed out after this many seconds without a touch.
    pub staff_idle_timeout_secs: u32,
    /// Days after its promised time that an uncollected ready order expires: the same
    /// number as the hub's `--no-show-days`, for the manager's "about to expire" list.
    pub no_show_days: u32,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            idle_timeout_secs: 45,
            utc_offset_minutes: 0,
            phone_url: "https://shop.example.com/cart".into(),
            staff_idle_timeout_secs: 120,
            no_show_days: 7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Changes asked for per pull request.
    pub page_size: u32,
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
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            page_size: 2000,
            long_poll_secs: 25,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            connect_timeout_ms: 5_000,
            request_grace_secs: 15,
            push_interval_ms: 1000,
            push_batch: 500,
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
}

impl Default for LoyaltyConfig {
    fn default() -> Self {
        LoyaltyConfig { offline_redeem_allowance: 1000 }
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

impl Config {
    /// Reads and validates a config file; the error names the file, line and reason.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let s = &self.sync;
        anyhow::ensure!((1..=10_000).contains(&s.page_size), "sync.page_size must be 1..=10000");
        anyhow::ensure!(s.long_poll_secs <= 60, "sync.long_poll_secs must be at most 60");
        anyhow::ensure!(s.backoff_initial_ms >= 1, "sync.backoff_initial_ms must be at least 1");
        anyhow::ensure!((5..=600).contains(&self.ui.idle_timeout_secs), "ui.idle_timeout_secs must be 5..=600");
        anyhow::ensure!((-720..=840).contains(&self.ui.utc_offset_minutes), "ui.utc_offset_minutes must be -720..=840");
        anyhow::ensure!((1..=1000).contains(&s.push_batch), "sync.push_batch must be 1..=1000");
        anyhow::ensure!(s.push_interval_ms >= 10, "sync.push_interval_ms must be at least 10");
        anyhow::ensure!(self.loyalty.offline_redeem_allowance >= 0, "loyalty.offline_redeem_allowance must not be negative");
        anyhow::ensure!(
            s.backoff_max_ms >= s.backoff_initial_ms,
            "sync.backoff_max_ms must be at least sync.backoff_initial_ms"
        );
        let p = &self.scan.loyalty_prefix;
        anyhow::ensure!(
            !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()),
            "scan.loyalty_prefix must be 1 to 6 digits"
        );
        Ok(())
    }
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
    }
}
