//! The hub on HTTPS with the chain's own CA, as a store's IT sets it up: `serve --tls-cert
//! --tls-key`, then `omnikiosk enroll --ca-file` (kept: later commands trust it without a
//! config) and `--hub-key-fingerprint` (a hub answering with another key is refused), the
//! token from a file instead of the process list. A kiosk that was not given the CA says
//! so; a renewed certificate is taken on SIGHUP. Real TLS on loopback, a CA made at test time.

mod support;

use std::path::{Path, PathBuf};

use omnikiosk_hub::tls::TlsFiles;
use omnikiosk_hub::SeedOptions;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use support::{path_str, stderr, Kiosk, TestHub};

/// A CA: its certificate (PEM, written to `dir/<name>.pem`) and what it signs with.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pem: PathBuf,
}

fn ca(dir: &Path, name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, format!("{name} stores CA"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, cert.pem()).unwrap();
    Ca { cert, key, pem }
}

/// Writes the hub's certificate for `localhost`, signed by `ca`, and its key to `files`.
fn issue(ca: &Ca, files: &TlsFiles) {
    let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
}

fn seed() -> SeedOptions {
    SeedOptions { stores: 1, customers: 20, products: 10, orders: 2, ..SeedOptions::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kiosk_trusts_its_hub_by_the_chains_own_ca_and_checks_its_key() {
    let pki = tempfile::tempdir().unwrap();
    let chain_ca = ca(pki.path(), "chain");
    let files = TlsFiles { cert: pki.path().join("hub.pem"), key: pki.path().join("hub.key") };
    issue(&chain_ca, &files);
    let hub = TestHub::start_tls(seed(), files.clone()).await;
    let url = hub.url();
    let fingerprint = omnikiosk_protocol::code::key_fingerprint(&hub.hub.public_key());

    // Not given the CA: refused, saying what to do; nothing saved.
    let kiosk = Kiosk::new();
    let token = hub.device_token(1);
    let out = kiosk.run(&["enroll", "--hub", &url, "--token", &token]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not trusted") && stderr(&out).contains("--ca-file"), "{}", stderr(&out));
    assert!(kiosk.query_strings("SELECT value FROM meta WHERE key = 'hub_url'").is_empty(), "a refused enrolment was saved");

    // A file that is no certificate: said so before anything is asked of the hub.
    let junk = pki.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let out = kiosk.run(&["enroll", "--hub", &url, "--token", &token, "--ca-file", &path_str(&junk)]).await;
    assert!(!out.status.success() && stderr(&out).contains("no PEM certificate"), "{}", stderr(&out));

    // The CA, but another key than the one `device add` printed: a man in the middle.
    let other = "SHA256:".to_string() + &"0".repeat(64);
    let ca_file = path_str(&chain_ca.pem);
    let out = kiosk.run(&["enroll", "--hub", &url, "--token", &token, "--ca-file", &ca_file, "--hub-key-fingerprint", &other]).await;
    assert!(!out.status.success() && stderr(&out).contains(&fingerprint), "{}", stderr(&out));

    // The CA and the right key, the token from a file: enrolled, and every later command
    // trusts the hub with no flag and no config.
    let token_file = pki.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let enrolled = kiosk
        .json(&["enroll", "--hub", &url, "--token-file", &path_str(&token_file), "--ca-file", &ca_file, "--hub-key-fingerprint", &fingerprint, "--json"])
        .await;
    assert_eq!(enrolled["store_id"], 1);
    let synced = kiosk.json(&["sync", "--once", "--json"]).await;
    assert!(synced["pulled"]["changes"].as_u64().unwrap() > 0, "{synced}");

    // Plain HTTP to the HTTPS port is no way in.
    let plain = reqwest::Client::new().get(format!("http://{}/v1/device", hub.addr)).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // The certificate is renewed by another CA and the hub told with SIGHUP: new
    // handshakes get the new one. The kiosk trusting only the old CA now says why it
    // cannot sync; one configured with the new CA (`[sync] ca_file`) enrols.
    let new_ca = ca(pki.path(), "renewed");
    issue(&new_ca, &files);
    let status = std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut refused = String::new();
    for _ in 0..50 {
        let out = kiosk.run(&["sync", "--once"]).await;
        if !out.status.success() {
            refused = stderr(&out);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused.contains("not trusted"), "the renewed certificate was not taken: {refused:?}");
    let configured = Kiosk::with_config(&format!("[sync]\nca_file = {:?}\n", path_str(&new_ca.pem)));
    configured.json(&["enroll", "--hub", &url, "--token", &hub.device_token(1), "--json"]).await;
    let synced = configured.json(&["sync", "--once", "--json"]).await;
    assert!(synced["pulled"]["changes"].as_u64().unwrap() > 0, "{synced}");
}
