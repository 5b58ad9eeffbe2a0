//! The embedded backend's schema, as versioned migrations.

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use crate::error::StorageError;
use crate::store::sql::{CATALOGUE_MIGRATION, LOOKUPS_MIGRATION, LOYALTY_RULE_MIGRATION, POINTS_LIMIT_MIGRATION, RETURNS_MIGRATION, STAFF_MIGRATION, TILL_MIGRATION};

/// Brings the database to the newest schema.
pub fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    Ok(Migrations::new(vec![
        M::up(SCHEMA),
        M::up(SCHEMA_PUSH),
        M::up(SCHEMA_STORE_WIDE),
        M::up(TILL_MIGRATION),
        M::up(RETURNS_MIGRATION),
        M::up(LOOKUPS_MIGRATION),
        M::up(CATALOGUE_MIGRATION),
        M::up(STAFF_MIGRATION),
        M::up(LOYALTY_RULE_MIGRATION),
        M::up(POINTS_LIMIT_MIGRATION),
    ])
    .to_latest(conn)?)
}

const SCHEMA: &str = r#"
CREATE TABLE hub_key (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE stores (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE devices (
    id TEXT PRIMARY KEY, store_id INTEGER NOT NULL REFERENCES stores(id), label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
    last_seen_at INTEGER, protocol_version INTEGER, last_cursor INTEGER, outbox_len INTEGER
);
CREATE TABLE customers (
    id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, tier TEXT NOT NULL,
    home_store INTEGER, language TEXT NOT NULL, email TEXT, updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE loyalty_cards (card TEXT PRIMARY KEY, customer_id TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX loyalty_cards_by_customer ON loyalty_cards(customer_id);
CREATE TABLE carts (customer_id TEXT PRIMARY KEY, lines TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
-- Points are a ledger of deltas keyed by the op that made them; the balance is the sum.
CREATE TABLE loyalty_ledger (
    op_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, delta INTEGER NOT NULL, reason TEXT NOT NULL,
    at INTEGER NOT NULL, device_id TEXT
) WITHOUT ROWID;
CREATE INDEX loyalty_ledger_by_customer ON loyalty_ledger(customer_id);
CREATE TABLE customer_stores (
    customer_id TEXT NOT NULL, store_id INTEGER NOT NULL, reason TEXT NOT NULL, since INTEGER NOT NULL,
    PRIMARY KEY (customer_id, store_id)
) WITHOUT ROWID;
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL, category TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE stock (
    store_id INTEGER NOT NULL, sku TEXT NOT NULL, on_hand INTEGER NOT NULL, aisle TEXT NOT NULL,
    PRIMARY KEY (store_id, sku)
) WITHOUT ROWID;
CREATE TABLE orders (
    id TEXT PRIMARY KEY, store_id INTEGER NOT NULL, customer_id TEXT NOT NULL, status TEXT NOT NULL,
    pickup_code TEXT NOT NULL, lines TEXT NOT NULL, placed_at INTEGER NOT NULL,
    promised_ready_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX orders_by_store_status ON orders(store_id, status);
CREATE INDEX orders_by_customer ON orders(customer_id);
CREATE TABLE order_events (
    order_id TEXT NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, by TEXT NOT NULL, note TEXT
);
CREATE INDEX order_events_by_order ON order_events(order_id);
CREATE TABLE staff (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, store_id INTEGER NOT NULL,
    pin_salt TEXT NOT NULL, pin_hash TEXT NOT NULL
) WITHOUT ROWID;
-- The compacted change feed: one row per (scope, entity), moved to a new seq on every
-- write (INSERT OR REPLACE), so it holds current state plus tombstones, in commit order.
CREATE TABLE feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, entity_key TEXT NOT NULL,
    txid INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (scope, entity_key)
);
CREATE INDEX feed_by_scope ON feed(scope, seq);
CREATE INDEX feed_by_tx ON feed(txid);
"#;

/// Offline actions pushed by kiosks: the op log (idempotency by op id, gapless
/// sequence per device), conflicts, visits and feedback.
const SCHEMA_PUSH: &str = r#"
ALTER TABLE devices ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE ops (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, op_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    body TEXT NOT NULL, kiosk_time INTEGER NOT NULL, received_at INTEGER NOT NULL, outcome TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
CREATE TABLE conflicts (
    op_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, store_id INTEGER NOT NULL, name TEXT NOT NULL,
    body TEXT NOT NULL, kiosk_time INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
    hub_facts TEXT, at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE visits (
    op_id TEXT PRIMARY KEY, kind TEXT NOT NULL, store_id INTEGER NOT NULL, customer_id TEXT,
    order_id TEXT, at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE feedback (
    op_id TEXT PRIMARY KEY, store_id INTEGER NOT NULL, customer_id TEXT, score INTEGER NOT NULL,
    csat TEXT, at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// One store, many devices: help requests, PIN failures counted store-wide, device health
/// in the store's feed, check-ins that end, and the customer timeline's touchpoints.
const SCHEMA_STORE_WIDE: &str = r#"
ALTER TABLE devices ADD COLUMN oldest_unsent_at INTEGER;
ALTER TABLE devices ADD COLUMN health_published_at INTEGER;
ALTER TABLE visits ADD COLUMN sku TEXT;
ALTER TABLE visits ADD COLUMN ended_at INTEGER;
CREATE INDEX visits_by_customer ON visits(customer_id, at);
CREATE INDEX visits_open_checkins ON visits(order_id) WHERE kind = 'checkin' AND ended_at IS NULL;
CREATE INDEX feedback_by_customer ON feedback(customer_id, at);
CREATE TABLE help_requests (
    id TEXT PRIMARY KEY, store_id INTEGER NOT NULL, device_id TEXT NOT NULL, customer_id TEXT,
    raised_at INTEGER NOT NULL, taken_by TEXT, taken_at INTEGER, done_by TEXT, done_at INTEGER
) WITHOUT ROWID;
CREATE INDEX help_requests_by_customer ON help_requests(customer_id);
CREATE INDEX help_requests_open ON help_requests(raised_at) WHERE done_at IS NULL;
CREATE TABLE pin_failures (
    store_id INTEGER NOT NULL, staff_id TEXT NOT NULL, failures INTEGER NOT NULL, locked_until INTEGER,
    PRIMARY KEY (store_id, staff_id)
) WITHOUT ROWID;
"#;


#[cfg(test)]
mod tests {
    use super::*;

    /// A database of the release before the till gets its stores' money, its products'
    /// VAT and its badges' till role from the upgrade, as the seed would have made them.
    #[test]
    fn a_database_from_before_the_till_is_upgraded_with_what_the_seed_would_have_given() {
        let mut conn = Connection::open_in_memory().unwrap();
        Migrations::new(vec![M::up(SCHEMA), M::up(SCHEMA_PUSH), M::up(SCHEMA_STORE_WIDE)]).to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO stores(id, name, city) VALUES (1, 'Omni Market Kraków', 'Kraków'), (2, 'Omni Market London', 'London');
             INSERT INTO products(sku, name, price_cents, category) VALUES ('5900000000008', 'Kefir', 349, 'Dairy'), ('5900000000015', 'Lamp', 9999, 'Home');
             INSERT INTO staff(id, name, role, store_id, pin_salt, pin_hash) VALUES ('S1-STAFF', 'Kasia', 'staff', 1, 's', 'h');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let currencies: Vec<String> = conn.prepare("SELECT currency FROM stores ORDER BY id").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(currencies, ["PLN", "GBP"]);
        let vat: Vec<i64> = conn.prepare("SELECT vat_bp FROM products ORDER BY sku").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(vat, [500, 2300]);
        let till: bool = conn.query_row("SELECT till FROM staff", [], |r| r.get(0)).unwrap();
        assert!(till, "a badge holder of before may still sell");
    }

    /// A database of the release before returns keeps its receipts, which returns can
    /// then name (found by the new `origin` column), and gets the Z reports' table.
    #[test]
    fn a_database_from_before_returns_keeps_its_receipts_and_can_record_returns_and_shifts() {
        let mut conn = Connection::open_in_memory().unwrap();
        Migrations::new(vec![M::up(SCHEMA), M::up(SCHEMA_PUSH), M::up(SCHEMA_STORE_WIDE), M::up(TILL_MIGRATION)]).to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO receipts(position, number, store_id, device_id, seq, op_id, kind, customer_id, total_cents, at, hash, body)
             VALUES (1, '1-1-000001', 1, 'kiosk-1-1', 1, 'op-1', 'sale', NULL, 100, 0, 'h', '{}');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let origin: Option<String> = conn.query_row("SELECT origin FROM receipts WHERE number = '1-1-000001'", [], |r| r.get(0)).unwrap();
        assert_eq!(origin, None, "a sale takes nothing back");
        conn.execute_batch(
            "INSERT INTO receipts(position, number, store_id, device_id, seq, op_id, kind, customer_id, total_cents, at, hash, body, origin)
             VALUES (2, '1-1-000002', 1, 'kiosk-1-1', 2, 'op-2', 'return', NULL, -100, 0, 'h2', '{}', '1-1-000001');
             INSERT INTO shifts(position, store_id, device_id, z_number, op_id, closed_at, body) VALUES (1, 1, 'kiosk-1-1', 1, 'op-3', 0, '{}');",
        )
        .unwrap();
        let plan: String = conn.query_row("EXPLAIN QUERY PLAN SELECT number FROM receipts WHERE origin = '1-1-000001'", [], |r| r.get(3)).unwrap();
        assert!(plan.contains("receipts_by_origin"), "returns against a receipt are found by index: {plan}");
        let again = conn.execute("INSERT INTO shifts(position, store_id, device_id, z_number, op_id, closed_at, body) VALUES (2, 1, 'kiosk-1-1', 1, 'op-4', 0, '{}')", []);
        assert!(again.is_err(), "a device's Z number is stored once");
    }

    /// A database of the release before the lookups' audit: a customer whose first reason at
    /// a store was a lookup kept it even after an order there or their home store moved
    /// there; the upgrade says so (they must not expire), and a lookup-only customer's time
    /// runs from their last touchpoint at the store, not from the lookup.
    #[test]
    fn a_database_from_before_the_lookups_audit_keeps_who_came_back_and_gets_the_audit() {
        let mut conn = Connection::open_in_memory().unwrap();
        Migrations::new(vec![M::up(SCHEMA), M::up(SCHEMA_PUSH), M::up(SCHEMA_STORE_WIDE), M::up(TILL_MIGRATION), M::up(RETURNS_MIGRATION)])
            .to_latest(&mut conn)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, updated_at) VALUES
                 ('C-ORDER', 'A', 'B', 'gold', 2, 'pl', 0), ('C-HOME', 'A', 'B', 'gold', 1, 'pl', 0),
                 ('C-SEEN', 'A', 'B', 'gold', 2, 'pl', 0), ('C-LOOKUP', 'A', 'B', 'gold', 2, 'pl', 0);
             INSERT INTO customer_stores(customer_id, store_id, reason, since) VALUES
                 ('C-ORDER', 1, 'lookup', 100), ('C-HOME', 1, 'lookup', 100), ('C-SEEN', 1, 'lookup', 100), ('C-LOOKUP', 1, 'lookup', 100);
             INSERT INTO orders(id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version)
                 VALUES ('O-1-1', 1, 'C-ORDER', 'placed', '123456', '[]', 200, 300, 200, 1);
             INSERT INTO visits(op_id, kind, store_id, customer_id, at) VALUES
                 ('v1', 'seen', 1, 'C-SEEN', 500), ('v2', 'seen', 2, 'C-LOOKUP', 900), ('v3', 'seen', 1, 'C-LOOKUP', 50);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT customer_id, reason, since FROM customer_stores ORDER BY customer_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected = [("C-HOME", "home_store", 100), ("C-LOOKUP", "lookup", 100), ("C-ORDER", "order", 100), ("C-SEEN", "lookup", 500)];
        assert_eq!(rows, expected.map(|(c, r, t)| (c.to_string(), r.to_string(), t)), "a visit at another store, or before, keeps the lookup's time");
        conn.execute_batch("INSERT INTO lookups(position, at, store_id, device_id, kind, outcome, customer_id) VALUES (1, 0, 1, 'kiosk-1-1', 'loyalty_card', 'found', 'C-LOOKUP')")
            .unwrap();
        let plan: String = conn.query_row("EXPLAIN QUERY PLAN SELECT customer_id FROM customer_stores WHERE reason = 'lookup' AND since < 1000", [], |r| r.get(3)).unwrap();
        assert!(plan.contains("customer_stores_by_lookup"), "the minute job reads only lookups' rows: {plan}");
    }
}
