//! `TillAdapter`: the basket, its shopper, points and tenders, "Pay", returns and the receipt.

use slint::ComponentHandle;

use super::support::{int, model, Act};
use crate::ui::controller::returns::{Refund, ReturnRow};
use crate::ui::controller::till::{Entry, TaxRow, TenderRow, TillNotice, TillRow, TillScreen};
use crate::ui::generated::{
    AppWindow, ReturnLine, TaxRow as SlintTax, TenderRow as SlintTender, TillAdapter, TillEntry, TillLine, TillNotice as SlintNotice,
};

pub fn wire(w: &AppWindow, act: &Act) {
    let t = w.global::<TillAdapter>();
    on!(act, t, on_code_entered, |k, code| k.till_code(&code));
    on!(act, t, on_change_qty, |k, i, delta| k.till_change_qty(index(i), delta.into()));
    on!(act, t, on_remove_line, |k, i| k.till_remove(index(i)));
    on!(act, t, on_buy_here, |k| k.till_buy_here());
    on!(act, t, on_choose_entry, |k, e| k.till_entry(entry(e)));
    on!(act, t, on_typing, |k, digits| k.till_typing(&digits));
    on!(act, t, on_entered, |k, digits| k.till_entered(&digits));
    on!(act, t, on_exact, |k| k.till_exact());
    on!(act, t, on_clear_tenders, |k| k.till_clear_tenders());
    on!(act, t, on_void_basket, |k| k.till_void(None));
    on!(act, t, on_void_answered, |k, yes| k.till_void(Some(yes)));
    on!(act, t, on_pay, |k| k.till_pay());
    on!(act, t, on_start_return, |k| k.till_return());
    on!(act, t, on_return_qty, |k, i, delta| k.till_return_qty(index(i), delta.into()));
    on!(act, t, on_return_reason_chosen, |k, i| k.till_return_reason(index(i)));
    on!(act, t, on_return_refund_chosen, |k, method| if let Some(r) = refund(&method) { k.till_return_refund(r) });
    on!(act, t, on_cancel_return, |k| k.till_return_cancel());
    on!(act, t, on_complete_return, |k| k.till_return_complete());
    on!(act, t, on_next_sale, |k| k.till_next_sale());
    on!(act, t, on_back, |k| k.staff_back());
    on!(act, t, on_sign_out, |k| k.go_home());
}

/// A line's place in the list (a negative one matches no line).
fn index(i: i32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

fn entry(e: TillEntry) -> Entry {
    mirror!(e, TillEntry => Entry {
        Code => Code, Points => Points, Cash => Cash, CardAmount => CardAmount, CardReference => CardReference,
        Receipt => Receipt, RefundReference => RefundReference,
    })
}

/// The refund button's method ("cash", "card", "points").
fn refund(method: &str) -> Option<Refund> {
    match method {
        "cash" => Some(Refund::Cash),
        "card" => Some(Refund::Card),
        "points" => Some(Refund::Points),
        _ => None,
    }
}

fn refund_name(r: Refund) -> &'static str {
    match r {
        Refund::Cash => "cash",
        Refund::Card => "card",
        Refund::Points => "points",
    }
}

fn return_line(l: &ReturnRow) -> ReturnLine {
    ReturnLine { name: l.name.as_str().into(), bought: int(l.bought), returned: int(l.returned), qty: int(l.qty), left: int(l.left) }
}

fn line(l: &TillRow) -> TillLine {
    TillLine {
        name: l.name.as_str().into(),
        qty: int(l.qty),
        unit_price: l.unit_price.as_str().into(),
        total: l.total.as_str().into(),
        from_cart: l.from_cart,
    }
}

fn tax(t: &TaxRow) -> SlintTax {
    SlintTax { rate: t.rate.as_str().into(), tax: t.tax.as_str().into() }
}

fn tender(t: &TenderRow) -> SlintTender {
    SlintTender { method: t.method.into(), amount: t.amount.as_str().into(), reference: t.reference.as_str().into() }
}

pub fn show(w: &AppWindow, s: &TillScreen, before: &TillScreen) {
    let t = w.global::<TillAdapter>();
    if s.lines != before.lines {
        t.set_lines(model(&s.lines, line));
    }
    t.set_subtotal(s.subtotal.as_str().into());
    t.set_discount(s.discount.as_str().into());
    t.set_total(s.total.as_str().into());
    if s.tax != before.tax {
        t.set_tax(model(&s.tax, tax));
    }
    t.set_shopper(s.shopper.as_str().into());
    t.set_shopper_points(int(s.shopper_points));
    t.set_allowance(int(s.allowance));
    t.set_max_redeem(int(s.max_redeem));
    t.set_points_redeemed(int(s.points_redeemed));
    t.set_points_earned(int(s.points_earned));
    t.set_cart_lines(int(s.cart_lines));
    if s.tenders != before.tenders {
        t.set_tenders(model(&s.tenders, tender));
    }
    t.set_paid(s.paid.as_str().into());
    t.set_due(s.due.as_str().into());
    t.set_change(s.change.as_str().into());
    t.set_unsettled(s.unsettled.as_str().into());
    t.set_can_pay(s.can_pay);
    t.set_entry(mirror!(s.entry, Entry => TillEntry {
        Code => Code, Points => Points, Cash => Cash, CardAmount => CardAmount, CardReference => CardReference,
        Receipt => Receipt, RefundReference => RefundReference,
    }));
    t.set_typed(s.typed.as_str().into());
    t.set_card_amount(s.card_amount.as_str().into());
    t.set_confirm_void(s.confirm_void);
    t.set_notice(mirror!(s.notice, TillNotice => SlintNotice { None => None, UnknownProduct => UnknownProduct, UnknownShopper => UnknownShopper, CartEmpty => CartEmpty, Refused => Refused, Voided => Voided, ReturnRefused => ReturnRefused, Withdrawn => Withdrawn, Unpriced => Unpriced, OtherCurrency => OtherCurrency }));
    t.set_notice_detail(s.notice_detail.as_str().into());
    if s.receipt != before.receipt {
        let r = s.receipt.clone().unwrap_or_default();
        t.set_receipt_number(r.number.as_str().into());
        t.set_receipt_lines(model(&r.lines, line));
        t.set_receipt_discount(r.discount.as_str().into());
        t.set_receipt_total(r.total.as_str().into());
        t.set_receipt_tax(model(&r.tax, tax));
        t.set_receipt_tenders(model(&r.tenders, tender));
        t.set_receipt_change(r.change.as_str().into());
        t.set_receipt_points_earned(int(r.points_earned));
        t.set_receipt_points_redeemed(int(r.points_redeemed));
        t.set_receipt_return(r.is_return);
        t.set_receipt_reason(r.reason.as_str().into());
    }
    if s.ret != before.ret {
        let r = s.ret.clone().unwrap_or_default();
        t.set_returning(s.ret.is_some());
        t.set_return_reference(r.reference.as_str().into());
        t.set_return_lines(model(&r.lines, return_line));
        t.set_return_reasons(model(&r.reasons, |r| r.as_str().into()));
        t.set_return_reason(r.reason.as_str().into());
        t.set_return_refund(r.refund.map(refund_name).unwrap_or_default().into());
        t.set_return_card_reference(r.card_reference.as_str().into());
        t.set_return_points(r.points);
        t.set_return_balance(r.balance.as_str().into());
        t.set_return_refunding(r.refunding);
        t.set_can_complete_return(r.can_complete);
    }
}
