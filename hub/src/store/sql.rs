//! SQL that both backends run as it is written: what both dialects read alike, kept once.
//! Parameters are `$1`, `$2`, … — PostgreSQL's, and to SQLite numbered parameters bound
//! in order, as every statement here binds them.

use super::{ReceiptFilter, ShiftFilter};

/// Master data fed by the retailer (`PUT /v1/stores/{id}`, `PUT /v1/products/{sku}`, the
/// Google feeds): a store's whole record as JSON beside the older columns (`record`, NULL
/// for a store of an older release, which its columns describe) and its own `code`; a
/// product's catalogue entry (`catalogue`: GTINs, brand, tax category, status, default
/// prices by currency; NULL for the seed's chain-wide products); each GTIN once; a
/// store's own prices and the price lists' (`list_prices`, each a `StorePricePut`); the stock adjustments' idempotency keys; and the moments a sale
/// price starts or ends (`price_changes`, store 0: every store), when the minute job
/// publishes the product anew.
pub const CATALOGUE_MIGRATION: &str = r#"
ALTER TABLE stores ADD COLUMN code TEXT;
ALTER TABLE stores ADD COLUMN record TEXT;
CREATE UNIQUE INDEX stores_by_code ON stores(code);
ALTER TABLE products ADD COLUMN catalogue TEXT;
CREATE TABLE gtins (gtin TEXT PRIMARY KEY, sku TEXT NOT NULL);
CREATE INDEX gtins_by_sku ON gtins(sku);
CREATE TABLE store_prices (
    store_id BIGINT NOT NULL, sku TEXT NOT NULL, price TEXT NOT NULL,
    PRIMARY KEY (store_id, sku)
);
CREATE TABLE stock_adjustments (
    key TEXT PRIMARY KEY, store_id BIGINT NOT NULL, sku TEXT NOT NULL, delta BIGINT NOT NULL, at BIGINT NOT NULL
);
CREATE TABLE list_prices (list TEXT NOT NULL, sku TEXT NOT NULL, price TEXT NOT NULL, PRIMARY KEY (list, sku));
CREATE TABLE price_changes (at BIGINT NOT NULL, sku TEXT NOT NULL, store_id BIGINT NOT NULL);
CREATE INDEX price_changes_by_at ON price_changes(at);
"#;

/// Colleagues managed by HR: a badge's version, raised when it is reissued (a kiosk
/// refuses an older badge). The seed's badges and those of older releases are version 0.
pub const STAFF_MIGRATION: &str = "ALTER TABLE staff ADD COLUMN badge_version BIGINT NOT NULL DEFAULT 0;";

/// A badge holder's columns, in the order reads select them and `reads::staff_record` takes them.
pub const STAFF_COLS: &str = "id, name, role, store_id, pin_salt, pin_hash, till, badge_version";
/// The chain's loyalty rule (`PUT /v1/loyalty/rule`): one row per currency, replaced whole.
pub const LOYALTY_RULE_MIGRATION: &str = r#"
CREATE TABLE loyalty_rules (currency TEXT PRIMARY KEY, earn_per_unit BIGINT NOT NULL, point_value_cents BIGINT NOT NULL);
"#;

/// Points a device gave (earned, by hand or at the till) since a moment: its ledger rows,
/// by device and time (`HubTx::points_given_since`).
pub const POINTS_LIMIT_MIGRATION: &str = "CREATE INDEX loyalty_ledger_by_device ON loyalty_ledger(device_id, at);";

/// Points device `$1` gave since `$2` (`HubTx::points_given_since`).
pub const POINTS_GIVEN_SINCE: &str = "SELECT CAST(coalesce(sum(delta), 0) AS BIGINT) FROM loyalty_ledger WHERE device_id = $1 AND at >= $2 AND delta > 0";

/// Every currency's rule (`HubTx::loyalty_rules`).
pub const LOYALTY_RULES: &str = "SELECT currency, earn_per_unit, point_value_cents FROM loyalty_rules ORDER BY currency";

/// One currency's rule: currency, points per unit, a point's value (`HubTx::set_loyalty_rules`).
pub const INSERT_LOYALTY_RULE: &str = "INSERT INTO loyalty_rules(currency, earn_per_unit, point_value_cents) VALUES ($1, $2, $3)";

/// The till: a store's money, a product's VAT and a badge's till role — rows of an older
/// release get what its seed would have given them, and every badge holder of then may
/// sell (nothing could grant the role otherwise) — the receipts, and a sale's touchpoint.
/// A receipt's `position` is taken from the `receipts` counter in the writing transaction
/// (`writes::record_sale`): writers run one at a time on both backends, so positions
/// follow commit order, which `GET /v1/sales` pages by. (A SEQUENCE would hand them out in
/// start order and let a cursor jump a receipt still committing.)
pub const TILL_MIGRATION: &str = r#"
ALTER TABLE stores ADD COLUMN currency TEXT NOT NULL DEFAULT 'PLN';
UPDATE stores SET currency = CASE
    WHEN city IN ('London', 'Manchester') THEN 'GBP' WHEN city IN ('Kyiv', 'Lviv') THEN 'UAH' WHEN city = 'Shanghai' THEN 'CNY' ELSE 'PLN' END;
ALTER TABLE products ADD COLUMN vat_bp BIGINT NOT NULL DEFAULT 2300;
UPDATE products SET vat_bp = CASE WHEN category IN ('Dairy', 'Bakery', 'Pantry', 'Produce') THEN 500 WHEN category = 'Kids' THEN 800 ELSE 2300 END;
ALTER TABLE staff ADD COLUMN till BOOLEAN NOT NULL DEFAULT TRUE;
CREATE TABLE receipts (
    position BIGINT PRIMARY KEY, number TEXT NOT NULL UNIQUE, store_id BIGINT NOT NULL, device_id TEXT NOT NULL,
    seq BIGINT NOT NULL, op_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, customer_id TEXT,
    total_cents BIGINT NOT NULL, at BIGINT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL,
    UNIQUE (device_id, seq)
);
CREATE INDEX receipts_by_store ON receipts(store_id, position);
CREATE INDEX receipts_by_customer ON receipts(customer_id);
ALTER TABLE devices ADD COLUMN receipt_key TEXT;
ALTER TABLE visits ADD COLUMN receipt TEXT;
ALTER TABLE visits ADD COLUMN total_cents BIGINT;
"#;

/// Returns and the Z report: a return's receipt names what it takes back from (`origin`,
/// indexed: the returns against one receipt or order are counted at every return), and
/// each device's Z reports are kept once by number, `position` taken from the `shifts`
/// counter in the writing transaction (`writes::record_shift`) as receipts' are. No
/// release before this one recorded a return (the hub refused `return.complete`), so no
/// stored receipt lacks its origin.
pub const RETURNS_MIGRATION: &str = r#"
ALTER TABLE receipts ADD COLUMN origin TEXT;
CREATE INDEX receipts_by_origin ON receipts(origin);
CREATE TABLE shifts (
    position BIGINT PRIMARY KEY, store_id BIGINT NOT NULL, device_id TEXT NOT NULL, z_number BIGINT NOT NULL,
    op_id TEXT NOT NULL UNIQUE, closed_at BIGINT NOT NULL, body TEXT NOT NULL,
    UNIQUE (device_id, z_number)
);
CREATE INDEX shifts_by_store ON shifts(store_id, position);
"#;

/// The lookups' audit, and relevance by lookup that ends: a customer attached to a store
/// only by a lookup leaves its cache after `--lookup-ttl-days` without a visit. Rows of an
/// older release said `lookup` even when an order or the home store came later (the
/// first reason stayed): those say so now, and a lookup's `since` moves on to the
/// customer's last touchpoint at the store (a visit keeps them, as it will from now on).
/// The audit's `position` is taken from the `lookups` counter in the writing transaction,
/// as receipts' are (`writes::record_lookup`).
pub const LOOKUPS_MIGRATION: &str = r#"
CREATE TABLE lookups (
    position BIGINT PRIMARY KEY, at BIGINT NOT NULL, store_id BIGINT NOT NULL, device_id TEXT NOT NULL,
    kind TEXT NOT NULL, outcome TEXT NOT NULL, customer_id TEXT
);
CREATE INDEX lookups_by_store ON lookups(store_id, position);
CREATE INDEX lookups_by_customer ON lookups(customer_id);
UPDATE customer_stores SET reason = 'order' WHERE reason = 'lookup'
    AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = customer_stores.customer_id AND o.store_id = customer_stores.store_id);
UPDATE customer_stores SET reason = 'home_store' WHERE reason = 'lookup'
    AND EXISTS (SELECT 1 FROM customers c WHERE c.id = customer_stores.customer_id AND c.home_store = customer_stores.store_id);
UPDATE customer_stores SET since = (
        SELECT max(v.at) FROM visits v WHERE v.customer_id = customer_stores.customer_id AND v.store_id = customer_stores.store_id)
    WHERE reason = 'lookup' AND since < (
        SELECT max(v.at) FROM visits v WHERE v.customer_id = customer_stores.customer_id AND v.store_id = customer_stores.store_id);
CREATE INDEX customer_stores_by_lookup ON customer_stores(since) WHERE reason = 'lookup';
"#;

/// Renews a relevance by lookup alone (`HubTx::renew_lookup`): reason, since, customer, store.
pub const RENEW_LOOKUP: &str = "UPDATE customer_stores SET reason = $1, since = $2 WHERE customer_id = $3 AND store_id = $4 AND reason = 'lookup'";

/// Relevance by lookup alone since before `$1` (`HubTx::stale_lookups`).
pub const STALE_LOOKUPS: &str = "SELECT customer_id, store_id FROM customer_stores WHERE reason = 'lookup' AND since < $1 ORDER BY store_id, customer_id";

/// A lookup's columns, in the order reads select them and inserts bind them.
pub const LOOKUP_COLS: &str = "position, at, store_id, device_id, kind, outcome, customer_id";

/// Lookups of one store (`$1`, or all when NULL) after position `$2`, at most `$3`.
pub const LOOKUPS_AFTER: &str =
    "SELECT position, at, store_id, device_id, kind, outcome, customer_id FROM lookups WHERE (CAST($1 AS BIGINT) IS NULL OR store_id = $1) AND position > $2 ORDER BY position LIMIT $3";

/// A receipt's columns, in the order reads select them and inserts bind them.
pub const RECEIPT_COLS: &str = "position, number, store_id, device_id, seq, op_id, kind, customer_id, total_cents, at, hash, body, origin";

/// What follows `WHERE` to read the receipts `filter` selects. Its arguments: the key
/// (number, device, customer or origin), then the sequence; for `After`, the store, the position
/// and the limit.
pub fn receipts_where(filter: &ReceiptFilter<'_>) -> &'static str {
    match filter {
        ReceiptFilter::Number(_) => "number = $1",
        ReceiptFilter::DeviceSeq(..) => "device_id = $1 AND seq = $2",
        ReceiptFilter::LastOfDevice(_) => "device_id = $1 ORDER BY seq DESC LIMIT 1",
        ReceiptFilter::Customer(_) => "customer_id = $1 ORDER BY position",
        ReceiptFilter::Origin(_) => "origin = $1 ORDER BY position",
        ReceiptFilter::After { .. } => "(CAST($1 AS BIGINT) IS NULL OR store_id = $1) AND position > $2 ORDER BY position LIMIT $3",
    }
}

/// A Z report's columns, in the order reads select them and inserts bind them.
pub const SHIFT_COLS: &str = "position, store_id, device_id, z_number, op_id, closed_at, body";

/// What follows `WHERE` to read the Z reports `filter` selects. Its arguments: the device
/// and the Z number; for `After`, the store, the position and the limit.
pub fn shifts_where(filter: &ShiftFilter<'_>) -> &'static str {
    match filter {
        ShiftFilter::DeviceZ(..) => "device_id = $1 AND z_number = $2",
        ShiftFilter::After { .. } => "(CAST($1 AS BIGINT) IS NULL OR store_id = $1) AND position > $2 ORDER BY position LIMIT $3",
    }
}
