//! The PostgreSQL backend, for a chain: several stateless hub processes over one
//! database. Behaviour is that of the embedded SQLite backend (`sqlite.rs`), which is the
//! reference; only the way writers are serialised and woken differs.
//!
//! - **Commit order across processes.** Every write transaction first locks the feed's
//!   counter row (`SELECT … FROM counters WHERE name = 'feed' FOR UPDATE`), numbers its
//!   feed rows itself from that counter and writes it back before commit. Writers of
//!   every hub process thus run one at a time, and a transaction's feed seqs are only
//!   taken once every earlier writer has committed (PostgreSQL makes a commit visible
//!   before it releases the row lock): a reader can never see seq N+1 without seq N.
//!   (A SEQUENCE or BIGSERIAL would hand out numbers in start order, not commit order.)
//! - **Wake-ups across processes.** A write that moved the feed sends
//!   `NOTIFY omnikiosk_feed` with the new head in its transaction; every hub process
//!   listens on its own connection and wakes its long-polls.
//! - **Threads.** The sync `postgres::Client` must not run inside a tokio runtime, so each
//!   connection lives on its own OS thread and is handed jobs over a channel: one writer
//!   and a few readers (reads run in a read-only REPEATABLE READ snapshot).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use omnikiosk_protocol::code::{self, CodeKind};
use omnikiosk_protocol::ops::{check_order_op, order_effect, OpBody, Rejection};
use omnikiosk_protocol::wire::{
    CartLine, CartRecord, Change, ConflictRecord, CustomerProfile, CustomerRecord, CustomerUpsert, DeviceHealth,
    LookupResponse, Op, OpOutcome, OrderCreate, OrderDetail, OrderEvent, OrderLine, OrderRecord, OrderStatus, StaffRole,
    StoreRecord,
};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Transaction};
use rand::Rng;

use super::{Device, FeedPage, HubStore, Relevance};
use crate::error::{HubError, Result};
use crate::seed::SeedData;

/// Reader connections per hub process.
const READERS: usize = 4;
/// The channel feed changes are announced on.
const FEED_CHANNEL: &str = "omnikiosk_feed";
/// Advisory lock key taken while migrating, so hubs starting together do not race.
const MIGRATION_LOCK: i64 = 0x4f4d_4e49_4b49_4f53; // "OMNIKIOS"

/// Versioned schema migrations; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[SCHEMA_V1];

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

type Job = Box<dyn FnOnce(&mut Client) + Send + 'static>;
type FeedListener = Box<dyn Fn(i64) + Send + Sync>;

fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).map_err(HubError::from)
}

/// One connection on its own OS thread, running the jobs it is sent in order.
struct Actor {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Actor {
    fn start(url: &str, name: &str) -> Result<Actor> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut client = match connect(&url) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Ends when the store (the only sender) is dropped.
                for job in queue {
                    if client.is_closed() {
                        match connect(&url) {
                            Ok(c) => client = c,
                            Err(e) => {
                                // The job is dropped unrun: its caller gets an error.
                                tracing::warn!(error = %e, "PostgreSQL connection lost");
                                continue;
                            }
                        }
                    }
                    // A panicking job must not take the connection thread with it.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut client)));
                }
            })
            .map_err(|e| HubError::Internal(format!("cannot start a database thread: {e}")))?;
        ready_rx.recv().map_err(|_| HubError::Internal("database thread died while connecting".into()))??;
        Ok(Actor { jobs: Mutex::new(jobs) })
    }

    fn run<T: Send + 'static>(&self, f: impl FnOnce(&mut Client) -> Result<T> + Send + 'static) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |c| {
            let _ = reply.send(f(c));
        });
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| HubError::Internal("database thread is gone".into()))?;
        answer.recv().map_err(|_| HubError::Internal("database connection lost".into()))?
    }
}

pub struct PostgresHubStore {
    /// The one writer connection of this process (writers of all processes are
    /// serialised by the feed counter's row lock).
    writer: Actor,
    readers: Vec<Actor>,
    next_reader: AtomicUsize,
    /// Called with the new feed head whenever any hub process moved the feed.
    listeners: Arc<Mutex<Vec<FeedListener>>>,
    /// Tells the listener thread to stop.
    stop: Arc<AtomicBool>,
}

impl Drop for PostgresHubStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn migrate(c: &mut Client) -> Result<()> {
    let mut t = c.transaction()?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    t.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let current: i64 = t.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?.get(0);
    if current > MIGRATIONS.len() as i64 {
        return Err(HubError::Internal(format!(
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

/// Listens for feed changes of every hub process on its own connection.
fn listen(url: String, listeners: Arc<Mutex<Vec<FeedListener>>>, stop: Arc<AtomicBool>, ready: mpsc::Sender<Result<()>>) {
    let fire = |seq: i64| {
        for f in listeners.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f(seq);
        }
    };
    let mut ready = Some(ready);
    while !stop.load(Ordering::Relaxed) {
        let connected = connect(&url).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {FEED_CHANNEL}"))?;
            Ok(c)
        });
        let mut client = match (connected, ready.take()) {
            (Ok(c), Some(r)) => {
                let _ = r.send(Ok(()));
                c
            }
            (Ok(mut c), None) => {
                // Back after a lost connection: notifications may have been missed.
                if let Ok(row) = c.query_one("SELECT value FROM counters WHERE name = 'feed'", &[]) {
                    fire(row.get(0));
                }
                c
            }
            (Err(e), Some(r)) => {
                let _ = r.send(Err(e));
                return;
            }
            (Err(e), None) => {
                tracing::warn!(error = %e, "PostgreSQL feed listener cannot reconnect");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        'connected: while !stop.load(Ordering::Relaxed) {
            {
                let mut notifications = client.notifications();
                let mut iter = notifications.timeout_iter(Duration::from_millis(500));
                loop {
                    match iter.next() {
                        Ok(Some(n)) => fire(n.payload().parse().unwrap_or(0)),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "PostgreSQL feed listener lost its connection");
                            break 'connected;
                        }
                    }
                }
            }
            if client.is_closed() {
                break;
            }
        }
    }
}

impl PostgresHubStore {
    /// Connects to `postgres://…`, creating or migrating the schema as needed.
    pub fn open(url: &str) -> Result<PostgresHubStore> {
        let writer = Actor::start(url, "omnikiosk-pg-writer")?;
        writer.run(migrate)?;
        let readers = (0..READERS)
            .map(|i| Actor::start(url, &format!("omnikiosk-pg-reader-{i}")))
            .collect::<Result<Vec<_>>>()?;
        let listeners: Arc<Mutex<Vec<FeedListener>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        {
            let (url, listeners, stop) = (url.to_string(), listeners.clone(), stop.clone());
            std::thread::Builder::new()
                .name("omnikiosk-pg-listen".into())
                .spawn(move || listen(url, listeners, stop, ready_tx))
                .map_err(|e| HubError::Internal(format!("cannot start the feed listener: {e}")))?;
        }
        ready_rx.recv().map_err(|_| HubError::Internal("feed listener died while connecting".into()))??;
        Ok(PostgresHubStore { writer, readers, next_reader: AtomicUsize::new(0), listeners, stop })
    }

    /// Runs `f` in a read-only snapshot on one of the reader connections.
    fn read<T: Send + 'static>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T> + Send + 'static) -> Result<T> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i].run(move |c| {
            let mut t = c.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
            let out = f(&mut t)?;
            t.commit()?;
            Ok(out)
        })
    }

    /// Runs `f` in one write transaction that holds the feed lock, with a fresh feed
    /// transaction id; announces the new feed head when the feed moved.
    fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static) -> Result<T> {
        self.writer.run(move |c| {
            let mut t = c.transaction()?;
            // First, always: the row lock that serialises writers of every hub process.
            let start: i64 = t.query_one("SELECT value FROM counters WHERE name = 'feed' FOR UPDATE", &[])?.get(0);
            let txid = next_counter(&mut t, "txid")?;
            let mut tx = Tx { t, txid, seq: start };
            let out = f(&mut tx)?;
            let Tx { mut t, seq, .. } = tx;
            if seq != start {
                t.execute("UPDATE counters SET value = $1 WHERE name = 'feed'", &[&seq])?;
                t.execute("SELECT pg_notify($1, $2)", &[&FEED_CHANNEL, &seq.to_string()])?;
            }
            t.commit()?;
            Ok(out)
        })
    }
}

/// A write transaction, the feed transaction id its changes are stamped with, and the
/// last feed seq it assigned.
struct Tx<'a> {
    t: Transaction<'a>,
    txid: i64,
    seq: i64,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Transaction<'a>;
    fn deref(&self) -> &Transaction<'a> {
        &self.t
    }
}

impl<'a> std::ops::DerefMut for Tx<'a> {
    fn deref_mut(&mut self) -> &mut Transaction<'a> {
        &mut self.t
    }
}

impl Tx<'_> {
    /// Starts a new feed transaction inside the same database transaction.
    fn next_txid(&mut self) -> Result<()> {
        self.txid = next_counter(&mut self.t, "txid")?;
        Ok(())
    }

    fn feed(&mut self, scope: &str, key: &str, change: &Change) -> Result<()> {
        let body = serde_json::to_string(change)?;
        self.seq += 1;
        self.t.execute("DELETE FROM feed WHERE scope = $1 AND entity_key = $2", &[&scope, &key])?;
        self.t.execute(
            "INSERT INTO feed(seq, scope, entity_key, txid, body) VALUES ($1, $2, $3, $4, $5)",
            &[&self.seq, &scope, &key, &self.txid, &body],
        )?;
        Ok(())
    }
}

fn next_counter(t: &mut Transaction<'_>, name: &str) -> Result<i64> {
    Ok(t.query_one(
        "INSERT INTO counters(name, value) VALUES ($1, 1)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        &[&name],
    )?
    .get(0))
}

fn store_scope(store_id: i64) -> String {
    format!("store:{store_id}")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// PostgreSQL text cannot hold a NUL character (SQLite's can): no stored key has one, so
/// a lookup by such a key finds nothing instead of failing the query.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// An op's strings with NUL characters replaced (U+FFFD), so an op that carries one is
/// judged and recorded like any other instead of failing its transaction on every retry
/// and blocking the device's queue.
fn without_nul(op: &Op) -> Op {
    fn clean(s: &str) -> String {
        s.replace('\0', "\u{FFFD}")
    }
    fn clean_json(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if has_nul(s) => *s = clean(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(clean_json),
            serde_json::Value::Object(fields) => {
                if fields.keys().any(|k| has_nul(k)) {
                    *fields = std::mem::take(fields).into_iter().map(|(k, v)| (clean(&k), v)).collect();
                }
                fields.values_mut().for_each(clean_json);
            }
            _ => {}
        }
    }
    let mut op = op.clone();
    op.op_id = clean(&op.op_id);
    op.name = clean(&op.name);
    clean_json(&mut op.body);
    op
}

fn exists(t: &mut Transaction<'_>, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<bool> {
    Ok(t.query_opt(sql, args)?.is_some())
}

// ---- reads shared by reads and writes ---------------------------------------------

fn customer_record(t: &mut Transaction<'_>, id: &str) -> Result<Option<CustomerRecord>> {
    let Some(r) = t.query_opt("SELECT first_name, last_name, tier, language, home_store FROM customers WHERE id = $1", &[&id])?
    else {
        return Ok(None);
    };
    let last_name: String = r.get(1);
    Ok(Some(CustomerRecord {
        id: id.to_string(),
        first_name: r.get(0),
        last_initial: last_name.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default(),
        tier: r.get(2),
        language: r.get(3),
        points: points(t, id)?,
        home_store: r.get(4),
        loyalty_cards: cards(t, id)?,
    }))
}

fn points(t: &mut Transaction<'_>, id: &str) -> Result<i64> {
    // sum(bigint) is NUMERIC in PostgreSQL.
    Ok(t.query_one("SELECT coalesce(sum(delta), 0)::BIGINT FROM loyalty_ledger WHERE customer_id = $1", &[&id])?.get(0))
}

fn cards(t: &mut Transaction<'_>, id: &str) -> Result<Vec<String>> {
    Ok(t.query("SELECT card FROM loyalty_cards WHERE customer_id = $1 ORDER BY card", &[&id])?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

fn cart_record(t: &mut Transaction<'_>, id: &str) -> Result<Option<CartRecord>> {
    match t.query_opt("SELECT lines, updated_at FROM carts WHERE customer_id = $1", &[&id])? {
        Some(r) => {
            let lines: String = r.get(0);
            Ok(Some(CartRecord { customer_id: id.to_string(), lines: serde_json::from_str(&lines)?, updated_at: r.get(1) }))
        }
        None => Ok(None),
    }
}

const ORDER_COLS: &str = "id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version";

fn orders_where(t: &mut Transaction<'_>, filter: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<OrderRecord>> {
    let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY placed_at, id");
    let mut out = Vec::new();
    for r in t.query(&sql, args)? {
        let status: String = r.get(3);
        let lines: String = r.get(5);
        out.push(OrderRecord {
            id: r.get(0),
            store_id: r.get(1),
            customer_id: r.get(2),
            status: OrderStatus::parse(&status).ok_or_else(|| HubError::Internal(format!("order status {status:?}")))?,
            pickup_code: r.get(4),
            lines: serde_json::from_str(&lines)?,
            placed_at: r.get(6),
            promised_ready_at: r.get(7),
            updated_at: r.get(8),
            version: r.get(9),
        });
    }
    Ok(out)
}

fn order_detail(t: &mut Transaction<'_>, id: &str) -> Result<Option<OrderDetail>> {
    let Some(order) = orders_where(t, "id = $1", &[&id])?.into_iter().next() else { return Ok(None) };
    let history = t
        .query(r#"SELECT at, status, "by", note FROM order_events WHERE order_id = $1 ORDER BY id"#, &[&id])?
        .iter()
        .map(|r| {
            let status: String = r.get(1);
            let status = OrderStatus::parse(&status).ok_or_else(|| HubError::Internal(format!("order status {status:?}")))?;
            Ok(OrderEvent { at: r.get(0), status, by: r.get(2), note: r.get(3) })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(OrderDetail { order, history }))
}

fn stores_of_customer(t: &mut Transaction<'_>, id: &str) -> Result<Vec<i64>> {
    Ok(t.query("SELECT store_id FROM customer_stores WHERE customer_id = $1 ORDER BY store_id", &[&id])?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

fn store_exists(t: &mut Transaction<'_>, id: i64) -> Result<bool> {
    exists(t, "SELECT 1 FROM stores WHERE id = $1", &[&id])
}

// ---- writes that keep the feed in step --------------------------------------------

fn publish_customer(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    let Some(record) = customer_record(tx, id)? else { return Ok(()) };
    let change = Change::Customer(record);
    for store in stores_of_customer(tx, id)? {
        tx.feed(&store_scope(store), &format!("customer:{id}"), &change)?;
    }
    Ok(())
}

fn publish_cart(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    let Some(cart) = cart_record(tx, id)? else { return Ok(()) };
    let change = Change::Cart(cart);
    for store in stores_of_customer(tx, id)? {
        tx.feed(&store_scope(store), &format!("cart:{id}"), &change)?;
    }
    Ok(())
}

fn publish_order(tx: &mut Tx<'_>, id: &str) -> Result<OrderDetail> {
    let detail = order_detail(tx, id)?.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))?;
    tx.feed(&store_scope(detail.order.store_id), &format!("order:{id}"), &Change::Order(detail.order.clone()))?;
    Ok(detail)
}

/// Makes a customer relevant to a store; when new, their current state enters its feed.
fn attach(tx: &mut Tx<'_>, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Result<()> {
    let inserted = tx.execute(
        "INSERT INTO customer_stores(customer_id, store_id, reason, since) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&customer_id, &store_id, &why.as_str(), &now],
    )?;
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

fn insert_order_event(t: &mut Transaction<'_>, order_id: &str, at: i64, status: OrderStatus, by: &str, note: Option<&str>) -> Result<()> {
    t.execute(
        r#"INSERT INTO order_events(order_id, at, status, "by", note) VALUES ($1, $2, $3, $4, $5)"#,
        &[&order_id, &at, &status.as_str(), &by, &note],
    )?;
    Ok(())
}

/// A pickup code no open order of the store uses.
fn free_pickup_code(t: &mut Transaction<'_>, store_id: i64) -> Result<String> {
    for _ in 0..1000 {
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let taken = exists(
            t,
            "SELECT 1 FROM orders WHERE store_id = $1 AND pickup_code = $2 AND status IN ('placed', 'picking', 'ready')",
            &[&store_id, &code],
        )?;
        if !taken {
            return Ok(code);
        }
    }
    Err(HubError::Conflict("no free pickup code: too many open orders in this store".into()))
}

/// A rejected op with the hub's facts about it.
struct Refusal(Rejection, Option<serde_json::Value>);

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal(r, None)
    }
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(Rejection::new(code, message), None)
}

fn storage(e: HubError) -> Refusal {
    refuse("storage", e.to_string())
}

fn pg_storage(e: postgres::Error) -> Refusal {
    storage(HubError::from(e))
}

fn staff_role(t: &mut Transaction<'_>, staff_id: &str, store_id: i64) -> std::result::Result<String, Refusal> {
    t.query_opt("SELECT role FROM staff WHERE id = $1 AND store_id = $2", &[&staff_id, &store_id])
        .map_err(pg_storage)?
        .map(|r| r.get::<_, String>(0))
        .ok_or_else(|| refuse("unknown_staff", format!("staff {staff_id} does not work at this store")))
}

/// Applies one op's business effect; `Err(Refusal)` rejects it (as in `sqlite.rs`).
fn apply_op(
    tx: &mut Tx<'_>,
    device: &Device,
    op: &Op,
    body: &OpBody,
    now: i64,
    qr_order_id: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<(), Refusal> {
    body.validate()?;
    match body {
        OpBody::OrderPick { order_id, staff_id, .. }
        | OpBody::OrderReady { order_id, staff_id }
        | OpBody::OrderCollect { order_id, staff_id, .. }
        | OpBody::OrderCancel { order_id, staff_id, .. } => {
            let role = staff_role(tx, staff_id, device.store_id)?;
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
            tx.execute(
                "UPDATE orders SET status = $2, lines = $3, updated_at = $4, version = version + 1 WHERE id = $1",
                &[&order.id, &order.status.as_str(), &serde_json::to_string(&order.lines).unwrap_or_default(), &now],
            )
            .map_err(pg_storage)?;
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
            let found = exists(
                tx,
                "SELECT 1 FROM orders WHERE id = $1 AND store_id = $2 AND customer_id = $3",
                &[order_id, &device.store_id, customer_id],
            )
            .map_err(storage)?;
            if !found {
                return Err(refuse("unknown_order", format!("order {order_id} of {customer_id} is not at this store")));
            }
            tx.execute(
                "INSERT INTO visits(op_id, kind, store_id, customer_id, order_id, at) VALUES ($1, 'checkin', $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[&op.op_id, &device.store_id, customer_id, order_id, &now],
            )
            .map_err(pg_storage)?;
        }
        OpBody::VisitSeen { customer_id } => {
            customer_record(tx, customer_id)
                .map_err(storage)?
                .ok_or_else(|| refuse("unknown_customer", format!("customer {customer_id} does not exist")))?;
            tx.execute(
                "INSERT INTO visits(op_id, kind, store_id, customer_id, at) VALUES ($1, 'seen', $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&op.op_id, &device.store_id, customer_id, &now],
            )
            .map_err(pg_storage)?;
            attach(tx, customer_id, device.store_id, Relevance::Seen, now).map_err(storage)?;
        }
        OpBody::LoyaltyEarn { customer_id, points: pts, reason } | OpBody::LoyaltyRedeem { customer_id, points: pts, reason } => {
            customer_record(tx, customer_id)
                .map_err(storage)?
                .ok_or_else(|| refuse("unknown_customer", format!("customer {customer_id} does not exist")))?;
            let delta = if matches!(body, OpBody::LoyaltyRedeem { .. }) {
                let balance = points(tx, customer_id).map_err(storage)?;
                if balance < *pts {
                    return Err(Refusal(
                        Rejection::new("insufficient_points", format!("{customer_id} has {balance} points; {pts} cannot be redeemed")),
                        Some(serde_json::json!({ "customer_id": customer_id, "balance": balance, "asked": pts })),
                    ));
                }
                -*pts
            } else {
                *pts
            };
            tx.execute(
                "INSERT INTO loyalty_ledger(op_id, customer_id, delta, reason, at, device_id) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&op.op_id, customer_id, &delta, reason, &now, &device.id],
            )
            .map_err(pg_storage)?;
            publish_customer(tx, customer_id).map_err(storage)?;
        }
        OpBody::FeedbackNps { score, csat, customer_id } => {
            tx.execute(
                "INSERT INTO feedback(op_id, store_id, customer_id, score, csat, at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING",
                &[&op.op_id, &device.store_id, customer_id, score, csat, &now],
            )
            .map_err(pg_storage)?;
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

fn seed_all(tx: &mut Tx<'_>, data: &SeedData) -> Result<()> {
    let seeded: i64 = tx.query_one("SELECT count(*) FROM stores", &[])?.get(0);
    if seeded > 0 {
        return Err(HubError::Conflict("this hub database already has stores; seed an empty database (a new --db)".into()));
    }
    for s in &data.stores {
        tx.execute("INSERT INTO stores(id, name, city) VALUES ($1, $2, $3)", &[&s.id, &s.name, &s.city])?;
        tx.feed("global", &format!("store:{}", s.id), &Change::Store(s.clone()))?;
    }
    for p in &data.products {
        tx.next_txid()?;
        tx.execute(
            "INSERT INTO products(sku, name, price_cents, category) VALUES ($1, $2, $3, $4)",
            &[&p.sku, &p.name, &p.price_cents, &p.category],
        )?;
        tx.feed("global", &format!("product:{}", p.sku), &Change::Product(p.clone()))?;
    }
    for s in &data.stock {
        tx.next_txid()?;
        tx.execute(
            "INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES ($1, $2, $3, $4)",
            &[&s.store_id, &s.sku, &s.on_hand, &s.aisle],
        )?;
        tx.feed(&store_scope(s.store_id), &format!("stock:{}", s.sku), &Change::Stock(s.clone()))?;
    }
    for st in &data.staff {
        tx.next_txid()?;
        tx.execute(
            "INSERT INTO staff(id, name, role, store_id, pin_salt, pin_hash) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&st.id, &st.name, &role_str(st.role), &st.store_id, &st.pin_salt, &st.pin_hash],
        )?;
        tx.feed(&store_scope(st.store_id), &format!("staff:{}", st.id), &Change::Staff(st.clone()))?;
    }
    for c in &data.customers {
        tx.next_txid()?;
        tx.execute(
            "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, email, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[&c.id, &c.first_name, &c.last_name, &c.tier, &c.home_store, &c.language, &c.email, &data.now],
        )?;
        tx.execute("INSERT INTO loyalty_cards(card, customer_id) VALUES ($1, $2)", &[&c.card, &c.id])?;
        tx.execute(
            "INSERT INTO loyalty_ledger(op_id, customer_id, delta, reason, at) VALUES ($1, $2, $3, 'opening balance', $4)",
            &[&format!("seed:{}", c.id), &c.id, &c.points, &data.now],
        )?;
        if !c.cart.is_empty() {
            tx.execute(
                "INSERT INTO carts(customer_id, lines, updated_at) VALUES ($1, $2, $3)",
                &[&c.id, &serde_json::to_string(&c.cart)?, &data.now],
            )?;
        }
        tx.execute(
            "INSERT INTO customer_stores(customer_id, store_id, reason, since) VALUES ($1, $2, 'home_store', $3)",
            &[&c.id, &c.home_store, &data.now],
        )?;
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
        tx.execute(
            &format!("INSERT INTO orders({ORDER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            &[
                &o.id,
                &o.store_id,
                &o.customer_id,
                &o.status.as_str(),
                &o.pickup_code,
                &serde_json::to_string(&o.lines)?,
                &o.placed_at,
                &o.promised_ready_at,
                &o.updated_at,
                &o.version,
            ],
        )?;
        for e in history {
            insert_order_event(tx, &o.id, e.at, e.status, &e.by, e.note.as_deref())?;
        }
        attach(tx, &o.customer_id, o.store_id, Relevance::Order, data.now)?;
        tx.feed(&store_scope(o.store_id), &format!("order:{}", o.id), &Change::Order(o.clone()))?;
    }
    for (store, last) in &data.order_counters {
        tx.execute(
            "INSERT INTO counters(name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&format!("order:{store}"), last],
        )?;
    }
    Ok(())
}

fn push_one(tx: &mut Tx<'_>, device: &Device, op: &Op, outbox_len: u64, now: i64, key: &VerifyingKey) -> Result<OpOutcome> {
    tx.execute("UPDATE devices SET outbox_len = $2 WHERE id = $1", &[&device.id, &(outbox_len as i64)])?;
    // Compare-and-set on the device's sequence, inside the transaction that applies.
    let last_seq: i64 = tx.query_one("SELECT last_seq FROM devices WHERE id = $1", &[&device.id])?.get(0);
    let known = exists(tx, "SELECT 1 FROM ops WHERE op_id = $1", &[&op.op_id])?;
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
        let qr_order_id =
            |qr: &str| code::verify(key, qr, now_secs()).ok().filter(|c| c.kind == CodeKind::Order).map(|c| c.id);
        // A refused op must leave nothing behind: its writes sit in a savepoint (and the
        // feed numbering it took is given back).
        let (seq_before, txid_before) = (tx.seq, tx.txid);
        tx.batch_execute("SAVEPOINT op")?;
        let applied = OpBody::from_wire(op).map_err(Refusal::from).and_then(|body| apply_op(tx, device, op, &body, now, &qr_order_id));
        match &applied {
            Err(Refusal(r, _)) if r.code == "storage" => return Err(HubError::Internal(r.message.clone())),
            Err(_) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")?;
                tx.seq = seq_before;
                tx.txid = txid_before;
            }
            Ok(()) => tx.batch_execute("RELEASE SAVEPOINT op")?,
        }
        let outcome = match applied {
            Ok(()) => OpOutcome::Applied,
            Err(Refusal(rejection, facts)) => {
                tx.execute(
                    "INSERT INTO conflicts(op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                    &[
                        &op.op_id,
                        &device.id,
                        &device.store_id,
                        &op.name,
                        &op.body.to_string(),
                        &op.kiosk_time,
                        &rejection.code,
                        &rejection.message,
                        &facts.as_ref().map(|f| f.to_string()),
                        &now,
                    ],
                )?;
                OpOutcome::Rejected { code: rejection.code.to_string(), message: rejection.message, facts }
            }
        };
        let label = match &outcome {
            OpOutcome::Applied => "applied",
            _ => "rejected",
        };
        tx.execute(
            "INSERT INTO ops(device_id, seq, op_id, name, body, kiosk_time, received_at, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[&device.id, &op.seq, &op.op_id, &op.name, &op.body.to_string(), &op.kiosk_time, &now, &label],
        )?;
        tx.execute("UPDATE devices SET last_seq = $2 WHERE id = $1", &[&device.id, &op.seq])?;
        outcome
    };
    Ok(outcome)
}

impl HubStore for PostgresHubStore {
    fn signing_key(&self) -> Result<SigningKey> {
        let fresh: [u8; 32] = rand::random();
        let secret: Vec<u8> = self.writer.run(move |c| {
            c.execute("INSERT INTO hub_key(id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING", &[&&fresh[..]])?;
            Ok(c.query_one("SELECT secret FROM hub_key WHERE id = 1", &[])?.get(0))
        })?;
        let bytes: [u8; 32] =
            secret.try_into().map_err(|_| HubError::Internal("stored signing key is not 32 bytes".into()))?;
        Ok(SigningKey::from_bytes(&bytes))
    }

    fn on_feed_change(&self, f: Box<dyn Fn(i64) + Send + Sync>) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    fn seed(&self, data: &SeedData) -> Result<()> {
        let data = data.clone();
        self.write(move |tx| seed_all(tx, &data))
    }

    fn store(&self, store_id: i64) -> Result<Option<StoreRecord>> {
        self.read(move |t| {
            Ok(t.query_opt("SELECT id, name, city FROM stores WHERE id = $1", &[&store_id])?
                .map(|r| StoreRecord { id: r.get(0), name: r.get(1), city: r.get(2) }))
        })
    }

    fn add_device(&self, store_id: i64, label: &str, token_hash: &str) -> Result<String> {
        let (label, token_hash) = (label.to_string(), token_hash.to_string());
        self.write(move |tx| {
            if !store_exists(tx, store_id)? {
                return Err(HubError::NotFound(format!("store {store_id} does not exist")));
            }
            let n = next_counter(tx, "device")?;
            let id = format!("kiosk-{store_id}-{n}");
            tx.execute(
                "INSERT INTO devices(id, store_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &store_id, &label, &token_hash, &now_secs()],
            )?;
            Ok(id)
        })
    }

    fn revoke_device(&self, device_id: &str) -> Result<()> {
        if has_nul(device_id) {
            return Err(HubError::NotFound(format!("device {device_id} does not exist")));
        }
        let device_id = device_id.to_string();
        self.writer.run(move |c| {
            let n = c.execute("UPDATE devices SET revoked = 1 WHERE id = $1", &[&device_id])?;
            if n == 0 {
                return Err(HubError::NotFound(format!("device {device_id} does not exist")));
            }
            Ok(())
        })
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        if has_nul(token_hash) {
            return Ok(None);
        }
        let token_hash = token_hash.to_string();
        self.read(move |t| {
            Ok(t.query_opt("SELECT id, store_id, revoked FROM devices WHERE token_hash = $1", &[&token_hash])?
                .map(|r| Device { id: r.get(0), store_id: r.get(1), revoked: r.get::<_, i64>(2) != 0 }))
        })
    }

    fn record_device_seen(&self, device_id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Result<()> {
        let device_id = device_id.to_string();
        self.writer.run(move |c| {
            c.execute(
                "UPDATE devices SET last_seen_at = $2, protocol_version = $3, last_cursor = coalesce($4, last_cursor) WHERE id = $1",
                &[&device_id, &at, &i64::from(protocol), &cursor],
            )?;
            Ok(())
        })
    }

    fn devices(&self) -> Result<Vec<DeviceHealth>> {
        self.read(|t| {
            let rows = t.query(
                "SELECT d.id, d.store_id, d.label, d.revoked, d.last_seen_at, d.protocol_version, d.outbox_len,
                        CASE WHEN d.last_cursor IS NULL THEN NULL ELSE
                          (SELECT count(*) FROM feed f WHERE f.scope IN ('global', 'store:' || d.store_id) AND f.seq > d.last_cursor)
                        END
                 FROM devices d ORDER BY d.store_id, d.id",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| DeviceHealth {
                    device_id: r.get(0),
                    store_id: r.get(1),
                    label: r.get(2),
                    revoked: r.get::<_, i64>(3) != 0,
                    last_seen_at: r.get(4),
                    protocol_version: r.get::<_, Option<i64>>(5).map(|v| v as u32),
                    outbox_len: r.get::<_, Option<i64>>(6).map(|v| v as u64),
                    cursor_lag: r.get(7),
                })
                .collect())
        })
    }

    fn pull(&self, store_id: i64, after: i64, limit: u32) -> Result<FeedPage> {
        let scope = store_scope(store_id);
        let limit = i64::from(limit.max(1));
        self.read(move |t| {
            // Two index-ordered scans merged: cost follows the page, not the feed.
            let mut rows: Vec<(i64, i64, String)> = t
                .query(
                    "SELECT seq, txid, body FROM (
                        (SELECT seq, txid, body FROM feed WHERE scope = 'global' AND seq > $2 ORDER BY seq LIMIT $3)
                        UNION ALL
                        (SELECT seq, txid, body FROM feed WHERE scope = $1 AND seq > $2 ORDER BY seq LIMIT $3)
                     ) page ORDER BY seq LIMIT $3",
                    &[&scope, &after, &limit],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let full = rows.len() as i64 == limit;
            if let (true, Some(&(last_seq, last_tx, _))) = (full, rows.last()) {
                // Never split a server transaction across pages.
                let tail = t.query(
                    "SELECT seq, txid, body FROM feed WHERE txid = $1 AND seq > $2 AND scope IN ('global', $3) ORDER BY seq",
                    &[&last_tx, &last_seq, &scope],
                )?;
                rows.extend(tail.iter().map(|r| (r.get(0), r.get(1), r.get(2))));
            }
            let last_seq = rows.last().map(|r| r.0).unwrap_or(after);
            let remaining: i64 = if full {
                t.query_one("SELECT count(*) FROM feed WHERE scope IN ('global', $1) AND seq > $2", &[&scope, &last_seq])?.get(0)
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
        // The counter, not max(seq): it only ever grows, and is exactly the last seq
        // handed out by a committed writer.
        self.read(|t| Ok(t.query_one("SELECT value FROM counters WHERE name = 'feed'", &[])?.get(0)))
    }

    fn upsert_customer(&self, id: &str, body: &CustomerUpsert, now: i64) -> Result<()> {
        let (id, mut body) = (id.to_string(), body.clone());
        body.email = body.email.map(|e| e.replace('\0', "\u{FFFD}"));
        self.write(move |tx| {
            if let Some(home) = body.home_store {
                if !store_exists(tx, home)? {
                    return Err(HubError::BadRequest(format!("home_store {home} does not exist")));
                }
            }
            tx.execute(
                "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, email, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                    tier = excluded.tier, home_store = excluded.home_store, language = excluded.language,
                    email = excluded.email, updated_at = excluded.updated_at",
                &[&id, &body.first_name, &body.last_name, &body.tier, &body.home_store, &body.language, &body.email, &now],
            )?;
            if let Some(home) = body.home_store {
                attach(tx, &id, home, Relevance::HomeStore, now)?;
            }
            publish_customer(tx, &id)
        })
    }

    fn put_identifiers(&self, id: &str, loyalty_cards: &[String]) -> Result<()> {
        if has_nul(id) {
            return Err(HubError::NotFound(format!("customer {id} not found")));
        }
        let (id, loyalty_cards) = (id.to_string(), loyalty_cards.to_vec());
        self.write(move |tx| {
            if customer_record(tx, &id)?.is_none() {
                return Err(HubError::NotFound(format!("customer {id} not found")));
            }
            for card in &loyalty_cards {
                let owner: Option<String> =
                    tx.query_opt("SELECT customer_id FROM loyalty_cards WHERE card = $1", &[card])?.map(|r| r.get(0));
                if let Some(owner) = owner.filter(|o| o != &id) {
                    return Err(HubError::Conflict(format!("loyalty card {card} belongs to another customer ({owner})")));
                }
            }
            tx.execute("DELETE FROM loyalty_cards WHERE customer_id = $1", &[&id])?;
            for card in &loyalty_cards {
                tx.execute("INSERT INTO loyalty_cards(card, customer_id) VALUES ($1, $2)", &[card, &id])?;
            }
            publish_customer(tx, &id)
        })
    }

    fn put_cart(&self, id: &str, lines: &[CartLine], now: i64) -> Result<()> {
        if has_nul(id) {
            return Err(HubError::NotFound(format!("customer {id} not found")));
        }
        if let Some(l) = lines.iter().find(|l| has_nul(&l.sku)) {
            return Err(HubError::BadRequest(format!("unknown sku {}", l.sku)));
        }
        let (id, lines) = (id.to_string(), lines.to_vec());
        self.write(move |tx| {
            if customer_record(tx, &id)?.is_none() {
                return Err(HubError::NotFound(format!("customer {id} not found")));
            }
            for l in &lines {
                if !exists(tx, "SELECT 1 FROM products WHERE sku = $1", &[&l.sku])? {
                    return Err(HubError::BadRequest(format!("unknown sku {}", l.sku)));
                }
            }
            tx.execute(
                "INSERT INTO carts(customer_id, lines, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (customer_id) DO UPDATE SET lines = excluded.lines, updated_at = excluded.updated_at",
                &[&id, &serde_json::to_string(&lines)?, &now],
            )?;
            publish_cart(tx, &id)
        })
    }

    fn customer_profile(&self, id: &str) -> Result<Option<CustomerProfile>> {
        if has_nul(id) {
            return Ok(None);
        }
        let id = id.to_string();
        self.read(move |t| {
            let Some(r) = t.query_opt(
                "SELECT first_name, last_name, tier, home_store, language, email FROM customers WHERE id = $1",
                &[&id],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(CustomerProfile {
                first_name: r.get(0),
                last_name: r.get(1),
                tier: r.get(2),
                home_store: r.get(3),
                language: r.get(4),
                email: r.get(5),
                points: points(t, &id)?,
                loyalty_cards: cards(t, &id)?,
                cart: cart_record(t, &id)?.map(|c| c.lines).unwrap_or_default(),
                id,
            }))
        })
    }

    fn customer_by_card(&self, card: &str) -> Result<Option<String>> {
        if has_nul(card) {
            return Ok(None);
        }
        let card = card.to_string();
        self.read(move |t| Ok(t.query_opt("SELECT customer_id FROM loyalty_cards WHERE card = $1", &[&card])?.map(|r| r.get(0))))
    }

    fn attach_customer(&self, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Result<LookupResponse> {
        if has_nul(customer_id) {
            return Err(HubError::NotFound("customer not found".into()));
        }
        let customer_id = customer_id.to_string();
        self.write(move |tx| {
            let customer =
                customer_record(tx, &customer_id)?.ok_or_else(|| HubError::NotFound("customer not found".into()))?;
            attach(tx, &customer_id, store_id, why, now)?;
            Ok(LookupResponse {
                customer,
                cart: cart_record(tx, &customer_id)?,
                orders: orders_where(tx, "customer_id = $1 AND store_id = $2", &[&customer_id, &store_id])?,
            })
        })
    }

    fn place_order(&self, body: &OrderCreate, now: i64) -> Result<OrderDetail> {
        if has_nul(&body.customer_id) {
            return Err(HubError::BadRequest(format!("customer {} does not exist", body.customer_id)));
        }
        if let Some(l) = body.lines.iter().find(|l| has_nul(&l.sku)) {
            return Err(HubError::BadRequest(format!("unknown sku {}", l.sku)));
        }
        let body = body.clone();
        self.write(move |tx| {
            if !store_exists(tx, body.store_id)? {
                return Err(HubError::BadRequest(format!("store {} does not exist", body.store_id)));
            }
            if customer_record(tx, &body.customer_id)?.is_none() {
                return Err(HubError::BadRequest(format!("customer {} does not exist", body.customer_id)));
            }
            let mut lines = Vec::with_capacity(body.lines.len());
            for l in &body.lines {
                let name: Option<String> = tx.query_opt("SELECT name FROM products WHERE sku = $1", &[&l.sku])?.map(|r| r.get(0));
                let name = name.ok_or_else(|| HubError::BadRequest(format!("unknown sku {}", l.sku)))?;
                lines.push(OrderLine { sku: l.sku.clone(), name, qty: l.qty, picked: None });
            }
            let n = next_counter(tx, &format!("order:{}", body.store_id))?;
            let id = format!("O-{}-{n}", body.store_id);
            let code = free_pickup_code(tx, body.store_id)?;
            let promised = body.promised_ready_at.unwrap_or(now + 2 * 3600);
            tx.execute(
                &format!("INSERT INTO orders({ORDER_COLS}) VALUES ($1, $2, $3, 'placed', $4, $5, $6, $7, $6, 1)"),
                &[&id, &body.store_id, &body.customer_id, &code, &serde_json::to_string(&lines)?, &now, &promised],
            )?;
            insert_order_event(tx, &id, now, OrderStatus::Placed, "channel", None)?;
            attach(tx, &body.customer_id, body.store_id, Relevance::Order, now)?;
            publish_order(tx, &id)
        })
    }

    fn cancel_order(&self, id: &str, reason: &str, now: i64) -> Result<OrderDetail> {
        if has_nul(id) {
            return Err(HubError::NotFound(format!("order {id} not found")));
        }
        let (id, reason) = (id.to_string(), reason.to_string());
        self.write(move |tx| {
            let current = order_detail(tx, &id)?.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))?;
            if current.order.status.is_final() {
                return Err(HubError::Conflict(format!("order {id} is already {}", current.order.status)));
            }
            tx.execute("UPDATE orders SET status = 'cancelled', updated_at = $2, version = version + 1 WHERE id = $1", &[&id, &now])?;
            insert_order_event(tx, &id, now, OrderStatus::Cancelled, "channel", Some(&reason))?;
            publish_order(tx, &id)
        })
    }

    fn order(&self, id: &str) -> Result<Option<OrderDetail>> {
        if has_nul(id) {
            return Ok(None);
        }
        let id = id.to_string();
        self.read(move |t| order_detail(t, &id))
    }

    fn staff_exists(&self, id: &str) -> Result<bool> {
        if has_nul(id) {
            return Ok(false);
        }
        let id = id.to_string();
        self.read(move |t| exists(t, "SELECT 1 FROM staff WHERE id = $1", &[&id]))
    }

    fn device_last_seq(&self, device_id: &str) -> Result<i64> {
        if has_nul(device_id) {
            return Ok(0);
        }
        let device_id = device_id.to_string();
        self.read(move |t| {
            Ok(t.query_opt("SELECT last_seq FROM devices WHERE id = $1", &[&device_id])?.map(|r| r.get(0)).unwrap_or(0))
        })
    }

    fn push_op(&self, device: &Device, op: &Op, outbox_len: u64, now: i64, hub_key: &VerifyingKey) -> Result<OpOutcome> {
        let (device, op, key) = (device.clone(), without_nul(op), *hub_key);
        self.write(move |tx| push_one(tx, &device, &op, outbox_len, now, &key))
    }

    fn conflicts(&self, store_id: Option<i64>) -> Result<Vec<ConflictRecord>> {
        self.read(move |t| {
            let rows = t.query(
                "SELECT op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at FROM conflicts
                 WHERE $1::BIGINT IS NULL OR store_id = $1 ORDER BY at, op_id",
                &[&store_id],
            )?;
            let mut out = Vec::new();
            for r in rows {
                let body: String = r.get(4);
                let facts: Option<String> = r.get(8);
                out.push(ConflictRecord {
                    op_id: r.get(0),
                    device_id: r.get(1),
                    store_id: r.get(2),
                    name: r.get(3),
                    op: serde_json::from_str(&body)?,
                    kiosk_time: r.get(5),
                    code: r.get(6),
                    message: r.get(7),
                    hub_facts: facts.map(|f| serde_json::from_str(&f)).transpose()?,
                    at: r.get(9),
                });
            }
            Ok(out)
        })
    }

    fn erase_customer(&self, id: &str, now: i64) -> Result<()> {
        if has_nul(id) {
            return Err(HubError::NotFound(format!("customer {id} not found")));
        }
        let id = id.to_string();
        self.write(move |tx| {
            if customer_record(tx, &id)?.is_none() {
                return Err(HubError::NotFound(format!("customer {id} not found")));
            }
            let stores = stores_of_customer(tx, &id)?;
            let orders: Vec<String> =
                tx.query("SELECT id FROM orders WHERE customer_id = $1", &[&id])?.iter().map(|r| r.get(0)).collect();
            for sql in [
                "DELETE FROM customers WHERE id = $1",
                "DELETE FROM loyalty_cards WHERE customer_id = $1",
                "DELETE FROM carts WHERE customer_id = $1",
                "DELETE FROM loyalty_ledger WHERE customer_id = $1",
                "DELETE FROM customer_stores WHERE customer_id = $1",
                "UPDATE visits SET customer_id = NULL WHERE customer_id = $1",
                "UPDATE feedback SET customer_id = NULL WHERE customer_id = $1",
                "UPDATE orders SET customer_id = 'erased', updated_at = updated_at, version = version + 1 WHERE customer_id = $1",
                "DELETE FROM feed WHERE entity_key IN ('customer:' || $1::TEXT, 'cart:' || $1::TEXT)",
            ] {
                tx.execute(sql, &[&id])?;
            }
            for store in stores {
                tx.feed(&store_scope(store), &format!("customer:{id}"), &Change::CustomerRemoved { id: id.clone() })?;
            }
            for order in orders {
                publish_order(tx, &order)?;
            }
            let _ = now;
            Ok(())
        })
    }

    fn expire_no_shows(&self, ready_before: i64, now: i64) -> Result<Vec<String>> {
        self.write(move |tx| {
            let ids: Vec<String> = tx
                .query("SELECT id FROM orders WHERE status = 'ready' AND promised_ready_at < $1 ORDER BY id", &[&ready_before])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for id in &ids {
                tx.next_txid()?;
                tx.execute("UPDATE orders SET status = 'expired', updated_at = $2, version = version + 1 WHERE id = $1", &[id, &now])?;
                insert_order_event(tx, id, now, OrderStatus::Expired, "hub", Some("not collected in time"))?;
                publish_order(tx, id)?;
            }
            Ok(ids)
        })
    }
}
