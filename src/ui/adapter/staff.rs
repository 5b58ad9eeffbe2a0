//! `StaffAdapter`: the PIN pad, the queue, the order being picked, the handover and the
//! help requests.

use omnikiosk_protocol::ops::Verification;
use slint::ComponentHandle;

use crate::ui::controller::staff::{PinNotice, PinPrompt, StaffNotice, StaffPage, StaffScreen};
use crate::ui::generated::{
    AppWindow, AssistRow, PickLine, PinNotice as SlintPinNotice, PinPrompt as SlintPinPrompt, QueueRow, QueueTab as SlintTab, StaffAdapter,
    StaffNotice as SlintNotice, StaffPage as SlintPage,
};
use super::support::{int, model, Act};
use crate::domain::desk::QueueTab;

pub fn wire(w: &AppWindow, act: &Act) {
    let s = w.global::<StaffAdapter>();
    on!(act, s, on_pin_entered, |k, pin| k.pin_entered(&pin));
    on!(act, s, on_tab_chosen, |k, tab| k.tab_chosen(queue_tab(tab)));
    on!(act, s, on_open_order, |k, id| k.open_order(&id));
    on!(act, s, on_set_picked, |k, sku, n| k.set_picked(&sku, n.into()));
    on!(act, s, on_reason_chosen, |k, reason| k.reason_chosen(&reason));
    on!(act, s, on_save_pick, |k| k.save_pick());
    on!(act, s, on_mark_ready, |k| k.mark_ready());
    on!(act, s, on_start_handover, |k| k.start_handover());
    on!(act, s, on_handover_code, |k, code| k.hand_over(Verification::PickupCode(code.trim().to_string())));
    on!(act, s, on_open_assists, |k| k.open_assists());
    on!(act, s, on_assist_take, |k, id| k.assist_take(&id));
    on!(act, s, on_assist_done, |k, id| k.assist_done(&id));
    on!(act, s, on_open_manager, |k| k.open_manager());
    on!(act, s, on_open_till, |k| k.open_till());
    on!(act, s, on_back, |k| k.staff_back());
    on!(act, s, on_sign_out, |k| k.go_home());
    on!(act, s, on_touched, |k| k.touched());
}

fn queue_tab(tab: SlintTab) -> QueueTab {
    mirror!(tab, SlintTab => QueueTab { NewOrders => New, Picking => Picking, Ready => Ready, CustomerWaiting => Waiting, Overdue => Overdue })
}

fn slint_tab(tab: QueueTab) -> SlintTab {
    mirror!(tab, QueueTab => SlintTab { New => NewOrders, Picking => Picking, Ready => Ready, Waiting => CustomerWaiting, Overdue => Overdue })
}

fn notice(n: StaffNotice) -> SlintNotice {
    mirror!(n, StaffNotice => SlintNotice { None => None, PickSaved => PickSaved, Ready => Ready, Collected => Collected, WrongCode => WrongPickupCode, Refused => Refused, NeedsReason => NeedsReason, ShopperCard => ShopperCard, HelpClosed => HelpClosed })
}

pub fn show(w: &AppWindow, s: &StaffScreen, before: &StaffScreen) {
    let a = w.global::<StaffAdapter>();
    a.set_page(mirror!(s.page, StaffPage => SlintPage { Pin => Pin, Queue => Queue, Order => Order, Handover => Handover, Assist => Assist, Till => Till }));
    a.set_badge_name(s.badge_name.as_str().into());
    a.set_staff_name(s.staff_name.as_str().into());
    a.set_manager(s.manager);
    a.set_pin_notice(mirror!(s.pin_notice, PinNotice => SlintPinNotice { None => None, Wrong => WrongPin, Locked => Locked, TooEasy => TooEasy, Mismatch => Mismatch }));
    a.set_pin_prompt(mirror!(s.pin_prompt, PinPrompt => SlintPinPrompt { Enter => Enter, Choose => Choose, Repeat => Repeat }));
    a.set_attempts_left(int(s.attempts_left));
    a.set_locked_until(s.locked_until.as_str().into());
    a.set_tab(slint_tab(s.tab));
    if s.tab_counts != before.tab_counts {
        a.set_tab_counts(model(&s.tab_counts, |c| int(*c)));
    }
    if s.queue != before.queue {
        a.set_queue(model(&s.queue, |o| QueueRow {
            id: o.id.as_str().into(),
            customer: o.customer.as_str().into(),
            items: int(o.items),
            promised: o.promised.as_str().into(),
            status: o.status.into(),
            late_minutes: o.late_minutes.map_or(-1, int),
            waiting_minutes: o.waiting_minutes.map_or(-1, int),
        }));
    }
    a.set_assist_count(int(s.assist_count));
    let o = &s.order;
    a.set_order_id(o.id.as_str().into());
    a.set_order_customer(o.customer.as_str().into());
    a.set_order_status(o.status.into());
    a.set_order_promised(o.promised.as_str().into());
    if o.lines != before.order.lines {
        a.set_lines(model(&o.lines, |l| PickLine {
            sku: l.sku.as_str().into(),
            name: l.name.as_str().into(),
            qty: int(l.qty),
            picked: int(l.picked),
            aisle: l.aisle.as_str().into(),
        }));
    }
    a.set_short(o.short);
    a.set_short_reason(o.short_reason.as_str().into());
    a.set_notice(notice(s.notice));
    a.set_notice_order(s.notice_order.as_str().into());
    a.set_notice_detail(s.notice_detail.as_str().into());
    if s.assists != before.assists {
        a.set_assists(model(&s.assists, |r| AssistRow {
            id: r.id.as_str().into(),
            taken_by: r.taken_by.as_str().into(),
            who: r.who.as_str().into(),
            since: r.since.as_str().into(),
            cart: r.cart.as_str().into(),
            orders: r.orders.as_str().into(),
        }));
    }
}
