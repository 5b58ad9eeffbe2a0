//! What an op may do, decided once. The kiosk asks [`judge`] before it queues an op (over
//! the hub's state with its own pending ops on top); the hub asks it again when the op
//! arrives (over its own state). Both gather the [`Facts`] the op needs and get the same
//! answer with the same words; [`order_effect`] is the one place an op changes an order.

use crate::ops::{OpBody, Rejection, Verification};
use crate::wire::{CartLine, OrderRecord, OrderStatus, PinState, StaffRole};

/// Who is judging: some rules hold only where the op is made, some only where it lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// The device making the op, offline or not. It may redeem at most `allowance` of a
    /// customer's points until the hub confirms them, `unconfirmed` of which are already
    /// waiting in its outbox: two offline kiosks cannot spend the same points twice.
    Device { allowance: i64, unconfirmed: i64 },
    /// The hub, receiving an op a device already made: what happened at the store (a
    /// check-in, a visit) is recorded even if the order has moved on since.
    Hub,
}

/// What is known where the op is judged; each field is looked up only for the ops that
/// need it (see [`OpBody::staff_id`], [`OpBody::order_id`], [`OpBody::known_customer_id`]).
pub struct Facts<'a> {
    pub judge: Judge,
    /// The role of the op's staff member at this store; `None`: not staff here.
    pub staff_role: Option<StaffRole>,
    /// The order the op names, as it stands; `None`: not an order of this store.
    pub order: Option<&'a OrderRecord>,
    /// Whether the customer the op names is known here.
    pub customer_known: bool,
    /// The customer's points balance, for a redemption.
    pub points: i64,
    /// Reads an order QR shown at handover (its signature checked with the hub's key) and
    /// returns the order id it names.
    pub qr_order_id: &'a dyn Fn(&str) -> Option<String>,
    /// The help request the op answers, as it stands; `None`: not an open request here.
    pub help: Option<HelpStanding<'a>>,
    /// The first product the op names that is not in the catalogue, if any.
    pub missing_product: Option<&'a str>,
    /// Whether the op's staff member may sell at the till (managers always may).
    pub staff_till: bool,
    /// Whether the op's staff member has a PIN already (a `staff.set_pin` needs none).
    pub staff_pin_set: bool,
    /// Whether the colleague whose PIN a `staff.reset_pin` clears works at this store.
    pub colleague_here: bool,
    /// For a return: what its receipt or order bought and what already came back from it;
    /// `None`: not known here.
    pub origin: Option<Origin<'a>>,
}

/// What a return takes back from, as it is known where the return is judged.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub bought: &'a crate::returns::Bought,
    pub returned: &'a crate::returns::Returned,
}

/// Where a "call staff" request stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelpStanding<'a> {
    /// The colleague on the way: staff id and first name.
    pub taken_by: Option<(&'a str, &'a str)>,
    /// Who closed it, if it is closed (the hub remembers; devices drop closed requests).
    pub closed_by: Option<&'a str>,
}

/// Wrong PINs in a row that lock a badge, counted over every device of the store.
pub const PIN_ATTEMPTS: i64 = 5;
/// How long a locked badge stays locked.
pub const PIN_LOCK_SECS: i64 = 5 * 60;

impl PinState {
    pub const CLEAR: PinState = PinState { failures: 0, locked_until: None };

    /// Until when the badge is locked, if it is locked at `now`.
    pub fn locked_at(&self, now: i64) -> Option<i64> {
        self.locked_until.filter(|&u| u > now)
    }
}

/// A badge's count after one PIN typed at `now`: a right one clears it, a wrong one adds
/// one and the [`PIN_ATTEMPTS`]th locks for [`PIN_LOCK_SECS`]; while locked nothing counts,
/// and a lock that has run out starts a fresh count. The hub runs it over the store's
/// `staff.pin_*` ops; a device over the hub's count and its own pending ops.
pub fn pin_step(state: PinState, right: bool, now: i64) -> PinState {
    if right {
        return PinState::CLEAR;
    }
    if state.locked_at(now).is_some() {
        return state;
    }
    let failures = if state.locked_until.is_some() { 1 } else { state.failures + 1 };
    let locked_until = (failures >= PIN_ATTEMPTS).then_some(now + PIN_LOCK_SECS);
    PinState { failures, locked_until }
}

/// Whether a badge may sell, take back or open and close a shift at the till: managers
/// always, staff with the till role.
pub fn may_work_the_till(staff_id: &str, role: StaffRole, till: bool) -> Result<(), Rejection> {
    if role != StaffRole::Manager && !till {
        return Err(Rejection::new("till_role_required", format!("staff {staff_id} may not work the till")));
    }
    Ok(())
}

/// Decides whether `op` may be applied given `facts`: `Ok` or the one refusal for it.
pub fn judge(op: &OpBody, facts: &Facts<'_>) -> Result<(), Rejection> {
    op.validate()?;
    if let Some(staff_id) = op.staff_id() {
        let role = facts
            .staff_role
            .ok_or_else(|| Rejection::new("unknown_staff", format!("staff {staff_id} does not work at this store")))?;
        let manager_only = match op {
            OpBody::OrderCancel { .. } => Some("only a manager can cancel an order"),
            OpBody::ResetPin { .. } => Some("only a manager can reset a colleague's PIN"),
            _ => None,
        };
        if let Some(refusal) = manager_only.filter(|_| role != StaffRole::Manager) {
            return Err(Rejection::new("manager_required", refusal));
        }
        if op.at_the_till() {
            may_work_the_till(staff_id, role, facts.staff_till)?;
        }
    }
    if let Some(customer_id) = op.known_customer_id() {
        if !facts.customer_known {
            return Err(Rejection::new("unknown_customer", format!("customer {customer_id} is not known at this store")));
        }
    }
    if let Some(sku) = facts.missing_product {
        return Err(Rejection::new("unknown_product", format!("{sku} is not in the catalogue")));
    }
    let redeemed = op.points_redeemed();
    if redeemed > 0 {
        let customer_id = op.known_customer_id().unwrap_or_default();
        if facts.points < redeemed {
            return Err(Rejection::new(
                "insufficient_points",
                format!("{customer_id} has {} points; {redeemed} cannot be redeemed", facts.points),
            ));
        }
        if let Judge::Device { allowance, unconfirmed } = facts.judge {
            if unconfirmed + redeemed > allowance {
                return Err(Rejection::new(
                    "over_offline_allowance",
                    format!("at most {allowance} points can be redeemed here until the hub confirms ({unconfirmed} already waiting)"),
                ));
            }
        }
    }
    match op {
        OpBody::OrderPick { order_id, .. }
        | OpBody::OrderReady { order_id, .. }
        | OpBody::OrderCollect { order_id, .. }
        | OpBody::OrderCancel { order_id, .. } => {
            let order = facts.order.ok_or_else(|| not_here(order_id))?;
            check_order_op(order, op, facts.qr_order_id)
        }
        OpBody::VisitCheckin { order_id, customer_id } => {
            let order = facts
                .order
                .filter(|o| &o.customer_id == customer_id)
                .ok_or_else(|| Rejection::new("unknown_order", format!("order {order_id} is not {customer_id}'s order here")))?;
            // The shopper's "I'm here" is offered only for a ready order; once made, it is
            // a fact the hub records whatever the order became before the op arrived.
            if matches!(facts.judge, Judge::Device { .. }) && order.status != OrderStatus::Ready {
                return Err(Rejection::new("not_ready", format!("order {order_id} is not ready yet ({})", order.status)));
            }
            Ok(())
        }
        OpBody::ReturnComplete { receipt } => {
            let reference = crate::returns::origin_of(receipt).unwrap_or_default();
            let origin = facts
                .origin
                .ok_or_else(|| Rejection::new("unknown_receipt", format!("{reference} is not a receipt or collected order known at this store")))?;
            crate::returns::check_return(origin.bought, origin.returned, receipt)
        }
        OpBody::HelpTake { request_id, staff_id } | OpBody::HelpDone { request_id, staff_id } => {
            let help = facts
                .help
                .ok_or_else(|| Rejection::new("unknown_help", format!("help request {request_id} is not open at this store")))?;
            if let Some(by) = help.closed_by {
                return Err(Rejection::new("help_closed", format!("help request {request_id} was already closed by {by}")));
            }
            match (op, help.taken_by) {
                (OpBody::HelpTake { .. }, Some((by, name))) if by != staff_id => {
                    Err(Rejection::new("help_taken", format!("{name} is already on the way")))
                }
                _ => Ok(()),
            }
        }
        OpBody::SetPin { staff_id, .. } if facts.staff_pin_set => Err(Rejection::new(
            "pin_already_set",
            format!("staff {staff_id} has a PIN already: a manager resets it before a new one is chosen"),
        )),
        // A reset PIN lets whoever holds the badge choose the next one: a manager's own is
        // reset by another manager or at the hub, never by the badge it would open.
        OpBody::ResetPin { staff_id, colleague_id } if staff_id == colleague_id => Err(Rejection::new(
            "own_pin",
            "a manager's own PIN is reset by another manager or by head office, not at their own badge",
        )),
        OpBody::ResetPin { colleague_id, .. } if !facts.colleague_here => {
            Err(Rejection::new("unknown_staff", format!("staff {colleague_id} does not work at this store")))
        }
        OpBody::VisitSeen { .. }
        | OpBody::SetPin { .. }
        | OpBody::ResetPin { .. }
        | OpBody::LoyaltyRedeem { .. }
        | OpBody::SaleComplete { .. }
        | OpBody::ShiftClose { .. }
        | OpBody::LoyaltyEarn { .. }
        | OpBody::FeedbackNps { .. }
        | OpBody::HelpRequest { .. }
        | OpBody::PinFailed { .. }
        | OpBody::PinAccepted { .. }
        | OpBody::CartAdd { .. } => Ok(()),
    }
}

fn not_here(order_id: &str) -> Rejection {
    Rejection::new("unknown_order", format!("order {order_id} is not an order of this store"))
}

/// The order's state machine: whether an order op may move the order as it stands.
fn check_order_op(order: &OrderRecord, op: &OpBody, qr_order_id: &dyn Fn(&str) -> Option<String>) -> Result<(), Rejection> {
    let id = &order.id;
    let closed = |verb: &str| match order.status {
        OrderStatus::Cancelled => Rejection::new(
            "order_cancelled",
            format!("order {id} was cancelled online — return the items to stock instead of {verb}"),
        ),
        OrderStatus::Expired => Rejection::new("order_expired", format!("order {id} expired (no-show) — it cannot be {verb}")),
        OrderStatus::Collected => Rejection::new("order_collected", format!("order {id} was already collected")),
        other => Rejection::new("bad_transition", format!("order {id} is {other}: it cannot be {verb} now")),
    };
    match op {
        OpBody::OrderPick { lines, short_reason, .. } => {
            if !matches!(order.status, OrderStatus::Placed | OrderStatus::Picking) {
                return Err(closed("picked"));
            }
            for l in lines {
                let Some(ol) = order.lines.iter().find(|ol| ol.sku == l.sku) else {
                    return Err(Rejection::new("bad_op", format!("{} is not in order {id}", l.sku)));
                };
                if !(0..=ol.qty).contains(&l.picked) {
                    return Err(Rejection::new("bad_op", format!("{} picked must be 0..={}", l.sku, ol.qty)));
                }
                if l.picked < ol.qty && short_reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(Rejection::new("short_pick_reason", format!("{} is short-picked: say why", ol.name)));
                }
            }
            Ok(())
        }
        OpBody::OrderReady { .. } => {
            if order.status != OrderStatus::Picking {
                return Err(if order.status == OrderStatus::Placed {
                    Rejection::new("not_picked", format!("order {id} has not been picked yet"))
                } else {
                    closed("marked ready")
                });
            }
            if let Some(l) = order.lines.iter().find(|l| l.picked.is_none()) {
                return Err(Rejection::new("not_picked", format!("{} of order {id} has not been picked", l.name)));
            }
            Ok(())
        }
        OpBody::OrderCollect { verification, .. } => {
            if order.status != OrderStatus::Ready {
                return Err(closed("handed over"));
            }
            let ok = match verification {
                Verification::PickupCode(code) => *code == order.pickup_code,
                Verification::OrderQr(qr) => qr_order_id(qr).as_deref() == Some(id.as_str()),
            };
            if !ok {
                return Err(Rejection::new("wrong_pickup_code", "the pickup code or order QR does not match this order"));
            }
            Ok(())
        }
        OpBody::OrderCancel { .. } => {
            if order.status.is_final() {
                return Err(closed("cancelled"));
            }
            Ok(())
        }
        _ => Err(Rejection::new("bad_op", format!("{} does not change an order", op.name()))),
    }
}

/// The effect of an order op, applied without checks: what the hub does after
/// [`judge`] passed, and what a kiosk shows for an op still in its outbox.
pub fn order_effect(order: &mut OrderRecord, op: &OpBody) {
    match op {
        OpBody::OrderPick { lines, .. } => {
            for l in lines {
                if let Some(ol) = order.lines.iter_mut().find(|ol| ol.sku == l.sku) {
                    ol.picked = Some(l.picked);
                }
            }
            order.status = OrderStatus::Picking;
        }
        OpBody::OrderReady { .. } => order.status = OrderStatus::Ready,
        OpBody::OrderCollect { .. } => order.status = OrderStatus::Collected,
        OpBody::OrderCancel { .. } => order.status = OrderStatus::Cancelled,
        _ => {}
    }
}

/// A colleague's stored PIN after an op on it, applied without checks: a chosen PIN
/// (`staff.set_pin`) takes the place of none, a reset (`staff.reset_pin`) leaves none, so
/// they choose one at their next badge scan. The hub applies it to its record after
/// [`judge`]; a device to its own copy when the op is made, and over a pulled record
/// for the ops still in its outbox.
pub fn pin_effect(pin_hash: &mut String, op: &OpBody) {
    match op {
        OpBody::SetPin { pin_hash: chosen, .. } if pin_hash.is_empty() => pin_hash.clone_from(chosen),
        OpBody::ResetPin { .. } => pin_hash.clear(),
        _ => {}
    }
}

/// The online cart after a `cart.add` ("save for later": one more of the product) or a
/// sale that took lines from it ("buy here": what was bought leaves the cart).
pub fn cart_effect(lines: &mut Vec<CartLine>, op: &OpBody) {
    match op {
        OpBody::CartAdd { sku, .. } => match lines.iter_mut().find(|l| &l.sku == sku) {
            Some(line) => line.qty += 1,
            None => lines.push(CartLine { sku: sku.clone(), qty: 1 }),
        },
        OpBody::SaleComplete { receipt } => cart_after_sale(lines, receipt),
        _ => {}
    }
}

/// "Buy here": what a sale took from the shopper's online cart leaves it (a line the cart
/// no longer holds is left alone).
pub fn cart_after_sale(lines: &mut Vec<CartLine>, receipt: &crate::till::Receipt) {
    for bought in receipt.lines.iter().filter(|l| l.from_cart) {
        if let Some(line) = lines.iter_mut().find(|l| l.sku == bought.sku) {
            line.qty -= bought.qty;
        }
    }
    lines.retain(|l| l.qty > 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::PickedLine;
    use crate::wire::OrderLine;
    use OrderStatus::*;

    const STATUSES: [OrderStatus; 6] = [Placed, Picking, Ready, Collected, Cancelled, Expired];
    const DEVICE: Judge = Judge::Device { allowance: 500, unconfirmed: 0 };

    fn order(status: OrderStatus, picked: Option<i64>) -> OrderRecord {
        OrderRecord {
            id: "O-1-1".into(),
            store_id: 1,
            customer_id: "C1".into(),
            status,
            pickup_code: "123456".into(),
            lines: vec![OrderLine { sku: "5900000000001".into(), name: "Oat milk".into(), qty: 2, picked }],
            placed_at: 0,
            promised_ready_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    fn pick(n: i64, reason: Option<&str>) -> OpBody {
        OpBody::OrderPick {
            order_id: "O-1-1".into(),
            staff_id: "S1".into(),
            lines: vec![PickedLine { sku: "5900000000001".into(), picked: n }],
            short_reason: reason.map(Into::into),
        }
    }

    fn collect(verification: Verification) -> OpBody {
        OpBody::OrderCollect { order_id: "O-1-1".into(), staff_id: "S1".into(), verification }
    }

    fn code(c: &str) -> Verification {
        Verification::PickupCode(c.into())
    }

    /// The order QR reader of these tests: "good" names order O-1-1, anything else nothing.
    fn qr(qr: &str) -> Option<String> {
        (qr == "good").then(|| "O-1-1".to_string())
    }

    /// Judges `op` against an order in `status` with every other fact in its favour, and
    /// returns the order's status afterwards or the refusal's code.
    fn outcome(op: &OpBody, status: OrderStatus, picked: Option<i64>, role: StaffRole, judge_: Judge) -> Result<OrderStatus, &'static str> {
        let mut o = order(status, picked);
        let facts = Facts {
            judge: judge_,
            staff_role: Some(role),
            order: Some(&o),
            customer_known: true,
            points: 1000,
            qr_order_id: &qr,
            help: Some(HelpStanding::default()),
            missing_product: None,
            staff_till: true,
            staff_pin_set: true,
            colleague_here: true,
            origin: None,
        };
        judge(op, &facts).map_err(|r| r.code)?;
        order_effect(&mut o, op);
        Ok(o.status)
    }

    #[test]
    fn every_op_in_every_order_state() {
        let ready = OpBody::OrderReady { order_id: "O-1-1".into(), staff_id: "S1".into() };
        let cancel = OpBody::OrderCancel { order_id: "O-1-1".into(), staff_id: "M1".into(), reason: "out of stock".into() };
        let checkin = OpBody::VisitCheckin { order_id: "O-1-1".into(), customer_id: "C1".into() };
        let seen = OpBody::VisitSeen { customer_id: "C1".into() };
        let earn = OpBody::LoyaltyEarn { customer_id: "C1".into(), points: 50, reason: "purchase".into() };
        let redeem = OpBody::LoyaltyRedeem { customer_id: "C1".into(), points: 50, reason: "discount".into() };
        let nps = OpBody::FeedbackNps { score: 9, csat: None, customer_id: Some("C1".into()) };
        let closed = |open: [Result<OrderStatus, &'static str>; 3]| {
            [open[0], open[1], open[2], Err("order_collected"), Err("order_cancelled"), Err("order_expired")]
        };
        let unchanged = STATUSES.map(Ok);
        // (what, op, role, judge, the outcome from each of STATUSES in order); the order's
        // lines are fully picked unless the row says otherwise.
        type Row = (&'static str, OpBody, StaffRole, Judge, Option<i64>, [Result<OrderStatus, &'static str>; 6]);
        let rows: Vec<Row> = vec![
            ("pick all", pick(2, None), StaffRole::Staff, DEVICE, None, closed([Ok(Picking), Ok(Picking), Err("bad_transition")])),
            ("short pick, no reason", pick(1, None), StaffRole::Staff, DEVICE, None, closed([Err("short_pick_reason"), Err("short_pick_reason"), Err("bad_transition")])),
            ("short pick, reason", pick(1, Some("only one left")), StaffRole::Staff, DEVICE, None, closed([Ok(Picking), Ok(Picking), Err("bad_transition")])),
            ("pick more than ordered", pick(3, None), StaffRole::Staff, DEVICE, None, closed([Err("bad_op"), Err("bad_op"), Err("bad_transition")])),
            ("ready", ready.clone(), StaffRole::Staff, DEVICE, Some(2), closed([Err("not_picked"), Ok(Ready), Err("bad_transition")])),
            ("ready, lines not picked", ready.clone(), StaffRole::Staff, DEVICE, None, closed([Err("not_picked"), Err("not_picked"), Err("bad_transition")])),
            ("collect, right code", collect(code("123456")), StaffRole::Staff, DEVICE, Some(2), closed([Err("bad_transition"), Err("bad_transition"), Ok(Collected)])),
            ("collect, wrong code", collect(code("654321")), StaffRole::Staff, DEVICE, Some(2), closed([Err("bad_transition"), Err("bad_transition"), Err("wrong_pickup_code")])),
            ("collect, order QR", collect(Verification::OrderQr("good".into())), StaffRole::Staff, DEVICE, Some(2), closed([Err("bad_transition"), Err("bad_transition"), Ok(Collected)])),
            ("collect, another order's QR", collect(Verification::OrderQr("other".into())), StaffRole::Staff, DEVICE, Some(2), closed([Err("bad_transition"), Err("bad_transition"), Err("wrong_pickup_code")])),
            ("collect at the hub", collect(code("123456")), StaffRole::Staff, Judge::Hub, Some(2), closed([Err("bad_transition"), Err("bad_transition"), Ok(Collected)])),
            ("cancel by a manager", cancel.clone(), StaffRole::Manager, DEVICE, Some(2), closed([Ok(Cancelled), Ok(Cancelled), Ok(Cancelled)])),
            ("cancel by staff", cancel.clone(), StaffRole::Staff, DEVICE, Some(2), [Err("manager_required"); 6]),
            ("check-in at the kiosk", checkin.clone(), StaffRole::Staff, DEVICE, Some(2), [Err("not_ready"), Err("not_ready"), Ok(Ready), Err("not_ready"), Err("not_ready"), Err("not_ready")]),
            ("check-in arriving at the hub", checkin.clone(), StaffRole::Staff, Judge::Hub, Some(2), unchanged),
            ("seen", seen, StaffRole::Staff, DEVICE, Some(2), unchanged),
            ("earn", earn, StaffRole::Staff, DEVICE, Some(2), unchanged),
            ("redeem", redeem, StaffRole::Staff, DEVICE, Some(2), unchanged),
            ("nps", nps, StaffRole::Staff, DEVICE, Some(2), unchanged),
        ];
        for (what, op, role, judge_, picked, expected) in rows {
            for (status, want) in STATUSES.into_iter().zip(expected) {
                assert_eq!(outcome(&op, status, picked, role, judge_), want, "{what} from {status}");
            }
        }
    }

    #[test]
    fn missing_facts_refuse_with_their_own_code() {
        let o = order(Ready, Some(2));
        let base = || Facts {
            judge: DEVICE,
            staff_role: Some(StaffRole::Staff),
            order: Some(&o),
            customer_known: true,
            points: 100,
            qr_order_id: &qr,
            help: Some(HelpStanding::default()),
            missing_product: None,
            staff_till: true,
            staff_pin_set: true,
            colleague_here: true,
            origin: None,
        };
        let take = |staff: &str| OpBody::HelpTake { request_id: "H1".into(), staff_id: staff.into() };
        let done = OpBody::HelpDone { request_id: "H1".into(), staff_id: "S1".into() };
        let taken = HelpStanding { taken_by: Some(("S2", "Kasia")), closed_by: None };
        let closed = HelpStanding { taken_by: None, closed_by: Some("Kasia") };
        let save = |sku: &str| OpBody::CartAdd { customer_id: "C1".into(), sku: sku.into() };
        let redeem = |points| OpBody::LoyaltyRedeem { customer_id: "C1".into(), points, reason: "discount".into() };
        let seen = OpBody::VisitSeen { customer_id: "C9".into() };
        let reset_pin = |by: &str, colleague: &str| OpBody::ResetPin { staff_id: by.into(), colleague_id: colleague.into() };
        let set_pin = |staff: &str| OpBody::SetPin { staff_id: staff.into(), pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into() };
        let basket = || vec![crate::till::tests::line("5900000000015", 2, 1230, 2300)];
        let sale = |redeem: i64| OpBody::SaleComplete {
            receipt: crate::till::SaleDraft { points_redeemed: redeem, ..crate::till::tests::draft(basket(), vec![crate::till::tests::cash(3000)]) }
                .receipt()
                .unwrap(),
        };
        let checkin_other = OpBody::VisitCheckin { order_id: "O-1-1".into(), customer_id: "C2".into() };
        let ready = OpBody::OrderReady { order_id: "O-1-1".into(), staff_id: "S9".into() };
        let OpBody::SaleComplete { receipt: sold } = sale(0) else { unreachable!() };
        let bought = crate::returns::Bought::of_receipt(&sold);
        let (none, all_back) = (crate::returns::Returned::new(), crate::returns::Returned::from([("5900000000015".to_string(), 2)]));
        let give_back = OpBody::ReturnComplete {
            receipt: crate::returns::ReturnDraft {
                store_id: 1,
                device_id: "kiosk-1-3",
                seq: 1,
                staff_id: "S1-STAFF",
                currency: "PLN",
                bought: &bought,
                returned: &none,
                items: vec![("5900000000015".into(), 1)],
                sold: vec![],
                reason: "damaged",
                tenders: vec![crate::till::tests::cash(1230)],
                rule: crate::till::PointsRule::default(),
                at: 0,
                prev_hash: crate::till::GENESIS_HASH,
            }
            .receipt()
            .unwrap(),
        };
        let known = |returned| Some(Origin { bought: &bought, returned });
        let cases: Vec<(&str, OpBody, Facts<'_>, Result<(), &str>)> = vec![
            ("staff of another store", ready.clone(), Facts { staff_role: None, ..base() }, Err("unknown_staff")),
            ("order of another store", collect(code("123456")), Facts { order: None, ..base() }, Err("unknown_order")),
            ("check-in for another shopper's order", checkin_other, base(), Err("unknown_order")),
            ("unknown customer seen", seen.clone(), Facts { customer_known: false, ..base() }, Err("unknown_customer")),
            ("unknown customer redeems", redeem(10), Facts { customer_known: false, ..base() }, Err("unknown_customer")),
            ("more points than the balance", redeem(101), base(), Err("insufficient_points")),
            ("the whole balance", redeem(100), base(), Ok(())),
            ("past the device's allowance", redeem(60), Facts { judge: Judge::Device { allowance: 100, unconfirmed: 50 }, ..base() }, Err("over_offline_allowance")),
            ("up to the device's allowance", redeem(50), Facts { judge: Judge::Device { allowance: 100, unconfirmed: 50 }, ..base() }, Ok(())),
            ("the hub has no allowance", redeem(100), Facts { judge: Judge::Hub, ..base() }, Ok(())),
            ("a bad body before any fact", redeem(0), Facts { customer_known: false, ..base() }, Err("bad_op")),
            ("take an open request", take("S1"), base(), Ok(())),
            ("take a request another colleague took", take("S1"), Facts { help: Some(taken), ..base() }, Err("help_taken")),
            ("take a request again", take("S2"), Facts { help: Some(taken), ..base() }, Ok(())),
            ("close a request another colleague took", done.clone(), Facts { help: Some(taken), ..base() }, Ok(())),
            ("close a request twice", done.clone(), Facts { help: Some(closed), ..base() }, Err("help_closed")),
            ("close a request of another store", done.clone(), Facts { help: None, ..base() }, Err("unknown_help")),
            ("close with a badge of another store", done, Facts { staff_role: None, ..base() }, Err("unknown_staff")),
            ("save a product for later", save("4006381333931"), base(), Ok(())),
            ("save a product not in the catalogue", save("4006381333931"), Facts { missing_product: Some("4006381333931"), ..base() }, Err("unknown_product")),
            ("save something that is no SKU", save("4006381333931; DROP"), base(), Err("bad_op")),
            ("save a retailer's own SKU", save("OM-MUG-350"), base(), Ok(())),
            ("save for an unknown shopper", save("4006381333931"), Facts { customer_known: false, ..base() }, Err("unknown_customer")),
            ("a sale", sale(0), base(), Ok(())),
            ("a sale by a badge without the till role", sale(0), Facts { staff_till: false, ..base() }, Err("till_role_required")),
            ("a sale by a manager", sale(0), Facts { staff_till: false, staff_role: Some(StaffRole::Manager), ..base() }, Ok(())),
            ("a sale by staff of another store", sale(0), Facts { staff_role: None, ..base() }, Err("unknown_staff")),
            ("a sale of a product not in the catalogue", sale(0), Facts { missing_product: Some("5900000000015"), ..base() }, Err("unknown_product")),
            ("a sale to an unknown shopper", sale(0), Facts { customer_known: false, ..base() }, Err("unknown_customer")),
            ("a sale redeeming more than the balance", sale(101), base(), Err("insufficient_points")),
            ("a sale redeeming past the allowance", sale(60), Facts { judge: Judge::Device { allowance: 100, unconfirmed: 50 }, ..base() }, Err("over_offline_allowance")),
            ("a sale redeeming at the hub", sale(100), Facts { judge: Judge::Hub, ..base() }, Ok(())),
            ("a return", give_back.clone(), Facts { origin: known(&none), ..base() }, Ok(())),
            ("a return of what already came back", give_back.clone(), Facts { origin: known(&all_back), ..base() }, Err("over_return")),
            ("a return against a receipt not known here", give_back.clone(), base(), Err("unknown_receipt")),
            ("a return by a badge without the till role", give_back.clone(), Facts { staff_till: false, origin: known(&none), ..base() }, Err("till_role_required")),
            ("a return to a shopper not known here", give_back, Facts { customer_known: false, origin: known(&none), ..base() }, Err("unknown_customer")),
            ("a sale sent as a return", OpBody::ReturnComplete { receipt: sold }, base(), Err("bad_receipt")),
            ("choose a PIN with none set", set_pin("S1"), Facts { staff_pin_set: false, ..base() }, Ok(())),
            ("choose a PIN with one set already", set_pin("S1"), base(), Err("pin_already_set")),
            ("choose a PIN at another store", set_pin("S1"), Facts { staff_pin_set: false, staff_role: None, ..base() }, Err("unknown_staff")),
            ("send a PIN in clear", OpBody::SetPin { staff_id: "S1".into(), pin_hash: "2580".into() }, Facts { staff_pin_set: false, ..base() }, Err("bad_op")),
            ("a manager resets a colleague's PIN", reset_pin("M1", "S1"), Facts { staff_role: Some(StaffRole::Manager), ..base() }, Ok(())),
            ("a pickup-desk colleague resets another's PIN", reset_pin("S2", "S1"), Facts { staff_till: false, ..base() }, Err("manager_required")),
            ("a till colleague resets another's PIN", reset_pin("S2", "S1"), Facts { staff_till: true, ..base() }, Err("manager_required")),
            ("a manager of another store resets a PIN", reset_pin("M9", "S1"), Facts { staff_role: None, ..base() }, Err("unknown_staff")),
            ("a manager resets the PIN of another store's colleague", reset_pin("M1", "S9"), Facts { staff_role: Some(StaffRole::Manager), colleague_here: false, ..base() }, Err("unknown_staff")),
            ("a manager resets their own PIN", reset_pin("M1", "M1"), Facts { staff_role: Some(StaffRole::Manager), ..base() }, Err("own_pin")),
        ];
        for (what, op, facts, want) in cases {
            assert_eq!(judge(&op, &facts).map_err(|r| r.code), want, "{what}");
        }
    }

    #[test]
    fn refusals_say_what_the_screen_shows() {
        let o = order(Cancelled, Some(2));
        let facts = Facts {
            judge: Judge::Hub,
            staff_role: Some(StaffRole::Staff),
            order: Some(&o),
            customer_known: true,
            points: 0,
            qr_order_id: &qr,
            help: Some(HelpStanding { taken_by: Some(("S2", "Kasia")), closed_by: None }),
            missing_product: None,
            staff_till: true,
            staff_pin_set: true,
            colleague_here: true,
            origin: None,
        };
        let refused = judge(&collect(code("123456")), &facts).unwrap_err();
        assert_eq!(refused.message, "order O-1-1 was cancelled online — return the items to stock instead of handed over");
        let take = OpBody::HelpTake { request_id: "H1".into(), staff_id: "S1".into() };
        assert_eq!(judge(&take, &facts).unwrap_err().message, "Kasia is already on the way");
    }

    #[test]
    fn saving_a_product_for_later_adds_one() {
        let save = OpBody::CartAdd { customer_id: "C1".into(), sku: "4006381333931".into() };
        let mut lines = vec![CartLine { sku: "5900000000001".into(), qty: 2 }];
        cart_effect(&mut lines, &save);
        cart_effect(&mut lines, &save);
        assert_eq!(lines[1], CartLine { sku: "4006381333931".into(), qty: 2 });
        assert_eq!(lines[0].qty, 2, "other lines untouched");
    }

    #[test]
    fn a_reset_pin_is_chosen_again_and_a_chosen_one_never_overwrites_another() {
        let set = |hash: &str| OpBody::SetPin { staff_id: "S1".into(), pin_hash: hash.into() };
        let reset = OpBody::ResetPin { staff_id: "M1".into(), colleague_id: "S1".into() };
        // (what, the PIN before, the ops in order, the PIN after)
        let cases: [(&str, &str, Vec<OpBody>, &str); 4] = [
            ("chosen with none", "", vec![set("$new")], "$new"),
            ("chosen over one already set", "$old", vec![set("$new")], "$old"),
            ("reset", "$old", vec![reset.clone()], ""),
            ("reset, then chosen again", "$old", vec![reset.clone(), set("$new")], "$new"),
        ];
        for (what, before, ops, after) in cases {
            let mut pin_hash = before.to_string();
            ops.iter().for_each(|op| pin_effect(&mut pin_hash, op));
            assert_eq!(pin_hash, after, "{what}");
        }
    }

    #[test]
    fn five_wrong_pins_lock_a_badge_and_the_lock_runs_out() {
        let mut s = PinState::CLEAR;
        for n in 1..PIN_ATTEMPTS {
            s = pin_step(s, false, 100);
            assert_eq!(s, PinState { failures: n, locked_until: None });
        }
        s = pin_step(s, false, 100);
        assert_eq!(s.locked_at(100), Some(100 + PIN_LOCK_SECS), "the fifth locks");
        assert_eq!(pin_step(s, false, 200), s, "tries while locked do not count or extend the lock");
        assert_eq!(s.locked_at(100 + PIN_LOCK_SECS), None, "the lock runs out");
        assert_eq!(pin_step(s, false, 100 + PIN_LOCK_SECS), PinState { failures: 1, locked_until: None }, "a fresh count");
        assert_eq!(pin_step(PinState { failures: 4, locked_until: None }, true, 100), PinState::CLEAR, "the right PIN clears it");
    }
}
