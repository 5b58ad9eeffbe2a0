//! Anything a scanner or a keyboard can produce goes through `classify`: it must answer
//! (a scan or a reason) and never panic, hang, accept a code it cannot verify, or give a
//! different answer because the scanner added a line ending.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::{SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use omnikiosk_protocol::gtin::{check_digit, Gtin, LoyaltyCard};
use omnikiosk_protocol::scan::{classify, Scan, ScanContext, MAX_SCAN_LEN};

fn hub_key() -> &'static VerifyingKey {
    // Deriving the key is a scalar multiplication: once, not once per input.
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_bytes(&[42; 32]).verifying_key())
}

fuzz_target!(|data: &[u8]| {
    // Lossy rather than skipping: bytes that are not UTF-8 still drive the search.
    let input = String::from_utf8_lossy(data);
    let ctx = ScanContext { hub_key: Some(hub_key()), now: 1_800_000_000, loyalty_prefix: "042" };
    let result = classify(&input, &ctx);
    match &result {
        // Only the holder of the signing key can make one; the fuzzer cannot.
        Ok(Scan::Customer(c) | Scan::Order(c) | Scan::Staff(c)) => panic!("fuzzer forged a signed code: {c:?}"),
        Ok(Scan::Product(g)) => {
            assert!(!g.as_str().starts_with("042") || g.as_str().len() != 13, "loyalty card taken for a product");
            assert_eq!(Gtin::parse(g.as_str()).as_ref(), Ok(g));
        }
        Ok(Scan::LoyaltyCard(card)) => {
            assert_eq!(LoyaltyCard::parse(card.as_str(), "042").as_ref(), Ok(card));
            let (body, last) = card.as_str().split_at(12);
            assert_eq!(check_digit(body).map(|d| d.to_string()).as_deref(), Some(last));
        }
        Ok(Scan::PickupCode(p)) => assert!(p.as_str().len() == 6 && p.as_str().bytes().all(|b| b.is_ascii_digit())),
        Err(e) => assert!(e.to_string().starts_with("code not recognised: ")),
    }
    if input.len() + 2 <= MAX_SCAN_LEN {
        assert_eq!(classify(&format!("{input}\r\n"), &ctx), result, "a CR/LF suffix changed the answer");
    }
});
