//! The retailer's master data as its systems send it to the hub (stores, the catalogue,
//! prices per store, stock), and the one rule that turns a catalogue entry into the
//! product as one store sells it: its price in the store's currency, its VAT rate there,
//! and whether the store may sell it at all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wire::{ProductRecord, ProductStatus, StoreRecord};

/// Most characters of an id the retailer's systems give (a SKU, a customer's or a
/// colleague's id, an idempotency key).
pub const ID_MAX_CHARS: usize = 64;

/// What such an id may hold besides ASCII letters and digits.
pub const ID_PUNCTUATION: &str = "._-";

/// Whether `s` is such an id: 1 to [`ID_MAX_CHARS`] ASCII letters, digits, '.', '_' or '-'.
pub fn is_id(s: &str) -> bool {
    (1..=ID_MAX_CHARS).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || ID_PUNCTUATION.as_bytes().contains(&b))
}

/// Most characters of a product's description (Google Merchant Center's own limit for
/// `description`).
pub const MAX_DESCRIPTION_CHARS: usize = 5000;

/// Highest price the hub takes, in minor units (ten million in a two-decimal currency):
/// anything above is a feed's mistake, not a price.
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000;

/// `PUT /v1/stores/{id}` (channel): the store as the retailer's systems describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorePut {
    /// The retailer's own store code, as its feeds name it (`KRK-01`): unique in the chain.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9._-]+$"))]
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub city: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub address: String,
    /// ISO 4217: the store sells only in this currency.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    pub currency: String,
    /// The store's default UI language: `en`, `pl`, `ru`, `uk` or `zh`.
    pub language: String,
    /// IANA time zone, e.g. `Europe/Warsaw`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub timezone: String,
    /// VAT rates by tax category in basis points (`{"standard": 2300, "reduced": 500}`):
    /// a product's `tax_category` picks its rate, `standard` when it names none.
    #[serde(default)]
    pub vat: BTreeMap<String, i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub opening_hours: String,
    #[serde(default = "yes")]
    pub click_collect: bool,
    /// Minutes from an online order to its promised pickup.
    #[serde(default = "two_hours")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 43200))]
    pub pickup_minutes: i64,
    /// The price list the store sells from (`PUT /v1/price-lists/{list}/prices/{sku}`);
    /// empty: none.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64, pattern = "^[A-Za-z0-9._-]*$"))]
    pub price_list: String,
}

fn yes() -> bool {
    true
}

fn two_hours() -> i64 {
    120
}

impl StorePut {
    /// The record of store `id` this body describes.
    pub fn record(&self, id: i64) -> StoreRecord {
        StoreRecord {
            id,
            name: self.name.clone(),
            city: self.city.clone(),
            currency: self.currency.clone(),
            code: self.code.clone(),
            language: self.language.clone(),
            timezone: self.timezone.clone(),
            address: self.address.clone(),
            vat: self.vat.clone(),
            opening_hours: self.opening_hours.clone(),
            click_collect: self.click_collect,
            pickup_minutes: self.pickup_minutes,
            price_list: self.price_list.clone(),
        }
    }
}

/// A price, tax included, in minor units of its currency, with a sale price for a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1_000_000_000))]
    pub price_cents: i64,
    /// The sale price, while `sale_from <= now < sale_until` (either end open when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1_000_000_000))]
    pub sale_price_cents: Option<i64>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_from: Option<i64>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_until: Option<i64>,
}

impl Price {
    /// What the product costs at `now`: the sale price inside its window, else the price.
    pub fn at(&self, now: i64) -> i64 {
        match self.sale_price_cents {
            Some(sale) if self.sale_from.is_none_or(|f| f <= now) && self.sale_until.is_none_or(|u| now < u) => sale,
            _ => self.price_cents,
        }
    }

    /// Why this price cannot be taken, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        for (what, v) in [("price_cents", Some(self.price_cents)), ("sale_price_cents", self.sale_price_cents)] {
            if let Some(v) = v {
                if !(0..=MAX_PRICE_MINOR).contains(&v) {
                    return Err(format!("{what} must be 0 to {MAX_PRICE_MINOR} minor units, not {v}"));
                }
            }
        }
        if let (Some(from), Some(until)) = (self.sale_from, self.sale_until) {
            if from >= until {
                return Err("the sale window ends before it starts".into());
            }
        }
        if self.sale_price_cents.is_none() && (self.sale_from.is_some() || self.sale_until.is_some()) {
            return Err("a sale window needs a sale_price_cents".into());
        }
        Ok(())
    }
}

/// `PUT /v1/products/{sku}` (channel): a catalogue entry, the same for every store, with
/// its default prices by currency (each store in that currency sells at it unless the
/// store has its own price, `PUT /v1/stores/{id}/prices/{sku}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductPut {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 150))]
    pub name: String,
    /// The name in the stores' languages (`{"pl": "Kubek 350 ml"}`): a store whose
    /// language is here shows that one, any other `name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub category: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 70))]
    pub brand: String,
    /// What the product is, as a shopper reads it at the kiosk (line breaks kept);
    /// at most [`MAX_DESCRIPTION_CHARS`] characters.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_length = 5000))]
    pub description: String,
    /// Picks the VAT rate in each store's `vat`; none: `standard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_category: Option<String>,
    /// EAN-13, EAN-8 or UPC-A, check digit checked; each belongs to one product.
    #[serde(default)]
    pub gtins: Vec<String>,
    /// Default prices by ISO 4217 currency.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

/// A catalogue entry as the hub keeps it: what was put, and whether it is withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueProduct {
    pub sku: String,
    #[serde(flatten)]
    pub entry: ProductPut,
    #[serde(default)]
    pub withdrawn: bool,
}

/// `PUT /v1/stores/{id}/prices/{sku}` (channel): the store's own price, in its currency;
/// and `PUT /v1/price-lists/{list}/prices/{sku}`: a price list's, which its stores in that
/// currency sell at unless they have their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorePricePut {
    /// Must be the store's currency: a product is never sold in another.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    pub currency: String,
    #[serde(flatten)]
    pub price: Price,
}

/// `PUT /v1/stores/{id}/stock/{sku}` (channel): the count on hand, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockPut {
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1_000_000_000))]
    pub on_hand: i64,
    /// The aisle or shelf; absent keeps the one recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 40))]
    pub aisle: Option<String>,
}

/// `POST /v1/stores/{id}/stock/{sku}/adjustments` (channel): a signed change of stock
/// (a delivery, a count's correction), counted once per `key` however often it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockAdjust {
    /// The sender's idempotency key: a retried adjustment with it counts once.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(minimum = -1_000_000, maximum = 1_000_000))]
    pub delta: i64,
}

/// What a master-data write did to its entity (and what an import counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    Created,
    Updated,
    /// It already stood so: nothing was written, no device was woken.
    Unchanged,
    Withdrawn,
}

/// The answer to a catalogue write: the product and what the write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductWritten {
    pub sku: String,
    pub outcome: WriteOutcome,
}

/// The answer to a stock adjustment: the stock as it now stands, and whether this call
/// counted the adjustment (false: its key was counted before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockAdjusted {
    pub stock: crate::wire::StockRecord,
    pub counted: bool,
}

/// What an import did (`import products|inventory --json`, and the bulk upload's answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    /// Rows not applied, each with why.
    pub errors: Vec<ImportError>,
    /// True for `--dry-run`: the counts say what would have changed.
    #[serde(default)]
    pub dry_run: bool,
}

/// A row an import did not apply: the physical 1-based line of the file (the header is
/// line 1), the column's header name, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportError {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

/// The product `entry` as `store` sells it at `now`: priced by the store's own price
/// (`own`) or else the entry's default in the store's currency; taxed at the store's rate
/// for its tax category. A withdrawn entry is `Withdrawn`; one the store cannot price or
/// tax is `Unpriced` (its till refuses it and says so).
pub fn as_sold(product: &CatalogueProduct, store: &StoreRecord, own: Option<&Price>, now: i64) -> ProductRecord {
    let entry = &product.entry;
    let price = own.or_else(|| entry.prices.get(&store.currency));
    let vat = store.vat.get(entry.tax_category.as_deref().unwrap_or(STANDARD_RATE)).copied();
    let status = match (product.withdrawn, price, vat) {
        (true, _, _) => ProductStatus::Withdrawn,
        (false, Some(_), Some(_)) => ProductStatus::Active,
        _ => ProductStatus::Unpriced,
    };
    ProductRecord {
        sku: product.sku.clone(),
        name: entry.names.get(&store.language).unwrap_or(&entry.name).clone(),
        price_cents: price.map(|p| p.at(now)).unwrap_or(0),
        category: entry.category.clone(),
        vat_bp: vat.unwrap_or(0),
        gtins: entry.gtins.clone(),
        brand: entry.brand.clone(),
        description: entry.description.clone(),
        status,
        currency: store.currency.clone(),
    }
}

/// The tax category of a product that names none.
pub const STANDARD_RATE: &str = "standard";

#[cfg(test)]
mod tests {
    use super::*;

    fn store(currency: &str, vat: &[(&str, i64)]) -> StoreRecord {
        StoreRecord { id: 1, currency: currency.into(), vat: vat.iter().map(|(k, v)| (k.to_string(), *v)).collect(), ..Default::default() }
    }

    fn product(prices: &[(&str, i64)], tax: Option<&str>, withdrawn: bool) -> CatalogueProduct {
        CatalogueProduct {
            sku: "SKU-1".into(),
            entry: ProductPut {
                name: "Mug".into(),
                names: [("pl".to_string(), "Kubek".to_string())].into(),
                category: "Home".into(),
                brand: String::new(),
                description: "A stoneware mug.".into(),
                tax_category: tax.map(str::to_string),
                gtins: vec![],
                prices: prices.iter().map(|(c, p)| (c.to_string(), Price { price_cents: *p, sale_price_cents: None, sale_from: None, sale_until: None })).collect(),
            },
            withdrawn,
        }
    }

    #[test]
    fn a_store_sells_in_its_own_currency_at_its_own_vat_or_not_at_all() {
        let own = Price { price_cents: 1750, sale_price_cents: None, sale_from: None, sale_until: None };
        let krk = store("PLN", &[("standard", 2300), ("reduced", 500)]);
        let lon = store("GBP", &[("standard", 2000)]);
        #[rustfmt::skip]
        let cases: [(&str, CatalogueProduct, &StoreRecord, Option<&Price>, ProductStatus, i64, i64); 7] = [
            ("default price in the store's currency", product(&[("PLN", 1299), ("GBP", 499)], None, false), &krk, None, ProductStatus::Active, 1299, 2300),
            ("the same SKU in London, in pounds", product(&[("PLN", 1299), ("GBP", 499)], None, false), &lon, None, ProductStatus::Active, 499, 2000),
            ("the store's own price wins", product(&[("PLN", 1299)], None, false), &krk, Some(&own), ProductStatus::Active, 1750, 2300),
            ("no price in the store's currency", product(&[("PLN", 1299)], None, false), &lon, None, ProductStatus::Unpriced, 0, 2000),
            ("the tax category's rate", product(&[("PLN", 349)], Some("reduced"), false), &krk, None, ProductStatus::Active, 349, 500),
            ("a tax category the store has no rate for", product(&[("GBP", 349)], Some("reduced"), false), &lon, None, ProductStatus::Unpriced, 349, 0),
            ("withdrawn", product(&[("PLN", 1299)], None, true), &krk, None, ProductStatus::Withdrawn, 1299, 2300),
        ];
        for (name, p, s, own, status, price, vat) in cases {
            let sold = as_sold(&p, s, own, 0);
            assert_eq!((sold.status, sold.price_cents, sold.vat_bp), (status, price, vat), "{name}");
            assert_eq!(sold.currency, s.currency, "{name}");
        }
        let polish = StoreRecord { language: "pl".into(), ..krk.clone() };
        let names = [&polish, &krk].map(|s| as_sold(&product(&[("PLN", 1)], None, false), s, None, 0).name);
        assert_eq!(names, ["Kubek", "Mug"], "a store shows the name in its language when there is one");
        assert_eq!(as_sold(&product(&[("PLN", 1)], None, false), &krk, None, 0).description, "A stoneware mug.", "every store shows the description");
    }

    #[test]
    fn a_sale_price_holds_inside_its_window_only() {
        let p = Price { price_cents: 1000, sale_price_cents: Some(800), sale_from: Some(100), sale_until: Some(200) };
        assert_eq!([p.at(99), p.at(100), p.at(199), p.at(200)], [1000, 800, 800, 1000]);
        let open = Price { sale_from: None, sale_until: None, ..p.clone() };
        assert_eq!(open.at(0), 800);
    }

    #[test]
    fn absurd_prices_and_backwards_windows_are_refused() {
        let ok = Price { price_cents: 1000, sale_price_cents: None, sale_from: None, sale_until: None };
        assert_eq!(ok.check(), Ok(()));
        for bad in [
            Price { price_cents: -1, ..ok.clone() },
            Price { price_cents: MAX_PRICE_MINOR + 1, ..ok.clone() },
            Price { sale_price_cents: Some(5), sale_from: Some(10), sale_until: Some(10), ..ok.clone() },
            Price { sale_from: Some(10), ..ok.clone() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
