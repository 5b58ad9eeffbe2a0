//! What `omnikiosk status` shows of a running kiosk's peripherals: the report the app
//! writes into its data dir on each change, and reads back only while that process lives.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The peripherals' state as the running kiosk last wrote it, for `omnikiosk status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeripheralsReport {
    /// Process id of the kiosk that wrote it.
    pub pid: u32,
    /// When it was written (Unix seconds).
    pub updated_at: i64,
    /// The scanner's device and whether it is connected since when (none configured: null).
    pub scanner: Option<serde_json::Value>,
    /// What the pickup light shows.
    pub indicator: String,
    pub printer: Option<String>,
}

const REPORT_FILE: &str = "peripherals.json";

pub fn report_path(data_dir: &Path) -> PathBuf {
    data_dir.join(REPORT_FILE)
}

impl PeripheralsReport {
    /// Replaces the report atomically (a reader never sees half of it), mode 0600.
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = data_dir.join(format!(".{REPORT_FILE}.tmp"));
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, report_path(data_dir))
    }

    /// The report of a kiosk that is running now; a stale one (its process is gone) is
    /// not reported as if it were current.
    pub fn read_current(data_dir: &Path) -> Option<PeripheralsReport> {
        let text = std::fs::read_to_string(report_path(data_dir)).ok()?;
        let report: PeripheralsReport = serde_json::from_str(&text).ok()?;
        Path::new(&format!("/proc/{}", report.pid)).exists().then_some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_of_a_process_that_is_gone_is_not_current() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = PeripheralsReport {
            pid: std::process::id(),
            updated_at: 1,
            scanner: None,
            indicator: "quiet".into(),
            printer: None,
        };
        r.write(dir.path()).unwrap();
        assert_eq!(PeripheralsReport::read_current(dir.path()), Some(r.clone()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(report_path(dir.path())).unwrap().permissions().mode() & 0o777, 0o600);
        r.pid = u32::MAX - 1; // no such process
        r.write(dir.path()).unwrap();
        assert_eq!(PeripheralsReport::read_current(dir.path()), None);
    }
}
