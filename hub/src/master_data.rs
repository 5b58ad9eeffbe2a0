//! The retailer's master data through [`Hub`]: stores, the catalogue, a store's own prices
//! and stock, each checked here (bad input changes nothing) and written by
//! [`crate::store::catalogue`] in one transaction that keeps the stores' feeds in step.

use omnikiosk_protocol::catalogue::{ProductPut, StockAdjust, StockPut, StorePricePut, StorePut, MAX_DESCRIPTION_CHARS};
use omnikiosk_protocol::gtin::Gtin;
use omnikiosk_protocol::wire::{StockRecord, StoreRecord};

use crate::store::catalogue::{self, Outcome};
use crate::params::check_id;
use crate::{now_secs, Hub, HubError, LANGUAGES};

/// Most GTINs one product may have.
pub const MAX_GTINS: usize = 10;

impl Hub {
    /// Puts store `id` as the retailer's systems describe it; its devices learn of it at
    /// their next pull (within seconds when they long-poll).
    pub fn put_store(&self, id: i64, body: &StorePut) -> Result<(StoreRecord, Outcome), HubError> {
        check_store(id, body)?;
        let body = body.clone();
        self.write(move |tx| catalogue::put_store(tx, id, &body, now_secs()))
    }

    /// Publishes anew the products whose sale price started or ended by `now` (run every
    /// minute by `serve`); answers how many store products changed.
    pub fn republish_due_prices(&self, now: i64) -> Result<usize, HubError> {
        self.write(move |tx| Ok(catalogue::republish_due(tx, now)?))
    }

    /// Every store of the chain, by id.
    pub fn stores(&self) -> Result<Vec<StoreRecord>, HubError> {
        self.read(|tx| Ok(tx.stores()?))
    }

    /// Puts a catalogue entry; each store's devices get the product as that store sells it.
    pub fn put_product(&self, sku: &str, body: &ProductPut) -> Result<Outcome, HubError> {
        let body = check_product(sku, body)?;
        let sku = sku.to_string();
        self.write(move |tx| {
            let stores = tx.stores()?;
            catalogue::put_product(tx, &sku, &body, &stores, now_secs())
        })
    }

    /// The product's catalogue entry.
    pub fn product(&self, sku: &str) -> Result<omnikiosk_protocol::catalogue::CatalogueProduct, HubError> {
        let key = sku.to_string();
        let found = self.read(move |tx| Ok(catalogue::catalogue_product(tx, &key)?))?;
        found.ok_or_else(|| HubError::NotFound(format!("product {sku} is not in the catalogue")))
    }

    /// Withdraws a product: no till sells it from its next pull; past receipts keep it.
    pub fn withdraw_product(&self, sku: &str) -> Result<Outcome, HubError> {
        check_id("sku", sku)?;
        let sku = sku.to_string();
        self.write(move |tx| {
            let stores = tx.stores()?;
            catalogue::withdraw_product(tx, &sku, &stores, now_secs())
        })
    }

    /// The store's own price of a product, in the store's currency.
    pub fn put_store_price(&self, store_id: i64, sku: &str, body: &StorePricePut) -> Result<Outcome, HubError> {
        check_id("sku", sku)?;
        check_currency(&body.currency)?;
        body.price.check().map_err(HubError::BadRequest)?;
        let (sku, body) = (sku.to_string(), body.clone());
        self.store_write(store_id, move |tx| catalogue::put_store_price(tx, store_id, &sku, &body, now_secs()))
    }

    /// A price list's price of a product; its stores in that currency sell at it.
    pub fn put_list_price(&self, list: &str, sku: &str, body: &StorePricePut) -> Result<Outcome, HubError> {
        check_id("price list", list)?;
        check_id("sku", sku)?;
        check_currency(&body.currency)?;
        body.price.check().map_err(HubError::BadRequest)?;
        let (list, sku, body) = (list.to_string(), sku.to_string(), body.clone());
        self.write(move |tx| catalogue::put_list_price(tx, &list, &sku, &body, now_secs()))
    }

    /// The store's count of a product (and its aisle).
    pub fn put_stock(&self, store_id: i64, sku: &str, body: &StockPut) -> Result<StockRecord, HubError> {
        check_id("sku", sku)?;
        check_stock(body)?;
        let (sku, body) = (sku.to_string(), body.clone());
        self.store_write(store_id, move |tx| {
            catalogue::put_stock(tx, store_id, &sku, &body)?;
            tx.stock(store_id, &sku)?.ok_or_else(|| HubError::Internal("stock row missing after a write".into()))
        })
    }

    /// A signed change of the store's count, counted once per idempotency key; true when
    /// this call counted it.
    pub fn adjust_stock(&self, store_id: i64, sku: &str, body: &StockAdjust) -> Result<(StockRecord, bool), HubError> {
        check_id("sku", sku)?;
        check_id("key", &body.key)?;
        if body.delta == 0 || body.delta.abs() > 1_000_000 {
            return Err(HubError::BadRequest("delta must be -1000000 to 1000000, not 0".into()));
        }
        let (sku, body) = (sku.to_string(), body.clone());
        self.store_write(store_id, move |tx| catalogue::adjust_stock(tx, store_id, &sku, &body, now_secs()))
    }
}

/// A store as the retailer may describe it.
pub fn check_store(id: i64, s: &StorePut) -> Result<(), HubError> {
    let bad = |m: String| Err(HubError::BadRequest(m));
    if !(1..=i64::from(i32::MAX)).contains(&id) {
        return bad(format!("store id must be 1 to {}", i32::MAX));
    }
    if s.code.is_empty() || s.code.len() > 32 || !s.code.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return bad("code must be 1-32 letters, digits, '-', '_' or '.'".into());
    }
    crate::validate_text("name", &s.name)?;
    for (what, text, max) in [("city", &s.city, 100), ("address", &s.address, 200), ("opening_hours", &s.opening_hours, 200)] {
        if text.chars().count() > max || text.chars().any(char::is_control) {
            return bad(format!("{what} must be at most {max} printable characters"));
        }
    }
    check_currency(&s.currency)?;
    if !LANGUAGES.contains(&s.language.as_str()) {
        return bad(format!("language must be one of {}", LANGUAGES.join(", ")));
    }
    if jiff::tz::TimeZone::get(&s.timezone).is_err() {
        return bad(format!("timezone {:?} is not an IANA time zone (e.g. Europe/Warsaw)", s.timezone));
    }
    for (category, rate) in &s.vat {
        check_tax_category(category)?;
        if !(0..=10_000).contains(rate) {
            return bad(format!("VAT rate of {category} must be 0 to 10000 basis points (0-100 %), not {rate}"));
        }
    }
    if !s.price_list.is_empty() {
        check_id("price_list", &s.price_list)?;
    }
    if !(0..=43_200).contains(&s.pickup_minutes) {
        return bad("pickup_minutes must be 0 to 43200 (30 days)".into());
    }
    Ok(())
}

/// An ISO 4217 code: three capital letters.
pub fn check_currency(code: &str) -> Result<(), HubError> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HubError::BadRequest(format!("currency {code:?} is not an ISO 4217 code (three capital letters, e.g. PLN)")));
    }
    Ok(())
}

fn check_tax_category(category: &str) -> Result<(), HubError> {
    if category.is_empty() || category.len() > 40 || category.chars().any(char::is_control) {
        return Err(HubError::BadRequest(format!("tax category {category:?} must be 1-40 printable characters")));
    }
    Ok(())
}

fn check_stock(body: &StockPut) -> Result<(), HubError> {
    if !(0..=1_000_000_000).contains(&body.on_hand) {
        return Err(HubError::BadRequest(format!("on_hand must be 0 to 1000000000, not {}", body.on_hand)));
    }
    if body.aisle.as_ref().is_some_and(|a| a.chars().count() > 40 || a.chars().any(char::is_control)) {
        return Err(HubError::BadRequest("aisle must be at most 40 printable characters".into()));
    }
    Ok(())
}

/// A catalogue entry as the hub takes it: its GTINs in their canonical form, each once.
pub fn check_product(sku: &str, p: &ProductPut) -> Result<ProductPut, HubError> {
    let bad = |m: String| Err(HubError::BadRequest(m));
    check_id("sku", sku)?;
    if p.name.trim().is_empty() || p.name.chars().count() > 150 || p.name.chars().any(char::is_control) {
        return bad("name must be 1-150 printable characters".into());
    }
    for (language, name) in &p.names {
        if !LANGUAGES.contains(&language.as_str()) {
            return bad(format!("names: language must be one of {}, not {language:?}", LANGUAGES.join(", ")));
        }
        if name.trim().is_empty() || name.chars().count() > 150 || name.chars().any(char::is_control) {
            return bad(format!("names.{language} must be 1-150 printable characters"));
        }
    }
    for (what, text, max) in [("category", &p.category, 100), ("brand", &p.brand, 70)] {
        if text.chars().count() > max || text.chars().any(char::is_control) {
            return bad(format!("{what} must be at most {max} printable characters"));
        }
    }
    // A description may run over several lines; no other control characters.
    if p.description.chars().count() > MAX_DESCRIPTION_CHARS || p.description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return bad(format!("description must be at most {MAX_DESCRIPTION_CHARS} characters, with no control characters but line breaks and tabs"));
    }
    if let Some(t) = &p.tax_category {
        check_tax_category(t)?;
    }
    if p.gtins.len() > MAX_GTINS {
        return bad(format!("a product has at most {MAX_GTINS} GTINs"));
    }
    let mut gtins: Vec<String> = Vec::with_capacity(p.gtins.len());
    for g in &p.gtins {
        let gtin = Gtin::parse(g.trim()).map_err(|e| HubError::BadRequest(format!("GTIN {g:?}: {e}")))?;
        if gtins.iter().any(|seen| seen == gtin.as_str()) {
            return bad(format!("GTIN {g} is listed twice"));
        }
        gtins.push(gtin.as_str().to_string());
    }
    for (currency, price) in &p.prices {
        check_currency(currency)?;
        price.check().map_err(|m| HubError::BadRequest(format!("{currency} price: {m}")))?;
    }
    Ok(ProductPut { gtins, ..p.clone() })
}
