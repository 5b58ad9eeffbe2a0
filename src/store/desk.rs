//! The store's shared desk state: check-ins, "call staff" requests, NPS answers, badges'
//! wrong PINs and the store's devices. Each is made by an op at one device, applied at the
//! hub and shared with every device of the store through its feed; each device shows the
//! hub's state with its own pending ops on top, and keeps working with its own offline.

use omnikiosk_protocol::ops::{OpBody, Rejection};
use omnikiosk_protocol::pin;
use omnikiosk_protocol::rules::{pin_step, HelpStanding};
use omnikiosk_protocol::wire::{DeviceHealth, OrderStatus, PinState};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::orders::{from_json, overlaid_order, pending_on};
use super::outbox::{queue, OpError, RecordedOp};
use super::read::StaffMember;
use super::{LocalStore, Result, StoreError};
use crate::domain::desk::Waiting;

pub use omnikiosk_protocol::rules::{PIN_ATTEMPTS, PIN_LOCK_SECS};

/// What a PIN typed on the pad leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinCheck {
    Accepted(StaffMember),
    /// Wrong; this many tries are left before the badge locks.
    Wrong { attempts_left: i64 },
    /// Too many wrong PINs: the badge opens again at this Unix time.
    Locked { until: i64 },
    /// The badge is not one of this store's staff (or was removed since it was scanned).
    UnknownBadge,
}

/// A "call staff" request of the store, as this device shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelpRequest {
    /// The `help.request` op's id: what `help done` takes.
    pub id: String,
    /// The device it was raised at.
    pub device: String,
    pub customer_id: Option<String>,
    /// "Anna K.", when a shopper was signed in.
    pub shopper: Option<String>,
    pub raised_at: i64,
    /// The colleague on the way: staff id and first name.
    pub taken_by: Option<String>,
    pub taken_by_name: Option<String>,
    /// Closed here, not yet confirmed by the hub (then it is no longer listed).
    #[serde(skip)]
    pub closed_by: Option<String>,
}

impl HelpRequest {
    pub fn standing(&self) -> HelpStanding<'_> {
        HelpStanding {
            taken_by: self.taken_by.as_deref().zip(self.taken_by_name.as_deref()),
            closed_by: self.closed_by.as_deref(),
        }
    }
}

/// NPS answers since a moment: promoters (9–10) minus detractors (0–6), in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NpsSummary {
    pub answers: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
}

impl NpsSummary {
    /// The score, −100…100; `None` before the first answer.
    pub fn score(&self) -> Option<i64> {
        (self.answers > 0).then(|| (100 * (self.promoters - self.detractors)) / self.answers)
    }
}

const HELP_COLUMNS: &str = "id, device_id, customer_id, shopper, raised_at, taken_by, taken_by_name";

fn help_rows(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<HelpRequest>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok(HelpRequest {
            id: r.get(0)?,
            device: r.get(1)?,
            customer_id: r.get(2)?,
            shopper: r.get(3)?,
            raised_at: r.get(4)?,
            taken_by: r.get(5)?,
            taken_by_name: r.get(6)?,
            closed_by: None,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let mut help = row?;
        overlay_help(conn, &mut help)?;
        out.push(help);
    }
    Ok(out)
}

/// This device's pending `help.take` / `help.done` on top of the hub's request.
fn overlay_help(conn: &Connection, help: &mut HelpRequest) -> Result<()> {
    for (op, _) in pending_on(conn, &format!("help:{}", help.id))? {
        let name = |staff_id: &str| -> Result<String> {
            Ok(conn
                .prepare_cached("SELECT name FROM staff WHERE id = ?1")?
                .query_row([staff_id], |r| r.get::<_, String>(0))
                .optional()?
                .unwrap_or_else(|| staff_id.to_string()))
        };
        match op {
            OpBody::HelpTake { staff_id, .. } => {
                help.taken_by_name = Some(name(&staff_id)?);
                help.taken_by = Some(staff_id);
            }
            OpBody::HelpDone { staff_id, .. } => help.closed_by = Some(name(&staff_id)?),
            _ => {}
        }
    }
    Ok(())
}

/// One request as this device shows it, closed ones included (for the rules' facts).
pub(super) fn overlaid_help(conn: &Connection, id: &str) -> Result<Option<HelpRequest>> {
    Ok(help_rows(conn, &format!("SELECT {HELP_COLUMNS} FROM help_requests WHERE id = ?1"), params![id])?.pop())
}

/// The badge's wrong PINs at the store as this device knows them: the hub's count with this
/// device's pending `staff.pin_*` ops on top.
fn store_pin_state(conn: &Connection, staff_id: &str) -> Result<PinState> {
    let hub = conn
        .prepare_cached("SELECT failures, locked_until FROM pin_failures WHERE staff_id = ?1")?
        .query_row([staff_id], |r| Ok(PinState { failures: r.get(0)?, locked_until: r.get(1)? }))
        .optional()?
        .unwrap_or(PinState::CLEAR);
    Ok(pending_on(conn, &format!("pin:{staff_id}"))?
        .into_iter()
        .fold(hub, |state, (op, at)| pin_step(state, matches!(op, OpBody::PinAccepted { .. }), at)))
}

/// This device's own count: it locks after five of its own tries whatever it has heard.
fn own_pin_state(conn: &Connection, staff_id: &str) -> Result<PinState> {
    Ok(conn
        .prepare_cached("SELECT failures, locked_until FROM pin_attempts WHERE staff_id = ?1")?
        .query_row([staff_id], |r| Ok(PinState { failures: r.get(0)?, locked_until: r.get(1)? }))
        .optional()?
        .unwrap_or(PinState::CLEAR))
}

fn locked_until(states: [PinState; 2], now: i64) -> Option<i64> {
    states.iter().filter_map(|s| s.locked_at(now)).max()
}

impl LocalStore {
    /// A colleague without a PIN chose `pin` at the PIN pad (typed twice, and not refused
    /// by `pin::check_chosen`, which the caller asked): its Argon2id value under their
    /// record's salt — never the PIN — goes to the hub as `staff.set_pin`, written with
    /// its local effect, so they are signed in here at once, online or not.
    pub fn choose_pin(&self, staff_id: &str, pin: &str, loyalty: &crate::config::LoyaltyConfig, now: i64) -> Result<RecordedOp, OpError> {
        let salt: Option<String> =
            self.reader().prepare_cached("SELECT pin_salt FROM staff WHERE id = ?1")?.query_row([staff_id], |r| r.get(0)).optional()?;
        let salt = salt.ok_or_else(|| Rejection::new("unknown_staff", format!("staff {staff_id} does not work at this store")))?;
        let pin_hash = pin::hash(&salt, pin).map_err(|e| StoreError::Corrupt { what: "staff PIN salt", detail: e.to_string() })?;
        self.record_op(OpBody::SetPin { staff_id: staff_id.to_string(), pin_hash }, loyalty, now)
    }

    /// Checks a PIN typed for a badge. Five wrong ones in a row lock the badge for five
    /// minutes — counted over every device of the store once the hub has them, and on this
    /// device alone when offline; a right one resets the count. Counted durably (and sent
    /// to the hub as `staff.pin_*` ops in the same transaction), so neither a restart nor
    /// the next kiosk is a way around the lock.
    pub fn verify_pin(&self, staff_id: &str, pin: &str, now: i64) -> Result<PinCheck> {
        // The Argon2id check (tens of milliseconds, more on a Pi) runs before the writer
        // is taken, so sync is not held up by it; its answer counts only if not locked.
        let stored: Option<(String, String)> = self
            .reader()
            .prepare_cached("SELECT pin_salt, pin_hash FROM staff WHERE id = ?1")?
            .query_row([staff_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((salt, hash)) = stored else { return Ok(PinCheck::UnknownBadge) };
        let right = pin::verify(&salt, pin, &hash).unwrap_or_else(|e| {
            tracing::warn!(staff_id, "the stored PIN of this badge cannot be checked: {e}");
            false
        });
        let enrolled = self.enrolment()?.is_some();
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let (store, own) = (store_pin_state(&tx, staff_id)?, own_pin_state(&tx, staff_id)?);
        if let Some(until) = locked_until([store, own], now) {
            return Ok(PinCheck::Locked { until });
        }
        let own = pin_step(own, right, now);
        let store = pin_step(store, right, now);
        tx.prepare_cached(
            "INSERT INTO pin_attempts(staff_id, failures, locked_until) VALUES (?1, ?2, ?3)
             ON CONFLICT(staff_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
        )?
        .execute(params![staff_id, own.failures, own.locked_until])?;
        if enrolled {
            let staff_id = staff_id.to_string();
            let op = if right { OpBody::PinAccepted { staff_id } } else { OpBody::PinFailed { staff_id } };
            queue(&tx, &op, None, now)?;
        }
        tx.commit()?;
        drop(conn);
        if enrolled {
            self.tell_op_recorded();
        }
        if right {
            return Ok(self.staff_member(staff_id)?.map(PinCheck::Accepted).unwrap_or(PinCheck::UnknownBadge));
        }
        Ok(match locked_until([store, own], now) {
            Some(until) => PinCheck::Locked { until },
            None => PinCheck::Wrong { attempts_left: PIN_ATTEMPTS - store.failures.max(own.failures) },
        })
    }

    /// Until when a badge is locked by wrong PINs at any device of the store, if it is
    /// locked at `now`.
    pub fn pin_locked_until(&self, staff_id: &str, now: i64) -> Result<Option<i64>> {
        let conn = self.reader();
        Ok(locked_until([store_pin_state(&conn, staff_id)?, own_pin_state(&conn, staff_id)?], now))
    }

    /// Shoppers waiting at the desk now: checked in for an order that is still ready
    /// (pending ops included), longest wait first. Reads only the check-ins, which are
    /// removed once their order is over, so it costs the same with 20 or 20,000 ready
    /// orders in the store.
    pub fn waiting(&self) -> Result<Vec<Waiting>> {
        let conn = self.reader();
        // Check-ins made at any device of the store (shared through the hub) and this
        // device's own, not yet pushed; the first one of an order counts. (SQLite takes
        // the bare columns from the row holding min(at).)
        let checked_in: Vec<(String, i64, String, Option<String>)> = conn
            .prepare_cached(
                "SELECT k.order_id, min(k.at), coalesce(c.first_name, ''), k.device_id FROM checkins k
                 LEFT JOIN customers c ON c.id = k.customer_id GROUP BY k.order_id ORDER BY min(k.at), k.order_id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(checked_in.len());
        for (order_id, since, first_name, device_id) in checked_in {
            if let Some(order) = overlaid_order(&conn, &order_id)?.filter(|o| o.status == OrderStatus::Ready) {
                out.push(Waiting { order, first_name, since, device_id });
            }
        }
        Ok(out)
    }

    /// The store's open "call staff" requests, wherever raised, oldest first (this
    /// device's pending answers applied; one it closed is no longer listed).
    pub fn open_help(&self) -> Result<Vec<HelpRequest>> {
        let conn = self.reader();
        let all = help_rows(&conn, &format!("SELECT {HELP_COLUMNS} FROM help_requests ORDER BY raised_at, id"), &[])?;
        Ok(all.into_iter().filter(|h| h.closed_by.is_none()).collect())
    }

    /// NPS answers given at any device of the store since `since` (e.g. the store's
    /// midnight), this device's not yet pushed included.
    pub fn nps_since(&self, since: i64) -> Result<NpsSummary> {
        let conn = self.reader();
        let mut s = NpsSummary::default();
        let mut stmt = conn.prepare_cached("SELECT score FROM feedback WHERE at >= ?1")?;
        for score in stmt.query_map([since], |r| r.get::<_, i64>(0))? {
            s.answers += 1;
            match score? {
                9..=10 => s.promoters += 1,
                7..=8 => s.passives += 1,
                _ => s.detractors += 1,
            }
        }
        Ok(s)
    }

    /// The store's devices as the hub last saw them (from the store feed).
    pub fn store_devices(&self) -> Result<Vec<DeviceHealth>> {
        let conn = self.reader();
        let rows: Vec<String> =
            conn.prepare_cached("SELECT record FROM devices ORDER BY id")?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        rows.iter().map(|json| from_json("device", json)).collect()
    }
}

#[cfg(test)]
mod tests {
    use omnikiosk_protocol::wire::{Change, StaffRecord, StaffRole};
    use rusqlite::Connection;

    use super::*;
    use crate::config::StoreConfig;

    const SALT: &str = "00112233445566778899aabbccddeeff";
    /// What releases before Argon2id stored for PIN 1234 under SALT: hex SHA-256 of salt-hex ‖ PIN.
    const LEGACY_1234: &str = "f377124b2c2ffeb096001d94cb0e3df86fbe20ad9981335bc624b960d4d80924";

    fn stored_pin(dir: &std::path::Path, staff_id: &str) -> String {
        let conn = Connection::open(dir.join(super::super::DB_FILE)).unwrap();
        conn.query_row("SELECT pin_hash FROM staff WHERE id = ?1", [staff_id], |r| r.get(0)).unwrap()
    }

    fn assert_signs_in_with_1234_only(store: &LocalStore, staff_id: &str) {
        assert!(matches!(store.verify_pin(staff_id, "1234", 1_000).unwrap(), PinCheck::Accepted(m) if m.id == staff_id));
        assert_eq!(store.verify_pin(staff_id, "1243", 1_000).unwrap(), PinCheck::Wrong { attempts_left: PIN_ATTEMPTS - 1 });
    }

    /// A kiosk updated from a release that stored SHA-256 PINs: opening its file upgrades
    /// every badge to Argon2id, and the colleagues' PINs still work.
    #[test]
    fn a_store_file_with_legacy_sha256_pins_is_upgraded_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        drop(LocalStore::open(dir.path(), &StoreConfig::default()).unwrap());
        {
            // The file as the release before Argon2id left it: schema version 3, a hex PIN.
            let conn = Connection::open(dir.path().join(super::super::DB_FILE)).unwrap();
            conn.execute(
                "INSERT INTO staff(id, name, role, pin_salt, pin_hash) VALUES ('S1-STAFF', 'Kasia', 'staff', ?1, ?2)",
                [SALT, LEGACY_1234],
            )
            .unwrap();
            // What later migrations added, taken away again (5: check-ins' device; 6: the
            // store's help requests, NPS answers' device, PIN counts and devices; 7: the till;
            // 8: returns and shifts, taken with the till's tables; 9: the outbox's redemptions;
            // 10: badge versions; 11: the chain's loyalty rules; 12: the store's language and
            // zone, the catalogue's barcodes and status; 13: the products' descriptions).
            conn.execute_batch(
                "ALTER TABLE products DROP COLUMN description; DROP TABLE product_gtins; ALTER TABLE stores DROP COLUMN language; ALTER TABLE stores DROP COLUMN timezone;
                 ALTER TABLE products DROP COLUMN gtins; ALTER TABLE products DROP COLUMN brand;
                 ALTER TABLE products DROP COLUMN status; ALTER TABLE products DROP COLUMN currency;
                 DROP TABLE loyalty_rules; ALTER TABLE staff DROP COLUMN badge_version; ALTER TABLE outbox DROP COLUMN points_redeemed;
                 ALTER TABLE stores DROP COLUMN currency; ALTER TABLE products DROP COLUMN vat_bp; ALTER TABLE staff DROP COLUMN till;
                 DROP TABLE receipts; DROP TABLE store_sales; DROP TABLE cash_moves; DROP TABLE shifts; DROP TABLE store_shifts;
                 ALTER TABLE checkins DROP COLUMN device_id;
                 DROP TABLE help_requests; DROP TABLE pin_failures; DROP TABLE devices; DROP INDEX feedback_by_time;
                 ALTER TABLE feedback DROP COLUMN device_id; ALTER TABLE feedback DROP COLUMN csat;
                 CREATE TABLE assists (id INTEGER PRIMARY KEY, customer_id TEXT, at INTEGER NOT NULL, closed_at INTEGER, closed_by TEXT);",
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 3).unwrap();
        }
        let store = LocalStore::open(dir.path(), &StoreConfig::default()).unwrap();
        let stored = stored_pin(dir.path(), "S1-STAFF");
        assert!(stored.starts_with("$argon2id$") && !stored.contains(LEGACY_1234), "{stored}");
        assert_signs_in_with_1234_only(&store, "S1-STAFF");
    }

    /// A hub not yet migrated still sends SHA-256 PINs: the kiosk keeps only Argon2id.
    #[test]
    fn a_legacy_pin_pulled_from_the_hub_is_stored_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), &StoreConfig::default()).unwrap();
        {
            let conn = Connection::open(dir.path().join(super::super::DB_FILE)).unwrap();
            conn.execute_batch("INSERT INTO meta(key, value) VALUES ('hub_url', 'http://127.0.0.1:1'), ('store_id', '1')").unwrap();
        }
        let staff = |id: &str, pin_hash: &str| {
            Change::Staff(StaffRecord {
                id: id.into(),
                name: "Marek".into(),
                role: StaffRole::Manager,
                store_id: 1,
                pin_salt: SALT.into(),
                pin_hash: pin_hash.into(),
                till: false,
                badge_version: 0,
            })
        };
        let current = pin::hash(SALT, "1234").unwrap();
        store.apply_page(&[staff("S1-MGR", LEGACY_1234), staff("S1-NEW", &current)], "1.2", 1_000).unwrap();
        assert_eq!(stored_pin(dir.path(), "S1-MGR"), current, "the legacy value, wrapped");
        assert_eq!(stored_pin(dir.path(), "S1-NEW"), current, "a current value, as it came");
        assert_signs_in_with_1234_only(&store, "S1-MGR");
    }
}
