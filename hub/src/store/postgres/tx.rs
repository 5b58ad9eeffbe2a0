//! The statements of one PostgreSQL transaction.

use omnikiosk_protocol::till::PointsRule;
use omnikiosk_protocol::wire::{
    ConflictRecord, DeviceHealth, LoyaltyRules, OrderRecord, OrderStatus, PinState, ProductRecord, StaffRecord, StockRecord, StoreRecord,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use postgres::types::ToSql;
use postgres::{Row, Statement, Transaction};

use crate::error::{HubError, StorageError};
use crate::store::reads::staff_record;
use crate::store::{
    ConflictRow, CustomerRow, Device, EventRow, FeedRow, HelpFilter, HelpRow, HubTx, LedgerEntry, LoggedOp, OrderFilter, OrderRow, ReceiptFilter,
    LookupRow, ReadAhead, ReceiptRow, Relevance, Savepoint, ShiftFilter, ShiftRow, Stored, TimelineRow, Touchpoint, TouchpointKind,
};
use super::ahead::{self, Ahead, Behind};
use crate::store::sql::{receipts_where, shifts_where, INSERT_LOYALTY_RULE, LOOKUPS_AFTER, LOOKUP_COLS, LOYALTY_RULES, POINTS_GIVEN_SINCE, RECEIPT_COLS, RENEW_LOOKUP, SHIFT_COLS, STAFF_COLS, STALE_LOOKUPS};

type Args<'a> = &'a [&'a (dyn ToSql + Sync)];

const ORDER_COLS: &str = "id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version";
const HELP_COLS: &str = "id, store_id, device_id, customer_id, raised_at, taken_by, taken_at, done_by, done_at";

/// The statements prepared on one connection, by their SQL text: each is parsed and
/// planned once per connection instead of at every call. The set is bounded: every
/// statement's text is a constant or built from a fixed list (table and column names).
pub type Prepared = HashMap<String, Statement>;

/// Key of the advisory lock over the whole feed: every writer of a store's scope takes it
/// shared while it numbers its rows; a writer of `global` (or of every scope) takes it
/// alone.
const FEED_LOCK: i64 = 0x4f4b_4645_4544; // "OKFEED"
/// The scope every kiosk reads besides its store's.
const GLOBAL: &str = "global";
/// Feed rows a transaction holds back until its commit; one that writes more (the seed, a
/// mass expiry) takes the whole feed for itself and numbers its rows as they come.
const MAX_HELD_ROWS: usize = 1000;

/// A feed row written but not yet numbered.
struct HeldRow {
    scope: String,
    key: String,
    txid: i64,
    body: String,
}

pub struct PgTx<'a> {
    t: Transaction<'a>,
    /// The connection's prepared statements (they outlive the transaction).
    prepared: &'a mut Prepared,
    /// Whether this transaction may write to the feed at all.
    feed_writer: bool,
    /// Feed rows in write order, numbered at commit under the locks of their scopes.
    held: Vec<HeldRow>,
    /// Holds the whole feed alone: its rows are numbered as they are written.
    whole_feed: bool,
    /// The newest seq numbered in each scope: the scope's new head at commit.
    heads: BTreeMap<String, i64>,
    /// The feed transaction this transaction's feed rows are stamped with, taken when the
    /// first row is written.
    txid: Option<i64>,
    /// Runs beside other stores' writers (`TxKind::StoreFeed`): holds each customer it
    /// touches from the first read.
    beside_others: bool,
    /// The customers held so far.
    held_customers: HashSet<String>,
    /// PostgreSQL rolled the transaction back to break a deadlock: the caller asks again.
    retry: bool,
    /// What the current catalogue batch read ahead ([`HubTx::read_ahead`]).
    ahead: Option<Ahead>,
    /// That batch's writes, held back until the next statement.
    behind: Behind,
}

/// First key of the two-key advisory lock a store's writer holds on a customer (the
/// second is a hash of the customer's id; a collision only makes two writers wait).
const CUSTOMER_LOCK: i32 = 0x4f4b_4355; // "OKCU"

/// PostgreSQL text cannot hold NUL (SQLite's can); no stored key has one, so a lookup by
/// such a key finds nothing instead of failing the transaction.
pub(super) fn storable(key: &str) -> bool {
    !key.contains('\0')
}

impl<'a> PgTx<'a> {
    /// Takes no lock: a feed writer's scopes are locked at commit, when it is known which
    /// they are.
    pub fn begin(t: Transaction<'a>, prepared: &'a mut Prepared, feed_writer: bool, beside_others: bool) -> PgTx<'a> {
        PgTx {
            t,
            prepared,
            feed_writer,
            held: Vec::new(),
            whole_feed: false,
            heads: BTreeMap::new(),
            txid: None,
            beside_others,
            held_customers: HashSet::new(),
            retry: false,
            ahead: None,
            behind: Behind::default(),
        }
    }

    /// Whether the transaction failed only because PostgreSQL broke a deadlock with it
    /// (or a serialisation failure): nothing was written, and the same request asked again
    /// succeeds.
    pub fn must_retry(&self) -> bool {
        self.retry
    }

    /// Holds `customer_id` to commit, once, before its rows are read or written — in a
    /// transaction that runs beside other stores' writers; any other feed writer runs
    /// alone already. Two such writers may each hold a customer the other wants:
    /// PostgreSQL then rolls one back ([`PgTx::must_retry`]).
    fn hold_customer(&mut self, customer_id: &str) -> Stored<()> {
        if self.beside_others && !self.held_customers.contains(customer_id) {
            self.run("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&CUSTOMER_LOCK, &customer_id])?;
            self.held_customers.insert(customer_id.to_string());
        }
        Ok(())
    }

    /// A database error, noted when it is one that asking again resolves.
    fn failed(&mut self, e: postgres::Error) -> StorageError {
        use postgres::error::SqlState;
        if matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE) {
            self.retry = true;
        }
        e.into()
    }

    /// Commits. Held feed rows are numbered first, under the shared whole-feed lock and
    /// the row locks of their scopes' heads, taken in scope order so two writers never
    /// wait on each other in a cycle; each scope that moved gets its new head and is
    /// announced, with that head, to every hub process.
    pub fn commit(mut self, channel: &str) -> Result<(), HubError> {
        if let Err(e) = self.write_behind().and_then(|()| self.number_and_announce(channel)) {
            return Err(if self.retry { HubError::Overloaded(1) } else { e.into() });
        }
        Ok(self.t.commit().map_err(StorageError::from)?)
    }

    fn number_and_announce(&mut self, channel: &str) -> Stored<()> {
        if !self.held.is_empty() {
            self.run("SELECT pg_advisory_xact_lock_shared($1)", &[&FEED_LOCK])?;
            let scopes: BTreeSet<String> = self.held.iter().map(|r| r.scope.clone()).collect();
            for scope in &scopes {
                self.run("INSERT INTO feed_heads(scope, seq) VALUES ($1, 0) ON CONFLICT (scope) DO UPDATE SET seq = feed_heads.seq", &[scope])?;
            }
            self.number_held()?;
        }
        if !self.heads.is_empty() {
            let (scopes, seqs): (Vec<String>, Vec<i64>) = std::mem::take(&mut self.heads).into_iter().unzip();
            self.run(
                "INSERT INTO feed_heads(scope, seq) SELECT * FROM unnest($1::TEXT[], $2::BIGINT[])
                 ON CONFLICT (scope) DO UPDATE SET seq = excluded.seq",
                &[&scopes, &seqs],
            )?;
            self.run("SELECT pg_notify($1, s || ' ' || q) FROM unnest($2::TEXT[], $3::BIGINT[]) AS u(s, q)", &[&channel, &scopes, &seqs])?;
        }
        Ok(())
    }

    /// From here on the transaction holds the whole feed alone: every other writer's
    /// numbering waits for its commit (and it waits for theirs to end).
    fn take_whole_feed(&mut self) -> Stored<()> {
        if !self.whole_feed {
            self.run("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
            self.whole_feed = true;
            self.number_held()?;
        }
        Ok(())
    }

    /// Writes the held feed rows with the next seqs, in the order they were written, each
    /// replacing its entity's older row. Only under the locks of their scopes (or of the
    /// whole feed): seqs of a scope follow commit order.
    fn number_held(&mut self) -> Stored<()> {
        let held = std::mem::take(&mut self.held);
        if held.is_empty() {
            return Ok(());
        }
        let count = held.len() as i64;
        let mut seqs: Vec<i64> = self.all("SELECT nextval('feed_seq') FROM generate_series(1, $1::BIGINT)", &[&count])?.iter().map(|r| r.get(0)).collect();
        seqs.sort_unstable();
        let (mut scopes, mut keys, mut txids, mut bodies) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (r, seq) in held.into_iter().zip(&seqs) {
            self.heads.insert(r.scope.clone(), *seq);
            scopes.push(r.scope);
            keys.push(r.key);
            txids.push(r.txid);
            bodies.push(r.body);
        }
        // Held rows are one per entity: no two rows of the statement meet in ON CONFLICT.
        self.run(
            "INSERT INTO feed(seq, scope, entity_key, txid, body) SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[])
             ON CONFLICT (scope, entity_key) DO UPDATE SET seq = excluded.seq, txid = excluded.txid, body = excluded.body",
            &[&seqs, &scopes, &keys, &txids, &bodies],
        )?;
        Ok(())
    }

    /// Writes what the catalogue batch held back ([`ahead::write`]): before any statement
    /// that might read it, and at commit.
    fn write_behind(&mut self) -> Stored<()> {
        if self.behind.is_empty() {
            return Ok(());
        }
        let behind = std::mem::take(&mut self.behind);
        ahead::write(self, behind)
    }

    /// Forgets what was read ahead: a write of those tables that does not keep it true.
    fn forget_ahead(&mut self) {
        self.ahead = None;
    }

    /// `sql` prepared on this connection: at its first use only.
    fn statement(&mut self, sql: &str) -> Stored<Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.t.prepare(sql).map_err(|e| self.failed(e))?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(super) fn run(&mut self, sql: &str, args: Args<'_>) -> Stored<u64> {
        self.write_behind()?;
        let s = self.statement(sql)?;
        let r = self.t.execute(&s, args);
        r.map_err(|e| self.failed(e))
    }

    pub(super) fn one(&mut self, sql: &str, args: Args<'_>) -> Stored<Option<Row>> {
        self.write_behind()?;
        let s = self.statement(sql)?;
        let r = self.t.query_opt(&s, args);
        r.map_err(|e| self.failed(e))
    }

    pub(super) fn all(&mut self, sql: &str, args: Args<'_>) -> Stored<Vec<Row>> {
        self.write_behind()?;
        let s = self.statement(sql)?;
        let r = self.t.query(&s, args);
        r.map_err(|e| self.failed(e))
    }

    fn number(&mut self, sql: &str, args: Args<'_>) -> Stored<i64> {
        self.write_behind()?;
        let s = self.statement(sql)?;
        let r = self.t.query_one(&s, args);
        Ok(r.map_err(|e| self.failed(e))?.get(0))
    }

    /// Badge holders matching `filter` (what follows `WHERE`).
    fn staff_where(&mut self, filter: &str, args: Args<'_>) -> Stored<Vec<StaffRecord>> {
        let rows = self.all(&format!("SELECT {STAFF_COLS} FROM staff WHERE {filter}"), args)?;
        rows.iter().map(|r| staff_record((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7)))).collect()
    }

    fn text(&mut self, sql: &str, key: &str) -> Stored<Option<String>> {
        if !storable(key) {
            return Ok(None);
        }
        Ok(self.one(sql, &[&key])?.map(|r| r.get(0)))
    }
}

fn help_row(r: &Row) -> HelpRow {
    HelpRow {
        id: r.get(0),
        store_id: r.get(1),
        device_id: r.get(2),
        customer_id: r.get(3),
        raised_at: r.get(4),
        taken_by: r.get(5),
        taken_at: r.get(6),
        done_by: r.get(7),
        done_at: r.get(8),
    }
}

fn receipt_row(r: &Row) -> ReceiptRow {
    ReceiptRow {
        position: r.get(0),
        number: r.get(1),
        store_id: r.get(2),
        device_id: r.get(3),
        seq: r.get(4),
        op_id: r.get(5),
        kind: r.get(6),
        customer_id: r.get(7),
        total_cents: r.get(8),
        at: r.get(9),
        hash: r.get(10),
        body: r.get(11),
        origin: r.get(12),
    }
}

fn shift_row(r: &Row) -> ShiftRow {
    ShiftRow {
        position: r.get(0),
        store_id: r.get(1),
        device_id: r.get(2),
        z_number: r.get(3),
        op_id: r.get(4),
        closed_at: r.get(5),
        body: r.get(6),
    }
}

fn feed_rows(rows: Vec<Row>) -> Vec<FeedRow> {
    rows.iter().map(|r| FeedRow { seq: r.get(0), txid: r.get(1), body: r.get(2) }).collect()
}

impl HubTx for PgTx<'_> {
    fn feed(&mut self, scope: &str, key: &str, body: &str) -> Stored<()> {
        if !self.feed_writer {
            return Err(StorageError("a bookkeeping transaction cannot write to the feed".into()));
        }
        let txid = match self.txid {
            Some(t) => t,
            // A SEQUENCE, not a counter row: a row lock held to commit would serialise
            // every writer again. txids only group rows; they need not follow any order.
            None => {
                let t = match self.ahead.as_mut().and_then(|a| a.txids.pop()) {
                    Some(t) => t,
                    None => self.number("SELECT nextval('feed_txid')", &[])?,
                };
                *self.txid.insert(t)
            }
        };
        if scope == GLOBAL || (!self.whole_feed && self.held.len() >= MAX_HELD_ROWS) {
            self.take_whole_feed()?;
        }
        // The entity's newer row replaces the one written earlier in this transaction.
        self.held.retain(|r| r.scope != scope || r.key != key);
        self.held.push(HeldRow { scope: scope.to_string(), key: key.to_string(), txid, body: body.to_string() });
        if let Some(a) = self.ahead.as_mut() {
            a.feed.insert((scope.to_string(), key.to_string()), Some(body.to_string()));
        }
        // Holding the whole feed, rows are numbered as soon as there are enough to be worth
        // one statement: what is held stays bounded however much the transaction writes.
        if self.whole_feed && self.held.len() >= MAX_HELD_ROWS {
            self.number_held()?;
        }
        Ok(())
    }

    fn new_feed_tx(&mut self) {
        self.txid = None;
    }

    fn next_counter(&mut self, name: &str) -> Stored<i64> {
        let sql = "INSERT INTO counters(name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value";
        self.number(sql, &[&name])
    }

    fn set_counter(&mut self, name: &str, value: i64) -> Stored<()> {
        let sql = "INSERT INTO counters(name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        self.run(sql, &[&name, &value])?;
        Ok(())
    }

    fn feed_after(&mut self, scope: &str, after: i64, limit: i64) -> Stored<Vec<FeedRow>> {
        // Two index-ordered scans merged: cost follows the page, not the feed.
        let rows = self.all(
            "SELECT seq, txid, body FROM (
                (SELECT seq, txid, body FROM feed WHERE scope = 'global' AND seq > $2 ORDER BY seq LIMIT $3)
                UNION ALL
                (SELECT seq, txid, body FROM feed WHERE scope = $1 AND seq > $2 ORDER BY seq LIMIT $3)
             ) page ORDER BY seq LIMIT $3",
            &[&scope, &after, &limit],
        )?;
        Ok(feed_rows(rows))
    }

    fn feed_tx_rest(&mut self, scope: &str, txid: i64, seq: i64) -> Stored<Vec<FeedRow>> {
        let sql = "SELECT seq, txid, body FROM feed WHERE txid = $1 AND seq > $2 AND scope IN ('global', $3) ORDER BY seq";
        Ok(feed_rows(self.all(sql, &[&txid, &seq, &scope])?))
    }

    fn feed_count_after(&mut self, scope: &str, after: i64, cap: i64) -> Stored<i64> {
        self.number("SELECT count(*) FROM (SELECT 1 FROM feed WHERE scope IN ('global', $1) AND seq > $2 LIMIT $3) f", &[&scope, &after, &cap])
    }

    fn feed_head(&mut self) -> Stored<i64> {
        // The heads, not max(seq) of the feed: a head only ever grows, and is exactly the
        // last seq a committed writer numbered in its scope.
        self.number("SELECT coalesce(max(seq), 0) FROM feed_heads", &[])
    }

    fn signing_secret(&mut self, fresh: &[u8; 32]) -> Stored<Vec<u8>> {
        self.run("INSERT INTO hub_key(id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING", &[&&fresh[..]])?;
        let secret = self.one("SELECT secret FROM hub_key WHERE id = 1", &[])?;
        secret.map(|r| r.get(0)).ok_or_else(|| StorageError("no signing key".into()))
    }

    fn store(&mut self, id: i64) -> Stored<Option<StoreRecord>> {
        let row = self.one("SELECT id, name, city, currency, record FROM stores WHERE id = $1", &[&id])?;
        row.map(|r| {
            let older = StoreRecord { id: r.get(0), name: r.get(1), city: r.get(2), currency: r.get(3), ..Default::default() };
            super::super::store_record(older, r.get::<_, Option<&str>>(4))
        })
        .transpose()
    }

    fn store_count(&mut self) -> Stored<i64> {
        self.number("SELECT count(*) FROM stores", &[])
    }

    fn insert_store(&mut self, s: &StoreRecord) -> Stored<()> {
        let sql = "INSERT INTO stores(id, name, city, currency, code, record) VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT(id) DO UPDATE SET name = excluded.name, city = excluded.city, currency = excluded.currency,
                                                 code = excluded.code, record = excluded.record";
        let code = (!s.code.is_empty()).then_some(&s.code);
        let record = serde_json::to_string(s).map_err(StorageError::from)?;
        self.run(sql, &[&s.id, &s.name, &s.city, &s.currency, &code, &record])?;
        Ok(())
    }

    fn insert_product(&mut self, p: &ProductRecord) -> Stored<()> {
        self.forget_ahead();
        let sql = "INSERT INTO products(sku, name, price_cents, category, vat_bp) VALUES ($1, $2, $3, $4, $5)";
        self.run(sql, &[&p.sku, &p.name, &p.price_cents, &p.category, &p.vat_bp])?;
        Ok(())
    }

    fn product_name(&mut self, sku: &str) -> Stored<Option<String>> {
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.products.get(sku)) {
            return Ok(known.as_ref().map(|(name, _)| name.clone()));
        }
        self.text("SELECT name FROM products WHERE sku = $1", sku)
    }

    fn insert_stock(&mut self, s: &StockRecord) -> Stored<()> {
        self.forget_ahead();
        let sql = "INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES ($1, $2, $3, $4)";
        self.run(sql, &[&s.store_id, &s.sku, &s.on_hand, &s.aisle])?;
        Ok(())
    }

    fn stock(&mut self, store_id: i64, sku: &str) -> Stored<Option<StockRecord>> {
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.stock.get(&(store_id, sku.to_string()))) {
            return Ok(known.clone());
        }
        let row = self.one("SELECT store_id, sku, on_hand, aisle FROM stock WHERE store_id = $1 AND sku = $2", &[&store_id, &sku])?;
        Ok(row.map(|r| StockRecord { store_id: r.get(0), sku: r.get(1), on_hand: r.get(2), aisle: r.get(3) }))
    }

    fn add_stock(&mut self, store_id: i64, sku: &str, delta: i64) -> Stored<()> {
        self.forget_ahead();
        let sql = "INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES ($1, $2, $3, '')
                   ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock.on_hand + excluded.on_hand";
        self.run(sql, &[&store_id, &sku, &delta])?;
        Ok(())
    }

    fn insert_staff(&mut self, s: &StaffRecord) -> Stored<()> {
        let sql = format!("INSERT INTO staff({STAFF_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        self.run(&sql, &[&s.id, &s.name, &s.role.as_str(), &s.store_id, &s.pin_salt, &s.pin_hash, &s.till, &s.badge_version])?;
        Ok(())
    }

    fn all_staff(&mut self) -> Stored<Vec<StaffRecord>> {
        self.staff_where("TRUE ORDER BY id", &[])
    }

    fn set_staff_pin(&mut self, staff_id: &str, pin_hash: &str) -> Stored<()> {
        self.run("UPDATE staff SET pin_hash = $2 WHERE id = $1", &[&staff_id, &pin_hash])?;
        Ok(())
    }

    fn staff_name(&mut self, staff_id: &str) -> Stored<Option<String>> {
        self.text("SELECT name FROM staff WHERE id = $1", staff_id)
    }

    fn staff_role(&mut self, staff_id: &str, store_id: i64) -> Stored<Option<(String, bool)>> {
        if !storable(staff_id) {
            return Ok(None);
        }
        Ok(self.one("SELECT role, till FROM staff WHERE id = $1 AND store_id = $2", &[&staff_id, &store_id])?.map(|r| (r.get(0), r.get(1))))
    }

    fn staff_exists(&mut self, staff_id: &str) -> Stored<bool> {
        Ok(self.text("SELECT id FROM staff WHERE id = $1", staff_id)?.is_some())
    }

    fn staff_member(&mut self, staff_id: &str) -> Stored<Option<StaffRecord>> {
        if !storable(staff_id) {
            return Ok(None);
        }
        Ok(self.staff_where("id = $1", &[&staff_id])?.pop())
    }

    fn staff_of_store(&mut self, store_id: i64) -> Stored<Vec<StaffRecord>> {
        self.staff_where("store_id = $1 ORDER BY id", &[&store_id])
    }

    fn update_staff(&mut self, s: &StaffRecord) -> Stored<()> {
        let sql = "UPDATE staff SET name = $2, role = $3, till = $4, pin_hash = $5, badge_version = $6 WHERE id = $1";
        self.run(sql, &[&s.id, &s.name, &s.role.as_str(), &s.till, &s.pin_hash, &s.badge_version])?;
        Ok(())
    }

    fn delete_staff(&mut self, staff_id: &str) -> Stored<()> {
        if storable(staff_id) {
            self.run("DELETE FROM staff WHERE id = $1", &[&staff_id])?;
            self.run("DELETE FROM pin_failures WHERE staff_id = $1", &[&staff_id])?;
        }
        Ok(())
    }

    fn customer(&mut self, id: &str) -> Stored<Option<CustomerRow>> {
        if !storable(id) {
            return Ok(None);
        }
        self.hold_customer(id)?;
        let row = self.one("SELECT first_name, last_name, tier, home_store, language, email FROM customers WHERE id = $1", &[&id])?;
        Ok(row.map(|r| CustomerRow { first_name: r.get(0), last_name: r.get(1), tier: r.get(2), home_store: r.get(3), language: r.get(4), email: r.get(5) }))
    }

    fn put_customer(&mut self, id: &str, c: &CustomerRow, updated_at: i64) -> Stored<()> {
        self.hold_customer(id)?;
        self.run(
            "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, email, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                tier = excluded.tier, home_store = excluded.home_store, language = excluded.language,
                email = excluded.email, updated_at = excluded.updated_at",
            &[&id, &c.first_name, &c.last_name, &c.tier, &c.home_store, &c.language, &c.email, &updated_at],
        )?;
        Ok(())
    }

    fn points(&mut self, id: &str) -> Stored<i64> {
        self.hold_customer(id)?;
        // sum(bigint) is NUMERIC in PostgreSQL.
        self.number("SELECT coalesce(sum(delta), 0)::BIGINT FROM loyalty_ledger WHERE customer_id = $1", &[&id])
    }

    fn add_ledger(&mut self, e: &LedgerEntry<'_>) -> Stored<()> {
        self.hold_customer(e.customer_id)?;
        let sql = "INSERT INTO loyalty_ledger(op_id, customer_id, delta, reason, at, device_id) VALUES ($1, $2, $3, $4, $5, $6)";
        self.run(sql, &[&e.op_id, &e.customer_id, &e.delta, &e.reason, &e.at, &e.device_id])?;
        Ok(())
    }

    fn points_given_since(&mut self, device_id: &str, since: i64) -> Stored<i64> {
        if !storable(device_id) {
            return Ok(0);
        }
        self.number(POINTS_GIVEN_SINCE, &[&device_id, &since])
    }

    fn cards(&mut self, id: &str) -> Stored<Vec<String>> {
        self.hold_customer(id)?;
        Ok(self.all("SELECT card FROM loyalty_cards WHERE customer_id = $1 ORDER BY card", &[&id])?.iter().map(|r| r.get(0)).collect())
    }

    fn card_owner(&mut self, card: &str) -> Stored<Option<String>> {
        self.text("SELECT customer_id FROM loyalty_cards WHERE card = $1", card)
    }

    fn set_cards(&mut self, id: &str, cards: &[String]) -> Stored<()> {
        self.hold_customer(id)?;
        self.run("DELETE FROM loyalty_cards WHERE customer_id = $1", &[&id])?;
        for card in cards {
            self.run("INSERT INTO loyalty_cards(card, customer_id) VALUES ($1, $2)", &[card, &id])?;
        }
        Ok(())
    }

    fn cart(&mut self, id: &str) -> Stored<Option<(String, i64)>> {
        self.hold_customer(id)?;
        Ok(self.one("SELECT lines, updated_at FROM carts WHERE customer_id = $1", &[&id])?.map(|r| (r.get(0), r.get(1))))
    }

    fn put_cart(&mut self, id: &str, lines_json: &str, updated_at: i64) -> Stored<()> {
        self.hold_customer(id)?;
        let sql = "INSERT INTO carts(customer_id, lines, updated_at) VALUES ($1, $2, $3)
                   ON CONFLICT (customer_id) DO UPDATE SET lines = excluded.lines, updated_at = excluded.updated_at";
        self.run(sql, &[&id, &lines_json, &updated_at])?;
        Ok(())
    }

    fn stores_of_customer(&mut self, id: &str) -> Stored<Vec<i64>> {
        self.hold_customer(id)?;
        let rows = self.all("SELECT store_id FROM customer_stores WHERE customer_id = $1 ORDER BY store_id", &[&id])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn attach(&mut self, customer_id: &str, store_id: i64, why: Relevance, since: i64) -> Stored<bool> {
        self.hold_customer(customer_id)?;
        let sql = "INSERT INTO customer_stores(customer_id, store_id, reason, since) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
        Ok(self.run(sql, &[&customer_id, &store_id, &why.as_str(), &since])? > 0)
    }

    fn renew_lookup(&mut self, customer_id: &str, store_id: i64, why: Relevance, since: i64) -> Stored<()> {
        self.hold_customer(customer_id)?;
        if storable(customer_id) {
            self.run(RENEW_LOOKUP, &[&why.as_str(), &since, &customer_id, &store_id])?;
        }
        Ok(())
    }

    fn stale_lookups(&mut self, before: i64) -> Stored<Vec<(String, i64)>> {
        let rows = self.all(STALE_LOOKUPS, &[&before])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn detach(&mut self, customer_id: &str, store_id: i64) -> Stored<()> {
        self.hold_customer(customer_id)?;
        self.run("DELETE FROM customer_stores WHERE customer_id = $1 AND store_id = $2", &[&customer_id, &store_id])?;
        Ok(())
    }

    fn delete_rows(&mut self, table: &str, column: &str, key: &str) -> Stored<()> {
        self.run(&format!("DELETE FROM {table} WHERE {column} = $1"), &[&key])?;
        Ok(())
    }

    fn unlink_rows(&mut self, table: &str, column: &str, key: &str, to: Option<&str>, versioned: bool) -> Stored<()> {
        let version = if versioned { ", version = version + 1" } else { "" };
        self.run(&format!("UPDATE {table} SET {column} = $2{version} WHERE {column} = $1"), &[&key, &to])?;
        Ok(())
    }

    fn drop_feed_entities(&mut self, keys: &[String]) -> Stored<()> {
        self.forget_ahead();
        // Rows of any scope: no other writer may be numbering rows meanwhile.
        self.take_whole_feed()?;
        self.run("DELETE FROM feed WHERE entity_key = ANY($1)", &[&keys])?;
        Ok(())
    }

    fn orders(&mut self, filter: OrderFilter<'_>) -> Stored<Vec<OrderRow>> {
        let key = match filter {
            OrderFilter::Id(k) | OrderFilter::Customer(k) | OrderFilter::CustomerAtStore(k, _) => k,
            OrderFilter::ReadyBefore(_) => "",
        };
        if !storable(key) {
            return Ok(Vec::new());
        }
        let (filter, args): (&str, Vec<&(dyn ToSql + Sync)>) = match &filter {
            OrderFilter::Id(id) => ("id = $1", vec![id]),
            OrderFilter::CustomerAtStore(c, s) => ("customer_id = $1 AND store_id = $2", vec![c, s]),
            OrderFilter::Customer(c) => ("customer_id = $1", vec![c]),
            OrderFilter::ReadyBefore(t) => ("status = 'ready' AND promised_ready_at < $1", vec![t]),
        };
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY placed_at, id");
        let rows = self.all(&sql, &args)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8), r.get(9))).collect())
    }

    fn order_events(&mut self, id: &str) -> Stored<Vec<EventRow>> {
        let rows = self.all(r#"SELECT at, status, "by", note FROM order_events WHERE order_id = $1 ORDER BY id"#, &[&id])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    fn insert_order(&mut self, o: &OrderRecord) -> Stored<()> {
        let lines = serde_json::to_string(&o.lines)?;
        self.run(
            &format!("INSERT INTO orders({ORDER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            &[&o.id, &o.store_id, &o.customer_id, &o.status.as_str(), &o.pickup_code, &lines, &o.placed_at, &o.promised_ready_at, &o.updated_at, &o.version],
        )?;
        Ok(())
    }

    fn update_order(&mut self, id: &str, status: OrderStatus, lines_json: &str, now: i64) -> Stored<()> {
        let sql = "UPDATE orders SET status = $2, lines = $3, updated_at = $4, version = version + 1 WHERE id = $1";
        self.run(sql, &[&id, &status.as_str(), &lines_json, &now])?;
        Ok(())
    }

    fn add_order_event(&mut self, order_id: &str, at: i64, status: OrderStatus, by: &str, note: Option<&str>) -> Stored<()> {
        let sql = r#"INSERT INTO order_events(order_id, at, status, "by", note) VALUES ($1, $2, $3, $4, $5)"#;
        self.run(sql, &[&order_id, &at, &status.as_str(), &by, &note])?;
        Ok(())
    }

    fn end_checkins(&mut self, order_id: &str, at: i64) -> Stored<bool> {
        let sql = "UPDATE visits SET ended_at = $2 WHERE order_id = $1 AND kind = 'checkin' AND ended_at IS NULL";
        Ok(self.run(sql, &[&order_id, &at])? > 0)
    }

    fn stale_checkins(&mut self, before: i64) -> Stored<Vec<(String, i64)>> {
        let rows = self.all(
            "SELECT v.order_id, o.store_id FROM visits v JOIN orders o ON o.id = v.order_id
             WHERE v.kind = 'checkin' AND v.ended_at IS NULL AND o.status IN ('placed', 'picking', 'ready')
             GROUP BY v.order_id, o.store_id HAVING max(v.at) < $1 ORDER BY v.order_id COLLATE \"C\"",
            &[&before],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn pickup_code_taken(&mut self, store_id: i64, code: &str) -> Stored<bool> {
        let sql = "SELECT 1 FROM orders WHERE store_id = $1 AND pickup_code = $2 AND status IN ('placed', 'picking', 'ready')";
        Ok(self.one(sql, &[&store_id, &code])?.is_some())
    }

    fn add_device(&mut self, id: &str, store_id: i64, label: &str, token_hash: &str, now: i64) -> Stored<()> {
        let sql = "INSERT INTO devices(id, store_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
        self.run(sql, &[&id, &store_id, &label, &token_hash, &now])?;
        Ok(())
    }

    fn revoke_device(&mut self, id: &str) -> Stored<bool> {
        Ok(storable(id) && self.run("UPDATE devices SET revoked = 1 WHERE id = $1", &[&id])? > 0)
    }

    fn device_by_token_hash(&mut self, token_hash: &str) -> Stored<Option<Device>> {
        if !storable(token_hash) {
            return Ok(None);
        }
        let row = self.one("SELECT id, store_id, revoked FROM devices WHERE token_hash = $1", &[&token_hash])?;
        Ok(row.map(|r| Device { id: r.get(0), store_id: r.get(1), revoked: r.get::<_, i64>(2) != 0 }))
    }

    fn device_seen(&mut self, id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Stored<Option<i64>> {
        let sql = "UPDATE devices SET last_seen_at = $2, protocol_version = $3, last_cursor = coalesce($4, last_cursor) WHERE id = $1
                   RETURNING health_published_at";
        Ok(self.one(sql, &[&id, &at, &i64::from(protocol), &cursor])?.and_then(|r| r.get(0)))
    }

    fn devices(&mut self, id: Option<&str>) -> Stored<Vec<DeviceHealth>> {
        if !id.is_none_or(storable) {
            return Ok(Vec::new());
        }
        let rows = self.all(
            "SELECT d.id, d.store_id, d.label, d.revoked, d.last_seen_at, d.protocol_version, d.outbox_len,
                    CASE WHEN d.last_cursor IS NULL THEN NULL ELSE
                      (SELECT count(*) FROM feed f WHERE f.scope IN ('global', 'store:' || d.store_id) AND f.seq > d.last_cursor)
                    END, d.oldest_unsent_at, d.receipt_key
             FROM devices d WHERE $1::TEXT IS NULL OR d.id = $1 ORDER BY d.store_id, d.id",
            &[&id],
        )?;
        let health = |r: &Row| {
            let mut d = DeviceHealth {
            device_id: r.get(0),
            store_id: r.get(1),
            label: r.get(2),
            revoked: r.get::<_, i64>(3) != 0,
            last_seen_at: r.get(4),
            protocol_version: r.get::<_, Option<i64>>(5).map(|v| v as u32),
            outbox_len: r.get::<_, Option<i64>>(6).map(|v| v as u64),
            cursor_lag: r.get(7),
            oldest_unsent_at: r.get(8),
            receipt_key: None,
            earlier_receipt_keys: Vec::new(),
            };
            d.set_receipt_keys(r.get::<_, Option<String>>(9).as_deref());
            d
        };
        Ok(rows.iter().map(health).collect())
    }

    fn device_published(&mut self, id: &str, at: i64) -> Stored<()> {
        self.run("UPDATE devices SET health_published_at = $2 WHERE id = $1", &[&id, &at])?;
        Ok(())
    }

    fn device_last_seq(&mut self, id: &str) -> Stored<Option<i64>> {
        Ok(self.one("SELECT last_seq FROM devices WHERE id = $1", &[&id])?.map(|r| r.get(0)))
    }

    fn set_device_last_seq(&mut self, id: &str, seq: i64) -> Stored<()> {
        self.run("UPDATE devices SET last_seq = $2 WHERE id = $1", &[&id, &seq])?;
        Ok(())
    }

    fn set_device_outbox(&mut self, id: &str, outbox_len: i64, oldest_unsent_at: Option<i64>, receipt_key: Option<&str>) -> Stored<()> {
        self.run(
            // Every key the device ever signed with, oldest first, up to MAX_RECEIPT_KEYS:
            // its older receipts still open.
            "UPDATE devices SET outbox_len = $2, oldest_unsent_at = $3,
                    receipt_key = CASE WHEN $4::TEXT IS NULL OR strpos(' ' || coalesce(receipt_key, '') || ' ', ' ' || $4 || ' ') > 0
                                         OR length(coalesce(receipt_key, '')) - length(replace(coalesce(receipt_key, ''), ' ', '')) >= $5::BIGINT - 1
                                       THEN receipt_key
                                       ELSE trim(coalesce(receipt_key, '') || ' ' || $4) END
             WHERE id = $1",
            &[&id, &outbox_len, &oldest_unsent_at, &receipt_key, &crate::store::MAX_RECEIPT_KEYS],
        )?;
        Ok(())
    }

    fn op_known(&mut self, op_id: &str) -> Stored<bool> {
        Ok(self.text("SELECT op_id FROM ops WHERE op_id = $1", op_id)?.is_some())
    }

    fn log_op(&mut self, op: &LoggedOp<'_>) -> Stored<()> {
        self.run(
            "INSERT INTO ops(device_id, seq, op_id, name, body, kiosk_time, received_at, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[&op.device_id, &op.seq, &op.op_id, &op.name, &op.body, &op.kiosk_time, &op.received_at, &op.outcome],
        )?;
        Ok(())
    }

    fn add_conflict(&mut self, c: &ConflictRecord) -> Stored<()> {
        let (body, facts) = (c.op.to_string(), c.hub_facts.as_ref().map(|f| f.to_string()));
        self.run(
            "INSERT INTO conflicts(op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[&c.op_id, &c.device_id, &c.store_id, &c.name, &body, &c.kiosk_time, &c.code, &c.message, &facts, &c.at],
        )?;
        Ok(())
    }

    fn conflicts(&mut self, store_id: Option<i64>) -> Stored<Vec<ConflictRow>> {
        let rows = self.all(
            "SELECT op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at FROM conflicts
             WHERE $1::BIGINT IS NULL OR store_id = $1 ORDER BY at, op_id",
            &[&store_id],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8), r.get(9))).collect())
    }

    fn add_touchpoint(&mut self, t: &Touchpoint<'_>) -> Stored<()> {
        match (t.kind.visit(), &t.kind) {
            (Some(v), _) => {
                let (receipt, total_cents) = v.receipt.unzip();
                self.run(
                    "INSERT INTO visits(op_id, kind, store_id, customer_id, order_id, sku, receipt, total_cents, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    &[&t.op_id, &v.kind, &t.store_id, &t.customer_id, &v.order_id, &v.sku, &receipt, &total_cents, &t.at],
                )?
            }
            (None, TouchpointKind::Feedback { score, csat }) => self.run(
                "INSERT INTO feedback(op_id, store_id, customer_id, score, csat, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&t.op_id, &t.store_id, &t.customer_id, score, csat, &t.at],
            )?,
            (None, _) => return Err(StorageError("a touchpoint with no table".into())),
        };
        Ok(())
    }

    fn timeline(&mut self, customer_id: &str, before: Option<(i64, &str)>, limit: i64) -> Stored<Vec<TimelineRow>> {
        if !storable(customer_id) || !before.is_none_or(|(_, op_id)| storable(op_id)) {
            return Ok(Vec::new());
        }
        let (at, op_id) = before.unzip();
        // Op ids compare in byte order ("C"), as SQLite compares them.
        let rows = self.all(
            r#"SELECT op_id, at, store_id, kind, order_id, sku, score, csat, receipt, total_cents FROM (
                SELECT op_id, at, store_id, kind, order_id, sku, NULL::BIGINT AS score, NULL::TEXT AS csat, receipt, total_cents
                FROM visits WHERE customer_id = $1
                UNION ALL
                SELECT op_id, at, store_id, 'feedback', NULL, NULL, score, csat, NULL, NULL FROM feedback WHERE customer_id = $1
             ) t WHERE $2::BIGINT IS NULL OR at < $2 OR (at = $2 AND op_id COLLATE "C" < $3::TEXT)
             ORDER BY at DESC, op_id COLLATE "C" DESC LIMIT $4"#,
            &[&customer_id, &at, &op_id, &limit],
        )?;
        Ok(rows
            .iter()
            .map(|r| TimelineRow {
                op_id: r.get(0),
                at: r.get(1),
                store_id: r.get(2),
                kind: r.get(3),
                order_id: r.get(4),
                sku: r.get(5),
                score: r.get(6),
                csat: r.get(7),
                receipt: r.get(8),
                total_cents: r.get(9),
            })
            .collect())
    }

    fn help_requests(&mut self, filter: HelpFilter<'_>) -> Stored<Vec<HelpRow>> {
        let (filter, args): (&str, Vec<&(dyn ToSql + Sync)>) = match &filter {
            HelpFilter::Id(id) | HelpFilter::Customer(id) if !storable(id) => return Ok(Vec::new()),
            HelpFilter::Id(id) => ("id = $1", vec![id]),
            HelpFilter::Customer(c) => ("customer_id = $1", vec![c]),
            HelpFilter::OpenRaisedBefore(t) => ("done_at IS NULL AND raised_at < $1", vec![t]),
        };
        let rows = self.all(&format!(r#"SELECT {HELP_COLS} FROM help_requests WHERE {filter} ORDER BY raised_at, id COLLATE "C""#), &args)?;
        Ok(rows.iter().map(help_row).collect())
    }

    fn put_help_request(&mut self, h: &HelpRow) -> Stored<()> {
        self.run(
            &format!(
                "INSERT INTO help_requests({HELP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, device_id = excluded.device_id,
                    customer_id = excluded.customer_id, raised_at = excluded.raised_at, taken_by = excluded.taken_by,
                    taken_at = excluded.taken_at, done_by = excluded.done_by, done_at = excluded.done_at"
            ),
            &[&h.id, &h.store_id, &h.device_id, &h.customer_id, &h.raised_at, &h.taken_by, &h.taken_at, &h.done_by, &h.done_at],
        )?;
        Ok(())
    }

    fn pin_failures(&mut self, store_id: i64, staff_id: &str) -> Stored<Option<PinState>> {
        let sql = "SELECT failures, locked_until FROM pin_failures WHERE store_id = $1 AND staff_id = $2";
        Ok(self.one(sql, &[&store_id, &staff_id])?.map(|r| PinState { failures: r.get(0), locked_until: r.get(1) }))
    }

    fn put_pin_failures(&mut self, store_id: i64, staff_id: &str, state: &PinState) -> Stored<()> {
        let sql = "INSERT INTO pin_failures(store_id, staff_id, failures, locked_until) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (store_id, staff_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until";
        self.run(sql, &[&store_id, &staff_id, &state.failures, &state.locked_until])?;
        Ok(())
    }

    fn insert_receipt(&mut self, r: &ReceiptRow) -> Stored<()> {
        self.run(
            &format!("INSERT INTO receipts({RECEIPT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"),
            &[&r.position, &r.number, &r.store_id, &r.device_id, &r.seq, &r.op_id, &r.kind, &r.customer_id, &r.total_cents, &r.at, &r.hash, &r.body, &r.origin],
        )?;
        Ok(())
    }

    fn receipts(&mut self, filter: ReceiptFilter<'_>) -> Stored<Vec<ReceiptRow>> {
        let args: Vec<&(dyn ToSql + Sync)> = match &filter {
            ReceiptFilter::Number(k)
            | ReceiptFilter::LastOfDevice(k)
            | ReceiptFilter::Customer(k)
            | ReceiptFilter::Origin(k)
            | ReceiptFilter::DeviceSeq(k, _)
                if !storable(k) =>
            {
                return Ok(Vec::new())
            }
            ReceiptFilter::Number(k) | ReceiptFilter::LastOfDevice(k) | ReceiptFilter::Customer(k) | ReceiptFilter::Origin(k) => vec![k],
            ReceiptFilter::DeviceSeq(device, seq) => vec![device, seq],
            ReceiptFilter::After { store_id, position, limit } => vec![store_id, position, limit],
        };
        let rows = self.all(&format!("SELECT {RECEIPT_COLS} FROM receipts WHERE {}", receipts_where(&filter)), &args)?;
        Ok(rows.iter().map(receipt_row).collect())
    }

    fn set_receipt_body(&mut self, number: &str, body: &str) -> Stored<()> {
        self.run("UPDATE receipts SET body = $2 WHERE number = $1", &[&number, &body])?;
        Ok(())
    }

    fn insert_shift(&mut self, z: &ShiftRow) -> Stored<()> {
        self.run(
            &format!("INSERT INTO shifts({SHIFT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[&z.position, &z.store_id, &z.device_id, &z.z_number, &z.op_id, &z.closed_at, &z.body],
        )?;
        Ok(())
    }

    fn shifts(&mut self, filter: ShiftFilter<'_>) -> Stored<Vec<ShiftRow>> {
        let args: Vec<&(dyn ToSql + Sync)> = match &filter {
            ShiftFilter::DeviceZ(device, _) if !storable(device) => return Ok(Vec::new()),
            ShiftFilter::DeviceZ(device, z) => vec![device, z],
            ShiftFilter::After { store_id, position, limit } => vec![store_id, position, limit],
        };
        let rows = self.all(&format!("SELECT {SHIFT_COLS} FROM shifts WHERE {}", shifts_where(&filter)), &args)?;
        Ok(rows.iter().map(shift_row).collect())
    }

    fn insert_lookup(&mut self, l: &LookupRow) -> Stored<()> {
        self.run(
            &format!("INSERT INTO lookups({LOOKUP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[&l.position, &l.at, &l.store_id, &l.device_id, &l.kind, &l.outcome, &l.customer_id],
        )?;
        Ok(())
    }

    fn lookups(&mut self, store_id: Option<i64>, position: i64, limit: i64) -> Stored<Vec<LookupRow>> {
        let rows = self.all(LOOKUPS_AFTER, &[&store_id, &position, &limit])?;
        Ok(rows
            .iter()
            .map(|r| LookupRow {
                position: r.get(0),
                at: r.get(1),
                store_id: r.get(2),
                device_id: r.get(3),
                kind: r.get(4),
                outcome: r.get(5),
                customer_id: r.get(6),
            })
            .collect())
    }

    fn read_ahead(&mut self, wanted: &ReadAhead) -> Stored<()> {
        let known = if wanted.more { self.ahead.take() } else { None };
        self.ahead = None;
        self.ahead = Some(ahead::read(self, wanted, known.unwrap_or_default())?);
        Ok(())
    }

    fn hold_customers(&mut self, ids: &BTreeSet<String>) -> Stored<()> {
        ids.iter().try_for_each(|id| self.hold_customer(id))
    }

    fn stores(&mut self) -> Stored<Vec<StoreRecord>> {
        let rows = self.all("SELECT id, name, city, currency, record FROM stores ORDER BY id", &[])?;
        rows.iter()
            .map(|r| {
                let older = StoreRecord { id: r.get(0), name: r.get(1), city: r.get(2), currency: r.get(3), ..Default::default() };
                super::super::store_record(older, r.get::<_, Option<&str>>(4))
            })
            .collect()
    }

    fn store_by_code(&mut self, code: &str) -> Stored<Option<i64>> {
        if !storable(code) {
            return Ok(None);
        }
        Ok(self.one("SELECT id FROM stores WHERE code = $1", &[&code])?.map(|r| r.get(0)))
    }

    fn catalogue_entry(&mut self, sku: &str) -> Stored<Option<String>> {
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.products.get(sku)) {
            return Ok(known.as_ref().and_then(|(_, entry)| entry.clone()));
        }
        if !storable(sku) {
            return Ok(None);
        }
        Ok(self.one("SELECT catalogue FROM products WHERE sku = $1", &[&sku])?.and_then(|r| r.get(0)))
    }

    fn put_catalogue_entry(&mut self, sku: &str, name: &str, category: &str, entry_json: &str) -> Stored<()> {
        if let Some(a) = self.ahead.as_mut() {
            a.products.insert(sku.to_string(), Some((name.to_string(), Some(entry_json.to_string()))));
            self.behind.products.insert(sku.to_string(), (name.to_string(), category.to_string(), entry_json.to_string()));
            return Ok(());
        }
        let sql = "INSERT INTO products(sku, name, price_cents, category, vat_bp, catalogue) VALUES ($1, $2, 0, $3, 0, $4)
                   ON CONFLICT (sku) DO UPDATE SET name = excluded.name, category = excluded.category, catalogue = excluded.catalogue";
        self.run(sql, &[&sku, &name, &category, &entry_json])?;
        Ok(())
    }

    fn catalogue_skus(&mut self) -> Stored<Vec<String>> {
        Ok(self.all("SELECT sku FROM products WHERE catalogue IS NOT NULL ORDER BY sku COLLATE \"C\"", &[])?.iter().map(|r| r.get(0)).collect())
    }

    fn gtin_owner(&mut self, gtin: &str) -> Stored<Option<String>> {
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.gtins.get(gtin)) {
            return Ok(known.clone());
        }
        self.text("SELECT sku FROM gtins WHERE gtin = $1", gtin)
    }

    fn set_gtins(&mut self, sku: &str, gtins: &[String]) -> Stored<()> {
        if let Some(a) = self.ahead.as_mut() {
            a.set_gtins(sku, gtins);
            self.behind.gtins.insert(sku.to_string(), gtins.to_vec());
            return Ok(());
        }
        self.run("DELETE FROM gtins WHERE sku = $1", &[&sku])?;
        if !gtins.is_empty() {
            self.run("INSERT INTO gtins(gtin, sku) SELECT g, $2 FROM unnest($1::TEXT[]) AS g", &[&gtins, &sku])?;
        }
        Ok(())
    }

    fn store_price(&mut self, store_id: i64, sku: &str) -> Stored<Option<String>> {
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.store_prices.get(&(store_id, sku.to_string()))) {
            return Ok(known.clone());
        }
        if !storable(sku) {
            return Ok(None);
        }
        Ok(self.one("SELECT price FROM store_prices WHERE store_id = $1 AND sku = $2", &[&store_id, &sku])?.map(|r| r.get(0)))
    }

    fn put_store_price(&mut self, store_id: i64, sku: &str, price_json: &str) -> Stored<()> {
        if let Some(a) = self.ahead.as_mut() {
            a.store_prices.insert((store_id, sku.to_string()), Some(price_json.to_string()));
            self.behind.store_prices.insert((store_id, sku.to_string()), price_json.to_string());
            return Ok(());
        }
        let sql = "INSERT INTO store_prices(store_id, sku, price) VALUES ($1, $2, $3)
                   ON CONFLICT (store_id, sku) DO UPDATE SET price = excluded.price";
        self.run(sql, &[&store_id, &sku, &price_json])?;
        Ok(())
    }

    fn list_price(&mut self, list: &str, sku: &str) -> Stored<Option<String>> {
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.list_prices.get(&(list.to_string(), sku.to_string()))) {
            return Ok(known.clone());
        }
        if !storable(list) || !storable(sku) {
            return Ok(None);
        }
        Ok(self.one("SELECT price FROM list_prices WHERE list = $1 AND sku = $2", &[&list, &sku])?.map(|r| r.get(0)))
    }

    fn put_list_price(&mut self, list: &str, sku: &str, price_json: &str) -> Stored<()> {
        if let Some(a) = self.ahead.as_mut() {
            a.list_prices.insert((list.to_string(), sku.to_string()), Some(price_json.to_string()));
        }
        let sql = "INSERT INTO list_prices(list, sku, price) VALUES ($1, $2, $3) ON CONFLICT (list, sku) DO UPDATE SET price = excluded.price";
        self.run(sql, &[&list, &sku, &price_json])?;
        Ok(())
    }

    fn feed_body(&mut self, scope: &str, key: &str) -> Stored<Option<String>> {
        // Rows written by this transaction wait unnumbered until its commit.
        if let Some(held) = self.held.iter().rev().find(|r| r.scope == scope && r.key == key) {
            return Ok(Some(held.body.clone()));
        }
        if let Some(known) = self.ahead.as_ref().and_then(|a| a.feed.get(&(scope.to_string(), key.to_string()))) {
            return Ok(known.clone());
        }
        if !storable(key) {
            return Ok(None);
        }
        Ok(self.one("SELECT body FROM feed WHERE scope = $1 AND entity_key = $2", &[&scope, &key])?.map(|r| r.get(0)))
    }

    fn put_stock(&mut self, store_id: i64, sku: &str, on_hand: i64, aisle: &str) -> Stored<()> {
        if let Some(a) = self.ahead.as_mut() {
            let stock = StockRecord { store_id, sku: sku.to_string(), on_hand, aisle: aisle.to_string() };
            a.stock.insert((store_id, sku.to_string()), Some(stock));
            self.behind.stock.insert((store_id, sku.to_string()), (on_hand, aisle.to_string()));
            return Ok(());
        }
        let sql = "INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = excluded.on_hand, aisle = excluded.aisle";
        self.run(sql, &[&store_id, &sku, &on_hand, &aisle])?;
        Ok(())
    }

    fn stock_adjustment(&mut self, key: &str) -> Stored<Option<(i64, String, i64)>> {
        if !storable(key) {
            return Ok(None);
        }
        Ok(self.one("SELECT store_id, sku, delta FROM stock_adjustments WHERE key = $1", &[&key])?.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    fn record_stock_adjustment(&mut self, key: &str, store_id: i64, sku: &str, delta: i64, at: i64) -> Stored<()> {
        self.run("INSERT INTO stock_adjustments(key, store_id, sku, delta, at) VALUES ($1, $2, $3, $4, $5)", &[&key, &store_id, &sku, &delta, &at])?;
        Ok(())
    }

    fn add_price_change(&mut self, at: i64, sku: &str, store_id: i64) -> Stored<()> {
        self.run("INSERT INTO price_changes(at, sku, store_id) VALUES ($1, $2, $3)", &[&at, &sku, &store_id])?;
        Ok(())
    }

    fn take_price_changes(&mut self, now: i64) -> Stored<Vec<(String, i64)>> {
        let rows = self.all("DELETE FROM price_changes WHERE at <= $1 RETURNING sku, store_id", &[&now])?;
        let due: BTreeSet<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(due.into_iter().collect())
    }

    fn loyalty_rules(&mut self) -> Stored<LoyaltyRules> {
        let rows = self.all(LOYALTY_RULES, &[])?;
        Ok(LoyaltyRules { rules: rows.iter().map(|r| (r.get(0), PointsRule { earn_per_unit: r.get(1), point_value_cents: r.get(2) })).collect() })
    }

    fn set_loyalty_rules(&mut self, rules: &LoyaltyRules) -> Stored<()> {
        self.run("DELETE FROM loyalty_rules", &[])?;
        for (currency, rule) in &rules.rules {
            self.run(INSERT_LOYALTY_RULE, &[currency, &rule.earn_per_unit, &rule.point_value_cents])?;
        }
        Ok(())
    }

    fn savepoint(&mut self, step: Savepoint) -> Stored<()> {
        // What is held back belongs before the savepoint; what was read ahead may be
        // undone by rolling back to it.
        self.write_behind()?;
        self.forget_ahead();
        Ok(self.t.batch_execute(match step {
            Savepoint::Begin => "SAVEPOINT op",
            Savepoint::RollBack => "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op",
            Savepoint::Release => "RELEASE SAVEPOINT op",
        })?)
    }
}
