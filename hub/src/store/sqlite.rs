//! The embedded SQLite backend. One writer connection behind a mutex serialises every
//! write, and SQLite commits one writer at a time, so feed sequence numbers follow commit
//! order: a reader can never see seq N+1 before seq N is committed. Readers use their own
//! connections (WAL) and never block the writer.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use ed25519_dalek::{SigningKey, VerifyingKey};
use omnikiosk_protocol::code::{self, CodeKind};
use omnikiosk_protocol::wire::{
    CartLine, CartRecord, Change, CustomerProfile, CustomerRecord, CustomerUpsert, DeviceHealth, LookupResponse,
    OrderCreate, OrderDetail, OrderEvent, OrderLine, OrderRecord, OrderStatus, StaffRole, StoreRecord,
};
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rusqlite_migration::{Migrations, M};

use omnikiosk_protocol::ops::{check_order_op, order_effect, OpBody, Rejection};
use omnikiosk_protocol::wire::{ConflictRecord, Op, OpOutcome};

use super::{Device, FeedPage, HubStore, Relevance};
use crate::error::{HubError, Result};
use crate::seed::SeedData;

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

pub struct SqliteHubStore {
    /// The one writer: serialises every write so feed seqs follow commit order.
    writer: Mutex<Connection>,
    /// Idle reader connections; pulls and lookups take one and give it back.
    readers: Mutex<Vec<Connection>>,
    /// Database path, for opening more readers.
    path: std::path::PathBuf,
}

fn open_conn(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

impl SqliteHubStore {
    pub fn open(path: &Path) -> Result<SqliteHubStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| HubError::Internal(format!("{}: {e}", dir.display())))?;
        }
        // 0600 from the first byte: it holds the signing key and device token hashes.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| HubError::Internal(format!("cannot open {}: {e}", path.display())))?;
        let mut writer = open_conn(path)?;
        Migrations::new(vec![M::up(SCHEMA), M::up(SCHEMA_PUSH)]).to_latest(&mut writer)?;
        Ok(SqliteHubStore { writer: Mutex::new(writer), readers: Mutex::new(Vec::new()), path: path.to_path_buf() })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_conn(&self.path)?,
        };
        let out = f(&conn);
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        out
    }

    /// Runs `f` in one write transaction with a fresh transaction id for the feed.
    fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let txid = next_counter(&tx, "txid")?;
        let out = f(&Tx { tx: &tx, txid: std::cell::Cell::new(txid) })?;
        tx.commit()?;
        Ok(out)
    }
}

/// A write transaction and the feed transaction id its changes are stamped with.
struct Tx<'a> {
    tx: &'a Transaction<'a>,
    txid: std::cell::Cell<i64>,
}

impl Tx<'_> {
    /// Starts a new feed transaction inside the same database transaction (the seed
    /// stamps each entity on its own so pages stay small).
    fn next_txid(&self) -> Result<()> {
        self.txid.set(next_counter(self.tx, "txid")?);
        Ok(())
    }

    fn feed(&self, scope: &str, key: &str, change: &Change) -> Result<()> {
        let body = serde_json::to_string(change)?;
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO feed(scope, entity_key, txid, body) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![scope, key, self.txid.get(), body])?;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.tx
    }
}

fn next_counter(conn: &Connection, name: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO counters(name, value) VALUES (?1, 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
        )?
        .query_row([name], |r| r.get(0))?)
}

fn store_scope(store_id: i64) -> String {
    format!("store:{store_id}")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

// ---- reads shared by reads and writes ---------------------------------------------

fn customer_record(conn: &Connection, id: &str) -> Result<Option<CustomerRecord>> {
    let row = conn
        .prepare_cached("SELECT first_name, last_name, tier, language, home_store FROM customers WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((first_name, last_name, tier, language, home_store)) = row else { return Ok(None) };
    Ok(Some(CustomerRecord {
        id: id.to_string(),
        first_name,
        last_initial: last_name.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default(),
        tier,
        language,
        points: points(conn, id)?,
        home_store,
        loyalty_cards: cards(conn, id)?,
    }))
}

fn points(conn: &Connection, id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(sum(delta), 0) FROM loyalty_ledger WHERE customer_id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

fn cards(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let rows = conn
        .prepare_cached("SELECT card FROM loyalty_cards WHERE customer_id = ?1 ORDER BY card")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

fn cart_record(conn: &Connection, id: &str) -> Result<Option<CartRecord>> {
    let row = conn
        .prepare_cached("SELECT lines, updated_at FROM carts WHERE customer_id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .optional()?;
    match row {
        Some((lines, updated_at)) => {
            Ok(Some(CartRecord { customer_id: id.to_string(), lines: serde_json::from_str(&lines)?, updated_at }))
        }
        None => Ok(None),
    }
}

const ORDER_COLS: &str = "id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version";

fn order_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(OrderRecord, String, String)> {
    Ok((
        OrderRecord {
            id: r.get(0)?,
            store_id: r.get(1)?,
            customer_id: r.get(2)?,
            status: OrderStatus::Placed,
            pickup_code: r.get(4)?,
            lines: Vec::new(),
            placed_at: r.get(6)?,
            promised_ready_at: r.get(7)?,
            updated_at: r.get(8)?,
            version: r.get(9)?,
        },
        r.get(3)?,
        r.get(5)?,
    ))
}

fn orders_where(conn: &Connection, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<OrderRecord>> {
    let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY placed_at, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, order_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (mut o, status, lines) = row?;
        o.status = OrderStatus::parse(&status).ok_or_else(|| HubError::Internal(format!("order status {status:?}")))?;
        o.lines = serde_json::from_str(&lines)?;
        out.push(o);
    }
    Ok(out)
}

fn order_detail(conn: &Connection, id: &str) -> Result<Option<OrderDetail>> {
    let Some(order) = orders_where(conn, "id = ?1", &[&id])?.into_iter().next() else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT at, status, by, note FROM order_events WHERE order_id = ?1 ORDER BY rowid")?;
    let history = stmt
        .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?)))?
        .map(|row| {
            let (at, status, by, note) = row?;
            let status = OrderStatus::parse(&status).ok_or_else(|| HubError::Internal(format!("order status {status:?}")))?;
            Ok(OrderEvent { at, status, by, note })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(OrderDetail { order, history }))
}

fn stores_of_customer(conn: &Connection, id: &str) -> Result<Vec<i64>> {
    let rows = conn
        .prepare_cached("SELECT store_id FROM customer_stores WHERE customer_id = ?1 ORDER BY store_id")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

fn store_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM stores WHERE id = ?1")?.exists([id])?)
}

// ---- writes that keep the feed in step --------------------------------------------

/// Appends the customer's profile to the feed of every store they are relevant to.
fn publish_customer(tx: &Tx<'_>, id: &str) -> Result<()> {
    let Some(record) = customer_record(tx, id)? else { return Ok(()) };
    let change = Change::Customer(record);
    for store in stores_of_customer(tx, id)? {
        tx.feed(&store_scope(store), &format!("customer:{id}"), &change)?;
    }
    Ok(())
}

fn publish_cart(tx: &Tx<'_>, id: &str) -> Result<()> {
    let Some(cart) = cart_record(tx, id)? else { return Ok(()) };
    let change = Change::Cart(cart);
    for store in stores_of_customer(tx, id)? {
        tx.feed(&store_scope(store), &format!("cart:{id}"), &change)?;
    }
    Ok(())
}

fn publish_order(tx: &Tx<'_>, id: &str) -> Result<OrderDetail> {
    let detail = order_detail(tx, id)?.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))?;
    tx.feed(&store_scope(detail.order.store_id), &format!("order:{id}"), &Change::Order(detail.order.clone()))?;
    Ok(detail)
}

/// Makes a customer relevant to a store; when new, their current state enters its feed.
fn attach(tx: &Tx<'_>, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Result<()> {
    let inserted = tx
        .prepare_cached("INSERT OR IGNORE INTO customer_stores(customer_id, store_id, reason, since) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![customer_id, store_id, why.as_str(), now])?;
    if inserted == 0 {
        return Ok(());
    }
    let scope = store_scope(store_id);
    if let Some(c) = customer_record(tx, customer_id)? {
        tx.feed(&scope, &format!("customer:{customer_id}"), &Change::Customer(c))?;
    }
    if let Some(cart) = cart_record(tx, customer_id)? {
        tx.feed(&scope, &format!("cart:{customer_id}"), &Change::Cart(cart))?;
    }
    Ok(())
}

fn insert_order_event(tx: &Connection, order_id: &str, at: i64, status: OrderStatus, by: &str, note: Option<&str>) -> Result<()> {
    tx.prepare_cached("INSERT INTO order_events(order_id, at, status, by, note) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![order_id, at, status.as_str(), by, note])?;
    Ok(())
}

/// A pickup code no open order of the store uses.
fn free_pickup_code(conn: &Connection, store_id: i64) -> Result<String> {
    let mut rng = rand::thread_rng();
    for _ in 0..1000 {
        let code = format!("{:06}", rng.gen_range(0..1_000_000));
        let taken = conn
            .prepare_cached(
                "SELECT 1 FROM orders WHERE store_id = ?1 AND pickup_code = ?2 AND status IN ('placed', 'picking', 'ready')",
            )?
            .exists(params![store_id, code])?;
        if !taken {
            return Ok(code);
        }
    }
    Err(HubError::Conflict("no free pickup code: too many open orders in this store".into()))
}

/// A rejected op with the hub's facts about it.
struct Refusal(Rejection, Option<serde_json::Value>);

impl Refusal {
    fn into_parts(self) -> (Rejection, Option<serde_json::Value>) {
        (self.0, self.1)
    }
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal(r, None)
    }
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(Rejection::new(code, message), None)
}

/// Applies one op's business effect; `Err(Refusal)` rejects it (the caller records the
/// rejection as a conflict and the device's queue moves on).
fn apply_op(
    tx: &Tx<'_>,
    device: &Device,
    op: &Op,
    body: &OpBody,
    now: i64,
    qr_order_id: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<(), Refusal> {
    body.validate()?;
    let staff_role = |staff_id: &str| -> std::result::Result<String, Refusal> {
        tx.prepare_cached("SELECT role FROM staff WHERE id = ?1 AND store_id = ?2")
            .and_then(|mut s| s.query_row(params![staff_id, device.store_id], |r| r.get::<_, String>(0)).optional())
            .map_err(|e| refuse("storage", e.to_string()))?
            .ok_or_else(|| refuse("unknown_staff", format!("staff {staff_id} does not work at this store")))
    };
    let storage = |e: HubError| refuse("storage", e.to_string());
    match body {
        OpBody::OrderPick { order_id, staff_id, .. }
        | OpBody::OrderReady { order_id, staff_id }
        | OpBody::OrderCollect { order_id, staff_id, .. }
        | OpBody::OrderCancel { order_id, staff_id, .. } => {
            let role = staff_role(staff_id)?;
            if matches!(body, OpBody::OrderCancel { .. }) && role != "manager" {
                return Err(refuse("manager_required", "only a manager can cancel an order"));
            }
            let detail = order_detail(tx, order_id)
                .map_err(storage)?
                .filter(|d| d.order.store_id == device.store_id)
                .ok_or_else(|| refuse("unknown_order", format!("order {order_id} is not an order of this store")))?;
            let mut order = detail.order.clone();
            if let Err(r) = check_order_op(&order, body, qr_order_id) {
                let last = detail.history.last();
                let facts = serde_json::json!({
                    "order_id": order.id,
                    "status": order.status,
                    "changed_by": last.map(|e| e.by.clone()),
                    "changed_at": last.map(|e| e.at),
                    "note": last.and_then(|e| e.note.clone()),
                });
                let message = match (&r.code, last.and_then(|e| e.note.as_deref())) {
                    (&"order_cancelled", Some(note)) => format!("{} (reason given online: {note})", r.message),
                    _ => r.message.clone(),
                };
                return Err(Refusal(Rejection { code: r.code, message }, Some(facts)));
            }
            order_effect(&mut order, body);
            tx.prepare_cached("UPDATE orders SET status = ?2, lines = ?3, updated_at = ?4, version = version + 1 WHERE id = ?1")
                .and_then(|mut s| {
                    s.execute(params![order.id, order.status.as_str(), serde_json::to_string(&order.lines).unwrap_or_default(), now])
                })
                .map_err(|e| refuse("storage", e.to_string()))?;
            let note = match body {
                OpBody::OrderPick { short_reason: Some(r), .. } => Some(format!("short-picked: {r}")),
                OpBody::OrderCancel { reason, .. } => Some(reason.clone()),
                OpBody::OrderCollect { verification, .. } => Some(match verification {
                    omnikiosk_protocol::ops::Verification::PickupCode(_) => "verified by pickup code".to_string(),
                    omnikiosk_protocol::ops::Verification::OrderQr(_) => "verified by order QR".to_string(),
                }),
                _ => None,
            };
            insert_order_event(tx, &order.id, now, order.status, &format!("{}/{staff_id}", device.id), note.as_deref())
                .map_err(storage)?;
            publish_order(tx, &order.id).map_err(storage)?;
        }
        OpBody::VisitCheckin { order_id, customer_id } => {
            let exists = tx
                .prepare_cached("SELECT 1 FROM orders WHERE id = ?1 AND store_id = ?2 AND customer_id = ?3")
                .and_then(|mut s| s.exists(params![order_id, device.store_id, customer_id]))
                .map_err(|e| refuse("storage", e.to_string()))?;
            if !exists {
                return Err(refuse("unknown_order", format!("order {order_id} of {customer_id} is not at this store")));
            }
            tx.prepare_cached("INSERT OR IGNORE INTO visits(op_id, kind, store_id, customer_id, order_id, at) VALUES (?1, 'checkin', ?2, ?3, ?4, ?5)")
                .and_then(|mut s| s.execute(params![op.op_id, device.store_id, customer_id, order_id, now]))
                .map_err(|e| refuse("storage", e.to_string()))?;
        }
        OpBody::VisitSeen { customer_id } => {
            customer_record(tx, customer_id).map_err(storage)?.ok_or_else(|| refuse("unknown_customer", format!("customer {customer_id} does not exist")))?;
            tx.prepare_cached("INSERT OR IGNORE INTO visits(op_id, kind, store_id, customer_id, at) VALUES (?1, 'seen', ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![op.op_id, device.store_id, customer_id, now]))
                .map_err(|e| refuse("storage", e.to_string()))?;
            attach(tx, customer_id, device.store_id, Relevance::Seen, now).map_err(storage)?;
        }
        OpBody::LoyaltyEarn { customer_id, points, reason } | OpBody::LoyaltyRedeem { customer_id, points, reason } => {
            customer_record(tx, customer_id).map_err(storage)?.ok_or_else(|| refuse("unknown_customer", format!("customer {customer_id} does not exist")))?;
            let delta = if matches!(body, OpBody::LoyaltyRedeem { .. }) {
                let balance = self::points(tx, customer_id).map_err(storage)?;
                if balance < *points {
                    return Err(Refusal(
                        Rejection::new("insufficient_points", format!("{customer_id} has {balance} points; {points} cannot be redeemed")),
                        Some(serde_json::json!({ "customer_id": customer_id, "balance": balance, "asked": points })),
                    ));
                }
                -*points
            } else {
                *points
            };
            tx.prepare_cached("INSERT INTO loyalty_ledger(op_id, customer_id, delta, reason, at, device_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .and_then(|mut s| s.execute(params![op.op_id, customer_id, delta, reason, now, device.id]))
                .map_err(|e| refuse("storage", e.to_string()))?;
            publish_customer(tx, customer_id).map_err(storage)?;
        }
        OpBody::FeedbackNps { score, csat, customer_id } => {
            tx.prepare_cached("INSERT OR IGNORE INTO feedback(op_id, store_id, customer_id, score, csat, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .and_then(|mut s| s.execute(params![op.op_id, device.store_id, customer_id, score, csat, now]))
                .map_err(|e| refuse("storage", e.to_string()))?;
        }
    }
    Ok(())
}

fn role_str(role: StaffRole) -> &'static str {
    match role {
        StaffRole::Staff => "staff",
        StaffRole::Manager => "manager",
    }
}

impl HubStore for SqliteHubStore {
    fn signing_key(&self) -> Result<SigningKey> {
        let existing: Option<Vec<u8>> =
            self.read(|c| Ok(c.query_row("SELECT secret FROM hub_key WHERE id = 1", [], |r| r.get(0)).optional()?))?;
        let secret = match existing {
            Some(s) => s,
            None => {
                let fresh: [u8; 32] = rand::random();
                let conn = self.writer();
                conn.execute("INSERT OR IGNORE INTO hub_key(id, secret) VALUES (1, ?1)", [&fresh[..]])?;
                conn.query_row("SELECT secret FROM hub_key WHERE id = 1", [], |r| r.get(0))?
            }
        };
        let bytes: [u8; 32] =
            secret.try_into().map_err(|_| HubError::Internal("stored signing key is not 32 bytes".into()))?;
        Ok(SigningKey::from_bytes(&bytes))
    }

    fn seed(&self, data: &SeedData) -> Result<()> {
        self.write(|tx| {
            let seeded: i64 = tx.query_row("SELECT count(*) FROM stores", [], |r| r.get(0))?;
            if seeded > 0 {
                return Err(HubError::Conflict(
                    "this hub database already has stores; seed an empty database (a new --db)".into(),
                ));
            }
            for s in &data.stores {
                tx.prepare_cached("INSERT INTO stores(id, name, city) VALUES (?1, ?2, ?3)")?
                    .execute(params![s.id, s.name, s.city])?;
                tx.feed("global", &format!("store:{}", s.id), &Change::Store(s.clone()))?;
            }
            for p in &data.products {
                tx.next_txid()?;
                tx.prepare_cached("INSERT INTO products(sku, name, price_cents, category) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![p.sku, p.name, p.price_cents, p.category])?;
                tx.feed("global", &format!("product:{}", p.sku), &Change::Product(p.clone()))?;
            }
            // Stock rows and staff get a feed transaction each, like every other seeded
            // entity: sharing one would make a single page of the whole store's stock.
            for s in &data.stock {
                tx.next_txid()?;
                tx.prepare_cached("INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![s.store_id, s.sku, s.on_hand, s.aisle])?;
                tx.feed(&store_scope(s.store_id), &format!("stock:{}", s.sku), &Change::Stock(s.clone()))?;
            }
            for st in &data.staff {
                tx.next_txid()?;
                tx.prepare_cached(
                    "INSERT INTO staff(id, name, role, store_id, pin_salt, pin_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![st.id, st.name, role_str(st.role), st.store_id, st.pin_salt, st.pin_hash])?;
                tx.feed(&store_scope(st.store_id), &format!("staff:{}", st.id), &Change::Staff(st.clone()))?;
            }
            for c in &data.customers {
                tx.next_txid()?;
                tx.prepare_cached(
                    "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, email, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![c.id, c.first_name, c.last_name, c.tier, c.home_store, c.language, c.email, data.now])?;
                tx.prepare_cached("INSERT INTO loyalty_cards(card, customer_id) VALUES (?1, ?2)")?
                    .execute(params![c.card, c.id])?;
                tx.prepare_cached(
                    "INSERT INTO loyalty_ledger(op_id, customer_id, delta, reason, at) VALUES (?1, ?2, ?3, 'opening balance', ?4)",
                )?
                .execute(params![format!("seed:{}", c.id), c.id, c.points, data.now])?;
                if !c.cart.is_empty() {
                    tx.prepare_cached("INSERT INTO carts(customer_id, lines, updated_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![c.id, serde_json::to_string(&c.cart)?, data.now])?;
                }
                tx.prepare_cached(
                    "INSERT INTO customer_stores(customer_id, store_id, reason, since) VALUES (?1, ?2, 'home_store', ?3)",
                )?
                .execute(params![c.id, c.home_store, data.now])?;
                let record = CustomerRecord {
                    id: c.id.clone(),
                    first_name: c.first_name.clone(),
                    last_initial: c.last_name.chars().next().map(|ch| ch.to_uppercase().collect()).unwrap_or_default(),
                    tier: c.tier.clone(),
                    language: c.language.clone(),
                    points: c.points,
                    home_store: Some(c.home_store),
                    loyalty_cards: vec![c.card.clone()],
                };
                let scope = store_scope(c.home_store);
                tx.feed(&scope, &format!("customer:{}", c.id), &Change::Customer(record))?;
                if !c.cart.is_empty() {
                    let cart = CartRecord { customer_id: c.id.clone(), lines: c.cart.clone(), updated_at: data.now };
                    tx.feed(&scope, &format!("cart:{}", c.id), &Change::Cart(cart))?;
                }
            }
            for (o, history) in &data.orders {
                tx.next_txid()?;
                tx.prepare_cached(&format!("INSERT INTO orders({ORDER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))?
                    .execute(params![
                        o.id,
                        o.store_id,
                        o.customer_id,
                        o.status.as_str(),
                        o.pickup_code,
                        serde_json::to_string(&o.lines)?,
                        o.placed_at,
                        o.promised_ready_at,
                        o.updated_at,
                        o.version
                    ])?;
                for e in history {
                    insert_order_event(tx, &o.id, e.at, e.status, &e.by, e.note.as_deref())?;
                }
                attach(tx, &o.customer_id, o.store_id, Relevance::Order, data.now)?;
                tx.feed(&store_scope(o.store_id), &format!("order:{}", o.id), &Change::Order(o.clone()))?;
            }
            for (store, last) in &data.order_counters {
                tx.prepare_cached("INSERT OR REPLACE INTO counters(name, value) VALUES (?1, ?2)")?
                    .execute(params![format!("order:{store}"), last])?;
            }
            Ok(())
        })
    }

    fn store(&self, store_id: i64) -> Result<Option<StoreRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT id, name, city FROM stores WHERE id = ?1")?
                .query_row([store_id], |r| Ok(StoreRecord { id: r.get(0)?, name: r.get(1)?, city: r.get(2)? }))
                .optional()?)
        })
    }

    fn add_device(&self, store_id: i64, label: &str, token_hash: &str) -> Result<String> {
        self.write(|tx| {
            if !store_exists(tx, store_id)? {
                return Err(HubError::NotFound(format!("store {store_id} does not exist")));
            }
            let n = next_counter(tx, "device")?;
            let id = format!("kiosk-{store_id}-{n}");
            tx.execute(
                "INSERT INTO devices(id, store_id, label, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, store_id, label, token_hash, now_secs()],
            )?;
            Ok(id)
        })
    }

    fn revoke_device(&self, device_id: &str) -> Result<()> {
        let n = self.writer().execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [device_id])?;
        if n == 0 {
            return Err(HubError::NotFound(format!("device {device_id} does not exist")));
        }
        Ok(())
    }

    fn device_last_seq(&self, device_id: &str) -> Result<i64> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT last_seq FROM devices WHERE id = ?1")?
                .query_row([device_id], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        })
    }

    fn push_op(&self, device: &Device, op: &Op, outbox_len: u64, now: i64, hub_key: &VerifyingKey) -> Result<OpOutcome> {
        let qr_order_id =
            |qr: &str| code::verify(hub_key, qr, now_secs()).ok().filter(|c| c.kind == CodeKind::Order).map(|c| c.id);
        let qr_order_id: &dyn Fn(&str) -> Option<String> = &qr_order_id;
        let mut conn = self.writer();
        let t = conn.transaction()?;
        let txid = next_counter(&t, "txid")?;
        let tx = Tx { tx: &t, txid: std::cell::Cell::new(txid) };
        tx.prepare_cached("UPDATE devices SET outbox_len = ?2 WHERE id = ?1")?.execute(params![device.id, outbox_len as i64])?;
        // Compare-and-set on the device's sequence, inside the transaction that applies.
        let last_seq: i64 = tx.prepare_cached("SELECT last_seq FROM devices WHERE id = ?1")?.query_row([&device.id], |r| r.get(0))?;
        let known = tx.prepare_cached("SELECT 1 FROM ops WHERE op_id = ?1")?.exists([&op.op_id])?;
        let outcome = if known {
            OpOutcome::Duplicate
        } else if op.seq <= last_seq {
            OpOutcome::Rejected {
                code: "seq_reused".into(),
                message: format!("sequence {} was already used by another op of this device", op.seq),
                facts: None,
            }
        } else if op.seq > last_seq + 1 {
            OpOutcome::ExpectedSeq { expected_seq: last_seq + 1 }
        } else {
            // A refused op must leave nothing behind: its writes sit in a savepoint.
            tx.execute_batch("SAVEPOINT op")?;
            let applied = OpBody::from_wire(op).map_err(Refusal::from).and_then(|body| apply_op(&tx, device, op, &body, now, qr_order_id));
            match &applied {
                Err(Refusal(r, _)) if r.code == "storage" => return Err(HubError::Internal(r.message.clone())),
                Err(_) => tx.execute_batch("ROLLBACK TO op; RELEASE op")?,
                Ok(()) => tx.execute_batch("RELEASE op")?,
            }
            let outcome = match applied {
                Ok(()) => OpOutcome::Applied,
                Err(refusal) => {
                    let (rejection, facts) = refusal.into_parts();
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO conflicts(op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        op.op_id,
                        device.id,
                        device.store_id,
                        op.name,
                        op.body.to_string(),
                        op.kiosk_time,
                        rejection.code,
                        rejection.message,
                        facts.as_ref().map(|f| f.to_string()),
                        now
                    ])?;
                    OpOutcome::Rejected { code: rejection.code.to_string(), message: rejection.message, facts }
                }
            };
            let label = match &outcome {
                OpOutcome::Applied => "applied",
                _ => "rejected",
            };
            tx.prepare_cached(
                "INSERT INTO ops(device_id, seq, op_id, name, body, kiosk_time, received_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![device.id, op.seq, op.op_id, op.name, op.body.to_string(), op.kiosk_time, now, label])?;
            tx.prepare_cached("UPDATE devices SET last_seq = ?2 WHERE id = ?1")?.execute(params![device.id, op.seq])?;
            outcome
        };
        t.commit()?;
        Ok(outcome)
    }

    fn conflicts(&self, store_id: Option<i64>) -> Result<Vec<ConflictRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at FROM conflicts
                 WHERE ?1 IS NULL OR store_id = ?1 ORDER BY at, op_id",
            )?;
            let rows = stmt.query_map([store_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (op_id, device_id, store_id, name, body, kiosk_time, code, message, facts, at) = row?;
                out.push(ConflictRecord {
                    op_id,
                    device_id,
                    store_id,
                    name,
                    op: serde_json::from_str(&body)?,
                    kiosk_time,
                    code,
                    message,
                    hub_facts: facts.map(|f| serde_json::from_str(&f)).transpose()?,
                    at,
                });
            }
            Ok(out)
        })
    }

    fn erase_customer(&self, id: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            if customer_record(tx, id)?.is_none() {
                return Err(HubError::NotFound(format!("customer {id} not found")));
            }
            let stores = stores_of_customer(tx, id)?;
            let orders: Vec<String> = tx
                .prepare_cached("SELECT id FROM orders WHERE customer_id = ?1")?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for sql in [
                "DELETE FROM customers WHERE id = ?1",
                "DELETE FROM loyalty_cards WHERE customer_id = ?1",
                "DELETE FROM carts WHERE customer_id = ?1",
                "DELETE FROM loyalty_ledger WHERE customer_id = ?1",
                "DELETE FROM customer_stores WHERE customer_id = ?1",
                "UPDATE visits SET customer_id = NULL WHERE customer_id = ?1",
                "UPDATE feedback SET customer_id = NULL WHERE customer_id = ?1",
                "UPDATE orders SET customer_id = 'erased', updated_at = updated_at, version = version + 1 WHERE customer_id = ?1",
                "DELETE FROM feed WHERE entity_key IN ('customer:' || ?1, 'cart:' || ?1)",
            ] {
                tx.prepare_cached(sql)?.execute([id])?;
            }
            for store in stores {
                tx.feed(&store_scope(store), &format!("customer:{id}"), &Change::CustomerRemoved { id: id.to_string() })?;
            }
            for order in orders {
                publish_order(tx, &order)?;
            }
            let _ = now;
            Ok(())
        })?;
        // Old page images of the erased rows may still sit in the WAL: fold it into the
        // (secure_delete) database and truncate it.
        self.writer().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }

    fn expire_no_shows(&self, ready_before: i64, now: i64) -> Result<Vec<String>> {
        self.write(|tx| {
            let ids: Vec<String> = tx
                .prepare_cached("SELECT id FROM orders WHERE status = 'ready' AND promised_ready_at < ?1 ORDER BY id")?
                .query_map([ready_before], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in &ids {
                tx.next_txid()?;
                tx.prepare_cached("UPDATE orders SET status = 'expired', updated_at = ?2, version = version + 1 WHERE id = ?1")?
                    .execute(params![id, now])?;
                insert_order_event(tx, id, now, OrderStatus::Expired, "hub", Some("not collected in time"))?;
                publish_order(tx, id)?;
            }
            Ok(ids)
        })
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT id, store_id, revoked FROM devices WHERE token_hash = ?1")?
                .query_row([token_hash], |r| Ok(Device { id: r.get(0)?, store_id: r.get(1)?, revoked: r.get(2)? }))
                .optional()?)
        })
    }

    fn record_device_seen(&self, device_id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Result<()> {
        let conn = self.writer();
        conn.prepare_cached(
            "UPDATE devices SET last_seen_at = ?2, protocol_version = ?3, last_cursor = coalesce(?4, last_cursor) WHERE id = ?1",
        )?
        .execute(params![device_id, at, protocol, cursor])?;
        Ok(())
    }

    fn devices(&self) -> Result<Vec<DeviceHealth>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.store_id, d.label, d.revoked, d.last_seen_at, d.protocol_version, d.outbox_len,
                        CASE WHEN d.last_cursor IS NULL THEN NULL ELSE
                          (SELECT count(*) FROM feed f WHERE f.scope IN ('global', 'store:' || d.store_id) AND f.seq > d.last_cursor)
                        END
                 FROM devices d ORDER BY d.store_id, d.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(DeviceHealth {
                    device_id: r.get(0)?,
                    store_id: r.get(1)?,
                    label: r.get(2)?,
                    revoked: r.get(3)?,
                    last_seen_at: r.get(4)?,
                    protocol_version: r.get(5)?,
                    outbox_len: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    cursor_lag: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn pull(&self, store_id: i64, after: i64, limit: u32) -> Result<FeedPage> {
        let scope = store_scope(store_id);
        let limit = i64::from(limit.max(1));
        self.read(|c| {
            // Two index-ordered scans merged: cost follows the page, not the feed.
            let mut stmt = c.prepare_cached(
                "SELECT seq, txid, body FROM (
                    SELECT * FROM (SELECT seq, txid, body FROM feed WHERE scope = 'global' AND seq > ?2 ORDER BY seq LIMIT ?3)
                    UNION ALL
                    SELECT * FROM (SELECT seq, txid, body FROM feed WHERE scope = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3)
                 ) ORDER BY seq LIMIT ?3",
            )?;
            let mut rows: Vec<(i64, i64, String)> = stmt
                .query_map(params![scope, after, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let full = rows.len() as i64 == limit;
            if let (true, Some(&(last_seq, last_tx, _))) = (full, rows.last()) {
                // Never split a server transaction across pages.
                let mut rest = c.prepare_cached(
                    "SELECT seq, txid, body FROM feed WHERE txid = ?1 AND seq > ?2 AND scope IN ('global', ?3) ORDER BY seq",
                )?;
                let tail = rest
                    .query_map(params![last_tx, last_seq, scope], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<(i64, i64, String)>>>()?;
                rows.extend(tail);
            }
            let last_seq = rows.last().map(|r| r.0).unwrap_or(after);
            let remaining: i64 = if full {
                c.prepare_cached("SELECT count(*) FROM feed WHERE scope IN ('global', ?1) AND seq > ?2")?
                    .query_row(params![scope, last_seq], |r| r.get(0))?
            } else {
                0
            };
            Ok(FeedPage {
                changes: rows.into_iter().map(|r| r.2).collect(),
                last_seq,
                has_more: remaining > 0,
                remaining: (remaining > 0).then_some(remaining as u64),
            })
        })
    }

    fn feed_head(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("SELECT coalesce(max(seq), 0) FROM feed", [], |r| r.get(0))?))
    }

    fn upsert_customer(&self, id: &str, body: &CustomerUpsert, now: i64) -> Result<()> {
        self.write(|tx| {
            if let Some(home) = body.home_store {
                if !store_exists(tx, home)? {
                    return Err(HubError::BadRequest(format!("home_store {home} does not exist")));
                }
            }
            tx.prepare_cached(
                "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, email, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                    tier = excluded.tier, home_store = excluded.home_store, language = excluded.language,
                    email = excluded.email, updated_at = excluded.updated_at",
            )?
            .execute(params![id, body.first_name, body.last_name, body.tier, body.home_store, body.language, body.email, now])?;
            if let Some(home) = body.home_store {
                attach(tx, id, home, Relevance::HomeStore, now)?;
            }
            publish_customer(tx, id)
        })
    }

    fn put_identifiers(&self, id: &str, loyalty_cards: &[String]) -> Result<()> {
        self.write(|tx| {
            if customer_record(tx, id)?.is_none() {
                return Err(HubError::NotFound(format!("customer {id} not found")));
            }
            for card in loyalty_cards {
                let owner: Option<String> = tx
                    .prepare_cached("SELECT customer_id FROM loyalty_cards WHERE card = ?1")?
                    .query_row([card], |r| r.get(0))
                    .optional()?;
                if let Some(owner) = owner.filter(|o| o != id) {
                    return Err(HubError::Conflict(format!("loyalty card {card} belongs to another customer ({owner})")));
                }
            }
            tx.prepare_cached("DELETE FROM loyalty_cards WHERE customer_id = ?1")?.execute([id])?;
            for card in loyalty_cards {
                tx.prepare_cached("INSERT INTO loyalty_cards(card, customer_id) VALUES (?1, ?2)")?.execute(params![card, id])?;
            }
            publish_customer(tx, id)
        })
    }

    fn put_cart(&self, id: &str, lines: &[CartLine], now: i64) -> Result<()> {
        self.write(|tx| {
            if customer_record(tx, id)?.is_none() {
                return Err(HubError::NotFound(format!("customer {id} not found")));
            }
            for l in lines {
                if !tx.prepare_cached("SELECT 1 FROM products WHERE sku = ?1")?.exists([&l.sku])? {
                    return Err(HubError::BadRequest(format!("unknown sku {}", l.sku)));
                }
            }
            tx.prepare_cached(
                "INSERT INTO carts(customer_id, lines, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(customer_id) DO UPDATE SET lines = excluded.lines, updated_at = excluded.updated_at",
            )?
            .execute(params![id, serde_json::to_string(lines)?, now])?;
            publish_cart(tx, id)
        })
    }

    fn customer_profile(&self, id: &str) -> Result<Option<CustomerProfile>> {
        self.read(|c| {
            let row = c
                .prepare_cached("SELECT first_name, last_name, tier, home_store, language, email FROM customers WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
                .optional()?;
            let Some((first_name, last_name, tier, home_store, language, email)) = row else { return Ok(None) };
            Ok(Some(CustomerProfile {
                id: id.to_string(),
                first_name,
                last_name,
                tier,
                home_store,
                language,
                email,
                points: points(c, id)?,
                loyalty_cards: cards(c, id)?,
                cart: cart_record(c, id)?.map(|c| c.lines).unwrap_or_default(),
            }))
        })
    }

    fn customer_by_card(&self, card: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT customer_id FROM loyalty_cards WHERE card = ?1")?
                .query_row([card], |r| r.get(0))
                .optional()?)
        })
    }

    fn attach_customer(&self, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Result<LookupResponse> {
        self.write(|tx| {
            let customer =
                customer_record(tx, customer_id)?.ok_or_else(|| HubError::NotFound("customer not found".into()))?;
            attach(tx, customer_id, store_id, why, now)?;
            Ok(LookupResponse {
                customer,
                cart: cart_record(tx, customer_id)?,
                orders: orders_where(tx, "customer_id = ?1 AND store_id = ?2", &[&customer_id, &store_id])?,
            })
        })
    }

    fn place_order(&self, body: &OrderCreate, now: i64) -> Result<OrderDetail> {
        self.write(|tx| {
            if !store_exists(tx, body.store_id)? {
                return Err(HubError::BadRequest(format!("store {} does not exist", body.store_id)));
            }
            if customer_record(tx, &body.customer_id)?.is_none() {
                return Err(HubError::BadRequest(format!("customer {} does not exist", body.customer_id)));
            }
            let mut lines = Vec::with_capacity(body.lines.len());
            for l in &body.lines {
                let name: Option<String> = tx
                    .prepare_cached("SELECT name FROM products WHERE sku = ?1")?
                    .query_row([&l.sku], |r| r.get(0))
                    .optional()?;
                let name = name.ok_or_else(|| HubError::BadRequest(format!("unknown sku {}", l.sku)))?;
                lines.push(OrderLine { sku: l.sku.clone(), name, qty: l.qty, picked: None });
            }
            let n = next_counter(tx, &format!("order:{}", body.store_id))?;
            let id = format!("O-{}-{n}", body.store_id);
            let code = free_pickup_code(tx, body.store_id)?;
            let promised = body.promised_ready_at.unwrap_or(now + 2 * 3600);
            tx.prepare_cached(&format!("INSERT INTO orders({ORDER_COLS}) VALUES (?1, ?2, ?3, 'placed', ?4, ?5, ?6, ?7, ?6, 1)"))?
                .execute(params![id, body.store_id, body.customer_id, code, serde_json::to_string(&lines)?, now, promised])?;
            insert_order_event(tx, &id, now, OrderStatus::Placed, "channel", None)?;
            attach(tx, &body.customer_id, body.store_id, Relevance::Order, now)?;
            publish_order(tx, &id)
        })
    }

    fn cancel_order(&self, id: &str, reason: &str, now: i64) -> Result<OrderDetail> {
        self.write(|tx| {
            let current = order_detail(tx, id)?.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))?;
            if current.order.status.is_final() {
                return Err(HubError::Conflict(format!("order {id} is already {}", current.order.status)));
            }
            tx.prepare_cached("UPDATE orders SET status = 'cancelled', updated_at = ?2, version = version + 1 WHERE id = ?1")?
                .execute(params![id, now])?;
            insert_order_event(tx, id, now, OrderStatus::Cancelled, "channel", Some(reason))?;
            publish_order(tx, id)
        })
    }

    fn order(&self, id: &str) -> Result<Option<OrderDetail>> {
        self.read(|c| order_detail(c, id))
    }

    fn staff_exists(&self, id: &str) -> Result<bool> {
        self.read(|c| Ok(c.prepare_cached("SELECT 1 FROM staff WHERE id = ?1")?.exists([id])?))
    }
}
