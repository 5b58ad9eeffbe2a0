//! The till's shift and its close: the Z report. A device opens a shift with a float,
//! moves cash in or out with a reason, and closes with the cash counted; the Z report
//! (numbered gapless per device) sums every receipt since the device's previous Z, and
//! says what the drawer should hold against what was counted. Made the same way on the
//! device that closes and checked again at the hub that keeps it.

use serde::{Deserialize, Serialize};

use crate::ops::Rejection;
use crate::till::{Receipt, ReceiptKind, TaxLine, TenderMethod, MAX_UNIT_CENTS};

/// Most cash one drawer may be said to hold or move (a slip of the finger beyond it).
pub const MAX_CASH_CENTS: i64 = 1_000 * MAX_UNIT_CENTS;

/// Cash put into (positive) or taken out of (negative) the drawer during a shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CashMove {
    pub cents: i64,
    pub reason: String,
    pub staff_id: String,
    pub at: i64,
}

/// How many receipts and what they came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tally {
    pub count: i64,
    pub total_cents: i64,
}

/// One tender method over the shift: taken in payments, given out in refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenderTotal {
    pub method: TenderMethod,
    pub taken_cents: i64,
    pub refunded_cents: i64,
}

/// A shift's close, as printed, pushed in its `shift.close` op, kept by the hub and listed
/// for the ERP (`GET /v1/shifts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZReport {
    /// Gapless per device, from 1.
    pub z_number: i64,
    pub store_id: i64,
    pub device_id: String,
    pub currency: String,
    pub opened_by: String,
    pub opened_at: i64,
    pub closed_by: String,
    pub closed_at: i64,
    pub float_cents: i64,
    /// The receipts it covers: every one of the device's after the previous Z.
    pub first_receipt: Option<String>,
    pub last_receipt: Option<String>,
    pub sales: Tally,
    /// Returns and exchanges; their total is negative when money went back.
    pub returns: Tally,
    pub tenders: Vec<TenderTotal>,
    /// Tax per rate over every receipt (returns' negative).
    pub tax: Vec<TaxLine>,
    pub change_cents: i64,
    pub cash_moves: Vec<CashMove>,
    /// Float + cash taken − change − cash refunded + cash moved in − out.
    pub expected_cash_cents: i64,
    pub counted_cash_cents: i64,
    /// Counted less expected: short when negative.
    pub difference_cents: i64,
    /// This device's ops not yet at the hub when it closed: a close made offline says so.
    pub unsent_ops: i64,
}

/// A shift as it was opened, with what happened in it so far.
#[derive(Debug, Clone)]
pub struct OpenShift<'a> {
    pub z_number: i64,
    pub store_id: i64,
    pub device_id: &'a str,
    pub currency: &'a str,
    pub opened_by: &'a str,
    pub opened_at: i64,
    pub float_cents: i64,
    pub cash_moves: Vec<CashMove>,
}

/// Checks an amount of cash said at the till (a float, a count, a move).
pub fn cash_amount(what: &str, cents: i64, signed: bool) -> Result<i64, Rejection> {
    let range = if signed { -MAX_CASH_CENTS..=MAX_CASH_CENTS } else { 0..=MAX_CASH_CENTS };
    if !range.contains(&cents) || (signed && cents == 0) {
        return Err(Rejection::new("bad_amount", format!("{what} must be {}a whole number of minor units up to {MAX_CASH_CENTS}", if signed { "a non-zero, " } else { "" })));
    }
    Ok(cents)
}

impl OpenShift<'_> {
    /// The Z report of closing now: `receipts` are the device's receipts since its previous Z.
    pub fn close(self, receipts: &[Receipt], closed_by: &str, closed_at: i64, counted_cash_cents: i64, unsent_ops: i64) -> Result<ZReport, Rejection> {
        cash_amount("the counted cash", counted_cash_cents, false)?;
        let mut z = ZReport {
            z_number: self.z_number,
            store_id: self.store_id,
            device_id: self.device_id.to_string(),
            currency: self.currency.to_string(),
            opened_by: self.opened_by.to_string(),
            opened_at: self.opened_at,
            closed_by: closed_by.to_string(),
            closed_at,
            float_cents: self.float_cents,
            first_receipt: receipts.first().map(|r| r.number.clone()),
            last_receipt: receipts.last().map(|r| r.number.clone()),
            sales: Tally::default(),
            returns: Tally::default(),
            tenders: Vec::new(),
            tax: Vec::new(),
            change_cents: 0,
            cash_moves: self.cash_moves,
            expected_cash_cents: 0,
            counted_cash_cents,
            difference_cents: 0,
            unsent_ops,
        };
        z.sum(receipts);
        Ok(z)
    }
}

impl ZReport {
    /// Fills the sums from `receipts`, then what the drawer should hold.
    fn sum(&mut self, receipts: &[Receipt]) {
        for r in receipts {
            let tally = if r.kind == ReceiptKind::Sale { &mut self.sales } else { &mut self.returns };
            tally.count += 1;
            tally.total_cents += r.total_cents;
            self.change_cents += r.change_cents;
            for t in &r.tenders {
                let i = match self.tenders.iter().position(|x| x.method == t.method) {
                    Some(i) => i,
                    None => {
                        self.tenders.push(TenderTotal { method: t.method, taken_cents: 0, refunded_cents: 0 });
                        self.tenders.len() - 1
                    }
                };
                if r.total_cents < 0 {
                    self.tenders[i].refunded_cents += t.cents;
                } else {
                    self.tenders[i].taken_cents += t.cents;
                }
            }
            for t in &r.tax {
                match self.tax.iter_mut().find(|x| x.vat_bp == t.vat_bp) {
                    Some(x) => {
                        x.gross_cents += t.gross_cents;
                        x.net_cents += t.net_cents;
                        x.tax_cents += t.tax_cents;
                    }
                    None => self.tax.push(t.clone()),
                }
            }
        }
        self.tenders.sort_by_key(|t| t.method.as_str());
        self.tax.sort_by_key(|t| std::cmp::Reverse(t.vat_bp));
        let cash = self.tenders.iter().find(|t| t.method == TenderMethod::Cash);
        let (taken, refunded) = cash.map_or((0, 0), |c| (c.taken_cents, c.refunded_cents));
        let moved: i64 = self.cash_moves.iter().map(|m| m.cents).sum();
        self.expected_cash_cents = self.float_cents + taken - self.change_cents - refunded + moved;
        self.difference_cents = self.counted_cash_cents - self.expected_cash_cents;
    }

    /// `<store>-<device>-Z<n>`, as printed.
    pub fn number(&self) -> String {
        let short = self.device_id.strip_prefix(&format!("kiosk-{}-", self.store_id)).unwrap_or(&self.device_id);
        format!("{}-{short}-Z{:04}", self.store_id, self.z_number)
    }

    /// The report's own rules: its amounts in range and its sums following from its parts.
    pub fn validate(&self) -> Result<(), Rejection> {
        let bad = |m: &str| Err(Rejection::new("bad_z_report", format!("Z report {}: {m}", self.number())));
        if self.z_number < 1 {
            return bad("Z numbers start at 1");
        }
        cash_amount("the float", self.float_cents, false)?;
        cash_amount("the counted cash", self.counted_cash_cents, false)?;
        for m in &self.cash_moves {
            cash_amount("a cash move", m.cents, true)?;
            if m.reason.trim().is_empty() || m.reason.chars().count() > 200 {
                return bad("a cash move needs its reason (1-200 characters)");
            }
        }
        if !(0..=1_000_000).contains(&self.unsent_ops) || self.closed_at < self.opened_at {
            return bad("its times or unsent count are out of range");
        }
        let cash = self.tenders.iter().find(|t| t.method == TenderMethod::Cash);
        let (taken, refunded) = cash.map_or((0, 0), |c| (c.taken_cents, c.refunded_cents));
        let moved: i64 = self.cash_moves.iter().map(|m| m.cents).sum();
        if self.expected_cash_cents != self.float_cents + taken - self.change_cents - refunded + moved
            || self.difference_cents != self.counted_cash_cents - self.expected_cash_cents
        {
            return bad("the expected cash does not follow from its float, tenders and moves");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::returns::{Bought, ReturnDraft, Returned};
    use crate::till::tests::{card, cash, draft, line};
    use crate::till::{PointsRule, GENESIS_HASH};

    fn shift() -> OpenShift<'static> {
        OpenShift {
            z_number: 3,
            store_id: 1,
            device_id: "kiosk-1-2",
            currency: "PLN",
            opened_by: "S1",
            opened_at: 100,
            float_cents: 20_000,
            cash_moves: vec![CashMove { cents: -5_000, reason: "to the safe".into(), staff_id: "S1".into(), at: 150 }],
        }
    }

    #[test]
    fn the_z_report_says_what_the_drawer_should_hold() {
        let a = draft(vec![line("5900000000015", 2, 1230, 2300)], vec![cash(3000)]).receipt().unwrap();
        let b = draft(vec![line("5900000000022", 1, 525, 500)], vec![card(525, Some("T1"))]).receipt().unwrap();
        let bought = Bought::of_receipt(&a);
        let none = Returned::new();
        let back = ReturnDraft {
            store_id: 1,
            device_id: "kiosk-1-2",
            seq: 9,
            staff_id: "S1",
            currency: "PLN",
            bought: &bought,
            returned: &none,
            items: vec![("5900000000015".into(), 1)],
            sold: vec![],
            reason: "broken",
            tenders: vec![cash(1230)],
            rule: PointsRule::default(),
            at: 0,
            prev_hash: GENESIS_HASH,
        }
        .receipt()
        .unwrap();
        let z = shift().close(&[a, b, back], "S2", 200, 15_000, 2).unwrap();
        assert_eq!(z.sales, Tally { count: 2, total_cents: 2985 });
        assert_eq!(z.returns, Tally { count: 1, total_cents: -1230 });
        // 200.00 float + 30.00 cash − 5.40 change − 12.30 refunded − 50.00 to the safe.
        assert_eq!(z.expected_cash_cents, 20_000 + 3000 - 540 - 1230 - 5000);
        assert_eq!(z.difference_cents, 15_000 - z.expected_cash_cents);
        assert_eq!(z.tax.iter().map(|t| t.gross_cents).sum::<i64>(), 2985 - 1230);
        assert_eq!(z.number(), "1-2-Z0003");
        assert_eq!(z.validate(), Ok(()));
        let mut edited = z.clone();
        edited.expected_cash_cents += 1;
        assert_eq!(edited.validate().unwrap_err().code, "bad_z_report");
    }

    #[test]
    fn a_count_that_is_not_an_amount_closes_nothing() {
        assert_eq!(shift().close(&[], "S1", 200, -1, 0).unwrap_err().code, "bad_amount");
        assert_eq!(cash_amount("a move", 0, true).unwrap_err().code, "bad_amount");
        let empty = shift().close(&[], "S1", 200, 15_000, 0).unwrap();
        assert_eq!((empty.sales.count, empty.first_receipt, empty.expected_cash_cents), (0, None, 15_000));
    }
}
