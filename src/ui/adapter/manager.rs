//! `ManagerAdapter`: the manager's view of the desk and of sync.

use slint::ComponentHandle;

use crate::ui::controller::manager::{ListRow, ManagerScreen, PinResetNotice};
use crate::ui::generated::{
    AppWindow, ColleagueRow, ConflictRow, DeviceRow, ListRow as SlintListRow, ManagerAdapter, PinResetNotice as SlintPinResetNotice, ZReportRow,
};
use super::support::{int, model, Act};

pub fn wire(w: &AppWindow, act: &Act) {
    let m = w.global::<ManagerAdapter>();
    on!(act, m, on_open_queue, |k| k.open_queue());
    on!(act, m, on_sign_out, |k| k.go_home());
    on!(act, m, on_reset_pin, |k, id| k.ask_pin_reset(&id));
    on!(act, m, on_confirm_reset, |k| k.confirm_pin_reset());
    on!(act, m, on_cancel_reset, |k| k.cancel_pin_reset());
}

fn list_row(r: &ListRow) -> SlintListRow {
    SlintListRow { title: r.title.as_str().into(), minutes: int(r.minutes) }
}

pub fn show(w: &AppWindow, s: &ManagerScreen, before: &ManagerScreen) {
    let m = w.global::<ManagerAdapter>();
    m.set_placed(int(s.placed));
    m.set_picking(int(s.picking));
    m.set_ready(int(s.ready));
    m.set_waiting(int(s.waiting));
    if (&s.overdue, &s.waiting_now, &s.expiring) != (&before.overdue, &before.waiting_now, &before.expiring) {
        m.set_overdue(model(&s.overdue, list_row));
        m.set_waiting_now(model(&s.waiting_now, list_row));
        m.set_expiring(model(&s.expiring, list_row));
    }
    m.set_nps(s.nps.as_str().into());
    m.set_nps_answers(int(s.nps_answers));
    m.set_promoters(int(s.promoters));
    m.set_passives(int(s.passives));
    m.set_detractors(int(s.detractors));
    m.set_online(s.online);
    m.set_last_pull(s.last_pull.as_str().into());
    m.set_outbox(int(s.outbox));
    m.set_oldest_op(s.oldest_op.as_str().into());
    m.set_sales_count(int(s.sales_count));
    m.set_sales_total(s.sales_total.as_str().into());
    m.set_returns_total(s.returns_total.as_str().into());
    if s.z_reports != before.z_reports {
        m.set_z_reports(model(&s.z_reports, |z| ZReportRow {
            device: z.device.as_str().into(),
            number: z.number.as_str().into(),
            sales: z.sales.as_str().into(),
            returns: z.returns.as_str().into(),
            difference: z.difference.as_str().into(),
        }));
    }
    if s.conflicts != before.conflicts {
        m.set_conflicts(model(&s.conflicts, |c| ConflictRow {
            what: c.what.as_str().into(),
            reason: c.reason.as_str().into(),
            code: c.code.as_str().into(),
        }));
    }
    if s.devices != before.devices {
        m.set_devices(model(&s.devices, |d| DeviceRow {
            label: d.label.as_str().into(),
            id: d.id.as_str().into(),
            last_seen: d.last_seen.as_str().into(),
            outbox: int(d.outbox),
            oldest_op: d.oldest_op.as_str().into(),
            this_device: d.this_device,
            silent: d.stale,
        }));
    }
    if s.colleagues != before.colleagues {
        m.set_colleagues(model(&s.colleagues, |c| ColleagueRow {
            id: c.id.as_str().into(),
            name: c.name.as_str().into(),
            role: c.role.as_str().into(),
            pin_set: c.pin_set,
            resettable: c.resettable,
        }));
    }
    let reset = &s.pin_reset;
    m.set_confirm_reset_name(reset.confirming.as_ref().map_or("", |c| c.name.as_str()).into());
    m.set_reset_notice(mirror!(reset.notice, PinResetNotice => SlintPinResetNotice { None => None, Reset => Reset, Refused => Refused }));
    m.set_reset_detail(reset.detail.as_str().into());
}
