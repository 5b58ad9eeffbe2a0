//! Whether this store's till may sell a product of its catalogue: the retailer's feed
//! says a product is withdrawn or has no price here, and a price in another currency than
//! the store's is no price the till can take. One rule for the touchscreen and the CLI;
//! returns do not ask it (what was sold stays returnable).

use omnikiosk_protocol::ops::Rejection;
use omnikiosk_protocol::wire::{ProductRecord, ProductStatus};

/// Why the till will not sell a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSold {
    /// Taken out of the catalogue.
    Withdrawn,
    /// In the catalogue, without a price at this store.
    Unpriced,
    /// Priced in a currency that is not the store's.
    OtherCurrency,
}

impl NotSold {
    /// What the till says, in one line (the touchscreen says it in its own translated words).
    pub fn message(self, p: &ProductRecord, store_currency: &str) -> String {
        match self {
            NotSold::Withdrawn => format!("{} is no longer sold", p.name),
            NotSold::Unpriced => format!("{} has no price at this store", p.name),
            NotSold::OtherCurrency => format!("{} is priced in {}, not in this store's {store_currency}", p.name, p.currency),
        }
    }

    /// The refusal of a sale holding it, as the rules word refusals.
    pub fn rejection(self, p: &ProductRecord, store_currency: &str) -> Rejection {
        let code = match self {
            NotSold::Withdrawn => "withdrawn_product",
            NotSold::Unpriced => "unpriced_product",
            NotSold::OtherCurrency => "wrong_currency",
        };
        Rejection::new(code, self.message(p, store_currency))
    }
}

/// `Err` with the reason when the store (whose money is `store_currency`) may not sell `p`.
/// A product without a currency (an older record, the demo's seed) is in the store's.
pub fn sellable(p: &ProductRecord, store_currency: &str) -> Result<(), NotSold> {
    match p.status {
        ProductStatus::Withdrawn => Err(NotSold::Withdrawn),
        ProductStatus::Unpriced => Err(NotSold::Unpriced),
        ProductStatus::Active if !p.currency.is_empty() && !p.currency.eq_ignore_ascii_case(store_currency) => Err(NotSold::OtherCurrency),
        ProductStatus::Active => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_till_sells_only_active_products_in_the_stores_money() {
        let product = |status, currency: &str| ProductRecord { name: "Tea".into(), status, currency: currency.into(), ..Default::default() };
        for (status, currency, expected, said) in [
            (ProductStatus::Active, "PLN", Ok(()), ""),
            (ProductStatus::Active, "", Ok(()), ""),
            (ProductStatus::Active, "pln", Ok(()), ""),
            (ProductStatus::Active, "EUR", Err(NotSold::OtherCurrency), "Tea is priced in EUR, not in this store's PLN"),
            (ProductStatus::Withdrawn, "PLN", Err(NotSold::Withdrawn), "Tea is no longer sold"),
            (ProductStatus::Unpriced, "", Err(NotSold::Unpriced), "Tea has no price at this store"),
        ] {
            let p = product(status, currency);
            assert_eq!(sellable(&p, "PLN"), expected, "{status:?} in {currency:?}");
            if let Err(why) = expected {
                assert_eq!(why.message(&p, "PLN"), said);
            }
        }
    }
}
