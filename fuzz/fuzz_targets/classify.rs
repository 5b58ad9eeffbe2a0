//! Anything a scanner or a keyboard can produce goes through `classify`: it must answer
//! (a scan or a reason) and never panic, hang or accept a code it cannot verify.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use omnikiosk_protocol::scan::{classify, Scan, ScanContext};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let key = SigningKey::from_bytes(&[42; 32]).verifying_key();
    let ctx = ScanContext { hub_key: Some(&key), now: 1_800_000_000, loyalty_prefix: "042" };
    if let Ok(Scan::Customer(c) | Scan::Order(c) | Scan::Staff(c)) = classify(input, &ctx) {
        // Only the holder of the signing key can make one; the fuzzer cannot.
        panic!("fuzzer forged a signed code: {c:?}");
    }
});
