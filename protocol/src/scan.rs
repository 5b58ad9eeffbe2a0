//! One function that says what any scanned or typed string is: a signed customer, order
//! or staff code, a loyalty card, a pickup code, a product — or, in one sentence, why it
//! is none of them. It never panics and never trusts unverified input.

use ed25519_dalek::VerifyingKey;

use crate::code::{self, CodeClaims, CodeError, CodeKind};
use crate::gtin::{Gtin, GtinError, LoyaltyCard, PickupCode};

/// Longest input looked at; anything longer is noise (a real code is under 200 bytes).
pub const MAX_SCAN_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Scan {
    Customer(CodeClaims),
    Order(CodeClaims),
    Staff(CodeClaims),
    LoyaltyCard(LoyaltyCard),
    PickupCode(PickupCode),
    Product(Gtin),
}

impl Scan {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Scan::Customer(_) => "customer",
            Scan::Order(_) => "order",
            Scan::Staff(_) => "staff",
            Scan::LoyaltyCard(_) => "loyalty_card",
            Scan::PickupCode(_) => "pickup_code",
            Scan::Product(_) => "product",
        }
    }
}

/// What the classifier needs to know about the kiosk.
pub struct ScanContext<'a> {
    /// The hub's key from enrolment; without it signed codes cannot be checked.
    pub hub_key: Option<&'a VerifyingKey>,
    /// Now, Unix seconds, for expiry.
    pub now: i64,
    /// The chain's loyalty-card prefix.
    pub loyalty_prefix: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reason {
    Empty,
    TooLong,
    NoHubKey,
    Code(CodeError),
    BadCheckDigit,
    UnknownFormat,
}

/// Why a scan is not recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRecognised {
    reason: Reason,
}

impl NotRecognised {
    fn new(reason: Reason) -> Self {
        NotRecognised { reason }
    }

    /// Stable snake_case reason for machines.
    pub fn code(&self) -> &'static str {
        match &self.reason {
            Reason::Empty => "empty",
            Reason::TooLong => "too_long",
            Reason::NoHubKey => "no_hub_key",
            Reason::Code(CodeError::BadSignature) => "bad_signature",
            Reason::Code(CodeError::Expired { .. }) => "expired",
            Reason::Code(CodeError::NotYetValid { .. }) => "not_yet_valid",
            Reason::Code(CodeError::TooLong) => "too_long",
            Reason::Code(_) => "damaged_code",
            Reason::BadCheckDigit => "bad_check_digit",
            Reason::UnknownFormat => "unknown_format",
        }
    }
}

impl std::fmt::Display for NotRecognised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Reason::Empty => f.write_str("code not recognised: nothing was scanned"),
            Reason::TooLong => f.write_str("code not recognised: far too long to be one of ours"),
            Reason::NoHubKey => f.write_str("code not recognised: this kiosk is not enrolled, so it cannot check signed codes"),
            Reason::Code(e) => write!(f, "code not recognised: {e}"),
            Reason::BadCheckDigit => f.write_str("code not recognised: the check digit is wrong (misread? scan again)"),
            Reason::UnknownFormat => f.write_str("code not recognised: not a loyalty card, app code, pickup code or product"),
        }
    }
}

impl std::error::Error for NotRecognised {}

pub fn classify(input: &str, ctx: &ScanContext<'_>) -> Result<Scan, NotRecognised> {
    if input.len() > MAX_SCAN_LEN {
        return Err(NotRecognised::new(Reason::TooLong));
    }
    // Scanners end a read with CR, LF or TAB; people paste with spaces.
    let s = input.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if s.is_empty() {
        return Err(NotRecognised::new(Reason::Empty));
    }
    if s.starts_with("K1.") {
        let key = ctx.hub_key.ok_or(NotRecognised::new(Reason::NoHubKey))?;
        let claims = code::verify(key, s, ctx.now).map_err(|e| NotRecognised::new(Reason::Code(e)))?;
        return Ok(match claims.kind {
            CodeKind::Customer => Scan::Customer(claims),
            CodeKind::Order => Scan::Order(claims),
            CodeKind::Staff => Scan::Staff(claims),
        });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotRecognised::new(Reason::UnknownFormat));
    }
    let digit_error = |e: GtinError| match e {
        GtinError::BadCheckDigit { .. } => NotRecognised::new(Reason::BadCheckDigit),
        _ => NotRecognised::new(Reason::UnknownFormat),
    };
    match s.len() {
        6 => PickupCode::parse(s).map(Scan::PickupCode).map_err(digit_error),
        13 if s.starts_with(ctx.loyalty_prefix) => {
            LoyaltyCard::parse(s, ctx.loyalty_prefix).map(Scan::LoyaltyCard).map_err(digit_error)
        }
        8 | 12 | 13 => Gtin::parse(s).map(Scan::Product).map_err(digit_error),
        _ => Err(NotRecognised::new(Reason::UnknownFormat)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn hub() -> SigningKey {
        SigningKey::from_bytes(&[9; 32])
    }

    fn signed(kind: CodeKind, id: &str, exp: i64) -> String {
        code::sign(&hub(), &CodeClaims { kind, id: id.into(), iat: NOW - 60, exp })
    }

    /// Classifies and names the outcome: a kind, or `!reason`.
    fn outcome(input: &str) -> String {
        let key = hub().verifying_key();
        let ctx = ScanContext { hub_key: Some(&key), now: NOW, loyalty_prefix: "042" };
        match classify(input, &ctx) {
            Ok(scan) => scan.kind_name().to_string(),
            Err(e) => format!("!{}", e.code()),
        }
    }

    #[test]
    fn classification_table() {
        let customer = signed(CodeKind::Customer, "C000001", NOW + 60);
        let forged = signed(CodeKind::Customer, "C000001", NOW + 60).replace("K1.ey", "K1.eX");
        let noise: String = (0..4096).map(|i| char::from(b'A' + (i % 26) as u8)).collect();
        let cases: Vec<(String, &str)> = vec![
            (customer.clone(), "customer"),
            (format!("{customer}\r\n"), "customer"),
            (signed(CodeKind::Order, "O-1-17", NOW + 60), "order"),
            (signed(CodeKind::Staff, "S1-STAFF", NOW + 60), "staff"),
            (signed(CodeKind::Customer, "C000001", NOW - 1), "!expired"),
            (forged, "!bad_signature"),
            (customer[..customer.len() / 2].to_string(), "!damaged_code"),
            ("0420000000174".into(), "loyalty_card"),
            ("0420000000175".into(), "!bad_check_digit"),
            ("4006381333931".into(), "product"),
            ("4006381333932".into(), "!bad_check_digit"),
            ("96385074".into(), "product"),
            ("036000291452\t".into(), "product"),
            ("123456".into(), "pickup_code"),
            ("12345".into(), "!unknown_format"),
            ("1234567".into(), "!unknown_format"),
            ("' OR 1=1; DROP TABLE customers; --".into(), "!unknown_format"),
            ("   \r\n".into(), "!empty"),
            (noise, "!too_long"),
            ("١٢٣٤٥٦".into(), "!unknown_format"),
        ];
        for (input, expected) in cases {
            assert_eq!(outcome(&input), expected, "{input:.60}");
        }
    }

    #[test]
    fn signed_codes_need_the_hub_key() {
        let ctx = ScanContext { hub_key: None, now: NOW, loyalty_prefix: "042" };
        let err = classify(&signed(CodeKind::Customer, "C1", NOW + 60), &ctx).unwrap_err();
        assert_eq!(err.code(), "no_hub_key");
        assert!(err.to_string().starts_with("code not recognised"));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,1500}") {
            let _ = outcome(&s);
        }

        #[test]
        fn digits_never_panic(s in "[0-9]{0,20}") {
            let _ = outcome(&s);
        }
    }
}
