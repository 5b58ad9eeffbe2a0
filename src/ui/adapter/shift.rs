//! `ShiftAdapter`: the till's shift, its cash moves, its close and the Z report.

use slint::ComponentHandle;

use super::support::{int, model, Act};
use crate::ui::controller::shift::{ShiftScreen, ShiftStep};
use crate::ui::generated::{AppWindow, ShiftAdapter, ShiftStep as SlintStep, ZTax, ZTender};

pub fn wire(w: &AppWindow, act: &Act) {
    let s = w.global::<ShiftAdapter>();
    on!(act, s, on_begin, |k, step| k.shift_step(mirror!(step, SlintStep => ShiftStep {
        None => None, Menu => Menu, Open => Open, CashMove => CashMove, Close => Close, Report => Report,
    })));
    on!(act, s, on_typing, |k, digits| k.shift_typing(&digits));
    on!(act, s, on_cash_move, |k, out, reason| k.shift_cash_move(out, usize::try_from(reason).ok()));
    on!(act, s, on_entered, |k, digits| k.shift_entered(&digits));
}

pub fn show(w: &AppWindow, s: &ShiftScreen, before: &ShiftScreen) {
    let a = w.global::<ShiftAdapter>();
    a.set_open(s.open.as_str().into());
    a.set_float(s.float.as_str().into());
    a.set_step(mirror!(s.step, ShiftStep => SlintStep { None => None, Menu => Menu, Open => Open, CashMove => CashMove, Close => Close, Report => Report }));
    a.set_typed(s.typed.as_str().into());
    a.set_out(s.out);
    a.set_reason(s.reason.as_str().into());
    if s.reasons != before.reasons {
        a.set_reasons(model(&s.reasons, |r| r.as_str().into()));
    }
    a.set_refused(s.refused.as_str().into());
    if s.report != before.report {
        let z = s.report.clone().unwrap_or_default();
        a.set_z_number(z.number.as_str().into());
        a.set_sales_count(int(z.sales_count));
        a.set_sales_total(z.sales_total.as_str().into());
        a.set_returns_count(int(z.returns_count));
        a.set_returns_total(z.returns_total.as_str().into());
        a.set_tenders(model(&z.tenders, |t| ZTender { method: t.method.into(), taken: t.taken.as_str().into(), refunded: t.refunded.as_str().into() }));
        a.set_tax(model(&z.tax, |t| ZTax { rate: t.rate.as_str().into(), tax: t.tax.as_str().into() }));
        a.set_z_float(z.float.as_str().into());
        a.set_expected(z.expected.as_str().into());
        a.set_counted(z.counted.as_str().into());
        a.set_difference(z.difference.as_str().into());
        a.set_unsent_ops(int(z.unsent_ops));
    }
}
