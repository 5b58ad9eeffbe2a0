//! Everything a scanner or keyboard can hand the kiosk, through the public API as the
//! kiosk and the hub call it: what it is taken for, or the reason shown on screen.

use ed25519_dalek::SigningKey;
use omnikiosk_protocol::code::{self, CodeClaims, CodeKind};
use omnikiosk_protocol::scan::{classify, Scan, ScanContext, MAX_SCAN_LEN};
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000;

fn hub() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn signed_by(key: &SigningKey, kind: CodeKind, id: &str, iat: i64, exp: i64) -> String {
    code::sign(key, &CodeClaims { kind, id: id.into(), iat, exp, version: 0 })
}

fn signed(kind: CodeKind, id: &str) -> String {
    signed_by(&hub(), kind, id, NOW - 60, NOW + 3600)
}

/// The kiosk a row is scanned at.
#[derive(Clone, Copy)]
enum Kiosk {
    /// Enrolled with `hub()`, default prefix.
    Enrolled,
    /// Not enrolled yet: no hub key.
    New,
    /// A chain whose loyalty cards start with 29.
    Prefix29,
}

/// Classifies `input` at `kiosk` and names the outcome `kind value` or `!reason`. Every
/// refusal must read as one on-screen sentence.
fn outcome(kiosk: Kiosk, input: &str) -> String {
    let key = hub().verifying_key();
    let ctx = match kiosk {
        Kiosk::Enrolled => ScanContext { hub_key: Some(&key), now: NOW, loyalty_prefix: "042" },
        Kiosk::New => ScanContext { hub_key: None, now: NOW, loyalty_prefix: "042" },
        Kiosk::Prefix29 => ScanContext { hub_key: Some(&key), now: NOW, loyalty_prefix: "29" },
    };
    match classify(input, &ctx) {
        Ok(scan) => {
            let value = match &scan {
                Scan::Customer(c) | Scan::Order(c) | Scan::Staff(c) => c.id.clone(),
                Scan::LoyaltyCard(card) => card.as_str().to_string(),
                Scan::PickupCode(p) => p.as_str().to_string(),
                Scan::Product(g) => format!("{:?} {}", g.kind(), g.as_str()),
                Scan::Receipt { number, .. } => number.clone(),
            };
            format!("{} {value}", scan.kind_name())
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("code not recognised: "), "{message}");
            assert!(!message.contains('\n') && message.len() < 160, "not one short sentence: {message}");
            format!("!{}", e.code())
        }
    }
}

/// `code` with the character at `pos` replaced by a different one of the base64url alphabet.
fn swap_char(code: &str, pos: usize) -> String {
    let swapped = if &code[pos..pos + 1] == "A" { "B" } else { "A" };
    format!("{}{swapped}{}", &code[..pos], &code[pos + 1..])
}

#[test]
fn classification_table() {
    use Kiosk::*;
    let customer = signed(CodeKind::Customer, "C0001");
    let (payload, sig) = customer["K1.".len()..].split_once('.').unwrap();
    let other_hub = SigningKey::from_bytes(&[10; 32]);
    let noise: String = (0..4096).map(|i| char::from(b'!' + (i * 7 % 90) as u8)).collect();
    let padded_to_limit = format!("{customer}{}", " ".repeat(MAX_SCAN_LEN - customer.len()));
    let cases: Vec<(Kiosk, String, &str)> = vec![
        // Signed codes.
        (Enrolled, customer.clone(), "customer C0001"),
        (Enrolled, signed(CodeKind::Order, "O-1-17"), "order O-1-17"),
        (Enrolled, signed(CodeKind::Staff, "S1-STAFF"), "staff S1-STAFF"),
        (Enrolled, format!("{customer}\r\n"), "customer C0001"),
        (Enrolled, format!("  {customer}\t"), "customer C0001"),
        (Enrolled, format!("\u{2}{customer}\u{3}"), "customer C0001"),
        (Enrolled, padded_to_limit.clone(), "customer C0001"),
        (Enrolled, format!("{padded_to_limit} "), "!too_long"),
        (Enrolled, signed_by(&other_hub, CodeKind::Customer, "C0001", NOW - 60, NOW + 3600), "!bad_signature"),
        (Enrolled, format!("K1.{}.{sig}", payload.replacen('e', "f", 1)), "!bad_signature"),
        (Enrolled, swap_char(&customer, customer.len() - 10), "!bad_signature"),
        (Enrolled, signed_by(&hub(), CodeKind::Customer, "C0001", NOW - 7200, NOW - 1), "!expired"),
        (Enrolled, signed_by(&hub(), CodeKind::Customer, "C0001", NOW + 3600, NOW + 7200), "!not_yet_valid"),
        (Enrolled, customer[..customer.len() / 2].to_string(), "!damaged_code"),
        (Enrolled, customer[..customer.len() - 2].to_string(), "!damaged_code"),
        (Enrolled, format!("{customer}=="), "!damaged_code"),
        (Enrolled, "K1.".into(), "!damaged_code"),
        (Enrolled, signed(CodeKind::Customer, "C 1"), "!unsupported_code"),
        (Enrolled, format!("K1.{}", "A".repeat(600)), "!too_long"),
        (New, customer.clone(), "!no_hub_key"),
        (New, "K1.garbage".into(), "!no_hub_key"),
        (Enrolled, format!("k1.{payload}.{sig}"), "!unknown_format"),
        (Enrolled, "K1".into(), "!unknown_format"),
        // Loyalty cards, pickup codes, products.
        (Enrolled, "0420000000174".into(), "loyalty_card 0420000000174"),
        (Enrolled, "0420000000174\r\n".into(), "loyalty_card 0420000000174"),
        (Enrolled, "0420000000175".into(), "!bad_check_digit"),
        (Prefix29, "0420000000174".into(), "product Ean13 0420000000174"),
        (Prefix29, "2900000000018".into(), "loyalty_card 2900000000018"),
        (Enrolled, "123456".into(), "pickup_code 123456"),
        (Enrolled, " 004711\n".into(), "pickup_code 004711"),
        (Enrolled, "4006381333931".into(), "product Ean13 4006381333931"),
        (Enrolled, "4006381333931\r\n".into(), "product Ean13 4006381333931"),
        (Enrolled, "4006381333932".into(), "!bad_check_digit"),
        (Enrolled, "96385074".into(), "product Ean8 96385074"),
        (Enrolled, "96385075".into(), "!bad_check_digit"),
        (Enrolled, "036000291452\t".into(), "product UpcA 036000291452"),
        (Enrolled, "036000291453".into(), "!bad_check_digit"),
        (New, "4006381333931".into(), "product Ean13 4006381333931"),
        // Neither.
        (Enrolled, "12345".into(), "!unknown_format"),
        (Enrolled, "1234567".into(), "!unknown_format"),
        (Enrolled, "40063813339310".into(), "!unknown_format"),
        (Enrolled, "4006 381 333 931".into(), "!unknown_format"),
        (Enrolled, "4006381\u{0}333931".into(), "!unknown_format"),
        (Enrolled, "' OR 1=1; --".into(), "!unknown_format"),
        (Enrolled, "4006381333931' OR 1=1; --".into(), "!unknown_format"),
        (Enrolled, "'; DROP TABLE customers; --".into(), "!unknown_format"),
        (Enrolled, "١٢٣٤٥٦".into(), "!unknown_format"),
        (Enrolled, "１２３４５６".into(), "!unknown_format"),
        (Enrolled, "\u{feff}123456".into(), "!unknown_format"),
        (Enrolled, "🛒".into(), "!unknown_format"),
        (Enrolled, "".into(), "!empty"),
        (Enrolled, "   \r\n\t".into(), "!empty"),
        (Enrolled, "\u{0}\u{1b}".into(), "!empty"),
        (Enrolled, noise, "!too_long"),
        (Enrolled, "4".repeat(MAX_SCAN_LEN + 1), "!too_long"),
    ];
    for (kiosk, input, expected) in cases {
        assert_eq!(outcome(kiosk, &input), expected, "input {input:.80?}");
    }
}

#[test]
fn noise_is_refused_before_any_work() {
    // Far over the limit and shaped like a code: the length check alone must answer,
    // so a flood of these costs no decoding or signature checks.
    let blob = format!("K1.{}.{}", "A".repeat(2048), "B".repeat(2048));
    let key = hub().verifying_key();
    let ctx = ScanContext { hub_key: Some(&key), now: NOW, loyalty_prefix: "042" };
    let started = std::time::Instant::now();
    for _ in 0..10_000 {
        assert_eq!(classify(&blob, &ctx).map_err(|e| e.code()), Err("too_long"));
    }
    // 10 000 signature checks would take about half a second; 10 000 length checks, microseconds.
    assert!(started.elapsed() < std::time::Duration::from_millis(100), "{:?}", started.elapsed());
}

fn whitespace() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just(' '), Just('\r'), Just('\n'), Just('\t')], 0..4)
        .prop_map(String::from_iter)
}

proptest! {
    #[test]
    fn never_panics_on_any_string(chars in proptest::collection::vec(any::<char>(), 0..1100)) {
        let s: String = chars.into_iter().collect();
        let _ = outcome(Kiosk::Enrolled, &s);
        let _ = outcome(Kiosk::New, &s);
    }

    #[test]
    fn never_panics_on_near_misses(s in "K1\\.[A-Za-z0-9_=+/.-]{0,200}|[0-9 ]{0,20}|[\\x00-\\x7f]{0,40}") {
        let _ = outcome(Kiosk::Enrolled, &s);
    }

    #[test]
    fn scanner_suffixes_do_not_change_the_answer(
        input in prop_oneof!["[0-9]{6,13}", "[!-~]{1,64}".prop_map(|id| signed(CodeKind::Customer, &id))],
        before in whitespace(),
        after in whitespace(),
    ) {
        prop_assert_eq!(outcome(Kiosk::Enrolled, &format!("{before}{input}{after}")), outcome(Kiosk::Enrolled, &input));
    }
}
