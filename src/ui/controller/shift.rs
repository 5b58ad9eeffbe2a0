//! The till's shift: opened with the float typed on the keypad, cash moved in or out of
//! the drawer with a reason, closed with the cash counted into the Z report, which stays on
//! screen (and goes to the printer) until "Done". The rules and the report are
//! `LocalStore`'s and `protocol::shift`'s; a refusal is shown in their words and changes
//! nothing.

use omnikiosk_protocol::money;
use omnikiosk_protocol::shift::ZReport;

use super::context::{refusal, Ctx, STAFF_LANGUAGE};
use super::till::{rate, TaxRow};
use crate::store::{CashMoveRequest, ShiftState};

/// What the shift's keypad is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShiftStep {
    /// The till itself shows.
    #[default]
    None,
    /// The open shift, with "Cash in/out" and "Close shift".
    Menu,
    /// The float to open with.
    Open,
    /// Cash into (`out` false) or out of the drawer, and why.
    CashMove,
    /// The cash counted at the close.
    Close,
    /// The Z report of the close just made.
    Report,
}

/// One tender method over the shift.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZTender {
    pub method: &'static str,
    pub taken: String,
    pub refunded: String,
}

/// A Z report, as the screen shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZScreen {
    pub number: String,
    pub sales_count: i64,
    pub sales_total: String,
    pub returns_count: i64,
    pub returns_total: String,
    pub tenders: Vec<ZTender>,
    pub tax: Vec<TaxRow>,
    pub float: String,
    pub expected: String,
    pub counted: String,
    pub difference: String,
    /// This device's ops the hub had not got when the shift closed.
    pub unsent_ops: i64,
}

/// What the shift shows on the till.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShiftScreen {
    /// The shift open at this till ("" for none): "Z3".
    pub open: String,
    pub float: String,
    pub step: ShiftStep,
    /// The amount being typed, as money.
    pub typed: String,
    pub out: bool,
    /// The cash move's reason chosen ("" before one is).
    pub reason: String,
    /// What a cash move may be for (`[till] cash_reasons`).
    pub reasons: Vec<String>,
    /// Why the last step was refused ("" when it was not).
    pub refused: String,
    pub report: Option<ZScreen>,
}

#[derive(Default)]
pub struct ShiftPart {
    step: ShiftStep,
    typed_cents: i64,
    out: bool,
    reason: Option<usize>,
    refused: String,
    report: Option<ZReport>,
    screen: ShiftScreen,
}

impl ShiftPart {
    pub fn screen(&self) -> &ShiftScreen {
        &self.screen
    }

    /// "Open shift", "Cash in/out" or "Close shift" (the keypad types the amount), the open
    /// shift's menu, or back to the till ("Done", "Cancel").
    pub fn begin(&mut self, ctx: &Ctx, step: ShiftStep) {
        *self = ShiftPart { step, ..ShiftPart::default() };
        self.show(ctx);
    }

    pub fn typing(&mut self, ctx: &Ctx, digits: &str) {
        self.typed_cents = digits.parse().unwrap_or(0);
        self.show(ctx);
    }

    /// Cash in (`out` false) or out, and its reason (an index into `[till] cash_reasons`).
    pub fn cash_move(&mut self, ctx: &Ctx, out: bool, reason: Option<usize>) {
        self.out = out;
        self.reason = reason.or(self.reason);
        self.show(ctx);
    }

    /// The keypad's OK: the shift opened, the cash moved, or the shift closed into its Z
    /// report (returned, for the printer) — or refused with nothing changed.
    pub fn entered(&mut self, ctx: &Ctx, staff_id: &str, digits: &str) -> Option<ZReport> {
        let cents: i64 = digits.trim().parse().unwrap_or(0);
        let now = ctx.now();
        let done = match self.step {
            ShiftStep::Open => ctx.store.start_shift(staff_id, cents, now).map(|_| None),
            ShiftStep::CashMove => {
                let reason = self.reason.and_then(|i| ctx.settings.till.cash_reasons.get(i)).cloned().unwrap_or_default();
                let cents = if self.out { -cents } else { cents };
                ctx.store.move_cash(&CashMoveRequest { staff_id: staff_id.to_string(), cents, reason }, now).map(|_| None)
            }
            ShiftStep::Close => ctx.store.close_shift(staff_id, cents, &ctx.settings.loyalty, now).map(Some),
            ShiftStep::None | ShiftStep::Menu | ShiftStep::Report => Ok(None),
        };
        self.typed_cents = 0;
        let report = match done {
            Ok(report) => {
                self.refused.clear();
                self.step = if report.is_some() { ShiftStep::Report } else { ShiftStep::None };
                self.report.clone_from(&report);
                report
            }
            Err(e) => {
                self.refused = refusal(e);
                None
            }
        };
        self.show(ctx);
        report
    }

    /// Reads the open shift again (after a sale, a return, another device's close).
    pub fn show(&mut self, ctx: &Ctx) {
        let currency = ctx.currency();
        let m = |cents: i64| money::format(cents, &currency, STAFF_LANGUAGE);
        let open: Option<ShiftState> = ctx.store.open_shift().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the open shift could not be read");
            None
        });
        self.screen = ShiftScreen {
            open: open.as_ref().map(|s| format!("Z{}", s.z_number)).unwrap_or_default(),
            float: open.as_ref().map(|s| m(s.float_cents)).unwrap_or_default(),
            step: self.step,
            typed: m(self.typed_cents),
            out: self.out,
            reason: self.reason.and_then(|i| ctx.settings.till.cash_reasons.get(i)).cloned().unwrap_or_default(),
            reasons: ctx.settings.till.cash_reasons.clone(),
            refused: self.refused.clone(),
            report: self.report.as_ref().map(|z| ZScreen {
                number: z.number(),
                sales_count: z.sales.count,
                sales_total: m(z.sales.total_cents),
                returns_count: z.returns.count,
                returns_total: m(z.returns.total_cents),
                tenders: z
                    .tenders
                    .iter()
                    .map(|t| ZTender { method: t.method.as_str(), taken: m(t.taken_cents), refunded: m(t.refunded_cents) })
                    .collect(),
                tax: z.tax.iter().map(|t| TaxRow { rate: rate(t.vat_bp), tax: m(t.tax_cents) }).collect(),
                float: m(z.float_cents),
                expected: m(z.expected_cash_cents),
                counted: m(z.counted_cash_cents),
                difference: m(z.difference_cents),
                unsent_ops: z.unsent_ops,
            }),
        };
    }

    pub fn end(&mut self) {
        *self = ShiftPart::default();
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    #[test]
    fn a_shift_opens_with_its_float_moves_cash_and_closes_into_the_z_report() {
        let (_f, ctx) = Fixture::start();
        let mut s = ShiftPart::default();
        s.begin(&ctx, ShiftStep::Close);
        assert!(s.entered(&ctx, "S1-STAFF", "10000").is_none());
        assert_eq!(s.screen().refused, "no shift is open at this till: open one with the float first");
        s.begin(&ctx, ShiftStep::Open);
        s.entered(&ctx, "S1-STAFF", "10000");
        assert_eq!((s.screen().open.as_str(), s.screen().float.as_str(), s.screen().step), ("Z1", "zł\u{a0}100.00", ShiftStep::None));
        s.begin(&ctx, ShiftStep::CashMove);
        s.cash_move(&ctx, true, Some(1));
        s.entered(&ctx, "S1-STAFF", "0");
        assert!(s.screen().refused.contains("non-zero"), "a bad amount: {}", s.screen().refused);
        assert!(ctx.store.open_shift().unwrap().unwrap().cash_moves.is_empty(), "nothing moved");
        s.entered(&ctx, "S1-STAFF", "2500");
        assert_eq!(ctx.store.open_shift().unwrap().unwrap().cash_moves[0].cents, -2500);
        s.begin(&ctx, ShiftStep::Close);
        let z = s.entered(&ctx, "S1-STAFF", "7400").expect("closed");
        let shown = s.screen().report.clone().unwrap();
        assert_eq!((shown.expected.as_str(), shown.counted.as_str(), shown.difference.as_str()), ("zł\u{a0}75.00", "zł\u{a0}74.00", "-zł\u{a0}1.00"));
        assert_eq!((s.screen().step, s.screen().open.as_str(), z.number().ends_with("Z0001")), (ShiftStep::Report, "", true));
    }
}
