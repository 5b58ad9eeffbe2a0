//! Money as people read it: integer minor units of a currency, written the way the
//! shopper's language writes it (`392,91 zł` in Polish, `£12.40` in English). Only the
//! kiosk's five languages and the chain's currencies are known; any other currency is
//! written with its ISO code.

/// Minor units of `currency` written for a reader of `language` (`en`, `pl`, `ru`, `uk`, `zh`).
pub fn format(cents: i64, currency: &str, language: &str) -> String {
    let (decimal, group, symbol_after) = match language {
        "pl" | "ru" | "uk" => (',', '\u{a0}', true),
        _ => ('.', ',', false),
    };
    let symbol = match currency {
        "PLN" => "zł",
        "GBP" => "£",
        "EUR" => "€",
        "USD" => "$",
        "UAH" => "₴",
        "CZK" => "Kč",
        other => other,
    };
    let digits = (cents.unsigned_abs() / 100).to_string();
    let mut whole = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            whole.push(group);
        }
        whole.push(d);
    }
    let amount = format!("{whole}{decimal}{:02}", cents.unsigned_abs() % 100);
    let sign = if cents < 0 { "-" } else { "" };
    let prefix_symbol = matches!(symbol, "£" | "€" | "$");
    if symbol_after {
        format!("{sign}{amount}\u{a0}{symbol}")
    } else if prefix_symbol {
        format!("{sign}{symbol}{amount}")
    } else {
        format!("{sign}{symbol}\u{a0}{amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn money_reads_as_each_language_writes_it() {
        assert_eq!(format(39291, "PLN", "pl"), "392,91\u{a0}zł");
        assert_eq!(format(1240, "GBP", "en"), "£12.40");
        assert_eq!(format(123456789, "PLN", "pl"), "1\u{a0}234\u{a0}567,89\u{a0}zł");
        assert_eq!(format(123456789, "GBP", "en"), "£1,234,567.89");
        assert_eq!(format(-5, "GBP", "en"), "-£0.05");
        assert_eq!(format(39291, "PLN", "en"), "zł\u{a0}392.91");
        assert_eq!(format(100, "SEK", "uk"), "1,00\u{a0}SEK");
        assert_eq!(format(0, "EUR", "zh"), "€0.00");
    }
}
