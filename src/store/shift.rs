//! The till's shift at this device: opened with a float, cash moved in or out with a
//! reason, closed with the counted cash into the Z report (`protocol::shift`). The Z number
//! is taken when the shift opens, so Z numbers are gapless per device; the close writes
//! the report and its `shift.close` op in one transaction, offline too — the report says
//! how many of this device's ops the hub has not got yet.

use omnikiosk_protocol::ops::{OpBody, Rejection};
use omnikiosk_protocol::rules::may_work_the_till;
use omnikiosk_protocol::shift::{cash_amount, CashMove, OpenShift, ZReport};
use omnikiosk_protocol::till::Receipt;
use omnikiosk_protocol::wire::StaffRole;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::orders::{enrolled_store_id, from_json, store_currency};
use super::outbox::{judge_and_queue, OpError};
use super::till::share_z_report;
use super::{LocalStore, Result, StoreError};
use crate::config::LoyaltyConfig;

/// The shift open at this till, as the till screen and `shift` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftState {
    pub z_number: i64,
    pub opened_by: String,
    pub opened_at: i64,
    pub float_cents: i64,
    pub cash_moves: Vec<CashMove>,
}

/// Cash into (positive) or out of (negative) the drawer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashMoveRequest {
    pub staff_id: String,
    pub cents: i64,
    pub reason: String,
}

impl LocalStore {
    /// The shift open at this till, if one is.
    pub fn open_shift(&self) -> Result<Option<ShiftState>> {
        current(&self.reader())
    }

    /// Opens a shift with `float_cents` in the drawer, for a badge that may work the till.
    pub fn start_shift(&self, staff_id: &str, float_cents: i64, now: i64) -> Result<ShiftState, OpError> {
        cash_amount("the float", float_cents, false)?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        till_badge(&tx, staff_id)?;
        if let Some(open) = current(&tx)? {
            return Err(Rejection::new("shift_open", format!("shift Z{} is already open at this till (opened by {})", open.z_number, open.opened_by)).into());
        }
        let z_number: i64 = tx.query_row("SELECT coalesce(max(z_number), 0) + 1 FROM shifts", [], |r| r.get(0))?;
        tx.prepare_cached("INSERT INTO shifts(z_number, opened_by, opened_at, float_cents) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![z_number, staff_id, now, float_cents])?;
        let state = current(&tx)?.ok_or(StoreError::Corrupt { what: "shift", detail: "not there after it was opened".into() })?;
        tx.commit()?;
        Ok(state)
    }

    /// Cash into or out of the drawer of the open shift, with the reason.
    pub fn move_cash(&self, req: &CashMoveRequest, now: i64) -> Result<ShiftState, OpError> {
        cash_amount("a cash move", req.cents, true)?;
        if req.reason.trim().is_empty() || req.reason.chars().count() > 200 {
            return Err(Rejection::new("bad_op", "a cash move needs its reason (1-200 characters)").into());
        }
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        till_badge(&tx, &req.staff_id)?;
        let open = current(&tx)?.ok_or_else(no_shift)?;
        tx.prepare_cached("INSERT INTO cash_moves(z_number, cents, reason, staff_id, at) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![open.z_number, req.cents, req.reason.trim(), req.staff_id, now])?;
        let state = current(&tx)?.ok_or_else(no_shift)?;
        tx.commit()?;
        Ok(state)
    }

    /// Closes the open shift with the cash counted: the Z report over every receipt since
    /// the previous Z, and its `shift.close` op, in one transaction.
    pub fn close_shift(&self, staff_id: &str, counted_cash_cents: i64, loyalty: &LoyaltyConfig, now: i64) -> Result<ZReport, OpError> {
        cash_amount("the counted cash", counted_cash_cents, false)?;
        let enrolment = self.require_enrolment()?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let open = current(&tx)?.ok_or_else(no_shift)?;
        let after: i64 = tx.query_row("SELECT coalesce(max(last_seq), 0) FROM shifts WHERE closed_at IS NOT NULL", [], |r| r.get(0))?;
        let mut stmt = tx.prepare_cached("SELECT body FROM receipts WHERE seq > ?1 ORDER BY seq")?;
        let receipts = stmt
            .query_map([after], |r| r.get::<_, String>(0))?
            .map(|b| from_json::<Receipt>("receipt", &b?))
            .collect::<Result<Vec<_>>>()?;
        drop(stmt);
        let last_seq = receipts.last().map_or(after, |r| r.seq);
        let unsent_ops: i64 = tx.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        let (store_id, currency) = (enrolled_store_id(&tx)?, store_currency(&tx)?);
        let report = OpenShift {
            z_number: open.z_number,
            store_id,
            device_id: &enrolment.device_id,
            currency: &currency,
            opened_by: &open.opened_by,
            opened_at: open.opened_at,
            float_cents: open.float_cents,
            cash_moves: open.cash_moves,
        }
        .close(&receipts, staff_id, now.max(open.opened_at), counted_cash_cents, unsent_ops)?;
        let op = OpBody::ShiftClose { report };
        judge_and_queue(&tx, &op, &enrolment, loyalty, now)?;
        let OpBody::ShiftClose { report } = op else { unreachable!("built above") };
        let body = serde_json::to_string(&report).map_err(|e| StoreError::Corrupt { what: "Z report", detail: e.to_string() })?;
        tx.prepare_cached("UPDATE shifts SET closed_at = ?2, last_seq = ?3, report = ?4 WHERE z_number = ?1")?
            .execute(params![report.z_number, report.closed_at, last_seq, body])?;
        share_z_report(&tx, &report)?;
        tx.commit()?;
        self.tell_op_recorded();
        Ok(report)
    }

    /// One of this device's Z reports (a reprint), by its number.
    pub fn z_report(&self, z_number: i64) -> Result<Option<ZReport>> {
        let conn = self.reader();
        let body: Option<String> = conn
            .prepare_cached("SELECT report FROM shifts WHERE z_number = ?1 AND report IS NOT NULL")?
            .query_row([z_number], |r| r.get(0))
            .optional()?;
        body.map(|b| from_json("Z report", &b)).transpose()
    }

    /// The store's Z reports closed since `since` at any of its devices, newest first.
    pub fn store_z_reports(&self, since: i64) -> Result<Vec<ZReport>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT report FROM store_shifts WHERE closed_at >= ?1 ORDER BY closed_at DESC, device_id")?;
        let rows = stmt.query_map([since], |r| r.get::<_, String>(0))?;
        rows.map(|b| from_json("Z report", &b?)).collect()
    }
}

fn no_shift() -> OpError {
    Rejection::new("no_shift", "no shift is open at this till: open one with the float first").into()
}

/// A badge that may work this till: staff of the store with the till role, or a manager.
fn till_badge(conn: &Connection, staff_id: &str) -> Result<(), OpError> {
    let badge: Option<(String, bool)> = conn
        .prepare_cached("SELECT role, till FROM staff WHERE id = ?1")?
        .query_row([staff_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (role, till) = badge.ok_or_else(|| Rejection::new("unknown_staff", format!("staff {staff_id} does not work at this store")))?;
    let role = StaffRole::parse(&role).ok_or(StoreError::Corrupt { what: "staff role", detail: role })?;
    Ok(may_work_the_till(staff_id, role, till)?)
}

fn current(conn: &Connection) -> Result<Option<ShiftState>> {
    let open: Option<(i64, String, i64, i64)> = conn
        .prepare_cached("SELECT z_number, opened_by, opened_at, float_cents FROM shifts WHERE closed_at IS NULL ORDER BY z_number DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((z_number, opened_by, opened_at, float_cents)) = open else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT cents, reason, staff_id, at FROM cash_moves WHERE z_number = ?1 ORDER BY id")?;
    let cash_moves = stmt
        .query_map([z_number], |r| Ok(CashMove { cents: r.get(0)?, reason: r.get(1)?, staff_id: r.get(2)?, at: r.get(3)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(ShiftState { z_number, opened_by, opened_at, float_cents, cash_moves }))
}
