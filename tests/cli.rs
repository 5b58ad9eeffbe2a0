//! The command line's contract where no hub is needed: bad configs are refused with the
//! line and reason, an unenrolled kiosk says so, and `--json` output is one document.

mod support;

use support::{stderr, Kiosk};

#[tokio::test]
async fn a_config_with_an_unknown_key_is_refused_with_its_line() {
    let kiosk = Kiosk::with_config("[sync]\npage_size = 100\nlong_pol_secs = 5\n");
    let out = kiosk.run(&["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("line 3") && err.contains("long_pol_secs"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(out.stdout.is_empty());
}

/// A kiosk updated with its old config keeps working: the fixed UTC offset is no longer
/// read (times follow the store's time zone), and the log says so.
#[tokio::test]
async fn a_config_with_the_old_utc_offset_starts_and_says_it_is_ignored() {
    let kiosk = Kiosk::with_config("[ui]\nutc_offset_minutes = 120\n");
    let out = kiosk.run(&["status"]).await;
    let err = stderr(&out);
    assert!(err.contains("utc_offset_minutes is ignored") && err.contains("not enrolled"), "{err}");
}

#[tokio::test]
async fn a_missing_config_file_named_on_the_command_line_is_an_error() {
    let kiosk = Kiosk::new();
    let mut cmd = kiosk.command();
    cmd.args(["--config", "no-such-kiosk.toml", "status"]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot read config"), "{}", stderr(&out));
}

#[tokio::test]
async fn an_unenrolled_kiosk_says_how_to_enrol() {
    let kiosk = Kiosk::new();
    for args in [&["status", "--json"][..], &["scan", "0420000000017"], &["sync", "--once"]] {
        let out = kiosk.run(args).await;
        assert_eq!(out.status.code().map(|c| c != 0), Some(true), "{args:?}");
        assert!(stderr(&out).contains("omnikiosk enroll --hub"), "{args:?}: {}", stderr(&out));
    }
}

#[tokio::test]
async fn plain_http_to_a_remote_hub_is_refused_without_insecure() {
    let kiosk = Kiosk::new();
    let out = kiosk.run(&["enroll", "--hub", "http://10.255.255.1:8640", "--token", "t"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--insecure"), "{}", stderr(&out));
    // Nothing was written: the kiosk is still not enrolled.
    let out = kiosk.run(&["status"]).await;
    assert!(stderr(&out).contains("not enrolled"), "{}", stderr(&out));
}

#[tokio::test]
async fn an_unknown_order_status_is_a_usage_error() {
    let kiosk = Kiosk::new();
    let out = kiosk.run(&["orders", "--status", "shipped"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("placed, picking, ready"), "{}", stderr(&out));
}

#[tokio::test]
async fn data_files_are_private_to_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    let kiosk = Kiosk::new();
    let _ = kiosk.run(&["status"]).await;
    let dir = kiosk.data_dir();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", entry.file_name().to_string_lossy());
    }
}
