//! The pickup desk's own state, which lives on this kiosk only: staff badges' wrong-PIN
//! counts, shoppers waiting at the desk, "call staff" requests, and the NPS answers given
//! here today. None of it is the hub's; none of it is pulled.

use omnikiosk_protocol::pin;
use omnikiosk_protocol::wire::OrderStatus;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::read::StaffMember;
use super::orders::overlaid_order;
use super::{LocalStore, Result};
use crate::domain::desk::Waiting;

/// Wrong PINs in a row that lock a badge.
pub const PIN_ATTEMPTS: i64 = 5;
/// How long a locked badge stays locked.
pub const PIN_LOCK_SECS: i64 = 5 * 60;

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

/// "Call staff" pressed at the kiosk, with whoever was signed in as the shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assist {
    pub id: i64,
    pub customer_id: Option<String>,
    pub at: i64,
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

impl LocalStore {
    /// Checks a PIN typed for a badge. Five wrong ones in a row lock the badge for five
    /// minutes; a right one resets the count. Counted durably, so a restart is no way
    /// around the lock.
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
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let (failures, locked_until): (i64, Option<i64>) = tx
            .prepare_cached("SELECT failures, locked_until FROM pin_attempts WHERE staff_id = ?1")?
            .query_row([staff_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, None));
        if let Some(until) = locked_until.filter(|&u| u > now) {
            return Ok(PinCheck::Locked { until });
        }
        // A lock that has run out starts a fresh count.
        let failures = if locked_until.is_some() { 0 } else { failures };
        let outcome = if right {
            tx.prepare_cached("DELETE FROM pin_attempts WHERE staff_id = ?1")?.execute([staff_id])?;
            None
        } else {
            let failures = failures + 1;
            let lock = (failures >= PIN_ATTEMPTS).then_some(now + PIN_LOCK_SECS);
            tx.prepare_cached(
                "INSERT INTO pin_attempts(staff_id, failures, locked_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT(staff_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
            )?
            .execute(params![staff_id, failures, lock])?;
            Some(match lock {
                Some(until) => PinCheck::Locked { until },
                None => PinCheck::Wrong { attempts_left: PIN_ATTEMPTS - failures },
            })
        };
        tx.commit()?;
        drop(conn);
        match outcome {
            Some(refused) => Ok(refused),
            None => Ok(self.staff_member(staff_id)?.map(PinCheck::Accepted).unwrap_or(PinCheck::UnknownBadge)),
        }
    }

    /// Until when a badge is locked by wrong PINs, if it is locked at `now`.
    pub fn pin_locked_until(&self, staff_id: &str, now: i64) -> Result<Option<i64>> {
        let conn = self.reader();
        let until: Option<Option<i64>> = conn
            .prepare_cached("SELECT locked_until FROM pin_attempts WHERE staff_id = ?1")?
            .query_row([staff_id], |r| r.get(0))
            .optional()?;
        Ok(until.flatten().filter(|&u| u > now))
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

    /// Records a "call staff" request; returns its id.
    pub fn call_staff(&self, customer_id: Option<&str>, now: i64) -> Result<i64> {
        let conn = self.writer();
        conn.prepare_cached("INSERT INTO assists(customer_id, at) VALUES (?1, ?2)")?.execute(params![customer_id, now])?;
        Ok(conn.last_insert_rowid())
    }

    /// Open "call staff" requests, oldest first.
    pub fn open_assists(&self) -> Result<Vec<Assist>> {
        let conn = self.reader();
        let rows = conn
            .prepare_cached("SELECT id, customer_id, at FROM assists WHERE closed_at IS NULL ORDER BY at, id")?
            .query_map([], |r| Ok(Assist { id: r.get(0)?, customer_id: r.get(1)?, at: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// A colleague has seen to the request. Closing one twice changes nothing.
    pub fn close_assist(&self, id: i64, staff_id: &str, now: i64) -> Result<bool> {
        let conn = self.writer();
        let n = conn
            .prepare_cached("UPDATE assists SET closed_at = ?2, closed_by = ?3 WHERE id = ?1 AND closed_at IS NULL")?
            .execute(params![id, now, staff_id])?;
        Ok(n == 1)
    }

    /// NPS answers given at this kiosk since `since` (e.g. the store's midnight).
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
            // What later migrations added, taken away again (migration 5: check-ins' device).
            conn.execute_batch("ALTER TABLE checkins DROP COLUMN device_id").unwrap();
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
            })
        };
        let current = pin::hash(SALT, "1234").unwrap();
        store.apply_page(&[staff("S1-MGR", LEGACY_1234), staff("S1-NEW", &current)], "1.2", 1_000).unwrap();
        assert_eq!(stored_pin(dir.path(), "S1-MGR"), current, "the legacy value, wrapped");
        assert_eq!(stored_pin(dir.path(), "S1-NEW"), current, "a current value, as it came");
        assert_signs_in_with_1234_only(&store, "S1-MGR");
    }
}
