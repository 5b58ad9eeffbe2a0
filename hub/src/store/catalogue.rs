//! The retailer's master data, written once for both backends: stores, the catalogue, a
//! store's own prices and its stock. Each product reaches a store's feed as that store
//! sells it ([`as_sold`]), and only when that changed: an unchanged write, or an unchanged
//! re-import, appends nothing and wakes no kiosk.

use std::collections::HashMap;

use omnikiosk_protocol::catalogue::{as_sold, CatalogueProduct, Price, ProductPut, StockAdjust, StockPut, StorePricePut, StorePut};
use omnikiosk_protocol::wire::{Change, ProductRecord, StockRecord, StoreRecord};

use super::writes::feed;
use super::{product_key, stock_key, store_scope, HubTx, ReadAhead, Stored, GLOBAL_SCOPE};
use crate::error::{HubError, StorageError};

pub use omnikiosk_protocol::catalogue::WriteOutcome as Outcome;

/// Appends `change` for `(scope, key)` unless the feed already holds exactly it.
fn feed_if_changed(tx: &mut dyn HubTx, scope: &str, key: &str, change: &Change) -> Stored<bool> {
    let body = serde_json::to_string(change)?;
    if tx.feed_body(scope, key)?.as_deref() == Some(body.as_str()) {
        return Ok(false);
    }
    feed(tx, scope, key, change)?;
    Ok(true)
}

/// The price `store` sells `sku` at before the catalogue's default: its own, else its
/// price list's when that is in the store's currency.
fn price_before_default(tx: &mut dyn HubTx, store: &StoreRecord, sku: &str) -> Stored<Option<Price>> {
    if let Some(json) = tx.store_price(store.id, sku)? {
        return Ok(Some(serde_json::from_str(&json)?));
    }
    if store.price_list.is_empty() {
        return Ok(None);
    }
    let listed: Option<StorePricePut> = tx.list_price(&store.price_list, sku)?.map(|json| serde_json::from_str(&json)).transpose()?;
    Ok(listed.filter(|l| l.currency == store.currency).map(|l| l.price))
}

/// Puts store `id` as `body` describes it. A store whose money or VAT rates changed gets
/// every catalogue product priced anew.
pub fn put_store(tx: &mut dyn HubTx, id: i64, body: &StorePut, now: i64) -> Result<(StoreRecord, Outcome), HubError> {
    if let Some(other) = tx.store_by_code(&body.code)? {
        if other != id {
            return Err(HubError::Conflict(format!("store code {} belongs to store {other}", body.code)));
        }
    }
    let before = tx.store(id)?;
    let record = body.record(id);
    let outcome = match &before {
        None => Outcome::Created,
        Some(b) if *b == record => return Ok((record, Outcome::Unchanged)),
        Some(_) => Outcome::Updated,
    };
    tx.insert_store(&record)?;
    feed(tx, GLOBAL_SCOPE, &format!("store:{id}"), &Change::Store(record.clone()))?;
    let reprice = before.is_none_or(|b| b.currency != record.currency || b.vat != record.vat || b.price_list != record.price_list);
    if reprice {
        for sku in tx.catalogue_skus()? {
            if let Some(product) = catalogue_product(tx, &sku)? {
                publish_at(tx, &product, &record, now)?;
            }
        }
    }
    Ok((record, outcome))
}

/// The catalogue entry of `sku`, if the retailer's systems put one.
pub fn catalogue_product(tx: &mut dyn HubTx, sku: &str) -> Stored<Option<CatalogueProduct>> {
    tx.catalogue_entry(sku)?.map(|json| serde_json::from_str(&json).map_err(StorageError::from)).transpose()
}

/// The product as `store` sells it, appended to the store's feed when that changed.
fn publish_at(tx: &mut dyn HubTx, product: &CatalogueProduct, store: &StoreRecord, now: i64) -> Stored<bool> {
    let own = price_before_default(tx, store, &product.sku)?;
    let sold = as_sold(product, store, own.as_ref(), now);
    feed_if_changed(tx, &store_scope(store.id), &product_key(&product.sku), &Change::Product(sold))
}

/// Puts a catalogue entry (a new product, or a changed one; a withdrawn one comes back).
/// Each GTIN belongs to one product. `stores`: every store, read once by the caller.
pub fn put_product(tx: &mut dyn HubTx, sku: &str, entry: &ProductPut, stores: &[StoreRecord], now: i64) -> Result<Outcome, HubError> {
    for gtin in &entry.gtins {
        if let Some(owner) = tx.gtin_owner(gtin)? {
            if owner != sku {
                return Err(HubError::Conflict(format!("GTIN {gtin} belongs to product {owner}")));
            }
        }
    }
    let product = CatalogueProduct { sku: sku.to_string(), entry: entry.clone(), withdrawn: false };
    let outcome = match catalogue_product(tx, sku)? {
        None => Outcome::Created,
        Some(before) if before == product => return Ok(Outcome::Unchanged),
        Some(_) => Outcome::Updated,
    };
    store_entry(tx, &product)?;
    tx.set_gtins(sku, &entry.gtins)?;
    for price in entry.prices.values() {
        note_window(tx, price, sku, EVERY_STORE, now)?;
    }
    for store in stores {
        publish_at(tx, &product, store, now)?;
    }
    Ok(outcome)
}

fn store_entry(tx: &mut dyn HubTx, product: &CatalogueProduct) -> Stored<()> {
    tx.put_catalogue_entry(&product.sku, &product.entry.name, &product.entry.category, &serde_json::to_string(product)?)
}

/// `price_changes`' store for a catalogue price, which every store may sell at.
const EVERY_STORE: i64 = 0;

/// Notes when a sale price still to come starts or ends, for [`republish_due`].
fn note_window(tx: &mut dyn HubTx, price: &Price, sku: &str, store_id: i64, now: i64) -> Stored<()> {
    if price.sale_price_cents.is_some() {
        for at in [price.sale_from, price.sale_until].into_iter().flatten().filter(|at| *at > now) {
            tx.add_price_change(at, sku, store_id)?;
        }
    }
    Ok(())
}

/// Publishes anew the products whose sale price started or ended by `now` (the hub's
/// minute job), at the stores it concerns; answers how many store products changed.
pub fn republish_due(tx: &mut dyn HubTx, now: i64) -> Stored<usize> {
    let due = tx.take_price_changes(now)?;
    if due.is_empty() {
        return Ok(0);
    }
    let stores = tx.stores()?;
    let mut changed = 0;
    for (sku, store_id) in due {
        let Some(product) = catalogue_product(tx, &sku)? else { continue };
        for store in stores.iter().filter(|s| store_id == EVERY_STORE || s.id == store_id) {
            changed += usize::from(publish_at(tx, &product, store, now)?);
        }
    }
    Ok(changed)
}

/// Takes a product out of the catalogue: no till sells it from its next pull; receipts
/// keep it. Its GTINs stay its own (a scan still names it, and says it is withdrawn).
pub fn withdraw_product(tx: &mut dyn HubTx, sku: &str, stores: &[StoreRecord], now: i64) -> Result<Outcome, HubError> {
    let Some(mut product) = catalogue_product(tx, sku)? else {
        return Err(HubError::NotFound(format!("product {sku} is not in the catalogue")));
    };
    if product.withdrawn {
        return Ok(Outcome::Unchanged);
    }
    product.withdrawn = true;
    store_entry(tx, &product)?;
    for store in stores {
        publish_at(tx, &product, store, now)?;
    }
    Ok(Outcome::Withdrawn)
}

fn known_store(tx: &mut dyn HubTx, store_id: i64) -> Result<StoreRecord, HubError> {
    tx.store(store_id)?.ok_or_else(|| HubError::NotFound(format!("store {store_id} does not exist")))
}

/// Sets the store's own price of a catalogue product, in the store's currency.
pub fn put_store_price(tx: &mut dyn HubTx, store_id: i64, sku: &str, body: &StorePricePut, now: i64) -> Result<Outcome, HubError> {
    let store = known_store(tx, store_id)?;
    put_store_price_at(tx, &store, sku, body, now)
}

/// [`put_store_price`] for a store already read (the inventory import reads each once).
pub fn put_store_price_at(tx: &mut dyn HubTx, store: &StoreRecord, sku: &str, body: &StorePricePut, now: i64) -> Result<Outcome, HubError> {
    if body.currency != store.currency {
        return Err(HubError::BadRequest(format!(
            "store {} sells in {}, not {}: a product is never sold in a currency it was not priced in",
            store.id, store.currency, body.currency
        )));
    }
    let Some(product) = catalogue_product(tx, sku)? else {
        return Err(HubError::NotFound(format!("product {sku} is not in the catalogue")));
    };
    let json = serde_json::to_string(&body.price).map_err(StorageError::from)?;
    let outcome = match tx.store_price(store.id, sku)? {
        None => Outcome::Created,
        Some(before) if before == json => return Ok(Outcome::Unchanged),
        Some(_) => Outcome::Updated,
    };
    tx.put_store_price(store.id, sku, &json)?;
    note_window(tx, &body.price, sku, store.id, now)?;
    publish_at(tx, &product, store, now)?;
    Ok(outcome)
}

/// Sets a price list's price of a catalogue product; every store selling from the list in
/// that currency (and without its own price) gets it.
pub fn put_list_price(tx: &mut dyn HubTx, list: &str, sku: &str, body: &StorePricePut, now: i64) -> Result<Outcome, HubError> {
    let Some(product) = catalogue_product(tx, sku)? else {
        return Err(HubError::NotFound(format!("product {sku} is not in the catalogue")));
    };
    let json = serde_json::to_string(body).map_err(StorageError::from)?;
    let outcome = match tx.list_price(list, sku)? {
        None => Outcome::Created,
        Some(before) if before == json => return Ok(Outcome::Unchanged),
        Some(_) => Outcome::Updated,
    };
    tx.put_list_price(list, sku, &json)?;
    for store in tx.stores()?.iter().filter(|s| s.price_list == list) {
        note_window(tx, &body.price, sku, store.id, now)?;
        publish_at(tx, &product, store, now)?;
    }
    Ok(outcome)
}

/// Whether the hub knows the product: the retailer's catalogue, or the seed's.
fn known_product(tx: &mut dyn HubTx, sku: &str) -> Result<(), HubError> {
    if tx.product_name(sku)?.is_none() {
        return Err(HubError::NotFound(format!("product {sku} is not in the catalogue")));
    }
    Ok(())
}

/// Sets the store's count of a product (and its aisle, when given).
pub fn put_stock(tx: &mut dyn HubTx, store_id: i64, sku: &str, body: &StockPut) -> Result<Outcome, HubError> {
    known_store(tx, store_id)?;
    put_stock_at(tx, store_id, sku, body)
}

/// [`put_stock`] for a store known to exist.
pub fn put_stock_at(tx: &mut dyn HubTx, store_id: i64, sku: &str, body: &StockPut) -> Result<Outcome, HubError> {
    known_product(tx, sku)?;
    let before = tx.stock(store_id, sku)?;
    let after = StockRecord {
        store_id,
        sku: sku.to_string(),
        on_hand: body.on_hand,
        aisle: body.aisle.clone().or_else(|| before.as_ref().map(|b| b.aisle.clone())).unwrap_or_default(),
    };
    let outcome = match &before {
        None => Outcome::Created,
        Some(b) if *b == after => return Ok(Outcome::Unchanged),
        Some(_) => Outcome::Updated,
    };
    tx.put_stock(store_id, sku, after.on_hand, &after.aisle)?;
    feed(tx, &store_scope(store_id), &stock_key(sku), &Change::Stock(after))?;
    Ok(outcome)
}

/// Adds a signed change to the store's count, once per idempotency key: a retried
/// adjustment answers the stock as it stands and counts nothing again. A key already used
/// for another adjustment is refused.
pub fn adjust_stock(tx: &mut dyn HubTx, store_id: i64, sku: &str, body: &StockAdjust, now: i64) -> Result<(StockRecord, bool), HubError> {
    known_store(tx, store_id)?;
    known_product(tx, sku)?;
    match tx.stock_adjustment(&body.key)? {
        Some(same) if same == (store_id, sku.to_string(), body.delta) => {}
        Some(_) => return Err(HubError::Conflict(format!("adjustment key {:?} was used for another adjustment", body.key))),
        None => {
            tx.record_stock_adjustment(&body.key, store_id, sku, body.delta, now)?;
            tx.add_stock(store_id, sku, body.delta)?;
            let after = tx.stock(store_id, sku)?.ok_or_else(|| StorageError("stock row missing after an adjustment".into()))?;
            feed(tx, &store_scope(store_id), &stock_key(sku), &Change::Stock(after.clone()))?;
            return Ok((after, true));
        }
    }
    let now_standing = tx.stock(store_id, sku)?.ok_or_else(|| StorageError("stock row missing after an adjustment".into()))?;
    Ok((now_standing, false))
}

/// What a store's devices are told of a product: the store's feed row, or the seed's
/// chain-wide one.
pub fn product_at(tx: &mut dyn HubTx, store_id: i64, sku: &str) -> Stored<Option<ProductRecord>> {
    for scope in [store_scope(store_id), GLOBAL_SCOPE.to_string()] {
        if let Some(body) = tx.feed_body(&scope, &product_key(sku))? {
            if let Change::Product(p) = serde_json::from_str(&body)? {
                return Ok(Some(p));
            }
        }
    }
    Ok(None)
}

/// Every store by its code, for the inventory feed's `store_code`.
pub fn stores_by_code(tx: &mut dyn HubTx) -> Stored<HashMap<String, StoreRecord>> {
    Ok(tx.stores()?.into_iter().filter(|s| !s.code.is_empty()).map(|s| (s.code.clone(), s)).collect())
}

/// Reads ahead ([`HubTx::read_ahead`]) what [`put_product`] reads for these products
/// (each with the GTINs it claims) at every store, one feed transaction each. A product
/// new to the catalogue has no row in any store's feed ([`publish_at`] alone writes
/// them, for catalogue products): only the known ones' rows are read (were one there
/// after all, the product would be sent once more, unchanged).
pub fn read_ahead_products<'a>(tx: &mut dyn HubTx, products: impl IntoIterator<Item = (&'a str, &'a [String])>, stores: &[StoreRecord]) -> Stored<()> {
    let mut ahead = ReadAhead::default();
    for (sku, gtins) in products {
        ahead.gtins.extend(gtins.iter().cloned());
        ahead.skus.push(sku.to_string());
        ahead.feed_txs += 1;
    }
    tx.read_ahead(&ahead)?;
    let mut rest = ReadAhead { more: true, ..Default::default() };
    for sku in &ahead.skus {
        let known = tx.catalogue_entry(sku)?.is_some();
        for store in stores {
            let row = (store_scope(store.id), product_key(sku));
            if known { rest.feed.push(row) } else { rest.no_feed.push(row) }
        }
    }
    for store in stores {
        // Prices are read for every product: no invariant is trusted with a price.
        for sku in &ahead.skus {
            prices_at(&mut rest, store, sku);
        }
    }
    tx.read_ahead(&rest)
}

/// Reads ahead what an inventory row of a store reads: the product, the store's stock of
/// it, and for a row with a price what [`put_store_price_at`] reads; one feed transaction
/// each.
pub fn read_ahead_places<'a>(tx: &mut dyn HubTx, places: impl IntoIterator<Item = (&'a StoreRecord, &'a str, bool)>) -> Stored<()> {
    let mut ahead = ReadAhead::default();
    for (store, sku, priced) in places {
        if priced {
            prices_at(&mut ahead, store, sku);
            ahead.feed.push((store_scope(store.id), product_key(sku)));
        }
        ahead.stock.push((store.id, sku.to_string()));
        ahead.skus.push(sku.to_string());
        ahead.feed_txs += 1;
    }
    tx.read_ahead(&ahead)
}

/// The prices [`publish_at`] reads of `sku` at `store`.
fn prices_at(ahead: &mut ReadAhead, store: &StoreRecord, sku: &str) {
    ahead.store_prices.push((store.id, sku.to_string()));
    if !store.price_list.is_empty() {
        ahead.list_skus.push((store.price_list.clone(), sku.to_string()));
    }
}
