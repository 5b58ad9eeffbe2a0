//! The `omnikiosk-hub` command line: what an operator types, and what they see.

#[path = "support/pg.rs"]
mod pg;

use std::process::{Command, Output};

use omnikiosk_protocol::code::{decode_public_key, verify, CodeKind};
use serde_json::Value;

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite:{}", dir.join("hub.db").display())
}

fn hub(dir: &std::path::Path, args: &[&str]) -> Output {
    hub_on(&sqlite_url(dir), args)
}

fn hub_on(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("OMNIKIOSK_CHANNEL_TOKEN")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn seed_json_names_things_a_person_can_try_and_codes_verify() {
    let dir = tempfile::tempdir().unwrap();
    seed_device_and_code(&sqlite_url(dir.path()));
}

#[test]
fn seed_device_and_code_on_postgres() {
    if pg::available() {
        seed_device_and_code(&pg::database());
    }
}

fn seed_device_and_code(db: &str) {
    let summary: Value =
        serde_json::from_str(&ok(&hub_on(db, &["seed", "--stores", "2", "--customers", "50", "--json"]))).unwrap();
    assert_eq!(summary["counts"]["stores"], 2);
    assert_eq!(summary["counts"]["customers"], 50);
    let store = &summary["stores"][0];
    assert_eq!(store["staff"]["pin"], "1234");
    assert_eq!(store["manager"]["pin"], "9999");
    let customer = store["customers"][0]["id"].as_str().unwrap();
    assert!(store["customers"][0]["loyalty_card"].as_str().unwrap().starts_with("042"));

    // Seeding twice is refused: it would duplicate the chain.
    let again = hub_on(db, &["seed"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has stores"));

    let token = ok(&hub_on(db, &["device", "add", "--store", "1"])).trim().to_string();
    assert!(token.starts_with("okd_"));
    let unknown = hub_on(db, &["device", "add", "--store", "7"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("store 7 does not exist"));

    let code = ok(&hub_on(db, &["code", "customer", customer])).trim().to_string();
    let h = omnikiosk_hub::Hub::open(db).unwrap();
    let key = decode_public_key(&omnikiosk_protocol::code::encode_public_key(&h.public_key())).unwrap();
    let claims = verify(&key, &code, omnikiosk_hub::now_secs()).unwrap();
    assert_eq!((claims.kind, claims.id.as_str()), (CodeKind::Customer, customer));
    let missing = hub_on(db, &["code", "staff", "S9-NOBODY"]);
    assert!(!missing.status.success());
}

#[test]
fn serve_refuses_an_open_channel_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = hub(dir.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a channel token"), "{err}");
}

#[test]
fn an_unknown_database_url_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub")).args(["--db", "mysql://x", "seed"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown database URL"));
}

#[test]
fn an_unreachable_postgres_is_a_clear_error() {
    let out = hub_on("postgresql://postgres@/nope?host=/nonexistent-omnikiosk&port=1", &["seed"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database") && err.contains("connect"), "{err}");
}
