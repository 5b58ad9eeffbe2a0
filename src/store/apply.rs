//! Applying a page of the hub's change feed: every change of the page and the new
//! cursor commit in one transaction, so a crash replays a page and never skips one.

use omnikiosk_protocol::pin;
use omnikiosk_protocol::rules::pin_effect;
use omnikiosk_protocol::wire::{CartRecord, Change, CustomerRecord, OrderRecord, ProductRecord, StockRecord};
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{params, Transaction};
use serde::Serialize;

use super::orders::pending_on;
use super::{meta_set, LocalStore, Result, StoreError};

/// What one page did to the local store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApplyStats {
    pub applied: usize,
    /// Records of another store: the hub should never send them; counted, not stored.
    pub ignored: usize,
}

impl LocalStore {
    /// Applies `changes` and moves the cursor to `cursor`, all or nothing.
    pub fn apply_page(&self, changes: &[Change], cursor: &str, now: i64) -> Result<ApplyStats> {
        let store_id = self.require_enrolment()?.store_id;
        apply_page_with(&mut self.writer(), changes, cursor, now, |tx, stats| apply_all(tx, store_id, changes, stats))
    }
}

/// One page and its cursor in one transaction, the page's rows written by `write`.
pub(super) fn apply_page_with(
    conn: &mut rusqlite::Connection,
    changes: &[Change],
    cursor: &str,
    now: i64,
    write: impl FnOnce(&Transaction<'_>, &mut ApplyStats) -> Result<()>,
) -> Result<ApplyStats> {
    // A page and its cursor commit together, so a page lost to a power cut is pulled
    // again: it needs no fsync of its own (WAL keeps commits in order, and the next op's
    // FULL commit makes it durable with it). Ops keep `synchronous=FULL`.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let applied = in_one_tx(conn, cursor, now, write);
    conn.pragma_update(None, "synchronous", "FULL")?;
    let stats = applied?;
    if changes.iter().any(|c| matches!(c, Change::CustomerRemoved { .. })) {
        // Old page images of the erased rows may still sit in the WAL: fold it into the
        // (secure_delete) database file and truncate it, so the name is gone from disk.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    Ok(stats)
}

fn in_one_tx(
    conn: &mut rusqlite::Connection,
    cursor: &str,
    now: i64,
    write: impl FnOnce(&Transaction<'_>, &mut ApplyStats) -> Result<()>,
) -> Result<ApplyStats> {
    let tx = conn.transaction()?;
    let mut stats = ApplyStats::default();
    write(&tx, &mut stats)?;
    meta_set(&tx, "cursor", cursor)?;
    meta_set(&tx, "last_pull_at", &now.to_string())?;
    tx.commit()?;
    Ok(stats)
}

/// Every change of a page, one after the other.
pub(super) fn apply_all(tx: &Transaction<'_>, store_id: i64, changes: &[Change], stats: &mut ApplyStats) -> Result<()> {
    for change in changes {
        apply_counted(tx, store_id, change, stats)?;
    }
    Ok(())
}

pub(super) fn apply_counted(tx: &Transaction<'_>, store_id: i64, change: &Change, stats: &mut ApplyStats) -> Result<()> {
    if apply_one(tx, store_id, change)? {
        stats.applied += 1;
    } else {
        stats.ignored += 1;
    }
    Ok(())
}

impl LocalStore {
    /// Drops everything pulled from the hub (not the outbox, conflicts, check-ins or the
    /// enrolment) and rewinds the cursor, in one transaction: the next pull starts over.
    pub fn forget_pulled_data(&self) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        for table in ["stores", "customers", "loyalty_cards", "carts", "products", "product_gtins", "stock", "orders", "staff", "loyalty_rules"] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        meta_set(&tx, "cursor", "")?;
        tx.commit()?;
        Ok(())
    }
}

/// The store a change belongs to, for the kinds that belong to one store.
fn store_of(change: &Change) -> Option<i64> {
    match change {
        Change::Stock(s) => Some(s.store_id),
        Change::Order(o) => Some(o.store_id),
        Change::Checkin(k) => Some(k.store_id),
        Change::Help(h) => Some(h.store_id),
        Change::Feedback(f) => Some(f.store_id),
        Change::PinFailures(p) => Some(p.store_id),
        Change::Device(d) => Some(d.store_id),
        Change::Sale(s) => Some(s.store_id),
        Change::Shift(z) => Some(z.store_id),
        _ => None,
    }
}

/// Returns false when the record belongs to another store and was left out.
fn apply_one(tx: &Transaction<'_>, store_id: i64, change: &Change) -> Result<bool> {
    if store_of(change).is_some_and(|s| s != store_id) {
        return Ok(false);
    }
    match change {
        Change::Store(s) => {
            tx.prepare_cached(
                "INSERT INTO stores(id, name, city, currency, language, timezone) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, city = excluded.city, currency = excluded.currency,
                                               language = excluded.language, timezone = excluded.timezone",
            )?
            .execute(params![s.id, s.name, s.city, s.currency, s.language, s.timezone])?;
        }
        Change::Customer(c) => upsert_customer(tx, c)?,
        Change::CustomerRemoved { id } => remove_customer(tx, id)?,
        Change::Cart(c) => write_row(tx, &CARTS, cart_row(c)?)?,
        Change::Product(p) => upsert_product(tx, p)?,
        Change::Stock(s) => write_row(tx, &STOCK, stock_row(s))?,
        Change::Order(o) => {
            upsert_order(tx, o)?;
        }
        Change::Staff(s) => {
            if s.store_id != store_id {
                // Another store's badge holders (and their PIN hashes) do not belong here.
                tx.prepare_cached("DELETE FROM staff WHERE id = ?1")?.execute([&s.id])?;
                return Ok(false);
            }
            let role = s.role.as_str();
            // PINs chosen or reset here and not pushed yet stay on top of the hub's record.
            let mut pin_hash = current_pin_hash(&s.id, &s.pin_salt, &s.pin_hash).into_owned();
            for (op, _) in pending_on(tx, &format!("staff:{}", s.id))? {
                pin_effect(&mut pin_hash, &op);
            }
            tx.prepare_cached(
                "INSERT INTO staff(id, name, role, pin_salt, pin_hash, till, badge_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, pin_salt = excluded.pin_salt,
                                               pin_hash = excluded.pin_hash, till = excluded.till, badge_version = excluded.badge_version",
            )?
            .execute(params![s.id, s.name, role, s.pin_salt, pin_hash, s.till, s.badge_version])?;
        }
        Change::StaffRemoved { id } => {
            tx.prepare_cached("DELETE FROM staff WHERE id = ?1")?.execute([id])?;
        }
        Change::Checkin(k) => {
            // This device's own check-in comes back under the op id it already has.
            tx.prepare_cached("INSERT OR IGNORE INTO checkins(op_id, order_id, customer_id, at, device_id) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![k.op_id, k.order_id, k.customer_id, k.at, k.device_id])?;
        }
        Change::CheckinEnded { order_id } => {
            tx.prepare_cached("DELETE FROM checkins WHERE order_id = ?1")?.execute([order_id])?;
        }
        Change::Help(h) => {
            // The hub's version of a request replaces this device's own copy of it.
            tx.prepare_cached(
                "INSERT INTO help_requests(id, device_id, customer_id, shopper, raised_at, taken_by, taken_by_name, taken_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET device_id = excluded.device_id, customer_id = excluded.customer_id,
                     shopper = excluded.shopper, raised_at = excluded.raised_at, taken_by = excluded.taken_by,
                     taken_by_name = excluded.taken_by_name, taken_at = excluded.taken_at",
            )?
            .execute(params![h.id, h.device_id, h.customer_id, h.shopper, h.raised_at, h.taken_by, h.taken_by_name, h.taken_at])?;
        }
        Change::HelpEnded { id } => {
            tx.prepare_cached("DELETE FROM help_requests WHERE id = ?1")?.execute([id])?;
        }
        Change::Feedback(f) => {
            // This device's own answer comes back under the op id it already has.
            tx.prepare_cached(
                "INSERT INTO feedback(op_id, score, at, device_id, csat) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(op_id) DO UPDATE SET at = excluded.at, device_id = excluded.device_id",
            )?
            .execute(params![f.op_id, f.score, f.at, f.device_id, f.csat])?;
        }
        Change::PinFailures(p) => {
            tx.prepare_cached(
                "INSERT INTO pin_failures(staff_id, failures, locked_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT(staff_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
            )?
            .execute(params![p.staff_id, p.state.failures, p.state.locked_until])?;
        }
        Change::Device(d) => {
            tx.prepare_cached("INSERT OR REPLACE INTO devices(id, record) VALUES (?1, ?2)")?.execute(params![d.device_id, to_json(d)?])?;
        }
        Change::Sale(s) => match &s.receipt {
            Some(r) => super::till::share_receipt(tx, r)?,
            // From a hub of protocol 3: the numbers, not the lines.
            None => {
                tx.prepare_cached("INSERT OR IGNORE INTO store_sales(number, device_id, kind, total_cents, at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![s.number, s.device_id, s.kind.as_str(), s.total_cents, s.at])?;
            }
        },
        Change::Shift(z) => super::till::share_z_report(tx, z)?,
        Change::LoyaltyRule(r) => {
            // The whole set each time: a currency the chain dropped falls back to the config.
            tx.prepare_cached("DELETE FROM loyalty_rules")?.execute([])?;
            for (currency, rule) in &r.rules {
                tx.prepare_cached("INSERT INTO loyalty_rules(currency, earn_per_unit, point_value_cents) VALUES (?1, ?2, ?3)")?
                    .execute(params![currency, rule.earn_per_unit, rule.point_value_cents])?;
            }
        }
    }
    Ok(true)
}

/// The PIN value to keep for a badge: a legacy SHA-256 value (from a hub not yet
/// migrated, or this file before Argon2id) wrapped in Argon2id, anything else as it is.
/// A value that cannot be upgraded is kept and logged: `verify_pin` then refuses it.
pub(super) fn current_pin_hash<'a>(staff_id: &str, salt: &str, stored: &'a str) -> std::borrow::Cow<'a, str> {
    if stored.is_empty() {
        // No PIN yet: the colleague chooses one at the PIN pad.
        return stored.into();
    }
    match pin::upgrade_legacy(salt, stored) {
        Ok(Some(upgraded)) => upgraded.into(),
        Ok(None) => stored.into(),
        Err(e) => {
            tracing::warn!(staff_id, "keeping a PIN value that cannot be upgraded: {e}");
            stored.into()
        }
    }
}

fn upsert_customer(tx: &Transaction<'_>, c: &CustomerRecord) -> Result<()> {
    write_row(tx, &CUSTOMERS, customer_row(c))?;
    // The record carries the full set of cards: drop the ones it no longer lists.
    let current: Vec<String> = tx
        .prepare_cached("SELECT card FROM loyalty_cards WHERE customer_id = ?1")?
        .query_map([&c.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for card in current.iter().filter(|card| !c.loyalty_cards.contains(card)) {
        tx.prepare_cached("DELETE FROM loyalty_cards WHERE card = ?1")?.execute([card])?;
    }
    for card in c.loyalty_cards.iter().filter(|card| !current.contains(card)) {
        // A card moved from another customer now belongs to this one.
        write_row(tx, &CARDS, [card.as_str().into(), c.id.as_str().into()])?;
    }
    Ok(())
}

/// A product as this store sells it, and its barcodes: the record carries the full set,
/// so the ones it no longer lists stop finding it, and one moved from another product
/// finds this one now.
fn upsert_product(tx: &Transaction<'_>, p: &ProductRecord) -> Result<()> {
    write_row(tx, &PRODUCTS, product_row(p)?)?;
    tx.prepare_cached("DELETE FROM product_gtins WHERE sku = ?1")?.execute([&p.sku])?;
    for gtin in &p.gtins {
        write_row(tx, &GTINS, [gtin.as_str().into(), p.sku.as_str().into()])?;
    }
    Ok(())
}

fn remove_customer(tx: &Transaction<'_>, id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM customers WHERE id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM loyalty_cards WHERE customer_id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM carts WHERE customer_id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM checkins WHERE customer_id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM help_requests WHERE customer_id = ?1")?.execute([id])?;
    Ok(())
}

fn upsert_order(tx: &Transaction<'_>, o: &OrderRecord) -> Result<()> {
    write_row(tx, &ORDERS, order_row(o)?)?;
    if o.status.is_final() {
        end_checkins(tx, &o.id)?;
    }
    Ok(())
}

/// Nobody waits for an order that is over: the desk's waiting line stays short.
pub(super) fn end_checkins(tx: &Transaction<'_>, order_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM checkins WHERE order_id = ?1")?.execute([order_id])?;
    Ok(())
}

/// How pulled rows of one table are written: the hub's record replaces the row of its key.
pub(super) struct Upsert {
    /// `INSERT [OR REPLACE] INTO table(columns…) VALUES`
    into: &'static str,
    /// Columns of a row.
    pub(super) width: usize,
    /// What becomes of the row already there (`ON CONFLICT … DO UPDATE …`), if not replaced.
    conflict: &'static str,
    /// The statement for each of [`ROWS_PER_STATEMENT`], made at first use.
    sql: std::sync::OnceLock<Vec<(usize, String)>>,
}

/// The statement sizes rows are written in (any count is a sum of them; each size is one
/// prepared statement per table).
const ROWS_PER_STATEMENT: [usize; 4] = [64, 16, 4, 1];

impl Upsert {
    const fn new(into: &'static str, width: usize, conflict: &'static str) -> Upsert {
        Upsert { into, width, conflict, sql: std::sync::OnceLock::new() }
    }

    /// The statements, largest first, with the rows each writes.
    pub(super) fn statements(&self) -> impl Iterator<Item = (usize, &str)> {
        let sql = self.sql.get_or_init(|| {
            let row = format!("({})", vec!["?"; self.width].join(", "));
            ROWS_PER_STATEMENT.iter().map(|&n| (n, format!("{} {} {}", self.into, vec![row.as_str(); n].join(", "), self.conflict))).collect()
        });
        sql.iter().map(|(n, s)| (*n, s.as_str()))
    }
}

pub(super) static CUSTOMERS: Upsert = Upsert::new(
    "INSERT INTO customers(id, first_name, last_initial, tier, language, points, home_store) VALUES",
    7,
    "ON CONFLICT(id) DO UPDATE SET first_name = excluded.first_name, last_initial = excluded.last_initial,
         tier = excluded.tier, language = excluded.language, points = excluded.points, home_store = excluded.home_store",
);
/// A card moved from another customer now belongs to this one.
pub(super) static CARDS: Upsert = Upsert::new("INSERT OR REPLACE INTO loyalty_cards(card, customer_id) VALUES", 2, "");
pub(super) static CARTS: Upsert = Upsert::new(
    "INSERT INTO carts(customer_id, lines, updated_at) VALUES",
    3,
    "ON CONFLICT(customer_id) DO UPDATE SET lines = excluded.lines, updated_at = excluded.updated_at",
);
pub(super) static PRODUCTS: Upsert = Upsert::new(
    "INSERT INTO products(sku, name, price_cents, category, vat_bp, gtins, brand, status, currency, description) VALUES",
    10,
    "ON CONFLICT(sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
         category = excluded.category, vat_bp = excluded.vat_bp, gtins = excluded.gtins, brand = excluded.brand,
         status = excluded.status, currency = excluded.currency, description = excluded.description",
);
/// A barcode moved from another product now finds this one.
pub(super) static GTINS: Upsert = Upsert::new("INSERT OR REPLACE INTO product_gtins(gtin, sku) VALUES", 2, "");
pub(super) static STOCK: Upsert = Upsert::new(
    "INSERT INTO stock(sku, on_hand, aisle) VALUES",
    3,
    "ON CONFLICT(sku) DO UPDATE SET on_hand = excluded.on_hand, aisle = excluded.aisle",
);
pub(super) static ORDERS: Upsert = Upsert::new(
    "INSERT INTO orders(id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version) VALUES",
    9,
    "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status,
         pickup_code = excluded.pickup_code, lines = excluded.lines, placed_at = excluded.placed_at,
         promised_ready_at = excluded.promised_ready_at, updated_at = excluded.updated_at, version = excluded.version",
);

/// One row through the one-row statement of its table.
fn write_row<'a>(tx: &Transaction<'_>, upsert: &Upsert, row: impl IntoIterator<Item = ToSqlOutput<'a>>) -> Result<()> {
    let (_, sql) = upsert.statements().last().expect("a one-row statement");
    tx.prepare_cached(sql)?.execute(rusqlite::params_from_iter(row))?;
    Ok(())
}

pub(super) fn customer_row(c: &CustomerRecord) -> [ToSqlOutput<'_>; 7] {
    [c.id.as_str().into(), c.first_name.as_str().into(), c.last_initial.as_str().into(), c.tier.as_str().into(), c.language.as_str().into(), c.points.into(), opt(c.home_store)]
}

pub(super) fn cart_row(c: &CartRecord) -> Result<[ToSqlOutput<'_>; 3]> {
    Ok([c.customer_id.as_str().into(), to_json(&c.lines)?.into(), c.updated_at.into()])
}

pub(super) fn product_row(p: &ProductRecord) -> Result<[ToSqlOutput<'_>; 10]> {
    Ok([
        p.sku.as_str().into(),
        p.name.as_str().into(),
        p.price_cents.into(),
        p.category.as_str().into(),
        p.vat_bp.into(),
        to_json(&p.gtins)?.into(),
        p.brand.as_str().into(),
        p.status.as_str().into(),
        p.currency.as_str().into(),
        p.description.as_str().into(),
    ])
}

pub(super) fn stock_row(s: &StockRecord) -> [ToSqlOutput<'_>; 3] {
    [s.sku.as_str().into(), s.on_hand.into(), s.aisle.as_str().into()]
}

pub(super) fn order_row(o: &OrderRecord) -> Result<[ToSqlOutput<'_>; 9]> {
    Ok([
        o.id.as_str().into(),
        o.customer_id.as_str().into(),
        o.status.as_str().into(),
        o.pickup_code.as_str().into(),
        to_json(&o.lines)?.into(),
        o.placed_at.into(),
        o.promised_ready_at.into(),
        o.updated_at.into(),
        o.version.into(),
    ])
}

fn opt(v: Option<i64>) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(v.map_or(Value::Null, Value::Integer))
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt { what: "record", detail: e.to_string() })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::StoreConfig;
    use crate::store::Enrolment;

    fn customer(id: &str, cards: &[&str]) -> Change {
        Change::Customer(CustomerRecord {
            id: id.into(),
            first_name: "Anna".into(),
            last_initial: "K".into(),
            tier: "gold".into(),
            language: "pl".into(),
            points: 0,
            home_store: Some(1),
            loyalty_cards: cards.iter().map(|c| c.to_string()).collect(),
        })
    }

    fn removed(id: &str) -> Change {
        Change::CustomerRemoved { id: id.into() }
    }

    /// A fresh store in `dir`, enrolled to store 1.
    pub(in crate::store) fn enrolled(dir: &std::path::Path) -> LocalStore {
        let store = LocalStore::open(dir, &StoreConfig::default()).unwrap();
        store
            .save_enrolment(&Enrolment {
                hub_url: "http://127.0.0.1:1/".into(),
                device_token: "t".into(),
                device_id: "d".into(),
                store_id: 1,
                store_name: "S".into(),
                hub_public_key: String::new(),
                insecure: false,
                hub_ca: None,
            })
            .unwrap();
        store
    }

    /// Cards as (card, holder) after applying `pages` in order to a fresh store.
    fn cards_after(pages: &[Vec<Change>]) -> Vec<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        let store = enrolled(dir.path());
        for (i, page) in pages.iter().enumerate() {
            store.apply_page(page, &format!("1.{i}"), 0).unwrap();
        }
        let conn = store.reader();
        let mut read = conn.prepare("SELECT card, customer_id FROM loyalty_cards ORDER BY card").unwrap();
        read.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    /// A customer record carries its whole set of cards: each card ends with the last
    /// record that listed it, whatever came before in the same page or an earlier one (a
    /// move, a drop, an erasure, the same customer again, a replayed page). Pinned for any
    /// faster apply that would stop reading the cards once per record.
    #[test]
    fn every_record_sees_the_cards_as_they_stand_at_its_turn() {
        let held = |pairs: &[(&str, &str)]| pairs.iter().map(|(c, h)| (c.to_string(), h.to_string())).collect::<Vec<_>>();
        for (what, pages, expected) in [
            ("fresh store", vec![vec![customer("A", &["1"]), customer("B", &["2"])]], held(&[("1", "A"), ("2", "B")])),
            ("moved, old holder after", vec![vec![customer("A", &["1"])], vec![customer("B", &["1"]), customer("A", &[])]], held(&[("1", "B")])),
            ("moved, old holder before", vec![vec![customer("A", &["1"])], vec![customer("A", &[]), customer("B", &["1"])]], held(&[("1", "B")])),
            ("moved, then listed again by the old holder", vec![vec![customer("A", &["1"])], vec![customer("B", &["1"]), customer("A", &["1"])]], held(&[("1", "A")])),
            ("moved from a customer not in the page", vec![vec![customer("A", &["1", "2"])], vec![customer("B", &["1"])]], held(&[("1", "B"), ("2", "A")])),
            ("dropped", vec![vec![customer("A", &["1", "2"])], vec![customer("A", &["2", "3"])]], held(&[("2", "A"), ("3", "A")])),
            ("same customer twice in a page", vec![vec![customer("A", &["1"]), customer("A", &["2"])]], held(&[("2", "A")])),
            ("erased then back", vec![vec![customer("A", &["1", "2"])], vec![removed("A"), customer("A", &["1"])]], held(&[("1", "A")])),
            ("erased after taking a card", vec![vec![customer("A", &["1"])], vec![customer("B", &["1"]), removed("B"), customer("A", &["1"])]], held(&[("1", "A")])),
            ("a page replayed", vec![vec![customer("A", &["1"]), customer("B", &["2"])], vec![customer("A", &["1"]), customer("B", &["2"])]], held(&[("1", "A"), ("2", "B")])),
        ] {
            assert_eq!(cards_after(&pages), expected, "{what}");
        }
    }

    /// A scan finds a product by any barcode its latest record lists, or by its SKU: a
    /// barcode dropped from a product stops finding it, one moved to another product finds
    /// that one, and a replayed page changes nothing.
    #[test]
    fn a_barcode_finds_the_product_whose_latest_record_lists_it() {
        let product = |sku: &str, gtins: &[&str]| {
            Change::Product(ProductRecord { sku: sku.into(), name: sku.into(), gtins: gtins.iter().map(|g| g.to_string()).collect(), ..Default::default() })
        };
        let f = crate::ui::controller::fixture::Fixture::new();
        let page = [product("KAWA", &["5900000000011", "12345670"]), product("HERBATA", &["5900000000028"])];
        for (i, changes) in [&page[..], &page[..], &[product("KAWA", &["5900000000011"]), product("HERBATA", &["5900000000028", "12345670"])]].into_iter().enumerate() {
            f.store.apply_page(changes, &format!("2.{i}"), 0).unwrap();
        }
        let found = |code: &str| f.store.product_by_code(code).unwrap().map(|p| p.product.sku);
        for (code, expected) in [
            ("5900000000011", Some("KAWA")),
            ("12345670", Some("HERBATA")),
            (" 5900000000028\r\n", Some("HERBATA")),
            ("KAWA", Some("KAWA")),
            ("5901234123457", Some("5901234123457")),
            ("5900000000035", None),
        ] {
            assert_eq!(found(code).as_deref(), expected, "{code:?}");
        }
        let kawa = f.store.product_by_code("KAWA").unwrap().unwrap().product;
        assert_eq!((kawa.gtins, kawa.status), (vec!["5900000000011".to_string()], omnikiosk_protocol::wire::ProductStatus::Active));
    }
}
