//! The values inside a feed's fields, as Google's product data and local inventory
//! specifications write them: prices, sale windows, availability, GTINs, quantities and
//! product types. Each parser takes the field's trimmed text and says why it refused it.

use iso_currency::Currency;
use jiff::civil::{Date, Time};
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::Offset;
use omnikiosk_protocol::gtin::{check_digit, Gtin, GtinError};
use serde::Serialize;

/// The most a price may be, in minor units: a price over this is a typo (a GTIN pasted
/// into the price column, a missing decimal point), not something a shop sells.
pub use omnikiosk_protocol::catalogue::MAX_PRICE_MINOR;

/// An amount in a currency's minor unit: `12.99 PLN` is 1299 grosze, `1000 JPY` is 1000 yen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    /// Exact, never a float: the decimal text is read digit by digit.
    pub minor: i64,
    /// The ISO 4217 code, upper case.
    pub currency: String,
}

/// When a sale price applies, in unix seconds: from `from` (inclusive) until `until`
/// (exclusive). A date without a time starts at its midnight and ends at the next one,
/// and a time without an offset is UTC, as Google reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SaleWindow {
    pub from: i64,
    pub until: i64,
}

/// Whether a product can be had: the product data values and the local inventory ones
/// (`limited_availability`, `on_display_to_order`), each also accepted with spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    InStock,
    OutOfStock,
    Preorder,
    Backorder,
    /// Local inventory: one or two left in the store.
    LimitedAvailability,
    /// Local inventory: shown in the store, ordered for the shopper.
    OnDisplayToOrder,
}

/// `12.99 PLN` (also `12.99PLN`, `12.99 pln`; `1099.00 JPY` as Google writes yen).
pub(super) fn money(text: &str) -> Result<Money, String> {
    let Some(split) = text.find(|c: char| c.is_ascii_alphabetic()) else {
        return Err(format!("{text} has no currency: write it as 12.99 PLN"));
    };
    let (amount, code) = (text[..split].trim(), text[split..].trim().to_ascii_uppercase());
    if amount.is_empty() || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("{text} should be the amount and then the currency, as 12.99 PLN"));
    }
    let currency = Currency::from_code(&code).ok_or_else(|| format!("{code} is not an ISO 4217 currency code"))?;
    let decimals = currency.exponent().ok_or_else(|| format!("{code} is not a currency a shop prices in"))? as usize;
    if amount.starts_with('-') {
        return Err(format!("{text} is negative: a price cannot be"));
    }
    if amount.contains(',') {
        return Err(format!("{text}: write the decimals after a dot, with no thousands separator, as 1234.50 {code}"));
    }
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (amount.contains('.') && !digits(fraction)) {
        return Err(format!("{amount} is not an amount of money"));
    }
    // Google writes yen as `1099.00 JPY`: decimals past the currency's are fine when zero.
    let (kept, dropped) = fraction.split_at(fraction.len().min(decimals));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(format!("{code} has {decimals} decimal places and {amount} has {}", fraction.len()));
    }
    let too_big = || format!("{text} is more than any price (at most {MAX_PRICE_MINOR} in {code}'s minor unit)");
    let digits = format!("{whole}{kept:0<decimals$}");
    let minor = digits.trim_start_matches('0');
    if minor.len() > 18 {
        return Err(too_big());
    }
    let minor: i64 = if minor.is_empty() { 0 } else { minor.parse().map_err(|_| too_big())? };
    if minor > MAX_PRICE_MINOR {
        return Err(too_big());
    }
    Ok(Money { minor, currency: code })
}

/// `2026-02-24T13:00-0800/2026-02-28T15:30-0800`: start and end, with or without
/// seconds, offset (`Z`, `+0100`, `+01:00`) or time.
pub(super) fn sale_window(text: &str) -> Result<SaleWindow, String> {
    let shape = "write it as 2026-02-24T13:00+0100/2026-02-28T23:59+0100";
    let (from, until) = text.split_once('/').ok_or_else(|| format!("{text} is not a start and an end separated by /: {shape}"))?;
    let from = instant(from.trim(), false).map_err(|why| format!("{why}: {shape}"))?;
    let until = instant(until.trim(), true).map_err(|why| format!("{why}: {shape}"))?;
    if until <= from {
        return Err(format!("{text} ends before it starts"));
    }
    Ok(SaleWindow { from, until })
}

/// Unix seconds of one end of a sale window; a date alone is its midnight, or for the
/// end of the window the midnight after it.
fn instant(text: &str, end: bool) -> Result<i64, String> {
    let pieces = Pieces::parse(text).map_err(|e| format!("{text} is not a date and time ({e})"))?;
    let offset = match pieces.offset() {
        Some(PiecesOffset::Numeric(numeric)) => numeric.offset(),
        _ => Offset::UTC,
    };
    let (date, time): (Date, Time) = match pieces.time() {
        Some(time) => (pieces.date(), time),
        None if end => (pieces.date().tomorrow().map_err(|e| format!("{text}: {e}"))?, Time::midnight()),
        None => (pieces.date(), Time::midnight()),
    };
    let at = offset.to_timestamp(date.to_datetime(time)).map_err(|e| format!("{text}: {e}"))?;
    Ok(at.as_second())
}

/// `in_stock`, `in stock`, `In Stock`, …
pub(super) fn availability(text: &str) -> Result<Availability, String> {
    let normalized = text.to_ascii_lowercase().replace([' ', '-'], "_");
    Ok(match normalized.as_str() {
        "in_stock" => Availability::InStock,
        "out_of_stock" => Availability::OutOfStock,
        "preorder" | "pre_order" => Availability::Preorder,
        "backorder" | "back_order" => Availability::Backorder,
        "limited_availability" => Availability::LimitedAvailability,
        "on_display_to_order" => Availability::OnDisplayToOrder,
        _ => {
            return Err(format!(
                "{text} is not an availability: in_stock, out_of_stock, preorder, backorder, limited_availability or on_display_to_order"
            ))
        }
    })
}

/// GTINs separated by commas, each with a right check digit (EAN-13, EAN-8, UPC-A or
/// GTIN-14), none twice: a UPC-A and its EAN-13 with a leading zero are the same GTIN.
pub(super) fn gtins(text: &str) -> Result<Vec<String>, String> {
    let mut found: Vec<String> = Vec::new();
    for gtin in text.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        check_gtin(gtin).map_err(|why| format!("{gtin} is not a GTIN: {why}"))?;
        let same = |other: &String| format!("{other:0>14}") == format!("{gtin:0>14}");
        if let Some(first) = found.iter().find(|other| same(other)) {
            return Err(if first == gtin {
                format!("{gtin} is listed twice")
            } else {
                format!("{first} and {gtin} are the same GTIN")
            });
        }
        found.push(gtin.to_string());
    }
    Ok(found)
}

fn check_gtin(gtin: &str) -> Result<(), GtinError> {
    if !gtin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GtinError::NotDigits);
    }
    match gtin.len() {
        8 | 12 | 13 => Gtin::parse(gtin).map(drop),
        // A case of products: the protocol's scanner types stop at EAN-13, the mod-10 rule does not.
        14 => {
            let (body, last) = gtin.split_at(13);
            let expected = check_digit(body).ok_or(GtinError::NotDigits)?;
            let found = last.as_bytes()[0] - b'0';
            if expected == found {
                Ok(())
            } else {
                Err(GtinError::BadCheckDigit { expected, found })
            }
        }
        found => Err(GtinError::WrongLength { expected: "8, 12, 13 or 14", found }),
    }
}

/// A whole number of items, zero or more.
pub(super) fn quantity(text: &str) -> Result<i64, String> {
    let n: i64 = text.parse().map_err(|_| format!("{text} is not a whole number of items"))?;
    if n < 0 {
        return Err(format!("{text} is negative: a quantity cannot be"));
    }
    Ok(n)
}

/// `Home > Kitchen > Mugs` as its segments.
pub(super) fn product_type(text: &str) -> Vec<String> {
    text.split('>').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pln(minor: i64) -> Result<Money, String> {
        Ok(Money { minor, currency: "PLN".into() })
    }

    /// `Err` cases give a piece of the message: enough to tell which rule spoke.
    fn check<T: PartialEq + std::fmt::Debug>(input: &str, got: Result<T, String>, expected: Result<T, &str>) {
        match (&got, &expected) {
            (Err(message), Err(part)) => assert!(message.contains(part), "{input:?}: {message:?} lacks {part:?}"),
            _ => assert_eq!(got.map_err(|e| e.to_string()), expected.map_err(str::to_string), "{input:?}"),
        }
    }

    #[test]
    fn prices_are_read_exactly_in_minor_units() {
        let cases: Vec<(&str, Result<Money, &str>)> = vec![
            ("12.99 PLN", pln(1299).map_err(|_| "")),
            ("12.9 PLN", pln(1290).map_err(|_| "")),
            ("12 PLN", pln(1200).map_err(|_| "")),
            ("0.10 PLN", pln(10).map_err(|_| "")),
            ("0 PLN", pln(0).map_err(|_| "")),
            ("12.990 PLN", pln(1299).map_err(|_| "")),
            ("12.99PLN", pln(1299).map_err(|_| "")),
            ("12.99 pln", pln(1299).map_err(|_| "")),
            ("0.29 GBP", Ok(Money { minor: 29, currency: "GBP".into() })),
            ("1000 JPY", Ok(Money { minor: 1000, currency: "JPY".into() })),
            ("1099.00 JPY", Ok(Money { minor: 1099, currency: "JPY".into() })),
            ("1.234 BHD", Ok(Money { minor: 1234, currency: "BHD".into() })),
            ("10000000.00 PLN", pln(1_000_000_000).map_err(|_| "")),
            // A float would make this 1298.
            ("12.99 PLN", pln(1299).map_err(|_| "")),
            ("12.99", Err("has no currency")),
            ("PLN 12.99", Err("the amount and then the currency")),
            ("12.99 PLX", Err("PLX is not an ISO 4217 currency code")),
            ("12.99 XAU", Err("not a currency a shop prices in")),
            ("12.999 PLN", Err("PLN has 2 decimal places and 12.999 has 3")),
            ("1000.5 JPY", Err("JPY has 0 decimal places")),
            ("-12.99 PLN", Err("negative")),
            ("10000000.01 PLN", Err("more than any price")),
            ("99999999999999999999999 PLN", Err("more than any price")),
            ("12,99 PLN", Err("after a dot")),
            ("1,299.00 PLN", Err("no thousands separator")),
            ("12. PLN", Err("not an amount")),
            (".99 PLN", Err("not an amount")),
            ("1e3 PLN", Err("the amount and then the currency")),
            ("12.99 PL", Err("PL is not an ISO 4217")),
        ];
        for (input, expected) in cases {
            check(input, money(input), expected);
        }
    }

    #[test]
    fn sale_windows_are_instants_in_unix_seconds() {
        // 2026-02-24T21:00Z is 1771966800.
        let t = 1_771_966_800;
        let cases: Vec<(&str, Result<SaleWindow, &str>)> = vec![
            ("2026-02-24T13:00-0800/2026-02-28T15:30-0800", Ok(SaleWindow { from: t, until: t + 4 * 86400 + 2 * 3600 + 1800 })),
            ("2026-02-24T13:00-08:00 / 2026-02-24T14:00-08:00", Ok(SaleWindow { from: t, until: t + 3600 })),
            ("2026-02-24T21:00Z/2026-02-24T21:00:01Z", Ok(SaleWindow { from: t, until: t + 1 })),
            ("2026-02-24T22:00+0100/2026-02-25T21:00", Ok(SaleWindow { from: t, until: t + 86400 })),
            // A date alone: from its midnight to the midnight after the last day (UTC).
            ("2026-02-24/2026-02-24", Ok(SaleWindow { from: t - 21 * 3600, until: t + 3 * 3600 })),
            ("2026-02-24T13:00-0800", Err("separated by /")),
            ("2026-02-24T13:00-0800/", Err("is not a date and time")),
            ("2026-02-24T13:00-0800/2026-02-29T15:30-0800", Err("is not a date and time")),
            ("24.02.2026/28.02.2026", Err("is not a date and time")),
            ("2026-02-28T13:00Z/2026-02-24T13:00Z", Err("ends before it starts")),
            ("2026-02-24T13:00Z/2026-02-24T13:00Z", Err("ends before it starts")),
        ];
        for (input, expected) in cases {
            check(input, sale_window(input), expected);
        }
    }

    #[test]
    fn availability_table() {
        use Availability::*;
        let cases: Vec<(&str, Result<Availability, &str>)> = vec![
            ("in_stock", Ok(InStock)),
            ("in stock", Ok(InStock)),
            ("In Stock", Ok(InStock)),
            ("out_of_stock", Ok(OutOfStock)),
            ("out of stock", Ok(OutOfStock)),
            ("preorder", Ok(Preorder)),
            ("backorder", Ok(Backorder)),
            ("limited availability", Ok(LimitedAvailability)),
            ("on_display_to_order", Ok(OnDisplayToOrder)),
            ("available", Err("is not an availability")),
            ("in_stok", Err("is not an availability")),
        ];
        for (input, expected) in cases {
            check(input, availability(input), expected);
        }
    }

    #[test]
    fn gtins_need_right_check_digits_and_no_repeats() {
        let ok = |list: &[&str]| Ok(list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let cases: Vec<(&str, Result<Vec<String>, &str>)> = vec![
            ("5901234123457", ok(&["5901234123457"])),
            ("5901234123457,96385074", ok(&["5901234123457", "96385074"])),
            ("5901234123457, 036000291452 ,", ok(&["5901234123457", "036000291452"])),
            ("10012345678902", ok(&["10012345678902"])),
            ("", ok(&[])),
            ("5901234123458", Err("5901234123458 is not a GTIN: the check digit is 8 but should be 7")),
            ("10012345678903", Err("the check digit is 3 but should be 2")),
            ("96385074,96385075", Err("96385075 is not a GTIN")),
            ("590123412345", Err("the check digit")),
            ("5901-234-12345-7", Err("only the digits")),
            ("590123412", Err("8, 12, 13 or 14 digits but has 9")),
            ("5901234123457,5901234123457", Err("5901234123457 is listed twice")),
            ("036000291452,0036000291452", Err("036000291452 and 0036000291452 are the same GTIN")),
        ];
        for (input, expected) in cases {
            check(input, gtins(input), expected);
        }
    }

    #[test]
    fn quantities_are_whole_and_not_negative() {
        let cases: Vec<(&str, Result<i64, &str>)> = vec![
            ("0", Ok(0)),
            ("12", Ok(12)),
            ("2.5", Err("not a whole number")),
            ("3.0", Err("not a whole number")),
            ("many", Err("not a whole number")),
            ("-1", Err("negative")),
        ];
        for (input, expected) in cases {
            check(input, quantity(input), expected);
        }
    }

    #[test]
    fn product_types_are_path_segments() {
        let cases: [(&str, &[&str]); 4] = [
            ("Home > Kitchen > Mugs", &["Home", "Kitchen", "Mugs"]),
            ("Dom i ogród>Kuchnia", &["Dom i ogród", "Kuchnia"]),
            ("Mugs", &["Mugs"]),
            (" > Home >  > Mugs > ", &["Home", "Mugs"]),
        ];
        for (input, expected) in cases {
            assert_eq!(product_type(input), expected, "{input:?}");
        }
    }
}
