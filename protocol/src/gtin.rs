//! GS1 numbers the kiosk's scanner reads: product EAN-13 / EAN-8 / UPC-A, the chain's
//! loyalty cards (an EAN-13 with the chain's prefix), and the 6-digit pickup code.
//! Each type can only be built from a number whose shape and check digit are right.

use serde::{Serialize, Serializer};

pub const DEFAULT_LOYALTY_PREFIX: &str = "042";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("expected {expected} digits, got {found}")]
    WrongLength { expected: &'static str, found: usize },
    #[error("only digits are allowed")]
    NotDigits,
    #[error("the check digit is wrong (expected {expected}, found {found})")]
    BadCheckDigit { expected: u8, found: u8 },
    #[error("this card number does not start with the chain's loyalty prefix {prefix}")]
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
    digits: String,
    kind: GtinKind,
}

/// GS1 mod-10 check digit of `body` (every digit before the check digit): weights 3 and
/// 1 alternate from the rightmost body digit. `None` unless `body` is all digits.
pub fn check_digit(body: &str) -> Option<u8> {
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    Some(((10 - sum % 10) % 10) as u8)
}

fn verify_check_digit(digits: &str) -> Result<(), GtinError> {
    let (body, last) = digits.split_at(digits.len() - 1);
    let expected = check_digit(body).ok_or(GtinError::NotDigits)?;
    let found = last.as_bytes()[0] - b'0';
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

    /// The EAN-13 whose first twelve digits are `body12` (for seeding catalogues).
    pub fn ean13_from_body(body12: &str) -> Result<Gtin, GtinError> {
        all_digits(body12)?;
        if body12.len() != 12 {
            return Err(GtinError::WrongLength { expected: "12", found: body12.len() });
        }
        let cd = check_digit(body12).ok_or(GtinError::NotDigits)?;
        Gtin::parse(&format!("{body12}{cd}"))
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

    /// Card number `number` of the chain: prefix, zero-padded number to twelve digits,
    /// check digit. Panics if prefix and number do not fit in twelve digits.
    pub fn generate(prefix: &str, number: u64) -> LoyaltyCard {
        let width = 12usize.checked_sub(prefix.len()).expect("loyalty prefix longer than 12 digits");
        let body = format!("{prefix}{number:0width$}");
        assert!(body.len() == 12 && body.bytes().all(|b| b.is_ascii_digit()), "card number {number} does not fit");
        let cd = check_digit(&body).expect("digits");
        LoyaltyCard(format!("{body}{cd}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for LoyaltyCard {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The six digits a shopper types or reads out at the pickup desk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

impl Serialize for PickupCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_numbers_and_their_neighbours() {
        let cases: &[(&str, Result<GtinKind, ()>)] = &[
            ("4006381333931", Ok(GtinKind::Ean13)),
            ("5901234123457", Ok(GtinKind::Ean13)),
            ("96385074", Ok(GtinKind::Ean8)),
            ("036000291452", Ok(GtinKind::UpcA)),
            ("4006381333932", Err(())),
            ("96385075", Err(())),
            ("036000291453", Err(())),
            ("400638133393", Err(())),
            ("40063813339a1", Err(())),
            ("", Err(())),
        ];
        for (s, expected) in cases {
            assert_eq!(Gtin::parse(s).map(|g| g.kind()).map_err(|_| ()), *expected, "{s}");
        }
    }

    #[test]
    fn loyalty_cards_need_the_prefix_and_the_check_digit() {
        let card = LoyaltyCard::generate("042", 17);
        assert_eq!(card.as_str(), "0420000000174");
        assert!(LoyaltyCard::parse(card.as_str(), "042").is_ok());
        assert_eq!(
            LoyaltyCard::parse(card.as_str(), "043"),
            Err(GtinError::NotLoyaltyPrefix { prefix: "043".into() })
        );
        assert!(matches!(LoyaltyCard::parse("0420000000175", "042"), Err(GtinError::BadCheckDigit { .. })));
    }

    #[test]
    fn pickup_codes_are_six_digits() {
        assert!(PickupCode::parse("004711").is_ok());
        assert!(PickupCode::parse("04711").is_err());
        assert!(PickupCode::parse("0047a1").is_err());
    }

    proptest! {
        #[test]
        fn generated_cards_parse_back(n in 0u64..1_000_000_000) {
            let card = LoyaltyCard::generate("042", n);
            prop_assert_eq!(LoyaltyCard::parse(card.as_str(), "042"), Ok(card.clone()));
        }

        #[test]
        fn one_changed_digit_is_always_caught(body in "[0-9]{12}", pos in 0usize..13, delta in 1u8..10) {
            let good = Gtin::ean13_from_body(&body).unwrap();
            let mut bytes = good.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let bad = String::from_utf8(bytes).unwrap();
            prop_assert!(Gtin::parse(&bad).is_err(), "{} accepted after changing digit {}", bad, pos);
        }
    }
}
