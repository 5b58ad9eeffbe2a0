//! The PostgreSQL backend's schema, as versioned migrations taken under an advisory lock.

use postgres::Client;

use crate::error::StorageError;
use crate::store::sql::{CATALOGUE_MIGRATION, LOOKUPS_MIGRATION, LOYALTY_RULE_MIGRATION, POINTS_LIMIT_MIGRATION, RETURNS_MIGRATION, STAFF_MIGRATION, TILL_MIGRATION};

/// Advisory lock key taken while migrating, so hubs starting together do not race.
const MIGRATION_LOCK: i64 = 0x4f4d_4e49_4b49_4f53; // "OMNIKIOS"

pub fn migrate(c: &mut Client) -> Result<(), StorageError> {
    let mut t = c.transaction()?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    t.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let current: i64 = t.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?.get(0);
    if current > MIGRATIONS.len() as i64 {
        return Err(StorageError(format!(
            "the database schema is version {current}, newer than this hub knows ({}): update the hub",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current {
            t.batch_execute(sql)?;
            t.execute("INSERT INTO schema_version(version) VALUES ($1)", &[&version])?;
        }
    }
    t.commit()?;
    Ok(())
}

/// Versioned schema migrations; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, TILL_MIGRATION, RETURNS_MIGRATION, LOOKUPS_MIGRATION, CATALOGUE_MIGRATION, STAFF_MIGRATION, LOYALTY_RULE_MIGRATION, POINTS_LIMIT_MIGRATION];

/// Text keys that results are ordered by use the "C" collation: byte order, as SQLite
/// sorts, whatever locale the database was created with.
const SCHEMA_V1: &str = r#"
CREATE TABLE hub_key (id BIGINT PRIMARY KEY CHECK (id = 1), secret BYTEA NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
-- 'feed' is the newest feed seq: every writer locks this row first (commit order).
INSERT INTO counters(name, value) VALUES ('feed', 0), ('txid', 0);
CREATE TABLE stores (id BIGINT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY, store_id BIGINT NOT NULL REFERENCES stores(id), label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, revoked BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,
    last_seen_at BIGINT, protocol_version BIGINT, last_cursor BIGINT, outbox_len BIGINT,
    last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE customers (
    id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, tier TEXT NOT NULL,
    home_store BIGINT, language TEXT NOT NULL, email TEXT, updated_at BIGINT NOT NULL
);
CREATE TABLE loyalty_cards (card TEXT COLLATE "C" PRIMARY KEY, customer_id TEXT NOT NULL);
CREATE INDEX loyalty_cards_by_customer ON loyalty_cards(customer_id);
CREATE TABLE carts (customer_id TEXT PRIMARY KEY, lines TEXT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE loyalty_ledger (
    op_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, delta BIGINT NOT NULL, reason TEXT NOT NULL,
    at BIGINT NOT NULL, device_id TEXT
);
CREATE INDEX loyalty_ledger_by_customer ON loyalty_ledger(customer_id);
CREATE TABLE customer_stores (
    customer_id TEXT NOT NULL, store_id BIGINT NOT NULL, reason TEXT NOT NULL, since BIGINT NOT NULL,
    PRIMARY KEY (customer_id, store_id)
);
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents BIGINT NOT NULL, category TEXT NOT NULL);
CREATE TABLE stock (
    store_id BIGINT NOT NULL, sku TEXT NOT NULL, on_hand BIGINT NOT NULL, aisle TEXT NOT NULL,
    PRIMARY KEY (store_id, sku)
);
CREATE TABLE orders (
    id TEXT COLLATE "C" PRIMARY KEY, store_id BIGINT NOT NULL, customer_id TEXT NOT NULL, status TEXT NOT NULL,
    pickup_code TEXT NOT NULL, lines TEXT NOT NULL, placed_at BIGINT NOT NULL,
    promised_ready_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL
);
CREATE INDEX orders_by_store_status ON orders(store_id, status);
CREATE INDEX orders_by_customer ON orders(customer_id);
CREATE TABLE order_events (
    id BIGSERIAL PRIMARY KEY, order_id TEXT NOT NULL, at BIGINT NOT NULL, status TEXT NOT NULL,
    "by" TEXT NOT NULL, note TEXT
);
CREATE INDEX order_events_by_order ON order_events(order_id, id);
CREATE TABLE staff (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, store_id BIGINT NOT NULL,
    pin_salt TEXT NOT NULL, pin_hash TEXT NOT NULL
);
-- The compacted change feed: one row per (scope, entity), moved to a new seq on every
-- write (DELETE then INSERT), numbered from the 'feed' counter under its row lock.
CREATE TABLE feed (
    seq BIGINT PRIMARY KEY, scope TEXT NOT NULL, entity_key TEXT NOT NULL,
    txid BIGINT NOT NULL, body TEXT NOT NULL, UNIQUE (scope, entity_key)
);
CREATE INDEX feed_by_scope ON feed(scope, seq);
CREATE INDEX feed_by_tx ON feed(txid);
CREATE INDEX feed_by_entity ON feed(entity_key);
CREATE TABLE ops (
    device_id TEXT NOT NULL, seq BIGINT NOT NULL, op_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    body TEXT NOT NULL, kiosk_time BIGINT NOT NULL, received_at BIGINT NOT NULL, outcome TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE conflicts (
    op_id TEXT COLLATE "C" PRIMARY KEY, device_id TEXT NOT NULL, store_id BIGINT NOT NULL, name TEXT NOT NULL,
    body TEXT NOT NULL, kiosk_time BIGINT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
    hub_facts TEXT, at BIGINT NOT NULL
);
CREATE TABLE visits (
    op_id TEXT PRIMARY KEY, kind TEXT NOT NULL, store_id BIGINT NOT NULL, customer_id TEXT,
    order_id TEXT, at BIGINT NOT NULL
);
CREATE TABLE feedback (
    op_id TEXT PRIMARY KEY, store_id BIGINT NOT NULL, customer_id TEXT, score BIGINT NOT NULL,
    csat TEXT, at BIGINT NOT NULL
);
"#;

/// One store, many devices: help requests, PIN failures counted store-wide, device health
/// in the store's feed, check-ins that end, and the customer timeline's touchpoints.
const SCHEMA_V2: &str = r#"
ALTER TABLE devices ADD COLUMN oldest_unsent_at BIGINT;
ALTER TABLE devices ADD COLUMN health_published_at BIGINT;
ALTER TABLE visits ADD COLUMN sku TEXT;
ALTER TABLE visits ADD COLUMN ended_at BIGINT;
CREATE INDEX visits_by_customer ON visits(customer_id, at);
CREATE INDEX visits_open_checkins ON visits(order_id) WHERE kind = 'checkin' AND ended_at IS NULL;
CREATE INDEX feedback_by_customer ON feedback(customer_id, at);
CREATE TABLE help_requests (
    id TEXT PRIMARY KEY, store_id BIGINT NOT NULL, device_id TEXT NOT NULL, customer_id TEXT,
    raised_at BIGINT NOT NULL, taken_by TEXT, taken_at BIGINT, done_by TEXT, done_at BIGINT
);
CREATE INDEX help_requests_by_customer ON help_requests(customer_id);
CREATE INDEX help_requests_open ON help_requests(raised_at) WHERE done_at IS NULL;
CREATE TABLE pin_failures (
    store_id BIGINT NOT NULL, staff_id TEXT NOT NULL, failures BIGINT NOT NULL, locked_until BIGINT,
    PRIMARY KEY (store_id, staff_id)
);
"#;

/// The chain: feed seqs in commit order per scope, so writers of different stores no
/// longer wait for each other (`postgres/mod.rs`). Each scope's head is a row, locked by
/// the writers of that scope while they number their rows; seqs and feed transaction ids
/// come from SEQUENCEs (never locked), continuing the old counters. The 'feed' and 'txid'
/// counter rows go, so a hub of an older release still running fails instead of
/// numbering rows behind the others' backs.
const SCHEMA_V3: &str = r#"
CREATE TABLE feed_heads (scope TEXT PRIMARY KEY, seq BIGINT NOT NULL);
INSERT INTO feed_heads(scope, seq) SELECT scope, max(seq) FROM feed GROUP BY scope;
CREATE SEQUENCE feed_seq;
SELECT setval('feed_seq', coalesce((SELECT value FROM counters WHERE name = 'feed'), 0) + 1, false);
CREATE SEQUENCE feed_txid;
SELECT setval('feed_txid', coalesce((SELECT value FROM counters WHERE name = 'txid'), 0) + 1, false);
DELETE FROM counters WHERE name IN ('feed', 'txid');
"#;

