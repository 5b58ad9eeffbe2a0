//! A kiosk's pushed ops, applied once each: the compare-and-set on the device's sequence,
//! `duplicate` for an op already seen, `expected_seq` for a gap, and for a refused op a
//! savepoint rolled back, a conflict recorded and the queue moving on. What an op may do
//! is decided by `omnikiosk_protocol::rules::judge`; this file gathers the hub's facts
//! for it and writes the op's effect.

use omnikiosk_protocol::ops::{OpBody, Rejection, Verification};
use omnikiosk_protocol::returns::{origin_of, returned_so_far, Bought, Returned};
use omnikiosk_protocol::rules::{judge, order_effect, pin_effect, Facts, HelpStanding, Judge, Origin};
use omnikiosk_protocol::shift::ZReport;
use omnikiosk_protocol::till::{Receipt, GENESIS_HASH};
use omnikiosk_protocol::wire::{CheckinRecord, ConflictRecord, FeedbackRecord, Op, OpOutcome, OrderDetail};

use super::reads::{order_detail, receipt, staff_first_name, staff_role};
use super::writes::{add_to_cart, attach, count_pin, move_order, publish_checkin, publish_customer, publish_feedback, publish_staff, record_sale, record_shift, save_help};
use super::{Device, HelpFilter, HelpRow, HubTx, LedgerEntry, LoggedOp, ReceiptFilter, Relevance, Savepoint, ShiftFilter, Touchpoint, TouchpointKind};
use crate::error::{HubError, StorageError};

/// Why an op was not applied: the rules refused it (a conflict; the queue moves on), or
/// the database failed (the push fails and the kiosk retries).
enum Failure {
    Refused(Rejection, Option<serde_json::Value>),
    Storage(StorageError),
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Failure::Refused(r, None)
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Failure::Storage(e)
    }
}

/// Who closed a help request that ran out of time, as a refusal names them.
const CLOSED_BY_TIMEOUT: &str = "the hub (it ran out of time)";

/// A conflict about `op` for the store's manager and `GET /v1/conflicts`: a refusal, or
/// a correction the hub made.
fn conflict(op: &Op, device: &Device, code: String, message: String, hub_facts: Option<serde_json::Value>, now: i64) -> ConflictRecord {
    ConflictRecord {
        op_id: op.op_id.clone(),
        device_id: device.id.clone(),
        store_id: device.store_id,
        name: op.name.clone(),
        op: op.body.clone(),
        kiosk_time: op.kiosk_time,
        code,
        message,
        hub_facts,
        at: now,
    }
}

/// Applies one pushed op inside the caller's transaction. `qr_order_id` reads an order QR
/// shown at handover (signature checked with the hub's key).
/// `points_per_hour`: what the device may give in any hour ([`crate::Hub::set_points_per_device_hour`]).
pub fn push_op(tx: &mut dyn HubTx, device: &Device, op: &Op, now: i64, points_per_hour: i64, qr_order_id: &dyn Fn(&str) -> Option<String>) -> Result<OpOutcome, HubError> {
    // Text no database can store is replaced, so an op carrying it is judged and recorded
    // like any other instead of failing on every retry and blocking the device's queue.
    let op = &without_nul(op);
    // Compare-and-set on the device's sequence, inside the transaction that applies.
    let last_seq = tx.device_last_seq(&device.id)?.unwrap_or(0);
    if tx.op_known(&op.op_id)? {
        return Ok(OpOutcome::Duplicate);
    }
    if op.seq <= last_seq {
        return Ok(OpOutcome::Rejected {
            code: "seq_reused".into(),
            message: format!("sequence {} was already used by another op of this device", op.seq),
            facts: None,
        });
    }
    if op.seq > last_seq + 1 {
        return Ok(OpOutcome::ExpectedSeq { expected_seq: last_seq + 1 });
    }
    // A refused op must leave nothing behind: its writes sit in a savepoint.
    tx.savepoint(Savepoint::Begin)?;
    let applied = OpBody::from_wire(op).map_err(Failure::from).and_then(|body| apply(tx, device, op, &body, now, points_per_hour, qr_order_id));
    let outcome = match applied {
        Ok(()) => {
            tx.savepoint(Savepoint::Release)?;
            OpOutcome::Applied
        }
        Err(Failure::Storage(e)) => return Err(e.into()),
        Err(Failure::Refused(rejection, facts)) => {
            tx.savepoint(Savepoint::RollBack)?;
            tx.add_conflict(&conflict(op, device, rejection.code.to_string(), rejection.message.clone(), facts.clone(), now))?;
            OpOutcome::Rejected { code: rejection.code.to_string(), message: rejection.message, facts }
        }
    };
    let body = op.body.to_string();
    tx.log_op(&LoggedOp {
        device_id: &device.id,
        seq: op.seq,
        op_id: &op.op_id,
        name: &op.name,
        body: &body,
        kiosk_time: op.kiosk_time,
        received_at: now,
        outcome: if outcome == OpOutcome::Applied { "applied" } else { "rejected" },
    })?;
    tx.set_device_last_seq(&device.id, op.seq)?;
    Ok(outcome)
}

/// The customers a push's ops name (ops that cannot be read are refused before any
/// customer is read; an id no database can store names no one).
pub fn customers_named(ops: &[Op]) -> std::collections::BTreeSet<String> {
    ops.iter()
        .filter_map(|op| OpBody::from_wire(op).ok()?.known_customer_id().filter(|id| !id.contains('\0')).map(str::to_string))
        .collect()
}

/// The hub's facts for `body`, the rules' verdict, then the op's effect.
fn apply(tx: &mut dyn HubTx, device: &Device, op: &Op, body: &OpBody, now: i64, points_per_hour: i64, qr_order_id: &dyn Fn(&str) -> Option<String>) -> Result<(), Failure> {
    body.validate()?;
    let (staff_role, staff_till) = match body.staff_id() {
        Some(id) => match tx.staff_role(id, device.store_id)? {
            Some((role, till)) => (Some(staff_role(&role)?), till),
            None => (None, false),
        },
        None => (None, false),
    };
    let order_id = match body {
        OpBody::VisitCheckin { order_id, .. } => Some(order_id.as_str()),
        other => other.order_id(),
    };
    let detail = match order_id {
        Some(id) => order_detail(tx, id)?.filter(|d| d.order.store_id == device.store_id),
        None => None,
    };
    let customer = body.known_customer_id();
    // Known *here*: a shopper of this store (home store, an order, a lookup or a visit
    // here), as a device of the store has them cached — not anyone of the chain, or a
    // store-1 token could move a store-2 shopper's points or pull them into its store.
    let customer_known = match customer {
        Some(id) => tx.customer(id)?.is_some() && tx.stores_of_customer(id)?.contains(&device.store_id),
        None => false,
    };
    let points = match customer {
        Some(id) if customer_known && body.points_redeemed() > 0 => tx.points(id)?,
        _ => 0,
    };
    let help = match body.help_request_id() {
        Some(id) => tx.help_requests(HelpFilter::Id(id))?.into_iter().find(|h| h.store_id == device.store_id),
        None => None,
    };
    let taken_by = match help.as_ref().and_then(|h| h.taken_by.as_deref()) {
        Some(staff) => Some((staff, staff_first_name(tx, staff)?)),
        None => None,
    };
    let closed_by = match help.as_ref().filter(|h| h.done_at.is_some()).map(|h| h.done_by.as_deref()) {
        Some(Some(staff)) => Some(staff_first_name(tx, staff)?),
        Some(None) => Some(CLOSED_BY_TIMEOUT.to_string()),
        None => None,
    };
    let mut missing_product = None;
    for sku in body.skus() {
        if tx.product_name(sku)?.is_none() {
            missing_product = Some(sku);
            break;
        }
    }
    let origin = match body {
        OpBody::ReturnComplete { receipt } => return_origin(tx, device, receipt)?,
        _ => None,
    };
    let staff_pin_set = match body {
        OpBody::SetPin { staff_id, .. } => tx.staff_member(staff_id)?.is_some_and(|st| st.has_pin()),
        _ => false,
    };
    let colleague_here = match body {
        OpBody::ResetPin { colleague_id, .. } => tx.staff_role(colleague_id, device.store_id)?.is_some(),
        _ => false,
    };
    let facts = Facts {
        judge: Judge::Hub,
        staff_role,
        order: detail.as_ref().map(|d| &d.order),
        customer_known,
        points,
        qr_order_id,
        help: help.as_ref().map(|_| HelpStanding {
            taken_by: taken_by.as_ref().map(|(id, name)| (*id, name.as_str())),
            closed_by: closed_by.as_deref(),
        }),
        missing_product,
        staff_till,
        staff_pin_set,
        colleague_here,
        origin: origin.as_ref().map(|o| Origin { bought: &o.bought, returned: &o.returned }),
    };
    judge(body, &facts).map_err(|r| explain(r, body, detail.as_ref(), help.as_ref(), points, missing_product, origin.as_ref()))?;
    if let Some(receipt) = body.receipt() {
        check_receipt(tx, device, receipt)?;
    }
    if let OpBody::ShiftClose { report } = body {
        check_report(tx, device, report)?;
    }
    // What the device may still give this hour (read for the ops that give points):
    // points by hand past it are refused, a sale credits what is left.
    let gives_points = matches!(body, OpBody::LoyaltyEarn { .. } | OpBody::SaleComplete { .. }) && customer_known;
    let allowance = if gives_points { (points_per_hour - tx.points_given_since(&device.id, now - 3600)?).max(0) } else { 0 };
    if let OpBody::LoyaltyEarn { points, .. } = body {
        if *points > allowance {
            return Err(Rejection::new(
                "points_limit",
                format!("this device may give {points_per_hour} points an hour; {allowance} are left, {points} were asked"),
            )
            .into());
        }
    }
    match body {
        OpBody::OrderPick { staff_id, .. }
        | OpBody::OrderReady { staff_id, .. }
        | OpBody::OrderCollect { staff_id, .. }
        | OpBody::OrderCancel { staff_id, .. } => {
            let mut order = detail.map(|d| d.order).ok_or_else(|| StorageError("judged order went missing".into()))?;
            order_effect(&mut order, body);
            let note = match body {
                OpBody::OrderPick { short_reason: Some(r), .. } => Some(format!("short-picked: {r}")),
                OpBody::OrderCancel { reason, .. } => Some(reason.clone()),
                OpBody::OrderCollect { verification: Verification::PickupCode(_), .. } => Some("verified by pickup code".into()),
                OpBody::OrderCollect { verification: Verification::OrderQr(_), .. } => Some("verified by order QR".into()),
                _ => None,
            };
            move_order(tx, &order, order.status, &format!("{}/{staff_id}", device.id), note.as_deref(), now)?;
            if let OpBody::OrderCollect { order_id, .. } = body {
                let kind = TouchpointKind::Pickup { order_id };
                tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: Some(&order.customer_id), at: now, kind })?;
            }
        }
        OpBody::VisitCheckin { order_id, customer_id } => {
            let kind = TouchpointKind::Checkin { order_id };
            tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: Some(customer_id), at: now, kind })?;
            let order = detail.map(|d| d.order).ok_or_else(|| StorageError("judged order went missing".into()))?;
            let checkin = CheckinRecord {
                op_id: op.op_id.clone(),
                store_id: device.store_id,
                order_id: order_id.clone(),
                customer_id: customer_id.clone(),
                device_id: device.id.clone(),
                at: now,
            };
            publish_checkin(tx, &order, checkin)?;
        }
        OpBody::VisitSeen { customer_id } => {
            let kind = TouchpointKind::Seen;
            tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: Some(customer_id), at: now, kind })?;
            attach(tx, customer_id, device.store_id, Relevance::Seen, now)?;
        }
        OpBody::LoyaltyEarn { customer_id, reason, .. } | OpBody::LoyaltyRedeem { customer_id, reason, .. } => {
            let (_, delta) = body.points_delta().expect("a points op moves points");
            tx.add_ledger(&LedgerEntry { op_id: &op.op_id, customer_id, delta, reason, at: now, device_id: Some(&device.id) })?;
            publish_customer(tx, customer_id)?;
        }
        OpBody::FeedbackNps { score, csat, customer_id } => {
            let kind = TouchpointKind::Feedback { score: *score, csat: csat.as_deref() };
            tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: customer_id.as_deref(), at: now, kind })?;
            let answer = FeedbackRecord {
                op_id: op.op_id.clone(),
                store_id: device.store_id,
                device_id: device.id.clone(),
                score: *score,
                csat: csat.clone(),
                at: now,
            };
            publish_feedback(tx, answer)?;
        }
        OpBody::HelpRequest { customer_id } => {
            let kind = TouchpointKind::Help;
            tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: customer_id.as_deref(), at: now, kind })?;
            let raised = HelpRow {
                id: op.op_id.clone(),
                store_id: device.store_id,
                device_id: device.id.clone(),
                customer_id: customer_id.clone(),
                raised_at: now,
                taken_by: None,
                taken_at: None,
                done_by: None,
                done_at: None,
            };
            save_help(tx, &raised)?;
        }
        OpBody::HelpTake { staff_id, .. } | OpBody::HelpDone { staff_id, .. } => {
            let mut h = help.ok_or_else(|| StorageError("judged help request went missing".into()))?;
            if matches!(body, OpBody::HelpDone { .. }) {
                (h.done_by, h.done_at) = (Some(staff_id.clone()), Some(now));
            } else if h.taken_by.is_none() {
                // Taken again by the one already on the way: they keep their first time.
                (h.taken_by, h.taken_at) = (Some(staff_id.clone()), Some(now));
            }
            save_help(tx, &h)?;
        }
        OpBody::PinFailed { staff_id } | OpBody::PinAccepted { staff_id } => {
            count_pin(tx, device.store_id, staff_id, matches!(body, OpBody::PinAccepted { .. }), now)?;
        }
        OpBody::SetPin { .. } | OpBody::ResetPin { .. } => {
            let holder = body.pin_holder().expect("a PIN op names whose PIN");
            let mut st = tx.staff_member(holder)?.ok_or_else(|| StorageError("judged badge holder went missing".into()))?;
            pin_effect(&mut st.pin_hash, body);
            tx.update_staff(&st)?;
            publish_staff(tx, &st)?;
        }
        OpBody::SaleComplete { receipt } | OpBody::ReturnComplete { receipt } => {
            // The chain's rule counts the points, not the device: a till that says more
            // (or another rule) is corrected, and the manager sees it as a conflict.
            let rule = tx.loyalty_rules()?.rules.get(&receipt.currency).copied().unwrap_or_default();
            let by_rule = receipt.points_by_rule(rule);
            let credited = by_rule.min(allowance);
            record_sale(tx, &op.op_id, receipt, credited, now)?;
            if credited != receipt.points_earned {
                let (code, message) = if credited < by_rule {
                    ("points_limit", format!("receipt {} earns {by_rule} points; past this device's {points_per_hour} an hour, {credited} were credited", receipt.number))
                } else {
                    ("points_recomputed", format!("receipt {} says {} points earned; the chain's rule gives {credited}, and {credited} were credited", receipt.number, receipt.points_earned))
                };
                let facts = Some(serde_json::json!({ "points_credited": credited }));
                tx.add_conflict(&conflict(op, device, code.into(), message, facts, now))?;
            }
            if let Some(customer_id) = receipt.customer_id.as_deref() {
                let (receipt_no, total_cents) = (receipt.number.as_str(), receipt.total_cents);
                let kind = match body {
                    OpBody::ReturnComplete { .. } => TouchpointKind::Return { receipt: receipt_no, total_cents },
                    _ => TouchpointKind::Sale { receipt: receipt_no, total_cents },
                };
                tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: Some(customer_id), at: now, kind })?;
            }
        }
        OpBody::ShiftClose { report } => record_shift(tx, &op.op_id, report)?,
        OpBody::CartAdd { customer_id, sku } => {
            add_to_cart(tx, customer_id, body, now)?;
            let kind = TouchpointKind::CartAdd { sku };
            tx.add_touchpoint(&Touchpoint { op_id: &op.op_id, store_id: device.store_id, customer_id: Some(customer_id), at: now, kind })?;
        }
    }
    Ok(())
}

/// What a return takes back from, as the hub knows it: what was bought, what the store's
/// recorded returns already took back, and those returns' numbers (for the conflict).
struct ReturnOrigin {
    bought: Bought,
    returned: Returned,
    earlier: Vec<String>,
}

/// The receipt (of any store: the rules refuse another store's) or collected order (of
/// this store) a return names, with every return recorded against it; `None` when the hub
/// knows neither. An order not collected is refused here, by `Bought::of_order`.
fn return_origin(tx: &mut dyn HubTx, device: &Device, r: &Receipt) -> Result<Option<ReturnOrigin>, Failure> {
    let Some(reference) = origin_of(r) else { return Ok(None) };
    let bought = match tx.receipts(ReceiptFilter::Number(reference))?.first() {
        Some(row) => Bought::of_receipt(&receipt(row)?),
        None => {
            let Some(order) = order_detail(tx, reference)?.map(|d| d.order).filter(|o| o.store_id == device.store_id) else { return Ok(None) };
            let mut prices = std::collections::HashMap::new();
            for l in &order.lines {
                if let Some(p) = super::catalogue::product_at(tx, device.store_id, &l.sku)? {
                    prices.insert(l.sku.clone(), (p.price_cents, p.vat_bp));
                }
            }
            Bought::of_order(&order, |sku| prices.get(sku).copied())?
        }
    };
    let earlier = tx.receipts(ReceiptFilter::Origin(reference))?.iter().map(receipt).collect::<Result<Vec<_>, _>>()?;
    let returned = returned_so_far(reference, &earlier);
    Ok(Some(ReturnOrigin { bought, returned, earlier: earlier.into_iter().map(|e| e.number).collect() }))
}

/// What only the hub can know of a pushed Z report: that it is the pushing device's, and
/// that its number is not recorded under another op already.
fn check_report(tx: &mut dyn HubTx, device: &Device, report: &ZReport) -> Result<(), Failure> {
    let refuse = |code, message: String, facts| Err(Failure::Refused(Rejection::new(code, message), Some(facts)));
    let number = report.number();
    if report.store_id != device.store_id || report.device_id != device.id {
        let facts = serde_json::json!({
            "number": number,
            "report_store_id": report.store_id,
            "report_device_id": report.device_id,
            "store_id": device.store_id,
            "device_id": device.id,
        });
        let message = format!("Z report {number} was made by {} of store {}, not by this device ({} of store {})", report.device_id, report.store_id, device.id, device.store_id);
        return refuse("foreign_z_report", message, facts);
    }
    if let Some(recorded) = tx.shifts(ShiftFilter::DeviceZ(&device.id, report.z_number))?.into_iter().next() {
        let facts = serde_json::json!({
            "number": number,
            "z_number": recorded.z_number,
            "op_id": recorded.op_id,
            "closed_at": recorded.closed_at,
        });
        let message = format!("Z number {} of this device is already recorded for another close (was this device restored from a backup?)", report.z_number);
        return refuse("z_number_used", message, facts);
    }
    Ok(())
}

/// What only the hub can know of a pushed receipt: that it is the pushing device's, that
/// its number is not recorded under another op already (a kiosk restored from a backup
/// numbers again from where the backup was), and that it names the hash of the hub's copy
/// of the device's previous receipt — when the hub has that one (the previous sale may
/// have been refused, or not pushed yet: then there is nothing to hold it against).
fn check_receipt(tx: &mut dyn HubTx, device: &Device, receipt: &Receipt) -> Result<(), Failure> {
    let refuse = |code, message: String, facts| Err(Failure::Refused(Rejection::new(code, message), Some(facts)));
    if receipt.store_id != device.store_id || receipt.device_id != device.id {
        let facts = serde_json::json!({
            "number": receipt.number,
            "receipt_store_id": receipt.store_id,
            "receipt_device_id": receipt.device_id,
            "store_id": device.store_id,
            "device_id": device.id,
        });
        let message = format!("receipt {} was made by {} of store {}, not by this device ({} of store {})", receipt.number, receipt.device_id, receipt.store_id, device.id, device.store_id);
        return refuse("foreign_receipt", message, facts);
    }
    if let Some(recorded) = tx.receipts(ReceiptFilter::Number(&receipt.number))?.into_iter().next() {
        let facts = serde_json::json!({
            "number": recorded.number,
            "op_id": recorded.op_id,
            "hash": recorded.hash,
            "total_cents": recorded.total_cents,
            "at": recorded.at,
        });
        let message = format!("receipt number {} is already recorded for another receipt (was this device restored from a backup?)", receipt.number);
        return refuse("receipt_number_used", message, facts);
    }
    let previous = match receipt.seq {
        1 => Some((None, GENESIS_HASH.to_string())),
        seq => tx.receipts(ReceiptFilter::DeviceSeq(&device.id, seq - 1))?.into_iter().next().map(|r| (Some(r.number), r.hash)),
    };
    if let Some((number, hash)) = previous.filter(|(_, hash)| *hash != receipt.prev_hash) {
        let facts = serde_json::json!({
            "number": receipt.number,
            "prev_hash": receipt.prev_hash,
            "previous_number": number,
            "previous_hash": hash,
        });
        let message = match number {
            Some(n) => format!("receipt {} does not chain onto receipt {n} as the hub recorded it", receipt.number),
            None => format!("receipt {} is this device's first, yet names a previous receipt", receipt.number),
        };
        return refuse("broken_chain", message, facts);
    }
    Ok(())
}

/// A refusal with the hub's facts beside it, for the conflict the manager resolves: what
/// the order was and who changed it last, the balance a redemption met, the product the
/// catalogue does not have, who took or closed a help request and when, or what a return
/// met: what was bought and what the store's earlier returns already took back.
fn explain(
    r: Rejection,
    body: &OpBody,
    detail: Option<&OrderDetail>,
    help: Option<&HelpRow>,
    points: i64,
    missing_product: Option<&str>,
    origin: Option<&ReturnOrigin>,
) -> Failure {
    if let (Some(o), OpBody::ReturnComplete { receipt }) = (origin, body) {
        let sku = line_in_question(r.code, o, receipt);
        let facts = serde_json::json!({
            "origin": o.bought.reference,
            "origin_store_id": o.bought.store_id,
            "sku": sku,
            "bought": sku.map(|s| o.bought.lines.iter().filter(|l| l.sku == s).map(|l| l.qty).sum::<i64>()),
            "returned_before": sku.map(|s| o.returned.get(s).copied().unwrap_or(0)),
            "earlier_returns": o.earlier,
        });
        return Failure::Refused(r, Some(facts));
    }
    if let (Some(h), "help_taken" | "help_closed") = (help, r.code) {
        let facts = serde_json::json!({
            "request_id": h.id,
            "taken_by": h.taken_by,
            "taken_at": h.taken_at,
            "closed_by": h.done_by,
            "closed_at": h.done_at,
        });
        return Failure::Refused(r, Some(facts));
    }
    match (body, detail) {
        (_, _) if r.code == "unknown_product" => {
            let facts = serde_json::json!({ "sku": missing_product, "in_catalogue": false });
            Failure::Refused(r, Some(facts))
        }
        (_, _) if r.code == "insufficient_points" => {
            let facts = serde_json::json!({ "customer_id": body.known_customer_id(), "balance": points, "asked": body.points_redeemed() });
            Failure::Refused(r, Some(facts))
        }
        (_, Some(d)) if body.order_id().is_some() && r.code != "manager_required" && r.code != "unknown_staff" => {
            let last = d.history.last();
            let facts = serde_json::json!({
                "order_id": d.order.id,
                "status": d.order.status,
                "changed_by": last.map(|e| e.by.clone()),
                "changed_at": last.map(|e| e.at),
                "note": last.and_then(|e| e.note.clone()),
            });
            let message = match (r.code, last.and_then(|e| e.note.as_deref())) {
                ("order_cancelled", Some(note)) => format!("{} (reason given online: {note})", r.message),
                _ => r.message,
            };
            Failure::Refused(Rejection { code: r.code, message }, Some(facts))
        }
        _ => Failure::Refused(r, None),
    }
}

/// The product a refused return is about: the one it would take back beyond what is left
/// (`over_return`), the one not bought there (`not_bought`), else its first returned line.
fn line_in_question<'a>(code: &str, o: &ReturnOrigin, receipt: &'a Receipt) -> Option<&'a str> {
    let returned: Vec<&str> = receipt.lines.iter().filter(|l| l.origin.is_some()).map(|l| l.sku.as_str()).collect();
    let bought = |sku: &str| o.bought.lines.iter().find(|l| l.sku == sku).map_or(0, |l| l.qty);
    let asked = |sku: &str| receipt.lines.iter().filter(|l| l.origin.is_some() && l.sku == sku).map(|l| -l.qty).sum::<i64>();
    let found = match code {
        "over_return" => returned.iter().find(|s| o.returned.get(**s).copied().unwrap_or(0) + asked(s) > bought(s)),
        "not_bought" => returned.iter().find(|s| bought(s) == 0),
        _ => None,
    };
    found.or(returned.first()).copied()
}

/// An op's strings with NUL characters replaced (U+FFFD).
fn without_nul(op: &Op) -> Op {
    fn clean(s: &str) -> String {
        s.replace('\0', "\u{FFFD}")
    }
    fn clean_json(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => *s = clean(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(clean_json),
            serde_json::Value::Object(fields) => {
                if fields.keys().any(|k| k.contains('\0')) {
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
