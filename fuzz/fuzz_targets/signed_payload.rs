//! The checks behind the signature (JSON, fields, id, times) are out of a forger's reach,
//! so `classify` alone never fuzzes them. Here the hub signs whatever payload the fuzzer
//! makes up: a hub bug or a newer hub must still get an answer, never a panic or a bad id.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use omnikiosk_protocol::code::{MAX_ID_LEN, MAX_SKEW_SECS};
use omnikiosk_protocol::scan::{classify, Scan, ScanContext};

const NOW: i64 = 1_800_000_000;

fn hub() -> &'static (SigningKey, VerifyingKey) {
    static HUB: OnceLock<(SigningKey, VerifyingKey)> = OnceLock::new();
    HUB.get_or_init(|| {
        let key = SigningKey::from_bytes(&[42; 32]);
        let public = key.verifying_key();
        (key, public)
    })
}

fuzz_target!(|payload: &[u8]| {
    let (key, public) = hub();
    let signed = format!("K1.{}", URL_SAFE_NO_PAD.encode(payload));
    let code = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(key.sign(signed.as_bytes()).to_bytes()));
    let ctx = ScanContext { hub_key: Some(public), now: NOW, loyalty_prefix: "042" };
    match classify(&code, &ctx) {
        Ok(Scan::Customer(c) | Scan::Order(c) | Scan::Staff(c)) => {
            assert!(!c.id.is_empty() && c.id.len() <= MAX_ID_LEN && c.id.bytes().all(|b| b.is_ascii_graphic()), "{c:?}");
            assert!(NOW < c.exp && c.iat <= NOW + MAX_SKEW_SECS, "{c:?}");
        }
        Ok(other) => panic!("a K1 code was taken for {other:?}"),
        // A genuine signature over any payload: refused for what it says, never as forged.
        Err(e) => assert_ne!(e.code(), "bad_signature", "{e}"),
    }
});
