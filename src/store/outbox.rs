//! The outbox: every local action is a named op written in the same transaction as its
//! local effect, numbered with a gapless per-device sequence, and kept until the hub
//! acknowledges it. Whether an op may be made is decided by `protocol::rules`; this file
//! only gathers the facts it asks for.

use omnikiosk_protocol::code;
use omnikiosk_protocol::ops::{OpBody, Rejection};
use omnikiosk_protocol::rules::{judge, pin_effect, Facts, Judge, Origin};
use omnikiosk_protocol::wire::{ConflictRecord, Op, OpOutcome, OpResult, StaffRole};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::desk::{overlaid_help, HelpRequest};
use super::orders::{enrolled_store_id, overlaid_order, overlaid_points};
use super::{meta_get, meta_set, LocalStore, Result, StoreError};
use crate::config::LoyaltyConfig;

/// Why the kiosk refused to record an op.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Refused(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        OpError::Store(e.into())
    }
}

/// An op safely in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedOp {
    pub op_id: String,
    pub seq: i64,
    pub name: &'static str,
}

/// What one push answer did to the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PushTally {
    pub applied: u64,
    pub duplicate: u64,
    pub rejected: u64,
    /// Ops the hub had already (its sequence was ahead of ours after a lost answer).
    pub already_at_hub: u64,
}

impl PushTally {
    pub fn acknowledged(&self) -> u64 {
        self.applied + self.duplicate + self.rejected + self.already_at_hub
    }
}

/// A rejected op, as `omnikiosk conflicts` lists it: what the hub's `GET /v1/conflicts`
/// says of it (flattened into the same JSON fields), and its place in this device's
/// sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalConflict {
    pub seq: i64,
    /// The kiosk's side (the op as made here, and when) and what the hub said, with its
    /// facts when it sent them ("this order was cancelled online — …").
    #[serde(flatten)]
    pub conflict: ConflictRecord,
}

/// Outbox health for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    pub pending: u64,
    /// Kiosk time of the oldest pending op.
    pub oldest_at: Option<i64>,
    pub conflicts: u64,
}

impl LocalStore {
    /// Checks `op` against what this kiosk knows (the hub's state plus pending ops) and
    /// writes it to the outbox, with its local effect, in one durable transaction.
    pub fn record_op(&self, op: OpBody, loyalty: &LoyaltyConfig, now: i64) -> Result<RecordedOp, OpError> {
        op.validate()?;
        let enrolment = self.require_enrolment()?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let recorded = judge_and_queue(&tx, &op, &enrolment, loyalty, now)?;
        // The op's effect on this device's copies of the store's shared records, so every
        // screen here shows it at once; the hub's version replaces it when pulled.
        match &op {
            OpBody::VisitCheckin { order_id, customer_id } => {
                tx.prepare_cached("INSERT INTO checkins(op_id, order_id, customer_id, at, device_id) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![recorded.op_id, order_id, customer_id, now, enrolment.device_id])?;
            }
            OpBody::FeedbackNps { score, csat, .. } => {
                tx.prepare_cached("INSERT INTO feedback(op_id, score, at, device_id, csat) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![recorded.op_id, score, now, enrolment.device_id, csat])?;
            }
            OpBody::HelpRequest { customer_id } => {
                let shopper = match customer_id {
                    Some(id) => tx
                        .prepare_cached("SELECT first_name || ' ' || last_initial || '.' FROM customers WHERE id = ?1")?
                        .query_row([id], |r| r.get::<_, String>(0))
                        .optional()?,
                    None => None,
                };
                tx.prepare_cached("INSERT INTO help_requests(id, device_id, customer_id, shopper, raised_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![recorded.op_id, enrolment.device_id, customer_id, shopper, now])?;
            }
            OpBody::SetPin { .. } | OpBody::ResetPin { .. } => {
                let holder = op.pin_holder().expect("a PIN op names whose PIN");
                let stored: Option<String> =
                    tx.prepare_cached("SELECT pin_hash FROM staff WHERE id = ?1")?.query_row([holder], |r| r.get(0)).optional()?;
                if let Some(mut pin_hash) = stored {
                    pin_effect(&mut pin_hash, &op);
                    tx.prepare_cached("UPDATE staff SET pin_hash = ?2 WHERE id = ?1")?.execute(params![holder, pin_hash])?;
                }
            }
            _ => {}
        }
        tx.commit()?;
        self.tell_op_recorded();
        Ok(recorded)
    }

    /// The oldest pending ops, in sequence order, as the hub wants them.
    pub fn pending_ops(&self, limit: usize) -> Result<Vec<Op>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT op_id, seq, name, base_version, kiosk_time, body FROM outbox ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, String>(5)?))
        })?;
        let mut ops = Vec::new();
        for row in rows {
            let (op_id, seq, name, base_version, kiosk_time, body) = row?;
            let body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt { what: "outbox op", detail: e.to_string() })?;
            ops.push(Op { op_id, seq, name, base_version, kiosk_time, body });
        }
        Ok(ops)
    }

    pub fn outbox_stats(&self) -> Result<OutboxStats> {
        let conn = self.reader();
        let (pending, oldest_at) =
            conn.query_row("SELECT count(*), min(kiosk_time) FROM outbox", [], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))?;
        let conflicts: i64 = conn.query_row("SELECT count(*) FROM conflicts", [], |r| r.get(0))?;
        Ok(OutboxStats { pending: pending as u64, oldest_at, conflicts: conflicts as u64 })
    }

    /// Applies the hub's answer to a push in one transaction: acknowledged ops leave the
    /// outbox, rejected ones move to `conflicts`. An `expected_seq` ahead of an op means
    /// the hub already has it (an earlier answer was lost); one behind it means the hub
    /// lost ops this kiosk saw acknowledged — that is refused, never papered over.
    pub fn apply_push_results(&self, results: &[OpResult], now: i64) -> Result<PushTally, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let mut tally = PushTally::default();
        for r in results {
            match &r.outcome {
                OpOutcome::Applied | OpOutcome::Duplicate => {
                    if tx.prepare_cached("DELETE FROM outbox WHERE op_id = ?1")?.execute([&r.op_id])? > 0 {
                        if r.outcome == OpOutcome::Applied {
                            tally.applied += 1;
                        } else {
                            tally.duplicate += 1;
                        }
                    }
                }
                OpOutcome::Rejected { code, message, facts } => {
                    let row: Option<(i64, String, String, i64)> = tx
                        .prepare_cached("SELECT seq, name, body, kiosk_time FROM outbox WHERE op_id = ?1")?
                        .query_row([&r.op_id], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?)))
                        .optional()?;
                    if let Some((seq, name, body, kiosk_time)) = row {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO conflicts(op_id, seq, name, body, code, message, facts, kiosk_time, at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        )?
                        .execute(params![r.op_id, seq, name, body, code, message, facts.as_ref().map(|f| f.to_string()), kiosk_time, now])?;
                        tx.prepare_cached("DELETE FROM outbox WHERE op_id = ?1")?.execute([&r.op_id])?;
                        tally.rejected += 1;
                    }
                }
                OpOutcome::ExpectedSeq { expected_seq } => {
                    if *expected_seq > r.seq {
                        tally.already_at_hub +=
                            tx.prepare_cached("DELETE FROM outbox WHERE seq < ?1")?.execute([expected_seq])? as u64;
                    } else {
                        return Err(StoreError::Corrupt {
                            what: "op sequence",
                            detail: format!(
                                "the hub expects op {expected_seq} but this kiosk's outbox starts at {}: the hub lost acknowledged ops; keeping everything queued",
                                r.seq
                            ),
                        });
                    }
                }
            }
        }
        meta_set(&tx, "last_push_at", &now.to_string())?;
        tx.commit()?;
        Ok(tally)
    }

    pub fn conflicts(&self) -> Result<Vec<LocalConflict>> {
        let conn = self.reader();
        let device_id = meta_get(&conn, "device_id")?.unwrap_or_default();
        let store_id = enrolled_store_id(&conn)?;
        let mut stmt = conn.prepare_cached(
            "SELECT op_id, seq, name, body, kiosk_time, code, message, facts, at FROM conflicts ORDER BY at, seq",
        )?;
        let rows = stmt.query_map([], |r| {
            let row: (String, i64, String, String, i64, String, String, Option<String>, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?);
            Ok(row)
        })?;
        let json = |s: &str| serde_json::from_str(s).map_err(|e| StoreError::Corrupt { what: "conflict", detail: e.to_string() });
        let mut out = Vec::new();
        for row in rows {
            let (op_id, seq, name, body, kiosk_time, code, message, facts, at) = row?;
            let (op, hub_facts) = (json(&body)?, facts.as_deref().map(json).transpose()?);
            let device_id = device_id.clone();
            let conflict = ConflictRecord { op_id, device_id, store_id, name, op, kiosk_time, code, message, hub_facts, at };
            out.push(LocalConflict { seq, conflict });
        }
        Ok(out)
    }

    /// After enrolment: number new ops after the last one the hub has for this device.
    pub(crate) fn raise_op_seq(&self, hub_last_seq: i64) -> Result<()> {
        let conn = self.writer();
        let local = meta_get(&conn, "last_op_seq")?.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        if hub_last_seq > local {
            meta_set(&conn, "last_op_seq", &hub_last_seq.to_string())?;
        }
        Ok(())
    }
}


/// Checks `op` against what this device knows (the hub's state with its own pending ops on
/// top) and queues it in the caller's transaction, which also holds the op's local effect.
pub(super) fn judge_and_queue(
    tx: &rusqlite::Transaction<'_>,
    op: &OpBody,
    enrolment: &super::Enrolment,
    loyalty: &LoyaltyConfig,
    now: i64,
) -> Result<RecordedOp, OpError> {
    let key = code::decode_public_key(&enrolment.hub_public_key)
        .map_err(|e| StoreError::Corrupt { what: "hub public key", detail: e.to_string() })?;
    let qr_order_id = |qr: &str| code::verify(&key, qr, now).ok().filter(|c| c.kind == code::CodeKind::Order).map(|c| c.id);
    // The facts this op needs, as this device knows them: the hub's state with its
    // own pending ops on top.
    let staff_role = match op.staff_id() {
        Some(id) => tx
            .prepare_cached("SELECT role FROM staff WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, String>(0))
            .optional()?
            .map(|role| StaffRole::parse(&role).ok_or_else(|| StoreError::Corrupt { what: "staff role", detail: role }))
            .transpose()?,
        None => None,
    };
    let order = match op.order_looked_at() {
        Some(id) => overlaid_order(tx, id)?,
        None => None,
    };
    let customer = op.known_customer_id().or(op.points_delta().map(|(c, _)| c));
    let customer_known = match customer {
        Some(id) => tx.prepare_cached("SELECT 1 FROM customers WHERE id = ?1")?.exists([id])?,
        None => false,
    };
    let points = match customer {
        Some(id) if customer_known => overlaid_points(tx, id)?,
        _ => 0,
    };
    let unconfirmed: i64 = match customer {
        Some(id) => tx
            .prepare_cached("SELECT coalesce(sum(points_redeemed), 0) FROM outbox WHERE entity = ?1")?
            .query_row([format!("customer:{id}")], |r| r.get(0))?,
        None => 0,
    };
    let help = match op.help_request_id() {
        Some(id) => overlaid_help(tx, id)?,
        None => None,
    };
    let mut missing_product = None;
    for sku in op.skus() {
        if !tx.prepare_cached("SELECT 1 FROM products WHERE sku = ?1")?.exists([sku])? {
            missing_product = Some(sku);
            break;
        }
    }
    let staff_till = match op.staff_id() {
        Some(id) => tx.prepare_cached("SELECT till FROM staff WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?.unwrap_or(false),
        None => false,
    };
    let staff_pin_set = match op {
        OpBody::SetPin { staff_id, .. } => tx
            .prepare_cached("SELECT pin_hash != '' FROM staff WHERE id = ?1")?
            .query_row([staff_id], |r| r.get(0))
            .optional()?
            .unwrap_or(false),
        _ => false,
    };
    let colleague_here = match op {
        // Only this store's colleagues are kept here.
        OpBody::ResetPin { colleague_id, .. } => tx.prepare_cached("SELECT 1 FROM staff WHERE id = ?1")?.exists([colleague_id])?,
        _ => false,
    };
    let origin = match op {
        OpBody::ReturnComplete { receipt } => match omnikiosk_protocol::returns::origin_of(receipt) {
            Some(reference) => super::returns::origin_facts(tx, reference)?,
            None => None,
        },
        _ => None,
    };
    let facts = Facts {
        judge: Judge::Device { allowance: loyalty.offline_redeem_allowance, unconfirmed },
        staff_role,
        order: order.as_ref(),
        customer_known,
        points,
        qr_order_id: &qr_order_id,
        help: help.as_ref().map(HelpRequest::standing),
        missing_product,
        staff_till,
        staff_pin_set,
        colleague_here,
        origin: origin.as_ref().map(|(bought, returned)| Origin { bought, returned }),
    };
    judge(op, &facts)?;
    Ok(queue(tx, op, order.as_ref().map(|o| o.version), now)?)
}

/// The record an op is overlaid on while it waits in the outbox (see `orders::pending_on`).
fn entity(op: &OpBody) -> Option<String> {
    if let Some(id) = op.order_id() {
        return Some(format!("order:{id}"));
    }
    if let Some((customer, _)) = op.points_delta() {
        return Some(format!("customer:{customer}"));
    }
    if let Some(holder) = op.pin_holder() {
        return Some(format!("staff:{holder}"));
    }
    match op {
        OpBody::HelpTake { request_id, .. } | OpBody::HelpDone { request_id, .. } => Some(format!("help:{request_id}")),
        OpBody::PinFailed { staff_id } | OpBody::PinAccepted { staff_id } => Some(format!("pin:{staff_id}")),
        OpBody::CartAdd { customer_id, .. } => Some(format!("cart:{customer_id}")),
        _ => None,
    }
}

/// Writes a judged op to the outbox with the next number of the device's gapless sequence,
/// inside the caller's transaction (which holds its local effect too).
pub(super) fn queue(tx: &rusqlite::Transaction<'_>, op: &OpBody, base_version: Option<i64>, now: i64) -> Result<RecordedOp> {
    let points_delta = op.points_delta().map_or(0, |(_, delta)| delta);
    let base_version = op.order_id().and(base_version);
    let seq = meta_get(tx, "last_op_seq")?.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
    let op_id = uuid::Uuid::new_v4().to_string();
    let (name, body) = op.to_wire();
    tx.prepare_cached(
        "INSERT INTO outbox(seq, op_id, name, entity, points_delta, points_redeemed, body, base_version, kiosk_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![seq, op_id, name, entity(op), points_delta, op.points_redeemed(), body.to_string(), base_version, now])?;
    meta_set(tx, "last_op_seq", &seq.to_string())?;
    Ok(RecordedOp { op_id, seq, name: op.name() })
}
