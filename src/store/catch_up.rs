//! Catching up from nothing: a pull round that began with none of the pulled tables
//! holding a row writes each page's customers, cards, carts, products, barcodes, stock and
//! orders as multi-row statements, and skips the read (or delete) of a customer's old cards
//! and a product's old barcodes where this round has not written that customer or product
//! yet — there are none. Everything else goes through the page's ordinary apply.

use omnikiosk_protocol::wire::Change;
use rusqlite::types::ToSqlOutput;
use rusqlite::Transaction;

use super::apply::{self, Upsert};
use super::{LocalStore, Result};

/// The tables a catch-up writes in batches: all empty when a round may be one.
const BATCHED_TABLES: [&str; 7] = ["customers", "loyalty_cards", "carts", "products", "product_gtins", "stock", "orders"];

/// WAL pages before SQLite folds the WAL into the file, during a catch-up (the default
/// is 1,000: a first sync of 200,000 customers would checkpoint some twenty times, each
/// with two fsyncs and hot pages copied again).
const CATCH_UP_CHECKPOINT_PAGES: i64 = 16_384;

/// What a pull round that began on an empty store knows of the rows it wrote itself.
pub struct CatchUp {
    /// Customers and products this round may have written (a Bloom filter: "no" is
    /// certain, "yes" may be wrong and costs only the ordinary, reading apply).
    written: Written,
    /// The cursor this round last committed: a page finding another one there (another
    /// process pulled meanwhile) is applied the ordinary way, and so is the rest.
    cursor: String,
    /// False once the round found rows it did not write.
    sure: bool,
}

impl LocalStore {
    /// A catch-up round when none of the pulled tables holds a row (a first sync, or one
    /// after the hub's database was replaced), else `None`.
    pub fn start_catch_up(&self) -> Result<Option<CatchUp>> {
        let conn = self.writer();
        let any = BATCHED_TABLES.map(|t| format!("EXISTS (SELECT 1 FROM {t})")).join(" OR ");
        let held: bool = conn.query_row(&format!("SELECT {any}"), [], |r| r.get(0))?;
        let cursor = super::meta_get(&conn, "cursor")?.unwrap_or_default();
        Ok((!held).then(|| CatchUp { written: Written::new(), cursor, sure: true }))
    }

    /// [`LocalStore::apply_page`] within a catch-up round: the same rows, fewer statements.
    pub fn apply_catch_up_page(&self, round: &mut CatchUp, changes: &[Change], cursor: &str, now: i64) -> Result<super::ApplyStats> {
        let store_id = self.require_enrolment()?.store_id;
        let mut conn = self.writer();
        conn.pragma_update(None, "wal_autocheckpoint", CATCH_UP_CHECKPOINT_PAGES)?;
        let applied = apply::apply_page_with(&mut conn, changes, cursor, now, |tx, stats| {
            round.sure &= super::meta_get(tx, "cursor")?.unwrap_or_default() == round.cursor;
            if !round.sure {
                return apply::apply_all(tx, store_id, changes, stats);
            }
            let mut rows = PageRows::default();
            for change in changes {
                if !rows.take(&mut round.written, store_id, change)? {
                    rows.write(tx)?;
                    apply::apply_counted(tx, store_id, change, stats)?;
                } else {
                    stats.applied += 1;
                }
            }
            rows.write(tx)
        });
        conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
        let stats = applied?;
        round.cursor = cursor.to_string();
        Ok(stats)
    }
}

/// A page's rows waiting to be written, table by table, in page order.
struct PageRows<'a> {
    customers: Rows<'a>,
    cards: Rows<'a>,
    carts: Rows<'a>,
    products: Rows<'a>,
    gtins: Rows<'a>,
    stock: Rows<'a>,
    orders: Rows<'a>,
    /// Orders over: nobody waits for them (as [`apply`] does for one order).
    ended: Vec<&'a str>,
}

impl Default for PageRows<'_> {
    fn default() -> Self {
        PageRows {
            customers: Rows::new(&apply::CUSTOMERS),
            cards: Rows::new(&apply::CARDS),
            carts: Rows::new(&apply::CARTS),
            products: Rows::new(&apply::PRODUCTS),
            gtins: Rows::new(&apply::GTINS),
            stock: Rows::new(&apply::STOCK),
            orders: Rows::new(&apply::ORDERS),
            ended: Vec::new(),
        }
    }
}

impl<'a> PageRows<'a> {
    /// Takes the change's rows for later, or says it must be applied the ordinary way
    /// (after the rows taken so far are written).
    fn take(&mut self, written: &mut Written, store_id: i64, change: &'a Change) -> Result<bool> {
        let txt = |s: &'a str| ToSqlOutput::from(s);
        match change {
            Change::Customer(c) if written.insert(b'c', &c.id) => {
                self.customers.row(apply::customer_row(c));
                for card in &c.loyalty_cards {
                    self.cards.row([txt(card), txt(&c.id)]);
                }
            }
            Change::Cart(c) => self.carts.row(apply::cart_row(c)?),
            Change::Product(p) if written.insert(b'p', &p.sku) => {
                self.products.row(apply::product_row(p)?);
                for gtin in &p.gtins {
                    self.gtins.row([txt(gtin), txt(&p.sku)]);
                }
            }
            Change::Stock(s) if s.store_id == store_id => self.stock.row(apply::stock_row(s)),
            Change::Order(o) if o.store_id == store_id => {
                self.orders.row(apply::order_row(o)?);
                if o.status.is_final() {
                    self.ended.push(&o.id);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Writes every row taken, and empties the lists.
    fn write(&mut self, tx: &Transaction<'_>) -> Result<()> {
        for rows in [&mut self.customers, &mut self.cards, &mut self.carts, &mut self.products, &mut self.gtins, &mut self.stock, &mut self.orders] {
            rows.write(tx)?;
        }
        for order_id in self.ended.drain(..) {
            apply::end_checkins(tx, order_id)?;
        }
        Ok(())
    }
}

/// One table's rows waiting: their values, row after row.
struct Rows<'a> {
    upsert: &'static Upsert,
    values: Vec<ToSqlOutput<'a>>,
}

impl<'a> Rows<'a> {
    fn new(upsert: &'static Upsert) -> Self {
        Rows { upsert, values: Vec::new() }
    }

    fn row(&mut self, values: impl IntoIterator<Item = ToSqlOutput<'a>>) {
        self.values.extend(values);
    }

    /// In as few statements as the prepared sizes allow, rows in their order (a later
    /// row of the same key wins, as it would one statement each).
    fn write(&mut self, tx: &Transaction<'_>) -> Result<()> {
        let mut rest = &self.values[..];
        for (rows, sql) in self.upsert.statements() {
            let n = rows * self.upsert.width;
            if rest.len() < n {
                continue;
            }
            let mut stmt = tx.prepare_cached(sql)?;
            while rest.len() >= n {
                stmt.execute(rusqlite::params_from_iter(&rest[..n]))?;
                rest = &rest[n..];
            }
        }
        debug_assert!(rest.is_empty());
        self.values.clear();
        Ok(())
    }
}

/// Keys this round may have written: two bits each of 2^24 (2 MiB, whatever the store's
/// size; one in 700 unwritten customers of a 200,000-customer store reads as written).
struct Written {
    bits: Vec<u64>,
}

impl Written {
    const BITS: u32 = 24;

    fn new() -> Self {
        Written { bits: vec![0; 1 << (Self::BITS - 6)] }
    }

    /// Marks `kind`'s `key` written; whether it certainly was not before.
    fn insert(&mut self, kind: u8, key: &str) -> bool {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one((kind, key));
        let mut fresh = false;
        for bit in [h as u32 >> (32 - Self::BITS), (h >> 32) as u32 >> (32 - Self::BITS)] {
            let (word, mask) = ((bit >> 6) as usize, 1u64 << (bit & 63));
            fresh |= self.bits[word] & mask == 0;
            self.bits[word] |= mask;
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::apply::tests::enrolled;
    use serde_json::json;

    /// How a test page reaches the store.
    #[derive(Clone, Copy, Debug)]
    enum Path {
        Ordinary,
        CatchUp,
        /// Another process's ordinary apply, in the middle of a catch-up round.
        Other,
    }

    /// Every table a pull writes, each row as text, sorted.
    fn tables(store: &LocalStore) -> Vec<(&'static str, Vec<String>)> {
        let conn = store.reader();
        ["stores", "customers", "loyalty_cards", "carts", "products", "product_gtins", "stock", "orders", "staff", "checkins", "meta"]
            .into_iter()
            .map(|t| {
                let mut stmt = conn.prepare(&format!("SELECT * FROM {t}")).unwrap();
                let n = stmt.column_count();
                let mut rows: Vec<String> = stmt
                    .query_map([], |r| Ok((0..n).map(|i| shown(r.get_ref(i).unwrap())).collect::<Vec<_>>().join(" | ")))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                rows.sort();
                (t, rows)
            })
            .collect()
    }

    fn shown(v: rusqlite::types::ValueRef<'_>) -> String {
        match v {
            rusqlite::types::ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
            other => format!("{other:?}"),
        }
    }

    /// The store after `pages`, each through its path; a catch-up round starts on the
    /// first `CatchUp` page (and must, the store then holding nothing pulled).
    fn after(pages: &[(Path, Vec<Change>)]) -> (Vec<(&'static str, Vec<String>)>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let store = enrolled(dir.path());
        let mut round: Option<CatchUp> = None;
        for (i, (path, page)) in pages.iter().enumerate() {
            let cursor = format!("1.{i}");
            match path {
                Path::Ordinary | Path::Other => {
                    store.apply_page(page, &cursor, 0).unwrap();
                }
                Path::CatchUp => {
                    let r = round.get_or_insert_with(|| store.start_catch_up().unwrap().expect("an empty store catches up"));
                    store.apply_catch_up_page(r, page, &cursor, 0).unwrap();
                }
            }
        }
        (tables(&store), round.is_some_and(|r| r.sure))
    }

    fn page(changes: serde_json::Value) -> Vec<Change> {
        serde_json::from_value(changes).unwrap()
    }

    fn customer(id: &str, name: &str, cards: &[&str]) -> serde_json::Value {
        json!({"kind": "customer", "data": {"id": id, "first_name": name, "last_initial": "K", "tier": "gold", "language": "pl", "points": 5, "home_store": 1, "loyalty_cards": cards}})
    }

    fn product(sku: &str, price: i64, gtins: &[&str]) -> serde_json::Value {
        json!({"kind": "product", "data": {"sku": sku, "name": sku, "price_cents": price, "category": "Dairy", "vat_bp": 500, "gtins": gtins}})
    }

    fn cart(id: &str, qty: i64) -> serde_json::Value {
        json!({"kind": "cart", "data": {"customer_id": id, "lines": [{"sku": "P1", "qty": qty}], "updated_at": qty}})
    }

    fn stock(store: i64, sku: &str, on_hand: i64) -> serde_json::Value {
        json!({"kind": "stock", "data": {"store_id": store, "sku": sku, "on_hand": on_hand, "aisle": "A1"}})
    }

    fn order(store: i64, id: &str, status: &str) -> serde_json::Value {
        json!({"kind": "order", "data": {"id": id, "store_id": store, "customer_id": "A", "status": status, "pickup_code": "123456",
            "lines": [{"sku": "P1", "name": "P1", "qty": 1}], "placed_at": 1, "promised_ready_at": 2, "updated_at": 3, "version": 1}})
    }

    /// A first sync's pages with everything a page can do to the rows the catch-up writes
    /// in batches: cards and barcodes moved between holders in one page and across pages, the
    /// same customer, product, cart and stock twice in a page, a customer erased and back,
    /// another store's records, an order over while its shopper is checked in.
    fn first_sync() -> Vec<Vec<Change>> {
        vec![
            page(json!([
                {"kind": "store", "data": {"id": 1, "name": "Kraków", "city": "Kraków"}},
                customer("A", "Anna", &["0420000000011", "0420000000028"]),
                customer("B", "Basia", &["0420000000035"]),
                cart("A", 1),
                product("P1", 100, &["5900000000011", "5900000000028"]),
                product("P2", 200, &["5900000000035"]),
                stock(1, "P1", 7),
                stock(2, "P2", 9),
                order(1, "O1", "ready"),
                order(2, "O9", "ready"),
                {"kind": "checkin", "data": {"op_id": "k1", "store_id": 1, "order_id": "O1", "customer_id": "A", "device_id": "d", "at": 4}},
                customer("E", "Ela", &["0420000000042"]),
                customer("F", "Franek", &["0420000000042"]),
            ])),
            page(json!([
                customer("C", "Celina", &["0420000000011"]),
                customer("A", "Ania", &["0420000000028"]),
                cart("A", 2),
                cart("A", 3),
                product("P3", 300, &["5900000000011"]),
                product("P1", 150, &["5900000000028"]),
                stock(1, "P1", 6),
                stock(1, "P1", 5),
                order(1, "O1", "collected"),
                {"kind": "customer_removed", "data": {"id": "B"}},
                customer("B", "Basia", &["0420000000035", "0420000000059"]),
            ])),
            page(json!([
                customer("D", "Dorota", &["0420000000066"]),
                customer("D", "Dorota", &["0420000000073"]),
                product("P4", 400, &["5900000000042"]),
                product("P4", 410, &[]),
                cart("D", 1),
                order(1, "O2", "placed"),
            ])),
            // Enough rows of one key for one multi-row statement to hold several of them.
            page(json!([
                customer("G", "Gosia", &["0420000000080"]),
                customer("H", "Halina", &["0420000000080"]),
                customer("I", "Iza", &["0420000000080", "0420000000097"]),
                customer("J", "Jola", &["0420000000097"]),
                customer("K", "Kasia", &["0420000000080"]),
                stock(1, "P2", 1),
                stock(1, "P2", 2),
                stock(1, "P2", 3),
                stock(1, "P2", 4),
                stock(1, "P2", 5),
            ])),
        ]
    }

    /// A first sync written the fast way (multi-row statements, no read of old cards or
    /// barcodes) leaves the kiosk exactly as the ordinary apply does — or a shopper's card
    /// would find the wrong person, or a barcode a product it no longer names.
    #[test]
    fn a_first_sync_caught_up_holds_what_the_ordinary_apply_holds() {
        let pages = first_sync();
        let through = |paths: &[Path]| paths.iter().copied().zip(pages.iter().cloned()).collect::<Vec<_>>();
        let (ordinary, _) = after(&through(&[Path::Ordinary; 4]));
        assert!(ordinary.iter().find(|(t, _)| *t == "loyalty_cards").is_some_and(|(_, rows)| rows.len() == 8), "{ordinary:#?}");
        for (what, paths, sure) in [
            ("every page caught up", [Path::CatchUp; 4], true),
            ("another process applied a page between", [Path::CatchUp, Path::Other, Path::CatchUp, Path::CatchUp], false),
        ] {
            let (caught_up, was_sure) = after(&through(&paths));
            assert_eq!(caught_up, ordinary, "{what}");
            assert_eq!(was_sure, sure, "{what}");
        }
    }

    /// The fast way is only for a store holding nothing pulled: after one page (a kiosk
    /// restarted mid-sync, or any later round) it is not taken; after the pulled rows are
    /// forgotten (the hub's database replaced) it is again.
    #[test]
    fn a_store_holding_pulled_rows_is_not_caught_up_the_fast_way() {
        let dir = tempfile::tempdir().unwrap();
        let store = enrolled(dir.path());
        assert!(store.start_catch_up().unwrap().is_some());
        store.apply_page(&page(json!([stock(1, "P1", 1)])), "1.0", 0).unwrap();
        assert!(store.start_catch_up().unwrap().is_none());
        store.forget_pulled_data().unwrap();
        assert!(store.start_catch_up().unwrap().is_some());
    }
}
