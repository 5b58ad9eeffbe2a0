//! The named operations a kiosk makes offline and pushes later, and the order rules both
//! sides apply: the kiosk checks an op before it queues it, the hub checks it again when
//! it arrives, and both use [`order_effect`] — the one place an op changes an order.

use serde::{Deserialize, Serialize};

use crate::wire::{Op, OrderRecord, OrderStatus};

/// How the shopper proved the order is theirs at handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", content = "value", rename_all = "snake_case")]
pub enum Verification {
    /// The six digits from the confirmation e-mail, typed at the desk.
    PickupCode(String),
    /// The order QR (`K1.…` with `"k":"o"`), scanned.
    OrderQr(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickedLine {
    pub sku: String,
    pub picked: i64,
}

/// Every op a kiosk can make. Wire form: `name` plus `body` (see [`OpBody::to_wire`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", content = "body")]
pub enum OpBody {
    #[serde(rename = "order.pick")]
    OrderPick { order_id: String, staff_id: String, lines: Vec<PickedLine>, short_reason: Option<String> },
    #[serde(rename = "order.ready")]
    OrderReady { order_id: String, staff_id: String },
    #[serde(rename = "order.collect")]
    OrderCollect { order_id: String, staff_id: String, verification: Verification },
    #[serde(rename = "order.cancel")]
    OrderCancel { order_id: String, staff_id: String, reason: String },
    /// "I'm here": the shopper waits at the desk for a ready order.
    #[serde(rename = "visit.checkin")]
    VisitCheckin { order_id: String, customer_id: String },
    /// A shopper identified at the kiosk: a touchpoint for the central profile.
    #[serde(rename = "visit.seen")]
    VisitSeen { customer_id: String },
    #[serde(rename = "loyalty.earn")]
    LoyaltyEarn { customer_id: String, points: i64, reason: String },
    #[serde(rename = "loyalty.redeem")]
    LoyaltyRedeem { customer_id: String, points: i64, reason: String },
    /// Net Promoter Score 0–10 and an optional satisfaction answer.
    #[serde(rename = "feedback.nps")]
    FeedbackNps { score: i64, csat: Option<String>, customer_id: Option<String> },
}

/// Why an op cannot be applied: a stable code and a sentence for the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(code: &'static str, message: impl Into<String>) -> Rejection {
        Rejection { code, message: message.into() }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// Most points one op may earn or redeem.
pub const MAX_POINTS_PER_OP: i64 = 100_000;

impl OpBody {
    pub fn name(&self) -> &'static str {
        match self {
            OpBody::OrderPick { .. } => "order.pick",
            OpBody::OrderReady { .. } => "order.ready",
            OpBody::OrderCollect { .. } => "order.collect",
            OpBody::OrderCancel { .. } => "order.cancel",
            OpBody::VisitCheckin { .. } => "visit.checkin",
            OpBody::VisitSeen { .. } => "visit.seen",
            OpBody::LoyaltyEarn { .. } => "loyalty.earn",
            OpBody::LoyaltyRedeem { .. } => "loyalty.redeem",
            OpBody::FeedbackNps { .. } => "feedback.nps",
        }
    }

    /// The order this op changes, if it changes one.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            OpBody::OrderPick { order_id, .. }
            | OpBody::OrderReady { order_id, .. }
            | OpBody::OrderCollect { order_id, .. }
            | OpBody::OrderCancel { order_id, .. } => Some(order_id),
            _ => None,
        }
    }

    /// The customer whose points this op moves, and by how much.
    pub fn points_delta(&self) -> Option<(&str, i64)> {
        match self {
            OpBody::LoyaltyEarn { customer_id, points, .. } => Some((customer_id, *points)),
            OpBody::LoyaltyRedeem { customer_id, points, .. } => Some((customer_id, -*points)),
            _ => None,
        }
    }

    /// The body's own rules, before any state is looked at.
    pub fn validate(&self) -> Result<(), Rejection> {
        let text = |what: &str, s: &str| {
            if s.trim().is_empty() || s.chars().count() > 200 {
                Err(Rejection::new("bad_op", format!("{what} must be 1-200 characters")))
            } else {
                Ok(())
            }
        };
        match self {
            OpBody::LoyaltyEarn { points, reason, .. } | OpBody::LoyaltyRedeem { points, reason, .. } => {
                if !(1..=MAX_POINTS_PER_OP).contains(points) {
                    return Err(Rejection::new("bad_op", format!("points must be 1..={MAX_POINTS_PER_OP}")));
                }
                text("reason", reason)
            }
            OpBody::FeedbackNps { score, csat, .. } => {
                if !(0..=10).contains(score) {
                    return Err(Rejection::new("bad_op", "the score must be 0 to 10"));
                }
                match csat {
                    Some(c) => text("answer", c),
                    None => Ok(()),
                }
            }
            OpBody::OrderCancel { reason, .. } => text("reason", reason),
            OpBody::OrderPick { short_reason: Some(r), .. } => text("short-pick reason", r),
            _ => Ok(()),
        }
    }

    /// `name` + `body` of the wire [`Op`].
    pub fn to_wire(&self) -> (String, serde_json::Value) {
        let mut v = serde_json::to_value(self).expect("op serialises");
        let body = v.get_mut("body").map(serde_json::Value::take).unwrap_or(serde_json::Value::Null);
        (self.name().to_string(), body)
    }

    pub fn from_wire(op: &Op) -> Result<OpBody, Rejection> {
        serde_json::from_value(serde_json::json!({ "name": op.name, "body": op.body }))
            .map_err(|e| Rejection::new("bad_op", format!("unreadable {} op: {e}", op.name)))
    }
}

/// Checks an order op against the order as it stands. `qr_order_id` reads an order QR
/// (signature checked by the caller's key) and returns the order id it names.
pub fn check_order_op(order: &OrderRecord, op: &OpBody, qr_order_id: &dyn Fn(&str) -> Option<String>) -> Result<(), Rejection> {
    op.validate()?;
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
/// [`check_order_op`] passed, and what a kiosk shows for an op still in its outbox.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OrderLine;

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

    fn collect(code: &str) -> OpBody {
        OpBody::OrderCollect { order_id: "O-1-1".into(), staff_id: "S1".into(), verification: Verification::PickupCode(code.into()) }
    }

    #[test]
    fn order_transition_table() {
        use OrderStatus::*;
        let ready = OpBody::OrderReady { order_id: "O-1-1".into(), staff_id: "S1".into() };
        let cancel = OpBody::OrderCancel { order_id: "O-1-1".into(), staff_id: "M1".into(), reason: "out of stock".into() };
        // (status before, picked so far, op, status after or the refusal's code)
        type Case = (OrderStatus, Option<i64>, OpBody, Result<OrderStatus, &'static str>);
        let cases: Vec<Case> = vec![
            (Placed, None, pick(2, None), Ok(Picking)),
            (Picking, Some(1), pick(2, None), Ok(Picking)),
            (Placed, None, pick(1, None), Err("short_pick_reason")),
            (Placed, None, pick(1, Some("only one left")), Ok(Picking)),
            (Placed, None, pick(3, None), Err("bad_op")),
            (Ready, Some(2), pick(2, None), Err("bad_transition")),
            (Picking, Some(2), ready.clone(), Ok(Ready)),
            (Picking, None, ready.clone(), Err("not_picked")),
            (Placed, None, ready.clone(), Err("not_picked")),
            (Ready, Some(2), collect("123456"), Ok(Collected)),
            (Ready, Some(2), collect("654321"), Err("wrong_pickup_code")),
            (Picking, Some(2), collect("123456"), Err("bad_transition")),
            (Cancelled, Some(2), collect("123456"), Err("order_cancelled")),
            (Expired, Some(2), collect("123456"), Err("order_expired")),
            (Collected, Some(2), collect("123456"), Err("order_collected")),
            (Ready, Some(2), cancel.clone(), Ok(Cancelled)),
            (Collected, Some(2), cancel.clone(), Err("order_collected")),
        ];
        for (from, picked, op, expected) in cases {
            let mut o = order(from, picked);
            let got = check_order_op(&o, &op, &|_| None).map(|_| {
                order_effect(&mut o, &op);
                o.status
            });
            assert_eq!(got.map_err(|r| r.code), expected, "{} from {from}", op.name());
        }
    }

    #[test]
    fn order_qr_must_name_this_order() {
        let o = order(OrderStatus::Ready, Some(2));
        let op = |qr: &str| OpBody::OrderCollect {
            order_id: "O-1-1".into(),
            staff_id: "S1".into(),
            verification: Verification::OrderQr(qr.into()),
        };
        let reader = |qr: &str| (qr == "good").then(|| "O-1-1".to_string());
        assert!(check_order_op(&o, &op("good"), &reader).is_ok());
        assert_eq!(check_order_op(&o, &op("other"), &reader).unwrap_err().code, "wrong_pickup_code");
    }

    #[test]
    fn ops_cross_the_wire_unchanged() {
        let ops = vec![
            pick(1, Some("damaged")),
            collect("123456"),
            OpBody::LoyaltyEarn { customer_id: "C1".into(), points: 50, reason: "purchase".into() },
            OpBody::FeedbackNps { score: 9, csat: None, customer_id: None },
        ];
        for op in ops {
            let (name, body) = op.to_wire();
            let wire = Op { op_id: "x".into(), seq: 1, name, base_version: None, kiosk_time: 0, body };
            assert_eq!(OpBody::from_wire(&wire).unwrap(), op);
        }
        let bogus = Op { op_id: "x".into(), seq: 1, name: "order.teleport".into(), base_version: None, kiosk_time: 0, body: serde_json::json!({}) };
        assert_eq!(OpBody::from_wire(&bogus).unwrap_err().code, "bad_op");
    }

    #[test]
    fn body_rules() {
        let earn = |p| OpBody::LoyaltyEarn { customer_id: "C1".into(), points: p, reason: "r".into() };
        assert!(earn(1).validate().is_ok());
        assert!(earn(0).validate().is_err());
        assert!(earn(MAX_POINTS_PER_OP + 1).validate().is_err());
        assert!(OpBody::FeedbackNps { score: 11, csat: None, customer_id: None }.validate().is_err());
    }
}
