//! The named operations a kiosk makes offline and pushes later: their wire form and the
//! rules of their bodies alone. What an op may do to the state it meets is decided in
//! [`crate::rules`].

use serde::{Deserialize, Serialize};

use crate::wire::Op;

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

    /// For an op that changes an order (only staff make those): the order and the staff
    /// member.
    fn order_and_staff(&self) -> Option<(&str, &str)> {
        match self {
            OpBody::OrderPick { order_id, staff_id, .. }
            | OpBody::OrderReady { order_id, staff_id }
            | OpBody::OrderCollect { order_id, staff_id, .. }
            | OpBody::OrderCancel { order_id, staff_id, .. } => Some((order_id, staff_id)),
            _ => None,
        }
    }

    /// The order this op changes, if it changes one.
    pub fn order_id(&self) -> Option<&str> {
        self.order_and_staff().map(|(order, _)| order)
    }

    /// The staff member who made this op, for the ops only staff may make.
    pub fn staff_id(&self) -> Option<&str> {
        self.order_and_staff().map(|(_, staff)| staff)
    }

    /// The customer this op must find known, if it names one that must exist.
    pub fn known_customer_id(&self) -> Option<&str> {
        match self {
            OpBody::VisitSeen { customer_id } | OpBody::LoyaltyEarn { customer_id, .. } | OpBody::LoyaltyRedeem { customer_id, .. } => {
                Some(customer_id)
            }
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


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_cross_the_wire_unchanged() {
        let ops = vec![
            OpBody::OrderPick {
                order_id: "O-2-7".into(),
                staff_id: "S2".into(),
                lines: vec![PickedLine { sku: "4006381333931".into(), picked: 1 }],
                short_reason: Some("damaged".into()),
            },
            OpBody::OrderCollect { order_id: "O-2-7".into(), staff_id: "S2".into(), verification: Verification::OrderQr("K1.x.y".into()) },
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
