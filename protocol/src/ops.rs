//! The named operations a kiosk makes offline and pushes later: their wire form and the
//! rules of their bodies alone. What an op may do to the state it meets is decided in
//! [`crate::rules`].

use serde::{Deserialize, Serialize};

use crate::shift::ZReport;
use crate::till::{Receipt, ReceiptKind};
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
// A sale carries its whole receipt; ops are made and sent one at a time, so boxing it
// would buy nothing.
#[allow(clippy::large_enum_variant)]
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
    /// "Call staff" pressed at a device, with the shopper signed in there if any. The
    /// request's id is this op's id.
    #[serde(rename = "help.request")]
    HelpRequest { customer_id: Option<String> },
    /// A colleague is on the way ("Kasia is on the way" on the device that asked).
    #[serde(rename = "help.take")]
    HelpTake { request_id: String, staff_id: String },
    /// The shopper was helped: the request leaves every screen of the store.
    #[serde(rename = "help.done")]
    HelpDone { request_id: String, staff_id: String },
    /// A wrong PIN typed for a badge: counted store-wide (see [`crate::rules::pin_step`]).
    #[serde(rename = "staff.pin_failed")]
    PinFailed { staff_id: String },
    /// The right PIN: the badge's count of wrong ones starts again.
    #[serde(rename = "staff.pin_ok")]
    PinAccepted { staff_id: String },
    /// A new colleague (or one whose PIN was reset) chose their PIN at a kiosk: its
    /// Argon2id value under the record's salt ([`crate::pin::hash`]); the PIN never leaves
    /// the kiosk.
    #[serde(rename = "staff.set_pin")]
    SetPin { staff_id: String, pin_hash: String },
    /// A manager (`staff_id`) reset a colleague's PIN at a kiosk: the colleague chooses a
    /// new one at their next badge scan, as after `omnikiosk-hub staff reset-pin`.
    #[serde(rename = "staff.reset_pin")]
    ResetPin { staff_id: String, colleague_id: String },
    /// "Save for later": a product scanned by an identified shopper, into their online cart.
    #[serde(rename = "cart.add")]
    CartAdd { customer_id: String, sku: String },
    /// A sale paid at the till, with its receipt (number, lines, tenders, points, hash).
    #[serde(rename = "sale.complete")]
    SaleComplete { receipt: Receipt },
    /// Goods taken back against a receipt or a collected order (an exchange: with goods
    /// sold beside them), with its receipt in the same sequence and chain as the sales.
    #[serde(rename = "return.complete")]
    ReturnComplete { receipt: Receipt },
    /// A shift closed at the till, with its Z report.
    #[serde(rename = "shift.close")]
    ShiftClose { report: ZReport },
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

/// The highest NPS score (the lowest is 0).
pub const MAX_NPS_SCORE: i64 = 10;

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
            OpBody::HelpRequest { .. } => "help.request",
            OpBody::HelpTake { .. } => "help.take",
            OpBody::HelpDone { .. } => "help.done",
            OpBody::PinFailed { .. } => "staff.pin_failed",
            OpBody::PinAccepted { .. } => "staff.pin_ok",
            OpBody::SetPin { .. } => "staff.set_pin",
            OpBody::ResetPin { .. } => "staff.reset_pin",
            OpBody::CartAdd { .. } => "cart.add",
            OpBody::SaleComplete { .. } => "sale.complete",
            OpBody::ReturnComplete { .. } => "return.complete",
            OpBody::ShiftClose { .. } => "shift.close",
        }
    }

    /// The order this op changes, if it changes one (only staff change orders).
    pub fn order_id(&self) -> Option<&str> {
        match self {
            OpBody::OrderPick { order_id, .. }
            | OpBody::OrderReady { order_id, .. }
            | OpBody::OrderCollect { order_id, .. }
            | OpBody::OrderCancel { order_id, .. } => Some(order_id),
            _ => None,
        }
    }

    /// The order this op needs to see: the one it changes, or the one a shopper checks in for.
    pub fn order_looked_at(&self) -> Option<&str> {
        match self {
            OpBody::VisitCheckin { order_id, .. } => Some(order_id),
            other => other.order_id(),
        }
    }

    /// The staff member who made this op, for the ops only staff of the store may make.
    pub fn staff_id(&self) -> Option<&str> {
        match self {
            OpBody::OrderPick { staff_id, .. }
            | OpBody::OrderReady { staff_id, .. }
            | OpBody::OrderCollect { staff_id, .. }
            | OpBody::OrderCancel { staff_id, .. }
            | OpBody::HelpTake { staff_id, .. }
            | OpBody::HelpDone { staff_id, .. }
            | OpBody::PinFailed { staff_id }
            | OpBody::PinAccepted { staff_id }
            | OpBody::SetPin { staff_id, .. }
            | OpBody::ResetPin { staff_id, .. } => Some(staff_id),
            OpBody::SaleComplete { receipt } | OpBody::ReturnComplete { receipt } => Some(&receipt.staff_id),
            OpBody::ShiftClose { report } => Some(&report.closed_by),
            _ => None,
        }
    }

    /// The colleague whose PIN this op sets or clears (see [`crate::rules::pin_effect`]).
    pub fn pin_holder(&self) -> Option<&str> {
        match self {
            OpBody::SetPin { staff_id, .. } => Some(staff_id),
            OpBody::ResetPin { colleague_id, .. } => Some(colleague_id),
            _ => None,
        }
    }

    /// The receipt this op writes at the till, if it writes one.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            OpBody::SaleComplete { receipt } | OpBody::ReturnComplete { receipt } => Some(receipt),
            _ => None,
        }
    }

    /// Whether only staff with the till role (or a manager) may make this op.
    pub fn at_the_till(&self) -> bool {
        matches!(self, OpBody::SaleComplete { .. } | OpBody::ReturnComplete { .. } | OpBody::ShiftClose { .. })
    }

    /// The help request this op answers.
    pub fn help_request_id(&self) -> Option<&str> {
        match self {
            OpBody::HelpTake { request_id, .. } | OpBody::HelpDone { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    /// The products this op must find in the catalogue.
    pub fn skus(&self) -> Vec<&str> {
        match self {
            OpBody::CartAdd { sku, .. } => vec![sku],
            OpBody::SaleComplete { receipt } | OpBody::ReturnComplete { receipt } => receipt.lines.iter().map(|l| l.sku.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The customer this op must find known, if it names one that must exist.
    pub fn known_customer_id(&self) -> Option<&str> {
        match self {
            OpBody::VisitSeen { customer_id }
            | OpBody::LoyaltyEarn { customer_id, .. }
            | OpBody::LoyaltyRedeem { customer_id, .. }
            | OpBody::CartAdd { customer_id, .. } => Some(customer_id),
            OpBody::SaleComplete { receipt } | OpBody::ReturnComplete { receipt } => receipt.customer_id.as_deref(),
            _ => None,
        }
    }

    /// The customer whose points this op moves, and by how much.
    pub fn points_delta(&self) -> Option<(&str, i64)> {
        match self {
            OpBody::LoyaltyEarn { customer_id, points, .. } => Some((customer_id, *points)),
            OpBody::LoyaltyRedeem { customer_id, points, .. } => Some((customer_id, -*points)),
            OpBody::SaleComplete { receipt } | OpBody::ReturnComplete { receipt } => receipt
                .customer_id
                .as_deref()
                .map(|c| (c, receipt.points_earned - receipt.points_redeemed + receipt.points_refunded)),
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
                if !(0..=MAX_NPS_SCORE).contains(score) {
                    return Err(Rejection::new("bad_op", format!("the score must be 0 to {MAX_NPS_SCORE}")));
                }
                match csat {
                    Some(c) => text("answer", c),
                    None => Ok(()),
                }
            }
            OpBody::OrderCancel { reason, .. } => text("reason", reason),
            OpBody::OrderPick { short_reason: Some(r), .. } => text("short-pick reason", r),
            // A retailer's SKU need not be a barcode (the seed's are).
            OpBody::CartAdd { sku, .. } if !crate::catalogue::is_id(sku) => Err(Rejection::new("bad_op", format!("{sku:?} is not a product's SKU"))),
            OpBody::SaleComplete { receipt } if receipt.kind != ReceiptKind::Sale => Err(Rejection::new(
                "bad_receipt",
                format!("receipt {} is not a sale: a return is an op of its own", receipt.number),
            )),
            OpBody::ReturnComplete { receipt } if receipt.kind != ReceiptKind::Return => {
                Err(Rejection::new("bad_receipt", format!("receipt {} takes nothing back: a sale is an op of its own", receipt.number)))
            }
            OpBody::ReturnComplete { receipt } => {
                receipt.validate()?;
                let origin = crate::returns::origin_of(receipt);
                if receipt.lines.iter().any(|l| l.origin.is_some() && l.origin.as_deref() != origin) {
                    return Err(Rejection::new("bad_receipt", "one return takes back from one receipt or order"));
                }
                Ok(())
            }
            OpBody::SaleComplete { receipt } => receipt.validate(),
            OpBody::ShiftClose { report } => report.validate(),
            OpBody::SetPin { pin_hash, .. } if !pin_hash.starts_with("$argon2id$") || pin_hash.len() > 200 => {
                Err(Rejection::new("bad_op", "a PIN travels only as its Argon2id value"))
            }
            _ => Ok(()),
        }
    }

    /// Points this op spends, which a device may spend only within its offline allowance.
    pub fn points_redeemed(&self) -> i64 {
        match self {
            OpBody::LoyaltyRedeem { points, .. } => *points,
            OpBody::SaleComplete { receipt } => receipt.points_redeemed,
            _ => 0,
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
            OpBody::HelpRequest { customer_id: Some("C1".into()) },
            OpBody::HelpTake { request_id: "h".into(), staff_id: "S2".into() },
            OpBody::HelpDone { request_id: "h".into(), staff_id: "S2".into() },
            OpBody::PinFailed { staff_id: "S2".into() },
            OpBody::PinAccepted { staff_id: "S2".into() },
            OpBody::SetPin { staff_id: "S2".into(), pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into() },
            OpBody::ResetPin { staff_id: "S2-MGR".into(), colleague_id: "S2".into() },
            OpBody::CartAdd { customer_id: "C1".into(), sku: "4006381333931".into() },
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
        assert!(OpBody::SetPin { staff_id: "S2".into(), pin_hash: "1234".into() }.validate().is_err(), "never a PIN in clear");
    }
}
