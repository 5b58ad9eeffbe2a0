//! The statements of one SQLite transaction.

use omnikiosk_protocol::till::PointsRule;
use omnikiosk_protocol::wire::{
    ConflictRecord, DeviceHealth, LoyaltyRules, OrderRecord, OrderStatus, PinState, ProductRecord, StaffRecord, StockRecord, StoreRecord,
};
use rusqlite::{params, Connection, OptionalExtension, Params, Row, Transaction};

use crate::error::StorageError;
use crate::store::reads::staff_record;
use crate::store::{
    ConflictRow, CustomerRow, Device, EventRow, FeedRow, HelpFilter, HelpRow, HubTx, LedgerEntry, LoggedOp, OrderFilter, OrderRow, ReceiptFilter,
    LookupRow, ReceiptRow, Relevance, Savepoint, ShiftFilter, ShiftRow, Stored, TimelineRow, Touchpoint, TouchpointKind,
};
use crate::store::sql::{receipts_where, shifts_where, INSERT_LOYALTY_RULE, LOOKUPS_AFTER, LOOKUP_COLS, LOYALTY_RULES, POINTS_GIVEN_SINCE, RECEIPT_COLS, RENEW_LOOKUP, SHIFT_COLS, STAFF_COLS, STALE_LOOKUPS};

const ORDER_COLS: &str = "id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version";
const HELP_COLS: &str = "id, store_id, device_id, customer_id, raised_at, taken_by, taken_at, done_by, done_at";

pub struct SqliteTx<'a> {
    c: &'a Connection,
    /// The feed transaction this transaction's feed rows are stamped with, taken when the
    /// first row is written.
    txid: Option<i64>,
}

impl<'a> SqliteTx<'a> {
    pub fn new(t: &'a Transaction<'a>) -> SqliteTx<'a> {
        SqliteTx { c: t, txid: None }
    }

    fn run(&self, sql: &str, args: impl Params) -> Stored<usize> {
        Ok(self.c.prepare_cached(sql)?.execute(args)?)
    }

    fn one<T>(&self, sql: &str, args: impl Params, f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>) -> Stored<Option<T>> {
        Ok(self.c.prepare_cached(sql)?.query_row(args, f).optional()?)
    }

    fn all<T>(&self, sql: &str, args: impl Params, f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>) -> Stored<Vec<T>> {
        Ok(self.c.prepare_cached(sql)?.query_map(args, f)?.collect::<rusqlite::Result<Vec<T>>>()?)
    }

    fn any(&self, sql: &str, args: impl Params) -> Stored<bool> {
        Ok(self.c.prepare_cached(sql)?.exists(args)?)
    }

    /// Badge holders matching `filter` (what follows `WHERE`, one parameter).
    fn staff_where(&self, filter: &str, arg: impl rusqlite::ToSql) -> Stored<Vec<StaffRecord>> {
        let rows = self.all(&format!("SELECT {STAFF_COLS} FROM staff WHERE {filter}"), [arg], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?;
        rows.into_iter().map(staff_record).collect()
    }
}

fn help_row(r: &Row<'_>) -> rusqlite::Result<HelpRow> {
    Ok(HelpRow {
        id: r.get(0)?,
        store_id: r.get(1)?,
        device_id: r.get(2)?,
        customer_id: r.get(3)?,
        raised_at: r.get(4)?,
        taken_by: r.get(5)?,
        taken_at: r.get(6)?,
        done_by: r.get(7)?,
        done_at: r.get(8)?,
    })
}

fn receipt_row(r: &Row<'_>) -> rusqlite::Result<ReceiptRow> {
    Ok(ReceiptRow {
        position: r.get(0)?,
        number: r.get(1)?,
        store_id: r.get(2)?,
        device_id: r.get(3)?,
        seq: r.get(4)?,
        op_id: r.get(5)?,
        kind: r.get(6)?,
        customer_id: r.get(7)?,
        total_cents: r.get(8)?,
        at: r.get(9)?,
        hash: r.get(10)?,
        body: r.get(11)?,
        origin: r.get(12)?,
    })
}

fn shift_row(r: &Row<'_>) -> rusqlite::Result<ShiftRow> {
    Ok(ShiftRow {
        position: r.get(0)?,
        store_id: r.get(1)?,
        device_id: r.get(2)?,
        z_number: r.get(3)?,
        op_id: r.get(4)?,
        closed_at: r.get(5)?,
        body: r.get(6)?,
    })
}

fn feed_row(r: &Row<'_>) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow { seq: r.get(0)?, txid: r.get(1)?, body: r.get(2)? })
}

impl HubTx for SqliteTx<'_> {
    fn feed(&mut self, scope: &str, key: &str, body: &str) -> Stored<()> {
        let txid = match self.txid {
            Some(t) => t,
            None => {
                let t = self.next_counter("txid")?;
                *self.txid.insert(t)
            }
        };
        // One row per (scope, entity), moved to a new seq on every write.
        self.run("INSERT OR REPLACE INTO feed(scope, entity_key, txid, body) VALUES (?1, ?2, ?3, ?4)", params![scope, key, txid, body])?;
        Ok(())
    }

    fn new_feed_tx(&mut self) {
        self.txid = None;
    }

    fn next_counter(&mut self, name: &str) -> Stored<i64> {
        let sql = "INSERT INTO counters(name, value) VALUES (?1, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value";
        Ok(self.one(sql, [name], |r| r.get(0))?.unwrap_or(0))
    }

    fn set_counter(&mut self, name: &str, value: i64) -> Stored<()> {
        self.run("INSERT OR REPLACE INTO counters(name, value) VALUES (?1, ?2)", params![name, value])?;
        Ok(())
    }

    fn feed_after(&mut self, scope: &str, after: i64, limit: i64) -> Stored<Vec<FeedRow>> {
        // Two index-ordered scans merged as they are read, stopping at the limit: cost
        // follows the page, not the feed. (As subqueries each sorted its up to `limit`
        // rows, bodies and all, into a temporary B-tree before the merge.)
        self.all(
            "SELECT seq, txid, body FROM feed WHERE scope = 'global' AND seq > ?2
             UNION ALL
             SELECT seq, txid, body FROM feed WHERE scope = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
            params![scope, after, limit],
            feed_row,
        )
    }

    fn feed_tx_rest(&mut self, scope: &str, txid: i64, seq: i64) -> Stored<Vec<FeedRow>> {
        let sql = "SELECT seq, txid, body FROM feed WHERE txid = ?1 AND seq > ?2 AND scope IN ('global', ?3) ORDER BY seq";
        self.all(sql, params![txid, seq, scope], feed_row)
    }

    fn feed_count_after(&mut self, scope: &str, after: i64, cap: i64) -> Stored<i64> {
        let sql = "SELECT count(*) FROM (SELECT 1 FROM feed WHERE scope IN ('global', ?1) AND seq > ?2 LIMIT ?3)";
        Ok(self.one(sql, params![scope, after, cap], |r| r.get(0))?.unwrap_or(0))
    }

    fn feed_head(&mut self) -> Stored<i64> {
        Ok(self.one("SELECT coalesce(max(seq), 0) FROM feed", [], |r| r.get(0))?.unwrap_or(0))
    }

    fn signing_secret(&mut self, fresh: &[u8; 32]) -> Stored<Vec<u8>> {
        self.run("INSERT OR IGNORE INTO hub_key(id, secret) VALUES (1, ?1)", [&fresh[..]])?;
        self.one("SELECT secret FROM hub_key WHERE id = 1", [], |r| r.get(0))?.ok_or_else(|| StorageError("no signing key".into()))
    }

    fn store(&mut self, id: i64) -> Stored<Option<StoreRecord>> {
        let row = self.one("SELECT id, name, city, currency, record FROM stores WHERE id = ?1", [id], |r| {
            Ok((StoreRecord { id: r.get(0)?, name: r.get(1)?, city: r.get(2)?, currency: r.get(3)?, ..Default::default() }, r.get::<_, Option<String>>(4)?))
        })?;
        row.map(|(older, record)| super::super::store_record(older, record.as_deref())).transpose()
    }

    fn store_count(&mut self) -> Stored<i64> {
        Ok(self.one("SELECT count(*) FROM stores", [], |r| r.get(0))?.unwrap_or(0))
    }

    fn insert_store(&mut self, s: &StoreRecord) -> Stored<()> {
        let sql = "INSERT INTO stores(id, name, city, currency, code, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                   ON CONFLICT(id) DO UPDATE SET name = excluded.name, city = excluded.city, currency = excluded.currency,
                                                 code = excluded.code, record = excluded.record";
        let code = (!s.code.is_empty()).then_some(&s.code);
        self.run(sql, params![s.id, s.name, s.city, s.currency, code, serde_json::to_string(s).map_err(StorageError::from)?])?;
        Ok(())
    }

    fn insert_product(&mut self, p: &ProductRecord) -> Stored<()> {
        let sql = "INSERT INTO products(sku, name, price_cents, category, vat_bp) VALUES (?1, ?2, ?3, ?4, ?5)";
        self.run(sql, params![p.sku, p.name, p.price_cents, p.category, p.vat_bp])?;
        Ok(())
    }

    fn product_name(&mut self, sku: &str) -> Stored<Option<String>> {
        self.one("SELECT name FROM products WHERE sku = ?1", [sku], |r| r.get(0))
    }

    fn insert_stock(&mut self, s: &StockRecord) -> Stored<()> {
        let sql = "INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES (?1, ?2, ?3, ?4)";
        self.run(sql, params![s.store_id, s.sku, s.on_hand, s.aisle])?;
        Ok(())
    }

    fn stock(&mut self, store_id: i64, sku: &str) -> Stored<Option<StockRecord>> {
        self.one("SELECT store_id, sku, on_hand, aisle FROM stock WHERE store_id = ?1 AND sku = ?2", params![store_id, sku], |r| {
            Ok(StockRecord { store_id: r.get(0)?, sku: r.get(1)?, on_hand: r.get(2)?, aisle: r.get(3)? })
        })
    }

    fn add_stock(&mut self, store_id: i64, sku: &str, delta: i64) -> Stored<()> {
        let sql = "INSERT INTO stock(store_id, sku, on_hand, aisle) VALUES (?1, ?2, ?3, '')
                   ON CONFLICT(store_id, sku) DO UPDATE SET on_hand = on_hand + excluded.on_hand";
        self.run(sql, params![store_id, sku, delta])?;
        Ok(())
    }

    fn insert_staff(&mut self, s: &StaffRecord) -> Stored<()> {
        let sql = format!("INSERT INTO staff({STAFF_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        self.run(&sql, params![s.id, s.name, s.role.as_str(), s.store_id, s.pin_salt, s.pin_hash, s.till, s.badge_version])?;
        Ok(())
    }

    fn all_staff(&mut self) -> Stored<Vec<StaffRecord>> {
        self.staff_where("1 = ?1 ORDER BY id", 1)
    }

    fn set_staff_pin(&mut self, staff_id: &str, pin_hash: &str) -> Stored<()> {
        self.run("UPDATE staff SET pin_hash = ?2 WHERE id = ?1", params![staff_id, pin_hash])?;
        Ok(())
    }

    fn staff_name(&mut self, staff_id: &str) -> Stored<Option<String>> {
        self.one("SELECT name FROM staff WHERE id = ?1", [staff_id], |r| r.get(0))
    }

    fn staff_role(&mut self, staff_id: &str, store_id: i64) -> Stored<Option<(String, bool)>> {
        self.one("SELECT role, till FROM staff WHERE id = ?1 AND store_id = ?2", params![staff_id, store_id], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    fn staff_exists(&mut self, staff_id: &str) -> Stored<bool> {
        self.any("SELECT 1 FROM staff WHERE id = ?1", [staff_id])
    }

    fn staff_member(&mut self, staff_id: &str) -> Stored<Option<StaffRecord>> {
        Ok(self.staff_where("id = ?1", staff_id)?.pop())
    }

    fn staff_of_store(&mut self, store_id: i64) -> Stored<Vec<StaffRecord>> {
        self.staff_where("store_id = ?1 ORDER BY id", store_id)
    }

    fn update_staff(&mut self, s: &StaffRecord) -> Stored<()> {
        let sql = "UPDATE staff SET name = ?2, role = ?3, till = ?4, pin_hash = ?5, badge_version = ?6 WHERE id = ?1";
        self.run(sql, params![s.id, s.name, s.role.as_str(), s.till, s.pin_hash, s.badge_version])?;
        Ok(())
    }

    fn delete_staff(&mut self, staff_id: &str) -> Stored<()> {
        self.run("DELETE FROM staff WHERE id = ?1", [staff_id])?;
        self.run("DELETE FROM pin_failures WHERE staff_id = ?1", [staff_id])?;
        Ok(())
    }

    fn customer(&mut self, id: &str) -> Stored<Option<CustomerRow>> {
        let sql = "SELECT first_name, last_name, tier, home_store, language, email FROM customers WHERE id = ?1";
        let row = self.one(sql, [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?;
        Ok(row.map(|(first_name, last_name, tier, home_store, language, email)| CustomerRow { first_name, last_name, tier, home_store, language, email }))
    }

    fn put_customer(&mut self, id: &str, c: &CustomerRow, updated_at: i64) -> Stored<()> {
        self.run(
            "INSERT INTO customers(id, first_name, last_name, tier, home_store, language, email, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                tier = excluded.tier, home_store = excluded.home_store, language = excluded.language,
                email = excluded.email, updated_at = excluded.updated_at",
            params![id, c.first_name, c.last_name, c.tier, c.home_store, c.language, c.email, updated_at],
        )?;
        Ok(())
    }

    fn points(&mut self, id: &str) -> Stored<i64> {
        Ok(self.one("SELECT coalesce(sum(delta), 0) FROM loyalty_ledger WHERE customer_id = ?1", [id], |r| r.get(0))?.unwrap_or(0))
    }

    fn add_ledger(&mut self, e: &LedgerEntry<'_>) -> Stored<()> {
        let sql = "INSERT INTO loyalty_ledger(op_id, customer_id, delta, reason, at, device_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        self.run(sql, params![e.op_id, e.customer_id, e.delta, e.reason, e.at, e.device_id])?;
        Ok(())
    }

    fn points_given_since(&mut self, device_id: &str, since: i64) -> Stored<i64> {
        Ok(self.one(POINTS_GIVEN_SINCE, params![device_id, since], |r| r.get(0))?.unwrap_or(0))
    }

    fn cards(&mut self, id: &str) -> Stored<Vec<String>> {
        self.all("SELECT card FROM loyalty_cards WHERE customer_id = ?1 ORDER BY card", [id], |r| r.get(0))
    }

    fn card_owner(&mut self, card: &str) -> Stored<Option<String>> {
        self.one("SELECT customer_id FROM loyalty_cards WHERE card = ?1", [card], |r| r.get(0))
    }

    fn set_cards(&mut self, id: &str, cards: &[String]) -> Stored<()> {
        self.run("DELETE FROM loyalty_cards WHERE customer_id = ?1", [id])?;
        for card in cards {
            self.run("INSERT INTO loyalty_cards(card, customer_id) VALUES (?1, ?2)", params![card, id])?;
        }
        Ok(())
    }

    fn cart(&mut self, id: &str) -> Stored<Option<(String, i64)>> {
        self.one("SELECT lines, updated_at FROM carts WHERE customer_id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    fn put_cart(&mut self, id: &str, lines_json: &str, updated_at: i64) -> Stored<()> {
        let sql = "INSERT INTO carts(customer_id, lines, updated_at) VALUES (?1, ?2, ?3)
                   ON CONFLICT(customer_id) DO UPDATE SET lines = excluded.lines, updated_at = excluded.updated_at";
        self.run(sql, params![id, lines_json, updated_at])?;
        Ok(())
    }

    fn stores_of_customer(&mut self, id: &str) -> Stored<Vec<i64>> {
        self.all("SELECT store_id FROM customer_stores WHERE customer_id = ?1 ORDER BY store_id", [id], |r| r.get(0))
    }

    fn attach(&mut self, customer_id: &str, store_id: i64, why: Relevance, since: i64) -> Stored<bool> {
        let sql = "INSERT OR IGNORE INTO customer_stores(customer_id, store_id, reason, since) VALUES (?1, ?2, ?3, ?4)";
        Ok(self.run(sql, params![customer_id, store_id, why.as_str(), since])? > 0)
    }

    fn renew_lookup(&mut self, customer_id: &str, store_id: i64, why: Relevance, since: i64) -> Stored<()> {
        self.run(RENEW_LOOKUP, params![why.as_str(), since, customer_id, store_id])?;
        Ok(())
    }

    fn stale_lookups(&mut self, before: i64) -> Stored<Vec<(String, i64)>> {
        self.all(STALE_LOOKUPS, [before], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    fn detach(&mut self, customer_id: &str, store_id: i64) -> Stored<()> {
        self.run("DELETE FROM customer_stores WHERE customer_id = ?1 AND store_id = ?2", params![customer_id, store_id])?;
        Ok(())
    }

    fn delete_rows(&mut self, table: &str, column: &str, key: &str) -> Stored<()> {
        self.run(&format!("DELETE FROM {table} WHERE {column} = ?1"), [key])?;
        Ok(())
    }

    fn unlink_rows(&mut self, table: &str, column: &str, key: &str, to: Option<&str>, versioned: bool) -> Stored<()> {
        let version = if versioned { ", version = version + 1" } else { "" };
        self.run(&format!("UPDATE {table} SET {column} = ?2{version} WHERE {column} = ?1"), params![key, to])?;
        Ok(())
    }

    fn drop_feed_entities(&mut self, keys: &[String]) -> Stored<()> {
        for key in keys {
            self.run("DELETE FROM feed WHERE entity_key = ?1", [key])?;
        }
        Ok(())
    }

    fn orders(&mut self, filter: OrderFilter<'_>) -> Stored<Vec<OrderRow>> {
        let (filter, args): (&str, Vec<&dyn rusqlite::ToSql>) = match &filter {
            OrderFilter::Id(id) => ("id = ?1", vec![id]),
            OrderFilter::CustomerAtStore(c, s) => ("customer_id = ?1 AND store_id = ?2", vec![c, s]),
            OrderFilter::Customer(c) => ("customer_id = ?1", vec![c]),
            OrderFilter::ReadyBefore(t) => ("status = 'ready' AND promised_ready_at < ?1", vec![t]),
        };
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY placed_at, id");
        self.all(&sql, args.as_slice(), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
        })
    }

    fn order_events(&mut self, id: &str) -> Stored<Vec<EventRow>> {
        let sql = "SELECT at, status, by, note FROM order_events WHERE order_id = ?1 ORDER BY rowid";
        self.all(sql, [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
    }

    fn insert_order(&mut self, o: &OrderRecord) -> Stored<()> {
        let lines = serde_json::to_string(&o.lines)?;
        self.run(
            &format!("INSERT INTO orders({ORDER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![o.id, o.store_id, o.customer_id, o.status.as_str(), o.pickup_code, lines, o.placed_at, o.promised_ready_at, o.updated_at, o.version],
        )?;
        Ok(())
    }

    fn update_order(&mut self, id: &str, status: OrderStatus, lines_json: &str, now: i64) -> Stored<()> {
        let sql = "UPDATE orders SET status = ?2, lines = ?3, updated_at = ?4, version = version + 1 WHERE id = ?1";
        self.run(sql, params![id, status.as_str(), lines_json, now])?;
        Ok(())
    }

    fn add_order_event(&mut self, order_id: &str, at: i64, status: OrderStatus, by: &str, note: Option<&str>) -> Stored<()> {
        let sql = "INSERT INTO order_events(order_id, at, status, by, note) VALUES (?1, ?2, ?3, ?4, ?5)";
        self.run(sql, params![order_id, at, status.as_str(), by, note])?;
        Ok(())
    }

    fn end_checkins(&mut self, order_id: &str, at: i64) -> Stored<bool> {
        let sql = "UPDATE visits SET ended_at = ?2 WHERE order_id = ?1 AND kind = 'checkin' AND ended_at IS NULL";
        Ok(self.run(sql, params![order_id, at])? > 0)
    }

    fn stale_checkins(&mut self, before: i64) -> Stored<Vec<(String, i64)>> {
        self.all(
            "SELECT v.order_id, o.store_id FROM visits v JOIN orders o ON o.id = v.order_id
             WHERE v.kind = 'checkin' AND v.ended_at IS NULL AND o.status IN ('placed', 'picking', 'ready')
             GROUP BY v.order_id, o.store_id HAVING max(v.at) < ?1 ORDER BY v.order_id",
            [before],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn pickup_code_taken(&mut self, store_id: i64, code: &str) -> Stored<bool> {
        let sql = "SELECT 1 FROM orders WHERE store_id = ?1 AND pickup_code = ?2 AND status IN ('placed', 'picking', 'ready')";
        self.any(sql, params![store_id, code])
    }

    fn add_device(&mut self, id: &str, store_id: i64, label: &str, token_hash: &str, now: i64) -> Stored<()> {
        let sql = "INSERT INTO devices(id, store_id, label, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
        self.run(sql, params![id, store_id, label, token_hash, now])?;
        Ok(())
    }

    fn revoke_device(&mut self, id: &str) -> Stored<bool> {
        Ok(self.run("UPDATE devices SET revoked = 1 WHERE id = ?1", [id])? > 0)
    }

    fn device_by_token_hash(&mut self, token_hash: &str) -> Stored<Option<Device>> {
        self.one("SELECT id, store_id, revoked FROM devices WHERE token_hash = ?1", [token_hash], |r| {
            Ok(Device { id: r.get(0)?, store_id: r.get(1)?, revoked: r.get(2)? })
        })
    }

    fn device_seen(&mut self, id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Stored<Option<i64>> {
        let sql = "UPDATE devices SET last_seen_at = ?2, protocol_version = ?3, last_cursor = coalesce(?4, last_cursor) WHERE id = ?1
                   RETURNING health_published_at";
        Ok(self.one(sql, params![id, at, protocol, cursor], |r| r.get(0))?.flatten())
    }

    fn devices(&mut self, id: Option<&str>) -> Stored<Vec<DeviceHealth>> {
        self.all(
            "SELECT d.id, d.store_id, d.label, d.revoked, d.last_seen_at, d.protocol_version, d.outbox_len,
                    CASE WHEN d.last_cursor IS NULL THEN NULL ELSE
                      (SELECT count(*) FROM feed f WHERE f.scope IN ('global', 'store:' || d.store_id) AND f.seq > d.last_cursor)
                    END, d.oldest_unsent_at, d.receipt_key
             FROM devices d WHERE ?1 IS NULL OR d.id = ?1 ORDER BY d.store_id, d.id",
            [id],
            |r| {
                let (device_id, store_id, label, revoked, last_seen_at, protocol_version, cursor_lag, oldest_unsent_at) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(7)?, r.get(8)?);
                let outbox_len = r.get::<_, Option<i64>>(6)?.map(|v| v as u64);
                let keys: Option<String> = r.get(9)?;
                let mut d = DeviceHealth { device_id, store_id, label, revoked, last_seen_at, protocol_version, outbox_len, cursor_lag, oldest_unsent_at, receipt_key: None, earlier_receipt_keys: Vec::new() };
                d.set_receipt_keys(keys.as_deref());
                Ok(d)
            },
        )
    }

    fn device_published(&mut self, id: &str, at: i64) -> Stored<()> {
        self.run("UPDATE devices SET health_published_at = ?2 WHERE id = ?1", params![id, at])?;
        Ok(())
    }

    fn device_last_seq(&mut self, id: &str) -> Stored<Option<i64>> {
        self.one("SELECT last_seq FROM devices WHERE id = ?1", [id], |r| r.get(0))
    }

    fn set_device_last_seq(&mut self, id: &str, seq: i64) -> Stored<()> {
        self.run("UPDATE devices SET last_seq = ?2 WHERE id = ?1", params![id, seq])?;
        Ok(())
    }

    fn set_device_outbox(&mut self, id: &str, outbox_len: i64, oldest_unsent_at: Option<i64>, receipt_key: Option<&str>) -> Stored<()> {
        self.run(
            // Every key the device ever signed with, oldest first, up to MAX_RECEIPT_KEYS:
            // its older receipts still open.
            "UPDATE devices SET outbox_len = ?2, oldest_unsent_at = ?3,
                    receipt_key = CASE WHEN ?4 IS NULL OR instr(' ' || coalesce(receipt_key, '') || ' ', ' ' || ?4 || ' ') > 0
                                         OR length(coalesce(receipt_key, '')) - length(replace(coalesce(receipt_key, ''), ' ', '')) >= ?5 - 1
                                       THEN receipt_key
                                       ELSE trim(coalesce(receipt_key, '') || ' ' || ?4) END
             WHERE id = ?1",
            params![id, outbox_len, oldest_unsent_at, receipt_key, crate::store::MAX_RECEIPT_KEYS],
        )?;
        Ok(())
    }

    fn op_known(&mut self, op_id: &str) -> Stored<bool> {
        self.any("SELECT 1 FROM ops WHERE op_id = ?1", [op_id])
    }

    fn log_op(&mut self, op: &LoggedOp<'_>) -> Stored<()> {
        self.run(
            "INSERT INTO ops(device_id, seq, op_id, name, body, kiosk_time, received_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![op.device_id, op.seq, op.op_id, op.name, op.body, op.kiosk_time, op.received_at, op.outcome],
        )?;
        Ok(())
    }

    fn add_conflict(&mut self, c: &ConflictRecord) -> Stored<()> {
        let facts = c.hub_facts.as_ref().map(|f| f.to_string());
        self.run(
            "INSERT OR IGNORE INTO conflicts(op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![c.op_id, c.device_id, c.store_id, c.name, c.op.to_string(), c.kiosk_time, c.code, c.message, facts, c.at],
        )?;
        Ok(())
    }

    fn conflicts(&mut self, store_id: Option<i64>) -> Stored<Vec<ConflictRow>> {
        self.all(
            "SELECT op_id, device_id, store_id, name, body, kiosk_time, code, message, hub_facts, at FROM conflicts
             WHERE ?1 IS NULL OR store_id = ?1 ORDER BY at, op_id",
            [store_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?)),
        )
    }

    fn add_touchpoint(&mut self, t: &Touchpoint<'_>) -> Stored<()> {
        match (t.kind.visit(), &t.kind) {
            (Some(v), _) => {
                let sql = "INSERT OR IGNORE INTO visits(op_id, kind, store_id, customer_id, order_id, sku, receipt, total_cents, at)
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
                let (receipt, total_cents) = v.receipt.unzip();
                self.run(sql, params![t.op_id, v.kind, t.store_id, t.customer_id, v.order_id, v.sku, receipt, total_cents, t.at])?
            }
            (None, TouchpointKind::Feedback { score, csat }) => {
                let sql = "INSERT OR IGNORE INTO feedback(op_id, store_id, customer_id, score, csat, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
                self.run(sql, params![t.op_id, t.store_id, t.customer_id, score, csat, t.at])?
            }
            (None, _) => return Err(StorageError("a touchpoint with no table".into())),
        };
        Ok(())
    }

    fn timeline(&mut self, customer_id: &str, before: Option<(i64, &str)>, limit: i64) -> Stored<Vec<TimelineRow>> {
        let (at, op_id) = before.unzip();
        self.all(
            "SELECT op_id, at, store_id, kind, order_id, sku, score, csat, receipt, total_cents FROM (
                SELECT op_id, at, store_id, kind, order_id, sku, NULL AS score, NULL AS csat, receipt, total_cents FROM visits WHERE customer_id = ?1
                UNION ALL
                SELECT op_id, at, store_id, 'feedback', NULL, NULL, score, csat, NULL, NULL FROM feedback WHERE customer_id = ?1
             ) WHERE ?2 IS NULL OR at < ?2 OR (at = ?2 AND op_id < ?3)
             ORDER BY at DESC, op_id DESC LIMIT ?4",
            params![customer_id, at, op_id, limit],
            |r| {
                Ok(TimelineRow {
                    op_id: r.get(0)?,
                    at: r.get(1)?,
                    store_id: r.get(2)?,
                    kind: r.get(3)?,
                    order_id: r.get(4)?,
                    sku: r.get(5)?,
                    score: r.get(6)?,
                    csat: r.get(7)?,
                    receipt: r.get(8)?,
                    total_cents: r.get(9)?,
                })
            },
        )
    }

    fn help_requests(&mut self, filter: HelpFilter<'_>) -> Stored<Vec<HelpRow>> {
        let (filter, args): (&str, Vec<&dyn rusqlite::ToSql>) = match &filter {
            HelpFilter::Id(id) => ("id = ?1", vec![id]),
            HelpFilter::Customer(c) => ("customer_id = ?1", vec![c]),
            HelpFilter::OpenRaisedBefore(t) => ("done_at IS NULL AND raised_at < ?1", vec![t]),
        };
        self.all(&format!("SELECT {HELP_COLS} FROM help_requests WHERE {filter} ORDER BY raised_at, id"), args.as_slice(), help_row)
    }

    fn put_help_request(&mut self, h: &HelpRow) -> Stored<()> {
        self.run(
            &format!("INSERT OR REPLACE INTO help_requests({HELP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![h.id, h.store_id, h.device_id, h.customer_id, h.raised_at, h.taken_by, h.taken_at, h.done_by, h.done_at],
        )?;
        Ok(())
    }

    fn pin_failures(&mut self, store_id: i64, staff_id: &str) -> Stored<Option<PinState>> {
        let sql = "SELECT failures, locked_until FROM pin_failures WHERE store_id = ?1 AND staff_id = ?2";
        self.one(sql, params![store_id, staff_id], |r| Ok(PinState { failures: r.get(0)?, locked_until: r.get(1)? }))
    }

    fn put_pin_failures(&mut self, store_id: i64, staff_id: &str, state: &PinState) -> Stored<()> {
        let sql = "INSERT OR REPLACE INTO pin_failures(store_id, staff_id, failures, locked_until) VALUES (?1, ?2, ?3, ?4)";
        self.run(sql, params![store_id, staff_id, state.failures, state.locked_until])?;
        Ok(())
    }

    fn insert_receipt(&mut self, r: &ReceiptRow) -> Stored<()> {
        self.run(
            &format!("INSERT INTO receipts({RECEIPT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            params![r.position, r.number, r.store_id, r.device_id, r.seq, r.op_id, r.kind, r.customer_id, r.total_cents, r.at, r.hash, r.body, r.origin],
        )?;
        Ok(())
    }

    fn receipts(&mut self, filter: ReceiptFilter<'_>) -> Stored<Vec<ReceiptRow>> {
        let args: Vec<&dyn rusqlite::ToSql> = match &filter {
            ReceiptFilter::Number(k) | ReceiptFilter::LastOfDevice(k) | ReceiptFilter::Customer(k) | ReceiptFilter::Origin(k) => vec![k],
            ReceiptFilter::DeviceSeq(device, seq) => vec![device, seq],
            ReceiptFilter::After { store_id, position, limit } => vec![store_id, position, limit],
        };
        self.all(&format!("SELECT {RECEIPT_COLS} FROM receipts WHERE {}", receipts_where(&filter)), args.as_slice(), receipt_row)
    }

    fn set_receipt_body(&mut self, number: &str, body: &str) -> Stored<()> {
        self.run("UPDATE receipts SET body = ?2 WHERE number = ?1", params![number, body])?;
        Ok(())
    }

    fn insert_shift(&mut self, z: &ShiftRow) -> Stored<()> {
        self.run(
            &format!("INSERT INTO shifts({SHIFT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![z.position, z.store_id, z.device_id, z.z_number, z.op_id, z.closed_at, z.body],
        )?;
        Ok(())
    }

    fn shifts(&mut self, filter: ShiftFilter<'_>) -> Stored<Vec<ShiftRow>> {
        let args: Vec<&dyn rusqlite::ToSql> = match &filter {
            ShiftFilter::DeviceZ(device, z) => vec![device, z],
            ShiftFilter::After { store_id, position, limit } => vec![store_id, position, limit],
        };
        self.all(&format!("SELECT {SHIFT_COLS} FROM shifts WHERE {}", shifts_where(&filter)), args.as_slice(), shift_row)
    }

    fn insert_lookup(&mut self, l: &LookupRow) -> Stored<()> {
        self.run(
            &format!("INSERT INTO lookups({LOOKUP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![l.position, l.at, l.store_id, l.device_id, l.kind, l.outcome, l.customer_id],
        )?;
        Ok(())
    }

    fn lookups(&mut self, store_id: Option<i64>, position: i64, limit: i64) -> Stored<Vec<LookupRow>> {
        self.all(LOOKUPS_AFTER, params![store_id, position, limit], |r| {
            Ok(LookupRow {
                position: r.get(0)?,
                at: r.get(1)?,
                store_id: r.get(2)?,
                device_id: r.get(3)?,
                kind: r.get(4)?,
                outcome: r.get(5)?,
                customer_id: r.get(6)?,
            })
        })
    }

    fn stores(&mut self) -> Stored<Vec<StoreRecord>> {
        let rows = self.all("SELECT id, name, city, currency, record FROM stores ORDER BY id", [], |r| {
            Ok((StoreRecord { id: r.get(0)?, name: r.get(1)?, city: r.get(2)?, currency: r.get(3)?, ..Default::default() }, r.get::<_, Option<String>>(4)?))
        })?;
        rows.into_iter().map(|(older, record)| super::super::store_record(older, record.as_deref())).collect()
    }

    fn store_by_code(&mut self, code: &str) -> Stored<Option<i64>> {
        self.one("SELECT id FROM stores WHERE code = ?1", [code], |r| r.get(0))
    }

    fn catalogue_entry(&mut self, sku: &str) -> Stored<Option<String>> {
        Ok(self.one("SELECT catalogue FROM products WHERE sku = ?1", [sku], |r| r.get::<_, Option<String>>(0))?.flatten())
    }

    fn put_catalogue_entry(&mut self, sku: &str, name: &str, category: &str, entry_json: &str) -> Stored<()> {
        let sql = "INSERT INTO products(sku, name, price_cents, category, vat_bp, catalogue) VALUES (?1, ?2, 0, ?3, 0, ?4)
                   ON CONFLICT(sku) DO UPDATE SET name = excluded.name, category = excluded.category, catalogue = excluded.catalogue";
        self.run(sql, params![sku, name, category, entry_json])?;
        Ok(())
    }

    fn catalogue_skus(&mut self) -> Stored<Vec<String>> {
        self.all("SELECT sku FROM products WHERE catalogue IS NOT NULL ORDER BY sku", [], |r| r.get(0))
    }

    fn gtin_owner(&mut self, gtin: &str) -> Stored<Option<String>> {
        self.one("SELECT sku FROM gtins WHERE gtin = ?1", [gtin], |r| r.get(0))
    }

    fn set_gtins(&mut self, sku: &str, gtins: &[String]) -> Stored<()> {
        self.run("DELETE FROM gtins WHERE sku = ?1", [sku])?;
        for gtin in gtins {
            self.run("INSERT INTO gtins(gtin, sku) VALUES (?1, ?2)", [gtin, sku])?;
        }
        Ok(())
    }

    fn store_price(&mut self, store_id: i64, sku: &str) -> Stored<Option<String>> {
        self.one("SELECT price FROM store_prices WHERE store_id = ?1 AND sku = ?2", params![store_id, sku], |r| r.get(0))
    }

    fn put_store_price(&mut self, store_id: i64, sku: &str, price_json: &str) -> Stored<()> {
        self.run("INSERT OR REPLACE INTO store_prices(store_id, sku, price) VALUES (?1, ?2, ?3)", params![store_id, sku, price_json])?;
        Ok(())
    }

    fn list_price(&mut self, list: &str, sku: &str) -> Stored<Option<String>> {
        self.one("SELECT price FROM list_prices WHERE list = ?1 AND sku = ?2", [list, sku], |r| r.get(0))
    }

    fn put_list_price(&mut self, list: &str, sku: &str, price_json: &str) -> Stored<()> {
        self.run("INSERT OR REPLACE INTO list_prices(list, sku, price) VALUES (?1, ?2, ?3)", [list, sku, price_json])?;
        Ok(())
    }

    fn feed_body(&mut self, scope: &str, key: &str) -> Stored<Option<String>> {
        self.one("SELECT body FROM feed WHERE scope = ?1 AND entity_key = ?2", [scope, key], |r| r.get(0))
    }

    fn put_stock(&mut self, store_id: i64, sku: &str, on_hand: i64, aisle: &str) -> Stored<()> {
        self.run("INSERT OR REPLACE INTO stock(store_id, sku, on_hand, aisle) VALUES (?1, ?2, ?3, ?4)", params![store_id, sku, on_hand, aisle])?;
        Ok(())
    }

    fn stock_adjustment(&mut self, key: &str) -> Stored<Option<(i64, String, i64)>> {
        self.one("SELECT store_id, sku, delta FROM stock_adjustments WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    }

    fn record_stock_adjustment(&mut self, key: &str, store_id: i64, sku: &str, delta: i64, at: i64) -> Stored<()> {
        self.run("INSERT INTO stock_adjustments(key, store_id, sku, delta, at) VALUES (?1, ?2, ?3, ?4, ?5)", params![key, store_id, sku, delta, at])?;
        Ok(())
    }

    fn add_price_change(&mut self, at: i64, sku: &str, store_id: i64) -> Stored<()> {
        self.run("INSERT INTO price_changes(at, sku, store_id) VALUES (?1, ?2, ?3)", params![at, sku, store_id])?;
        Ok(())
    }

    fn take_price_changes(&mut self, now: i64) -> Stored<Vec<(String, i64)>> {
        let due = self.all("SELECT DISTINCT sku, store_id FROM price_changes WHERE at <= ?1 ORDER BY sku, store_id", [now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        self.run("DELETE FROM price_changes WHERE at <= ?1", [now])?;
        Ok(due)
    }

    fn loyalty_rules(&mut self) -> Stored<LoyaltyRules> {
        let rows = self.all(LOYALTY_RULES, [], |r| Ok((r.get(0)?, PointsRule { earn_per_unit: r.get(1)?, point_value_cents: r.get(2)? })))?;
        Ok(LoyaltyRules { rules: rows.into_iter().collect() })
    }

    fn set_loyalty_rules(&mut self, rules: &LoyaltyRules) -> Stored<()> {
        self.run("DELETE FROM loyalty_rules", [])?;
        for (currency, rule) in &rules.rules {
            self.run(INSERT_LOYALTY_RULE, params![currency, rule.earn_per_unit, rule.point_value_cents])?;
        }
        Ok(())
    }

    fn savepoint(&mut self, step: Savepoint) -> Stored<()> {
        let sql = match step {
            Savepoint::Begin => "SAVEPOINT op",
            Savepoint::RollBack => "ROLLBACK TO op; RELEASE op",
            Savepoint::Release => "RELEASE op",
        };
        Ok(self.c.execute_batch(sql)?)
    }
}
