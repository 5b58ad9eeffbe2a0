//! Versioned migrations of the kiosk's SQLite file. Append new steps; never edit a
//! released one (a kiosk in the field has already run it).

use rusqlite::Transaction;
use rusqlite_migration::{HookResult, Migrations, M};

use omnikiosk_protocol::ops::OpBody;

use super::apply::current_pin_hash;

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
        -- Enrolment, feed cursor and sync health: one row per key.
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

        CREATE TABLE stores (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);

        -- Only what the screens need: no e-mail, phone or address; last name as initial.
        CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            first_name TEXT NOT NULL,
            last_initial TEXT NOT NULL,
            tier TEXT NOT NULL,
            language TEXT NOT NULL,
            points INTEGER NOT NULL,
            home_store INTEGER
        ) WITHOUT ROWID;

        CREATE TABLE loyalty_cards (
            card TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX loyalty_cards_by_customer ON loyalty_cards(customer_id);

        -- Cart lines as JSON: always read and replaced whole, as the channel owns them.
        CREATE TABLE carts (
            customer_id TEXT PRIMARY KEY,
            lines TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE products (
            sku TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            price_cents INTEGER NOT NULL,
            category TEXT NOT NULL
        ) WITHOUT ROWID;

        -- This store's stock only.
        CREATE TABLE stock (
            sku TEXT PRIMARY KEY,
            on_hand INTEGER NOT NULL,
            aisle TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL,
            status TEXT NOT NULL,
            pickup_code TEXT NOT NULL,
            lines TEXT NOT NULL,
            placed_at INTEGER NOT NULL,
            promised_ready_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            version INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX orders_by_customer ON orders(customer_id);
        CREATE INDEX orders_by_status ON orders(status, promised_ready_at);
        CREATE INDEX orders_by_pickup_code ON orders(pickup_code);

        -- This store's staff; the PIN only as salted hash.
        CREATE TABLE staff (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            pin_salt TEXT NOT NULL,
            pin_hash TEXT NOT NULL
        ) WITHOUT ROWID;
        "#,
        ),
        M::up(
            r#"
        -- Offline actions, durable in the same transaction as their local effect. seq is
        -- the gapless per-device sequence; entity says what the op changes ("order:ID",
        -- "customer:ID") so screens can show it on top of the hub's state.
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            op_id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            entity TEXT,
            points_delta INTEGER NOT NULL DEFAULT 0,
            body TEXT NOT NULL,
            base_version INTEGER,
            kiosk_time INTEGER NOT NULL
        );
        CREATE INDEX outbox_by_entity ON outbox(entity);

        -- Ops the hub rejected: kept for the manager with both sides' facts.
        CREATE TABLE conflicts (
            op_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            body TEXT NOT NULL,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            facts TEXT,
            kiosk_time INTEGER NOT NULL,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- "I'm here": shoppers waiting at the desk for a ready order.
        CREATE TABLE checkins (
            op_id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;
        "#,
        ),
        M::up(
            r#"
        -- Wrong PINs per badge: five in a row lock the badge for five minutes, and a
        -- restart does not reset the count.
        CREATE INDEX checkins_by_order ON checkins(order_id);

        CREATE TABLE pin_attempts (
            staff_id TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            locked_until INTEGER
        ) WITHOUT ROWID;

        -- NPS answers given at this kiosk, for the manager's "today" (the op itself goes
        -- to the hub through the outbox and leaves it once acknowledged).
        CREATE TABLE feedback (
            op_id TEXT PRIMARY KEY,
            score INTEGER NOT NULL,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- "Call staff": a shopper asked for help here; open until a colleague closes it.
        CREATE TABLE assists (
            id INTEGER PRIMARY KEY,
            customer_id TEXT,
            at INTEGER NOT NULL,
            closed_at INTEGER,
            closed_by TEXT
        );
        CREATE INDEX assists_open ON assists(closed_at);
        "#,
        ),
        M::up_with_hook("-- Staff PINs become Argon2id: the hook wraps every legacy SHA-256 value.", upgrade_legacy_pins),
        M::up(
            r#"
        -- Check-ins are the store's: the hub shares each with every device of the store
        -- (Change::Checkin), and each says which device it was made at.
        ALTER TABLE checkins ADD COLUMN device_id TEXT;
        "#,
        ),
        M::up(
            r#"
        -- The store's "call staff" requests, wherever raised (Change::Help), and this
        -- device's own before the hub has them; a pending help.take / help.done sits in the
        -- outbox on top. They replace the device-only `assists` (never pushed; an open one
        -- from before this version is not carried over).
        DROP TABLE assists;
        CREATE TABLE help_requests (
            id TEXT PRIMARY KEY,
            device_id TEXT NOT NULL,
            customer_id TEXT,
            shopper TEXT,
            raised_at INTEGER NOT NULL,
            taken_by TEXT,
            taken_by_name TEXT,
            taken_at INTEGER
        ) WITHOUT ROWID;

        -- NPS answers are the store's (Change::Feedback), each with the device it was given at.
        ALTER TABLE feedback ADD COLUMN device_id TEXT;
        ALTER TABLE feedback ADD COLUMN csat TEXT;
        CREATE INDEX feedback_by_time ON feedback(at);

        -- Wrong PINs per badge counted by the hub over every device of the store
        -- (Change::PinFailures); `pin_attempts` stays this device's own count.
        CREATE TABLE pin_failures (
            staff_id TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            locked_until INTEGER
        ) WITHOUT ROWID;

        -- The store's devices as the hub last saw them (Change::Device), for the manager.
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            record TEXT NOT NULL
        ) WITHOUT ROWID;
        "#,
        ),
        M::up(
            r#"
        -- The till. Stores price in their currency, products carry their VAT rate, badges
        -- say whether they may sell.
        ALTER TABLE stores ADD COLUMN currency TEXT NOT NULL DEFAULT 'PLN';
        ALTER TABLE products ADD COLUMN vat_bp INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE staff ADD COLUMN till INTEGER NOT NULL DEFAULT 0;

        -- This device's receipts, each written in the transaction of its sale.complete op:
        -- `seq` gapless, each hashing the one before (protocol::till). Kept for reprints
        -- and returns; never deleted.
        CREATE TABLE receipts (
            seq INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            op_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            customer_id TEXT,
            total_cents INTEGER NOT NULL,
            at INTEGER NOT NULL,
            hash TEXT NOT NULL,
            body TEXT NOT NULL,
            copies INTEGER NOT NULL DEFAULT 0
        );

        -- The store's receipts of every device, as the hub shares them (Change::Sale), and
        -- this device's own at once: the manager's numbers are the store's.
        CREATE TABLE store_sales (
            number TEXT PRIMARY KEY,
            device_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            total_cents INTEGER NOT NULL,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX store_sales_by_time ON store_sales(at);
        "#,
        ),
        M::up(
            r#"
        -- Returns. The store's receipts carry their lines (protocol 4), and a return names
        -- what it takes back from: any device takes back what any device sold, and counts
        -- what the others already took back (protocol::returns).
        ALTER TABLE store_sales ADD COLUMN body TEXT;
        ALTER TABLE store_sales ADD COLUMN origin TEXT;
        CREATE INDEX store_sales_by_origin ON store_sales(origin) WHERE origin IS NOT NULL;

        -- This device's shifts: `z_number` gapless, taken when the shift opens; the Z report
        -- written when it closes, in the transaction of its shift.close op. A Z covers the
        -- receipts after the previous Z's `last_seq`.
        CREATE TABLE shifts (
            z_number INTEGER PRIMARY KEY,
            opened_by TEXT NOT NULL,
            opened_at INTEGER NOT NULL,
            float_cents INTEGER NOT NULL,
            closed_at INTEGER,
            last_seq INTEGER,
            report TEXT
        );
        CREATE TABLE cash_moves (
            id INTEGER PRIMARY KEY,
            z_number INTEGER NOT NULL REFERENCES shifts(z_number),
            cents INTEGER NOT NULL,
            reason TEXT NOT NULL,
            staff_id TEXT NOT NULL,
            at INTEGER NOT NULL
        );

        -- The Z reports of every device of the store (Change::Shift), this device's own at once.
        CREATE TABLE store_shifts (
            device_id TEXT NOT NULL,
            z_number INTEGER NOT NULL,
            closed_at INTEGER NOT NULL,
            report TEXT NOT NULL,
            PRIMARY KEY (device_id, z_number)
        ) WITHOUT ROWID;
        "#,
        ),
        M::up_with_hook(
            r#"
        -- The points an op redeems, apart from its net move: the offline allowance bounds
        -- what is redeemed before the hub confirms, whatever the same sale earns, and a
        -- return's points taken back are no redemption. The hook fills the waiting ops.
        ALTER TABLE outbox ADD COLUMN points_redeemed INTEGER NOT NULL DEFAULT 0;
        "#,
            count_queued_redemptions,
        ),
        M::up(
            r#"
        -- Colleagues from HR: a badge's version (a reissued badge refuses the older one).
        ALTER TABLE staff ADD COLUMN badge_version INTEGER NOT NULL DEFAULT 0;
        "#,
        ),
        M::up(
            r#"
        -- The chain's points rule per currency (Change::LoyaltyRule, protocol 5), the whole
        -- set as the hub last sent it; the till falls back to [loyalty] where its
        -- store's currency is not here.
        CREATE TABLE loyalty_rules (
            currency TEXT PRIMARY KEY,
            earn_per_unit INTEGER NOT NULL,
            point_value_cents INTEGER NOT NULL
        ) WITHOUT ROWID;
        "#,
        ),
        M::up(
            r#"
        -- Bring your own chain: the store's language and IANA time zone (every time shown
        -- and the store's "today" are local there), and a product as this store sells it —
        -- its barcodes, brand, whether it may be sold, and the currency of its price.
        ALTER TABLE stores ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
        ALTER TABLE stores ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
        ALTER TABLE products ADD COLUMN gtins TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE products ADD COLUMN brand TEXT NOT NULL DEFAULT '';
        ALTER TABLE products ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
        ALTER TABLE products ADD COLUMN currency TEXT NOT NULL DEFAULT '';

        -- A scanned barcode → its product: every GTIN of every product (a product without
        -- any is found by its SKU).
        CREATE TABLE product_gtins (
            gtin TEXT PRIMARY KEY,
            sku TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX product_gtins_by_sku ON product_gtins(sku);
        "#,
        ),
        M::up(
            r#"
        -- What the product is, as the shopper's screen shows it (empty: the catalogue has
        -- no description).
        ALTER TABLE products ADD COLUMN description TEXT NOT NULL DEFAULT '';
        "#,
        ),
    ])
}

/// Fills `outbox.points_redeemed` of the ops waiting when the column came, by the ops'
/// own rule (`OpBody::points_redeemed`).
fn count_queued_redemptions(tx: &Transaction) -> HookResult {
    let rows: Vec<(i64, String, String)> = tx
        .prepare("SELECT seq, name, body FROM outbox")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, name, body) in rows {
        let op = omnikiosk_protocol::wire::Op { op_id: String::new(), seq, name, base_version: None, kiosk_time: 0, body: serde_json::from_str(&body).unwrap_or_default() };
        let redeemed = OpBody::from_wire(&op).map_or(0, |op| op.points_redeemed());
        if redeemed != 0 {
            tx.execute("UPDATE outbox SET points_redeemed = ?2 WHERE seq = ?1", rusqlite::params![seq, redeemed])?;
        }
    }
    Ok(())
}

/// Wraps the legacy SHA-256 PIN values of a file from before Argon2id (protocol::pin), in
/// the migration's transaction, without knowing any PIN. One hash per badge: a store's
/// few dozen colleagues cost seconds on a Pi, once.
fn upgrade_legacy_pins(tx: &Transaction) -> HookResult {
    let rows: Vec<(String, String, String)> = tx
        .prepare("SELECT id, pin_salt, pin_hash FROM staff")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, salt, stored) in rows {
        let current = current_pin_hash(&id, &salt, &stored);
        if current != stored {
            tx.execute("UPDATE staff SET pin_hash = ?2 WHERE id = ?1", [&id, current.as_ref()])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    /// Ops waiting in the outbox when `points_redeemed` came are counted by their bodies:
    /// a kiosk updated while offline still bounds what it already let be redeemed.
    #[test]
    fn waiting_redemptions_are_counted_when_the_column_comes() {
        let migrations = super::migrations();
        // The column came with the ninth migration.
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        // The version before `points_redeemed` (the ninth migration).
        migrations.to_version(&mut conn, 8).unwrap();
        let redeem = r#"{"customer_id":"C1","points":250,"reason":"at the till"}"#;
        conn.execute("INSERT INTO outbox(seq, op_id, name, entity, points_delta, body, kiosk_time) VALUES (1, 'a', 'loyalty.redeem', 'customer:C1', -250, ?1, 0)", [redeem]).unwrap();
        conn.execute("INSERT INTO outbox(seq, op_id, name, entity, points_delta, body, kiosk_time) VALUES (2, 'b', 'loyalty.earn', 'customer:C1', 40, '{\"customer_id\":\"C1\",\"points\":40,\"reason\":\"r\"}', 0)", []).unwrap();
        migrations.to_latest(&mut conn).unwrap();
        let counted: Vec<i64> = conn.prepare("SELECT points_redeemed FROM outbox ORDER BY seq").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(counted, [250, 0]);
    }
}
