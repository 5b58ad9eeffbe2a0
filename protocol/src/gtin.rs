//! GS1 numbers the kiosk's scanner reads: product EAN-13 / EAN-8 / UPC-A, the chain's
//! loyalty cards (an EAN-13 with the chain's in-store prefix) and the 6-digit pickup code.
//! Each type can only be built from a number whose shape and check digit are right.

use serde::{Serialize, Serializer};

/// The chain's loyalty-card prefix unless the config names another. GS1 keeps 040-049
/// for numbers used inside one company, so no product in the shop carries it.
pub const DEFAULT_LOYALTY_PREFIX: &str = "042";

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("the number should have {expected} digits but has {found}")]
    WrongLength { expected: &'static str, found: usize },
    #[error("the number may contain only the digits 0 to 9")]
    NotDigits,
    #[error("the check digit is {found} but should be {expected}, so the number was misread or mistyped")]
    BadCheckDigit { expected: u8, found: u8 },
    #[error("a loyalty card number starts with {prefix}, and this one does not")]
    NotLoyaltyPrefix { prefix: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GtinKind {
    Ean13,
    Ean8,
    UpcA,
}

/// A product number with a verified check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gtin {
    /// Kept as scanned: leading zeros matter (a UPC-A and its EAN-13 form differ in length).
    digits: String,
    kind: GtinKind,
}

/// GS1 mod-10 check digit of `body`, every digit before the check digit: weights 3 and 1
/// alternate from the rightmost body digit, which makes one rule fit EAN-8, UPC-A and
/// EAN-13 (bodies of 7, 11 and 12 digits). `None` unless `body` is one or more digits.
pub fn check_digit(body: &str) -> Option<u8> {
    mod10(body.as_bytes())
}

fn mod10(body: &[u8]) -> Option<u8> {
    if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Reduced as it goes so no body, however long, can overflow the sum.
    let sum = body.iter().rev().enumerate().fold(0u8, |acc, (i, &b)| {
        let weight = if i % 2 == 0 { 3 } else { 1 };
        (acc + (b - b'0') * weight) % 10
    });
    Some((10 - sum) % 10)
}

/// Checks the last digit of `number` against the ones before it.
fn verify_check_digit(number: &str) -> Result<(), GtinError> {
    let (&last, body) = number.as_bytes().split_last().ok_or(GtinError::NotDigits)?;
    let expected = mod10(body).ok_or(GtinError::NotDigits)?;
    if !last.is_ascii_digit() {
        return Err(GtinError::NotDigits);
    }
    let found = last - b'0';
    if expected != found {
        return Err(GtinError::BadCheckDigit { expected, found });
    }
    Ok(())
}

fn all_digits(s: &str) -> Result<(), GtinError> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(GtinError::NotDigits)
    }
}

impl Gtin {
    /// An EAN-13, EAN-8 or UPC-A with the right check digit. Knows nothing of the loyalty
    /// prefix: [`crate::scan::classify`] sends a 13-digit number with the chain's prefix to
    /// [`LoyaltyCard`] before it gets here.
    pub fn parse(s: &str) -> Result<Gtin, GtinError> {
        all_digits(s)?;
        let kind = match s.len() {
            13 => GtinKind::Ean13,
            8 => GtinKind::Ean8,
            12 => GtinKind::UpcA,
            n => return Err(GtinError::WrongLength { expected: "8, 12 or 13", found: n }),
        };
        verify_check_digit(s)?;
        Ok(Gtin { digits: s.to_string(), kind })
    }

    /// The EAN-13 whose first twelve digits are `body12`, check digit appended (for
    /// seeding catalogues).
    pub fn ean13_from_body(body12: &str) -> Result<Gtin, GtinError> {
        all_digits(body12)?;
        if body12.len() != 12 {
            return Err(GtinError::WrongLength { expected: "12", found: body12.len() });
        }
        let check = check_digit(body12).ok_or(GtinError::NotDigits)?;
        Ok(Gtin { digits: format!("{body12}{check}"), kind: GtinKind::Ean13 })
    }

    pub fn as_str(&self) -> &str {
        &self.digits
    }

    pub fn kind(&self) -> GtinKind {
        self.kind
    }
}

impl Serialize for Gtin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.digits)
    }
}

/// A loyalty-card number: a valid EAN-13 that starts with the chain's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LoyaltyCard(String);

impl LoyaltyCard {
    pub fn parse(s: &str, prefix: &str) -> Result<LoyaltyCard, GtinError> {
        all_digits(s)?;
        if s.len() != 13 {
            return Err(GtinError::WrongLength { expected: "13", found: s.len() });
        }
        if !s.starts_with(prefix) {
            return Err(GtinError::NotLoyaltyPrefix { prefix: prefix.to_string() });
        }
        verify_check_digit(s)?;
        Ok(LoyaltyCard(s.to_string()))
    }

    /// Card number `number` of the chain: prefix, `number` zero-padded to make twelve
    /// digits, check digit. Panics if the prefix is not digits or the two do not fit in
    /// twelve digits: card numbers come from the hub's own counter, never from input.
    pub fn generate(prefix: &str, number: u64) -> LoyaltyCard {
        let body = format!("{prefix}{number:0width$}", width = 12usize.saturating_sub(prefix.len()));
        let check = if body.len() == 12 { mod10(body.as_bytes()) } else { None };
        let Some(check) = check else {
            panic!("loyalty card {number} with prefix {prefix:?} does not fit in twelve digits");
        };
        LoyaltyCard(format!("{body}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The six digits a shopper types or reads out at the pickup desk. No check digit: the
/// hub matches it against the store's ready orders.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PickupCode(String);

impl PickupCode {
    pub fn parse(s: &str) -> Result<PickupCode, GtinError> {
        all_digits(s)?;
        if s.len() != 6 {
            return Err(GtinError::WrongLength { expected: "6", found: s.len() });
        }
        Ok(PickupCode(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use GtinError::*;

    /// Which parser a row goes through.
    enum As {
        Product,
        Loyalty(&'static str),
        Pickup,
    }

    /// One row: the number, the parser, and `kind digits` or the error.
    fn check(input: &str, parser: As, expected: Result<&str, GtinError>) {
        let got = match parser {
            As::Product => Gtin::parse(input).map(|g| format!("{:?} {}", g.kind(), g.as_str())),
            As::Loyalty(prefix) => LoyaltyCard::parse(input, prefix).map(|c| format!("card {}", c.as_str())),
            As::Pickup => PickupCode::parse(input).map(|p| format!("pickup {}", p.as_str())),
        };
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "{input:?}");
    }

    #[test]
    fn number_table() {
        let cases: Vec<(&str, As, Result<&str, GtinError>)> = vec![
            // Real products.
            ("4006381333931", As::Product, Ok("Ean13 4006381333931")),
            ("5901234123457", As::Product, Ok("Ean13 5901234123457")),
            ("96385074", As::Product, Ok("Ean8 96385074")),
            ("73513537", As::Product, Ok("Ean8 73513537")),
            ("036000291452", As::Product, Ok("UpcA 036000291452")),
            ("012345678905", As::Product, Ok("UpcA 012345678905")),
            ("0036000291452", As::Product, Ok("Ean13 0036000291452")),
            // Misread or mistyped.
            ("4006381333932", As::Product, Err(BadCheckDigit { expected: 1, found: 2 })),
            ("96385075", As::Product, Err(BadCheckDigit { expected: 4, found: 5 })),
            ("036000291453", As::Product, Err(BadCheckDigit { expected: 2, found: 3 })),
            ("4006381333913", As::Product, Err(BadCheckDigit { expected: 7, found: 3 })),
            ("400638133393", As::Product, Err(BadCheckDigit { expected: 0, found: 3 })),
            ("40063813339a1", As::Product, Err(NotDigits)),
            ("4006381333931 ", As::Product, Err(NotDigits)),
            ("４００６３８１３３３９３１", As::Product, Err(NotDigits)),
            ("", As::Product, Err(WrongLength { expected: "8, 12 or 13", found: 0 })),
            ("9638507", As::Product, Err(WrongLength { expected: "8, 12 or 13", found: 7 })),
            ("40063813339310", As::Product, Err(WrongLength { expected: "8, 12 or 13", found: 14 })),
            // Loyalty cards.
            ("0420000000174", As::Loyalty("042"), Ok("card 0420000000174")),
            ("0420000000175", As::Loyalty("042"), Err(BadCheckDigit { expected: 4, found: 5 })),
            ("0420000000174", As::Loyalty("043"), Err(NotLoyaltyPrefix { prefix: "043".into() })),
            ("4006381333931", As::Loyalty("042"), Err(NotLoyaltyPrefix { prefix: "042".into() })),
            ("2900000000017", As::Loyalty("29"), Err(BadCheckDigit { expected: 8, found: 7 })),
            ("042000000017", As::Loyalty("042"), Err(WrongLength { expected: "13", found: 12 })),
            ("04200000001x4", As::Loyalty("042"), Err(NotDigits)),
            // Pickup codes.
            ("004711", As::Pickup, Ok("pickup 004711")),
            ("000000", As::Pickup, Ok("pickup 000000")),
            ("04711", As::Pickup, Err(WrongLength { expected: "6", found: 5 })),
            ("0047111", As::Pickup, Err(WrongLength { expected: "6", found: 7 })),
            ("0047a1", As::Pickup, Err(NotDigits)),
            ("-04711", As::Pickup, Err(NotDigits)),
        ];
        for (input, parser, expected) in cases {
            check(input, parser, expected);
        }
    }

    #[test]
    fn check_digits_of_each_body_length() {
        let cases = [
            ("9638507", Some(4)),
            ("03600029145", Some(2)),
            ("400638133393", Some(1)),
            ("0000000", Some(0)),
            ("", None),
            ("12a", None),
            ("١٢٣", None),
        ];
        for (body, expected) in cases {
            assert_eq!(check_digit(body), expected, "{body:?}");
        }
    }

    #[test]
    fn generated_numbers_have_the_documented_shape() {
        assert_eq!(LoyaltyCard::generate("042", 17).as_str(), "0420000000174");
        assert_eq!(LoyaltyCard::generate("", 1).as_str(), "0000000000017");
        assert_eq!(LoyaltyCard::generate("042", 999_999_999).as_str(), "0429999999995");
        assert_eq!(Gtin::ean13_from_body("400638133393").map(|g| g.as_str().to_string()), Ok("4006381333931".into()));
        assert_eq!(Gtin::ean13_from_body("40063813339"), Err(WrongLength { expected: "12", found: 11 }));
        assert_eq!(serde_json::to_string(&LoyaltyCard::generate("042", 17)).ok(), Some("\"0420000000174\"".into()));
        assert_eq!(serde_json::to_string(&Gtin::parse("96385074").unwrap()).ok(), Some("\"96385074\"".into()));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn a_card_number_too_big_for_the_prefix_panics() {
        LoyaltyCard::generate("042", 1_000_000_000);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn a_prefix_that_is_not_digits_panics() {
        LoyaltyCard::generate("04a", 1);
    }

    /// `number` with the digit at `pos` moved on by `delta` (1 to 9): always a different digit.
    fn change_digit(number: &str, pos: usize, delta: u8) -> String {
        let mut bytes = number.as_bytes().to_vec();
        let pos = pos % bytes.len();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        String::from_utf8(bytes).unwrap_or_default()
    }

    proptest! {
        #[test]
        fn generated_cards_parse_back(prefix in "[0-9]{0,6}", n in any::<u64>()) {
            let n = n % 10u64.pow(12 - prefix.len() as u32);
            let card = LoyaltyCard::generate(&prefix, n);
            prop_assert_eq!(LoyaltyCard::parse(card.as_str(), &prefix), Ok(card.clone()));
            prop_assert_eq!(Gtin::parse(card.as_str()).map(|g| g.kind()), Ok(GtinKind::Ean13));
        }

        #[test]
        fn one_changed_digit_is_always_caught(body in "[0-9]{12}", pos in 0usize..13, delta in 1u8..10) {
            let good = Gtin::ean13_from_body(&body).unwrap();
            prop_assert_eq!(Gtin::parse(good.as_str()), Ok(good.clone()));
            let bad = change_digit(good.as_str(), pos, delta);
            prop_assert!(matches!(Gtin::parse(&bad), Err(BadCheckDigit { .. })), "{} accepted after changing digit {}", bad, pos);
        }

        #[test]
        fn one_changed_digit_is_caught_in_short_numbers(body in "[0-9]{7}|[0-9]{11}", pos in 0usize..12, delta in 1u8..10) {
            let good = format!("{body}{}", check_digit(&body).unwrap_or(0));
            prop_assert!(Gtin::parse(&good).is_ok());
            prop_assert!(Gtin::parse(&change_digit(&good, pos, delta)).is_err());
        }
    }
}
