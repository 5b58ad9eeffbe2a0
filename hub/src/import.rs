//! Imports of what retailers already export: Google Merchant Center product data and
//! Google's local inventory, read by [`crate::feeds`] and written row by row through the
//! same checks and writes as the channel API ([`crate::master_data`],
//! [`crate::store::catalogue`]). Rows are applied in batches of [`BATCH`], each its own
//! transaction, so a nightly feed never holds the writers' lock for long; a bad row is
//! reported with its line and column and the good rows are applied. `--dry-run` and
//! `--all-or-nothing` run the whole file in one transaction that is rolled back when
//! nothing may be kept.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};

use omnikiosk_protocol::catalogue::{ImportError, ImportReport, Price, ProductPut, StockPut, StorePricePut};
use omnikiosk_protocol::wire::StoreRecord;

use crate::feeds::{self, Encoding, FeedError, InventoryRow, Money, ProductRow, SaleWindow};
use crate::master_data::check_product;
use crate::store::catalogue::{self, Outcome};
use crate::store::HubTx;
use crate::{now_secs, Hub, HubError};

/// Rows applied per transaction.
pub const BATCH: usize = 1000;

/// How an import runs (`import … --dry-run --prune --all-or-nothing --encoding`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Say what would change; change nothing.
    pub dry_run: bool,
    /// Withdraw catalogue products the file does not name (a full feed).
    pub prune: bool,
    /// Apply nothing when any row is bad.
    pub all_or_nothing: bool,
    pub encoding: Encoding,
}

/// A feed's row, checked and ready to write, or why not.
type Checked<T> = Result<T, ImportError>;

/// A product row as the catalogue takes it.
struct ProductLine {
    line: u64,
    sku: String,
    entry: ProductPut,
}

/// An inventory row as a store takes it.
struct InventoryLine {
    line: u64,
    store_code: String,
    sku: String,
    price: Option<StorePricePut>,
    quantity: Option<i64>,
    aisle: Option<String>,
}

fn error(e: FeedError) -> ImportError {
    ImportError { line: e.line, column: e.column, message: e.message }
}

fn row_error(line: u64, column: Option<&str>, message: impl Into<String>) -> ImportError {
    ImportError { line, column: column.map(str::to_string), message: message.into() }
}

fn price(money: &Money, sale: Option<&Money>, window: Option<&SaleWindow>) -> Price {
    Price {
        price_cents: money.minor,
        sale_price_cents: sale.map(|s| s.minor),
        sale_from: sale.and(window).map(|w| w.from),
        sale_until: sale.and(window).map(|w| w.until),
    }
}

/// A product data row as a catalogue entry: `title` its name, the last level of
/// `product_type` its category, `price` its default in its currency.
fn product_line(row: ProductRow, gtin_owners: &mut HashMap<String, (String, u64)>) -> Checked<ProductLine> {
    let mut prices = std::collections::BTreeMap::new();
    if let Some(money) = &row.price {
        prices.insert(money.currency.clone(), price(money, row.sale_price.as_ref(), row.sale_window.as_ref()));
    }
    let entry = ProductPut {
        name: row.title,
        names: Default::default(),
        category: row.product_type.last().cloned().unwrap_or_default(),
        brand: row.brand,
        description: row.description,
        tax_category: row.tax_category,
        gtins: row.gtins,
        prices,
    };
    let entry = check_product(&row.id, &entry).map_err(|e| row_error(row.line, column_of(&e), e.to_string()))?;
    for gtin in &entry.gtins {
        if let Some((owner, line)) = gtin_owners.get(gtin) {
            return Err(row_error(row.line, Some("gtin"), format!("GTIN {gtin} is also given to {owner} on line {line}")));
        }
    }
    for gtin in &entry.gtins {
        gtin_owners.insert(gtin.clone(), (row.id.clone(), row.line));
    }
    Ok(ProductLine { line: row.line, sku: row.id, entry })
}

/// The feed column a refusal of the catalogue's checks is about.
fn column_of(e: &HubError) -> Option<&'static str> {
    const COLUMNS: [(&str, &str); 8] =
        [("GTIN", "gtin"), ("sku", "id"), ("name", "title"), ("price", "price"), ("tax category", "tax_category"), ("brand", "brand"), ("category", "product_type"), ("description", "description")];
    let m = e.to_string();
    COLUMNS.iter().find(|(word, _)| m.contains(word)).map(|(_, column)| *column)
}

fn inventory_line(row: InventoryRow) -> Checked<InventoryLine> {
    let price = match (&row.price, &row.sale_price) {
        (Some(p), sale) => Some(StorePricePut { currency: p.currency.clone(), price: price(p, sale.as_ref(), row.sale_window.as_ref()) }),
        (None, Some(_)) => return Err(row_error(row.line, Some("sale_price"), "a sale_price needs a price beside it")),
        (None, None) => None,
    };
    Ok(InventoryLine { line: row.line, store_code: row.store_code, sku: row.id, price, quantity: row.quantity, aisle: row.aisle })
}

fn count(report: &mut ImportReport, outcome: Outcome) {
    match outcome {
        Outcome::Created => report.created += 1,
        Outcome::Updated => report.updated += 1,
        Outcome::Unchanged => report.unchanged += 1,
        Outcome::Withdrawn => report.withdrawn += 1,
    }
}

/// Writes one batch of product rows; a row the hub refuses (a GTIN of a product already
/// in the catalogue) is reported and the others are written.
fn apply_products(tx: &mut dyn HubTx, rows: Vec<Checked<ProductLine>>, report: &mut ImportReport, now: i64) -> Result<(), HubError> {
    let stores = tx.stores()?;
    catalogue::read_ahead_products(tx, rows.iter().flatten().map(|p| (p.sku.as_str(), p.entry.gtins.as_slice())), &stores)?;
    for row in rows {
        match row {
            Err(e) => report.errors.push(e),
            Ok(p) => match {
                // A product's rows are a server transaction of their own: a batch in one
                // would make one page of a thousand products for every store.
                tx.new_feed_tx();
                catalogue::put_product(tx, &p.sku, &p.entry, &stores, now)
            } {
                Ok(outcome) => count(report, outcome),
                Err(HubError::Storage(e)) => return Err(HubError::Storage(e)),
                Err(e) => report.errors.push(row_error(p.line, column_of(&e), e.to_string())),
            },
        }
    }
    Ok(())
}

/// Writes one batch of inventory rows: a store's own price and its stock and aisle.
fn apply_inventory(tx: &mut dyn HubTx, rows: Vec<Checked<InventoryLine>>, report: &mut ImportReport, now: i64) -> Result<(), HubError> {
    let stores = catalogue::stores_by_code(tx)?;
    catalogue::read_ahead_places(tx, rows.iter().flatten().filter_map(|r| Some((stores.get(&r.store_code)?, r.sku.as_str(), r.price.is_some()))))?;
    for row in rows {
        let row = match row {
            Err(e) => {
                report.errors.push(e);
                continue;
            }
            Ok(r) => r,
        };
        tx.new_feed_tx();
        match inventory_row(tx, &stores, &row, now) {
            Ok(outcome) => count(report, outcome),
            Err((_, HubError::Storage(e))) => return Err(HubError::Storage(e)),
            Err((column, e)) => report.errors.push(row_error(row.line, Some(column), e.to_string())),
        }
    }
    Ok(())
}

/// One inventory row at its store: what it did, or the column it failed on and why. A
/// price is written before the stock; a failing stock write after it rolls neither back
/// (the price alone was right), and says which column failed.
fn inventory_row(tx: &mut dyn HubTx, stores: &HashMap<String, StoreRecord>, row: &InventoryLine, now: i64) -> Result<Outcome, (&'static str, HubError)> {
    let store = stores
        .get(&row.store_code)
        .ok_or_else(|| ("store_code", HubError::NotFound(format!("no store has the code {:?} (omnikiosk-hub store put … --code)", row.store_code))))?;
    if catalogue::catalogue_product(tx, &row.sku).map_err(|e| ("id", e.into()))?.is_none() {
        return Err(("id", HubError::NotFound(format!("product {} is not in the catalogue: import the product feed first", row.sku))));
    }
    let mut outcomes = Vec::new();
    if let Some(p) = &row.price {
        outcomes.push(catalogue::put_store_price_at(tx, store, &row.sku, p, now).map_err(|e| ("price", e))?);
    }
    if row.quantity.is_some() || row.aisle.is_some() {
        // An aisle without a quantity keeps the count recorded.
        let on_hand = match row.quantity {
            Some(q) => q,
            None => tx.stock(store.id, &row.sku).map_err(|e| ("quantity", e.into()))?.map(|s| s.on_hand).unwrap_or(0),
        };
        let stock = StockPut { on_hand, aisle: row.aisle.clone() };
        outcomes.push(catalogue::put_stock_at(tx, store.id, &row.sku, &stock).map_err(|e| ("quantity", e))?);
    }
    Ok(if outcomes.contains(&Outcome::Created) {
        Outcome::Created
    } else if outcomes.contains(&Outcome::Updated) {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    })
}

/// Why a whole-file transaction was rolled back on purpose (its report is kept aside).
const ROLLED_BACK: &str = "import rolled back";

impl Hub {
    /// Imports a Google Merchant Center product data file (TSV or CSV).
    pub fn import_products(&self, input: impl Read + Send + 'static, opts: ImportOptions) -> Result<ImportReport, HubError> {
        let mut gtin_owners = HashMap::new();
        let rows = feeds::products(input, opts.encoding).map(move |row| product_line(row.map_err(error)?, &mut gtin_owners));
        let named = Arc::new(Mutex::new(HashSet::new()));
        let named_in = named.clone();
        let rows = rows.inspect(move |r| {
            if let Ok(p) = r {
                named_in.lock().expect("not poisoned").insert(p.sku.clone());
            }
        });
        let mut report = self.run_import(rows, opts, apply_products)?;
        if opts.prune {
            let named = std::mem::take(&mut *named.lock().expect("not poisoned"));
            self.prune(named, opts, &mut report)?;
        }
        Ok(report)
    }

    /// Imports a Google local inventory file: per store (`store_code`) a product's stock,
    /// its own price and aisle.
    pub fn import_inventory(&self, input: impl Read + Send + 'static, opts: ImportOptions) -> Result<ImportReport, HubError> {
        if opts.prune {
            return Err(HubError::BadRequest("--prune withdraws products: it is for the product feed".into()));
        }
        let rows = feeds::inventory(input, opts.encoding).map(|row| inventory_line(row.map_err(error)?));
        self.run_import(rows, opts, apply_inventory)
    }

    /// Applies `rows` in batches (or whole, rolled back for a dry run or a bad row under
    /// all-or-nothing) and answers the report.
    fn run_import<T: Send + 'static>(
        &self,
        rows: impl Iterator<Item = Checked<T>> + Send + 'static,
        opts: ImportOptions,
        apply: fn(&mut dyn HubTx, Vec<Checked<T>>, &mut ImportReport, i64) -> Result<(), HubError>,
    ) -> Result<ImportReport, HubError> {
        let now = now_secs();
        if !(opts.dry_run || opts.all_or_nothing) {
            let mut report = ImportReport::default();
            let mut rows = rows.peekable();
            while rows.peek().is_some() {
                let batch: Vec<_> = rows.by_ref().take(BATCH).collect();
                report = self.write(move |tx| {
                    apply(tx, batch, &mut report, now)?;
                    Ok(report)
                })?;
            }
            return Ok(report);
        }
        let kept = Arc::new(Mutex::new(None));
        let keep = kept.clone();
        let whole = self.write(move |tx| {
            let mut report = ImportReport { dry_run: opts.dry_run, ..Default::default() };
            let mut rows = rows.peekable();
            while rows.peek().is_some() {
                apply(tx, rows.by_ref().take(BATCH).collect(), &mut report, now)?;
            }
            if opts.dry_run || !report.errors.is_empty() {
                *keep.lock().expect("not poisoned") = Some(report);
                return Err(HubError::Conflict(ROLLED_BACK.into()));
            }
            Ok(report)
        });
        match whole {
            Ok(report) => Ok(report),
            Err(HubError::Conflict(m)) if m == ROLLED_BACK => {
                let mut report = kept.lock().expect("not poisoned").take().expect("kept before rolling back");
                if !opts.dry_run {
                    // All or nothing, and something was bad: nothing was applied.
                    report = ImportReport { errors: report.errors, ..Default::default() };
                }
                Ok(report)
            }
            Err(e) => Err(e),
        }
    }

    /// Withdraws the catalogue's products a full feed did not name. Refused for a feed with
    /// no good row (it would withdraw the whole catalogue) or with bad rows (a product on
    /// a bad row would be withdrawn by mistake).
    fn prune(&self, named: HashSet<String>, opts: ImportOptions, report: &mut ImportReport) -> Result<(), HubError> {
        if named.is_empty() {
            return Err(HubError::BadRequest("--prune with a feed that names no product would withdraw the whole catalogue: refused".into()));
        }
        if !report.errors.is_empty() {
            report.errors.push(ImportError { line: 0, column: None, message: "not pruned: the feed has bad rows, whose products would be withdrawn by mistake".into() });
            return Ok(());
        }
        let now = now_secs();
        let dry = opts.dry_run;
        let withdrawn = self.write(move |tx| {
            let stores = tx.stores()?;
            let mut withdrawn = 0;
            for sku in tx.catalogue_skus()? {
                if named.contains(&sku) {
                    continue;
                }
                let Some(product) = catalogue::catalogue_product(tx, &sku)? else { continue };
                if product.withdrawn {
                    continue;
                }
                withdrawn += 1;
                if !dry {
                    catalogue::withdraw_product(tx, &sku, &stores, now)?;
                }
            }
            Ok(withdrawn)
        })?;
        report.withdrawn += withdrawn;
        Ok(())
    }
}
