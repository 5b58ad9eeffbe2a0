//! Staff and managers at the kiosk: badge scan and PIN (five wrong PINs lock the badge for
//! five minutes), the pickup queue with its tabs, picking with short-pick reasons, "Ready",
//! the handover that needs the pickup code or the order QR, help requests with the
//! shopper's context, and the manager's view of the desk and of sync.
//!
//! Every change is an op recorded in the local outbox (`LocalStore::record_op`): it works
//! offline and is checked by the same rules the hub applies.

use std::rc::Rc;

use omnikiosk_protocol::ops::{OpBody, PickedLine, Verification};
use omnikiosk_protocol::wire::{CustomerRecord, OrderRecord, OrderStatus, StaffRole};
use slint::{ComponentHandle, ModelRc, VecModel};

use super::kiosk::{blank, Inner};
use super::view::clock;
use super::{AppAdapter, AssistRow, ConflictRow, ListRow, ManagerAdapter, PickLine, QueueRow, Screen, StaffAdapter, StaffPage};
use crate::domain::desk::{self, QueueTab, Waiting};
use crate::store::{OpError, PinCheck, StaffMember};

/// A colleague at the kiosk.
pub(super) struct StaffSession {
    /// The badge scanned, waiting for its PIN.
    badge: StaffMember,
    /// Set once the PIN was right.
    pub(super) signed_in: Option<StaffMember>,
    tab: QueueTab,
    order: Option<OpenOrder>,
}

/// The order open in detail, with the picked quantities being ticked.
struct OpenOrder {
    order: OrderRecord,
    picked: Vec<i64>,
    reason: Option<String>,
    /// "Ready" or "Save" was pressed with lines short and no reason.
    asked_reason: bool,
}

impl OpenOrder {
    fn new(order: OrderRecord) -> OpenOrder {
        let picked = order.lines.iter().map(|l| l.picked.unwrap_or(0)).collect();
        OpenOrder { order, picked, reason: None, asked_reason: false }
    }

    fn short(&self) -> bool {
        self.order.lines.iter().zip(&self.picked).any(|(l, p)| *p < l.qty)
    }

    /// Whether to ask why: short, and either picking has begun or a save was attempted.
    fn ask_reason(&self) -> bool {
        self.short() && (self.asked_reason || self.picked.iter().any(|p| *p > 0))
    }

    fn pick_op(&self, staff_id: &str) -> OpBody {
        OpBody::OrderPick {
            order_id: self.order.id.clone(),
            staff_id: staff_id.to_string(),
            lines: self.order.lines.iter().zip(&self.picked).map(|(l, p)| PickedLine { sku: l.sku.clone(), picked: *p }).collect(),
            short_reason: if self.short() { self.reason.clone() } else { None },
        }
    }

    /// Whether the ticks say something the order does not know yet.
    fn unsaved(&self) -> bool {
        self.order.status == OrderStatus::Placed
            || self.order.lines.iter().zip(&self.picked).any(|(l, p)| l.picked != Some(*p))
    }
}

impl Inner {
    pub(super) fn badge_scanned(self: &Rc<Self>, member: StaffMember) {
        self.end_shopper_session();
        self.reset_desk();
        self.end_staff_session();
        let Some(w) = self.window() else { return };
        let s = w.global::<StaffAdapter>();
        s.set_badge_name(member.name.clone().into());
        match self.store.pin_locked_until(&member.id, self.now()) {
            Ok(Some(until)) => self.pin_locked(until),
            _ => s.set_pin_notice(0),
        }
        *self.staff.borrow_mut() = Some(StaffSession { badge: member, signed_in: None, tab: QueueTab::New, order: None });
        s.set_page(StaffPage::Pin);
        self.show(Screen::Staff, self.settings.staff_idle_timeout_secs);
    }

    fn pin_locked(&self, until: i64) {
        if let Some(w) = self.window() {
            let s = w.global::<StaffAdapter>();
            s.set_locked_until(clock(until, self.settings.tz_offset_secs).into());
            s.set_pin_notice(2);
        }
    }

    pub(super) fn pin_entered(self: &Rc<Self>, pin: &str) {
        self.touched();
        let Some(badge) = self.staff.borrow().as_ref().map(|s| s.badge.id.clone()) else { return };
        let Some(w) = self.window() else { return };
        let s = w.global::<StaffAdapter>();
        match self.store.verify_pin(&badge, pin, self.now()) {
            Ok(PinCheck::Accepted(member)) => {
                s.set_pin_notice(0);
                s.set_staff_name(member.name.clone().into());
                s.set_manager(member.role == StaffRole::Manager);
                let manager = member.role == StaffRole::Manager;
                if let Some(session) = self.staff.borrow_mut().as_mut() {
                    session.signed_in = Some(member);
                }
                if manager {
                    self.open_manager();
                } else {
                    self.open_queue();
                }
            }
            Ok(PinCheck::Wrong { attempts_left }) => {
                s.set_attempts_left(attempts_left as i32);
                s.set_pin_notice(1);
            }
            Ok(PinCheck::Locked { until }) => self.pin_locked(until),
            Ok(PinCheck::UnknownBadge) => self.go_home(),
            Err(e) => {
                tracing::error!(error = %e, "cannot check the PIN");
                self.go_home();
            }
        }
    }

    fn signed_in(&self) -> Option<StaffMember> {
        self.staff.borrow().as_ref().and_then(|s| s.signed_in.clone())
    }

    fn staff_page(&self) -> Option<StaffPage> {
        let w = self.window()?;
        (w.global::<AppAdapter>().get_screen() == Screen::Staff).then(|| w.global::<StaffAdapter>().get_page())
    }

    pub(super) fn handing_over(&self) -> bool {
        self.signed_in().is_some() && self.staff_page() == Some(StaffPage::Handover)
    }

    pub(super) fn staff_notice(&self, notice: i32, order: &str) {
        self.staff_notice_detail(notice, order, "");
    }

    fn staff_notice_detail(&self, notice: i32, order: &str, detail: &str) {
        if let Some(w) = self.window() {
            let s = w.global::<StaffAdapter>();
            s.set_notice_order(order.into());
            s.set_notice_detail(detail.into());
            s.set_notice(notice);
        }
    }

    pub(super) fn open_queue(self: &Rc<Self>) {
        if self.signed_in().is_none() {
            return;
        }
        if let Some(s) = self.staff.borrow_mut().as_mut() {
            s.order = None;
        }
        if let Some(w) = self.window() {
            w.global::<StaffAdapter>().set_page(StaffPage::Queue);
        }
        self.show(Screen::Staff, self.settings.staff_idle_timeout_secs);
        self.show_queue();
    }

    pub(super) fn tab_chosen(&self, tab: i32) {
        self.touched();
        if let Some(s) = self.staff.borrow_mut().as_mut() {
            s.tab = QueueTab::from_index(tab.max(0) as usize);
        }
        self.staff_notice(0, "");
        self.show_queue();
    }

    fn show_queue(&self) {
        let Some(w) = self.window() else { return };
        let Some(tab) = self.staff.borrow().as_ref().map(|s| s.tab) else { return };
        let now = self.now();
        let orders = self.store.open_orders().unwrap_or_default();
        let waiting = self.store.waiting().unwrap_or_default();
        let s = w.global::<StaffAdapter>();
        s.set_tab(tab.index() as i32);
        let counts = desk::tab_counts(&orders, &waiting, now);
        s.set_tab_counts(ModelRc::new(VecModel::from(counts.iter().map(|c| *c as i32).collect::<Vec<_>>())));
        let rows: Vec<QueueRow> =
            desk::queue(tab, &orders, &waiting, now).into_iter().map(|o| self.queue_row(o, &waiting, now)).collect();
        s.set_queue(ModelRc::new(VecModel::from(rows)));
        s.set_assist_count(self.store.open_assists().map(|a| a.len()).unwrap_or(0) as i32);
    }

    fn queue_row(&self, o: &OrderRecord, waiting: &[Waiting], now: i64) -> QueueRow {
        let waited = waiting.iter().find(|w| w.order.id == o.id).map(|w| (now - w.since) / 60);
        QueueRow {
            id: o.id.clone().into(),
            customer: self.customer_label(&o.customer_id).into(),
            items: o.lines.iter().map(|l| l.qty).sum::<i64>() as i32,
            promised: clock(o.promised_ready_at, self.settings.tz_offset_secs).into(),
            status: o.status.as_str().into(),
            late_minutes: if desk::is_overdue(o, now) { ((now - o.promised_ready_at) / 60) as i32 } else { -1 },
            waiting_minutes: waited.map_or(-1, |m| m as i32),
        }
    }

    /// "Anna K.", or the customer id when this store has not cached the customer.
    fn customer_label(&self, customer_id: &str) -> String {
        match self.store.customer(customer_id) {
            Ok(Some(c)) => short_name(&c),
            _ => customer_id.to_string(),
        }
    }

    pub(super) fn open_order(self: &Rc<Self>, id: &str) {
        if self.signed_in().is_none() {
            return;
        }
        self.touched();
        let order = match self.store.order(id) {
            Ok(Some(o)) => o,
            _ => return self.staff_notice_detail(5, id, &format!("order {id} is not an order of this store")),
        };
        if let Some(s) = self.staff.borrow_mut().as_mut() {
            s.order = Some(OpenOrder::new(order));
        }
        self.staff_notice(0, "");
        if let Some(w) = self.window() {
            w.global::<StaffAdapter>().set_page(StaffPage::Order);
        }
        self.show(Screen::Staff, self.settings.staff_idle_timeout_secs);
        self.show_order();
    }

    fn show_order(&self) {
        let Some(w) = self.window() else { return };
        let staff = self.staff.borrow();
        let Some(open) = staff.as_ref().and_then(|s| s.order.as_ref()) else { return };
        let s = w.global::<StaffAdapter>();
        let o = &open.order;
        s.set_order_id(o.id.clone().into());
        s.set_order_customer(self.customer_label(&o.customer_id).into());
        s.set_order_status(o.status.as_str().into());
        s.set_order_promised(clock(o.promised_ready_at, self.settings.tz_offset_secs).into());
        let lines: Vec<PickLine> = o
            .lines
            .iter()
            .zip(&open.picked)
            .map(|(l, p)| {
                let aisle = self.store.product(&l.sku).ok().flatten().and_then(|v| v.stock).map(|st| st.aisle).unwrap_or_default();
                PickLine { sku: l.sku.clone().into(), name: l.name.clone().into(), qty: l.qty as i32, picked: *p as i32, aisle: aisle.into() }
            })
            .collect();
        s.set_lines(ModelRc::new(VecModel::from(lines)));
        s.set_short(open.ask_reason());
        s.set_short_reason(open.reason.clone().unwrap_or_default().into());
    }

    pub(super) fn set_picked(&self, sku: &str, picked: i32) {
        self.touched();
        if let Some(open) = self.staff.borrow_mut().as_mut().and_then(|s| s.order.as_mut()) {
            if let Some(i) = open.order.lines.iter().position(|l| l.sku == sku) {
                open.picked[i] = i64::from(picked).clamp(0, open.order.lines[i].qty);
            }
        }
        self.staff_notice(0, "");
        self.show_order();
    }

    pub(super) fn reason_chosen(&self, reason: &str) {
        self.touched();
        if let Some(open) = self.staff.borrow_mut().as_mut().and_then(|s| s.order.as_mut()) {
            open.reason = Some(reason.to_string());
        }
        self.staff_notice(0, "");
        self.show_order();
    }

    /// Records an op for the open order; on success reloads the order from the store.
    fn order_op(&self, op: impl FnOnce(&OpenOrder, &str) -> OpBody) -> Result<String, OpError> {
        let Some(staff) = self.signed_in() else { return Ok(String::new()) };
        let (op, id) = {
            let session = self.staff.borrow();
            let Some(open) = session.as_ref().and_then(|s| s.order.as_ref()) else { return Ok(String::new()) };
            (op(open, &staff.id), open.order.id.clone())
        };
        self.store.record_op(op, &self.settings.loyalty, self.now())?;
        if let Ok(Some(order)) = self.store.order(&id) {
            if let Some(open) = self.staff.borrow_mut().as_mut().and_then(|s| s.order.as_mut()) {
                let reason = open.reason.take();
                *open = OpenOrder::new(order);
                open.reason = reason;
            }
        }
        Ok(id)
    }

    /// Short without a reason: marks the reason as asked for, so the choices show.
    fn needs_reason(&self) -> bool {
        let mut staff = self.staff.borrow_mut();
        let Some(open) = staff.as_mut().and_then(|s| s.order.as_mut()) else { return false };
        let needs = open.short() && open.reason.is_none();
        open.asked_reason |= needs;
        needs
    }

    fn refused(&self, e: OpError) {
        let id = self.staff.borrow().as_ref().and_then(|s| s.order.as_ref()).map(|o| o.order.id.clone()).unwrap_or_default();
        match &e {
            OpError::Refused(r) if r.code == "wrong_pickup_code" => self.staff_notice(4, &id),
            _ => self.staff_notice_detail(5, &id, &e.to_string()),
        }
    }

    pub(super) fn save_pick(&self) {
        self.touched();
        if self.needs_reason() {
            self.staff_notice(6, "");
            return self.show_order();
        }
        match self.order_op(|o, staff| o.pick_op(staff)) {
            Ok(id) => self.staff_notice(1, &id),
            Err(e) => self.refused(e),
        }
        self.show_order();
    }

    pub(super) fn mark_ready(self: &Rc<Self>) {
        self.touched();
        if self.needs_reason() {
            self.staff_notice(6, "");
            return self.show_order();
        }
        let unsaved = self.staff.borrow().as_ref().and_then(|s| s.order.as_ref()).is_some_and(OpenOrder::unsaved);
        if unsaved {
            if let Err(e) = self.order_op(|o, staff| o.pick_op(staff)) {
                self.refused(e);
                return self.show_order();
            }
        }
        match self.order_op(|o, staff| OpBody::OrderReady { order_id: o.order.id.clone(), staff_id: staff.to_string() }) {
            Ok(id) => {
                self.open_queue();
                self.staff_notice(2, &id);
            }
            Err(e) => {
                self.refused(e);
                self.show_order();
            }
        }
    }

    pub(super) fn start_handover(&self) {
        self.touched();
        self.staff_notice(0, "");
        if let Some(w) = self.window() {
            w.global::<StaffAdapter>().set_page(StaffPage::Handover);
        }
    }

    /// The handover: only against the order's pickup code or its signed order QR.
    pub(super) fn hand_over(self: &Rc<Self>, verification: Verification) {
        self.touched();
        match self.order_op(|o, staff| OpBody::OrderCollect { order_id: o.order.id.clone(), staff_id: staff.to_string(), verification }) {
            Ok(id) if !id.is_empty() => {
                if let (Some(sink), Ok(Some(order)), Some(staff)) =
                    (self.handover_sink.borrow().as_ref(), self.store.order(&id), self.signed_in())
                {
                    sink(&order, &staff.id);
                }
                self.open_queue();
                self.staff_notice(3, &id);
            }
            Ok(_) => {}
            Err(e) => self.refused(e),
        }
    }

    pub(super) fn open_assists(&self) {
        self.touched();
        if self.signed_in().is_none() {
            return;
        }
        self.staff_notice(0, "");
        if let Some(w) = self.window() {
            w.global::<StaffAdapter>().set_page(StaffPage::Assist);
        }
        self.show_assists();
    }

    fn show_assists(&self) {
        let Some(w) = self.window() else { return };
        let rows: Vec<AssistRow> = self
            .store
            .open_assists()
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let view = a.customer_id.as_deref().and_then(|id| self.store.shopper_view(id).ok().flatten());
                let who = view.as_ref().map(|v| short_name(&v.customer));
                let cart = view.as_ref().map(|v| {
                    v.cart.lines.iter().map(|l| format!("{} × {}", l.qty, l.name.as_deref().unwrap_or(&l.sku))).collect::<Vec<_>>().join(", ")
                });
                let orders = view.as_ref().map(|v| {
                    v.ready_for_pickup
                        .iter()
                        .chain(&v.in_preparation)
                        .map(|o| o.id.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                AssistRow {
                    id: a.id as i32,
                    who: who.unwrap_or_default().into(),
                    since: clock(a.at, self.settings.tz_offset_secs).into(),
                    cart: cart.unwrap_or_default().into(),
                    orders: orders.unwrap_or_default().into(),
                }
            })
            .collect();
        w.global::<StaffAdapter>().set_assists(ModelRc::new(VecModel::from(rows)));
    }

    pub(super) fn assist_done(&self, id: i64) {
        self.touched();
        let Some(staff) = self.signed_in() else { return };
        match self.store.close_assist(id, &staff.id, self.now()) {
            Ok(_) => self.staff_notice(8, ""),
            Err(e) => self.staff_notice_detail(5, "", &e.to_string()),
        }
        self.show_assists();
        self.refresh();
    }

    pub(super) fn staff_back(self: &Rc<Self>) {
        match self.staff_page() {
            Some(StaffPage::Handover) => {
                self.touched();
                self.staff_notice(0, "");
                if let Some(w) = self.window() {
                    w.global::<StaffAdapter>().set_page(StaffPage::Order);
                }
            }
            _ => {
                self.open_queue();
                self.staff_notice(0, "");
            }
        }
    }

    pub(super) fn open_manager(self: &Rc<Self>) {
        if self.signed_in().is_none_or(|m| m.role != StaffRole::Manager) {
            return;
        }
        self.show(Screen::Manager, self.settings.staff_idle_timeout_secs);
        self.show_manager();
    }

    fn show_manager(&self) {
        let Some(w) = self.window() else { return };
        let now = self.now();
        let tz = self.settings.tz_offset_secs;
        let orders = self.store.open_orders().unwrap_or_default();
        let waiting = self.store.waiting().unwrap_or_default();
        let sum = desk::summary(&orders, &waiting, now, self.settings.no_show_secs);
        let m = w.global::<ManagerAdapter>();
        m.set_placed(sum.placed as i32);
        m.set_picking(sum.picking as i32);
        m.set_ready(sum.ready as i32);
        m.set_waiting(sum.waiting as i32);
        let list = |rows: Vec<ListRow>| ModelRc::new(VecModel::from(rows));
        let minutes = |secs: i64| (secs.div_euclid(60)) as i32;
        m.set_overdue(list(sum.overdue.iter().map(|(o, late)| ListRow { title: o.id.clone().into(), minutes: minutes(*late) }).collect()));
        m.set_waiting_now(list(
            sum.waiting_now
                .iter()
                .map(|(w, secs)| ListRow { title: format!("{} · {}", w.order.id, w.first_name).into(), minutes: minutes(*secs) })
                .collect(),
        ));
        m.set_expiring(list(sum.expiring.iter().map(|(o, left)| ListRow { title: o.id.clone().into(), minutes: minutes(*left) }).collect()));
        // Today, in the store's time zone.
        let midnight = now - (now + tz).rem_euclid(86_400);
        let nps = self.store.nps_since(midnight).unwrap_or_default();
        m.set_nps(nps.score().map(|s| format!("{s:+}")).unwrap_or_else(|| "–".into()).into());
        m.set_nps_answers(nps.answers as i32);
        m.set_promoters(nps.promoters as i32);
        m.set_passives(nps.passives as i32);
        m.set_detractors(nps.detractors as i32);
        let sync = self.store.sync_state().ok();
        m.set_online(sync.as_ref().is_some_and(|s| s.last_error.is_none()));
        m.set_last_pull(sync.and_then(|s| s.last_pull_at).map(|t| clock(t, tz)).unwrap_or_else(|| "–".into()).into());
        let outbox = self.store.outbox_stats().unwrap_or_default();
        m.set_outbox(outbox.pending as i32);
        m.set_oldest_op(outbox.oldest_at.map(|t| clock(t, tz)).unwrap_or_default().into());
        let conflicts: Vec<ConflictRow> = self
            .store
            .conflicts()
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                let subject = c.op.get("order_id").or_else(|| c.op.get("customer_id")).and_then(|v| v.as_str()).unwrap_or("");
                ConflictRow {
                    what: format!("{} {} · {}", c.name, subject, clock(c.kiosk_time, tz)).into(),
                    reason: c.message.into(),
                    code: c.code.into(),
                }
            })
            .collect();
        m.set_conflicts(ModelRc::new(VecModel::from(conflicts)));
    }

    /// Keeps the staff screens current as sync brings new orders (the order being picked
    /// is left alone: a colleague is ticking it).
    pub(super) fn refresh_staff_screens(&self) {
        let Some(w) = self.window() else { return };
        if self.signed_in().is_none() {
            return;
        }
        match w.global::<AppAdapter>().get_screen() {
            Screen::Manager => self.show_manager(),
            Screen::Staff => match w.global::<StaffAdapter>().get_page() {
                StaffPage::Queue => self.show_queue(),
                StaffPage::Assist => self.show_assists(),
                _ => {}
            },
            _ => {}
        }
    }

    /// Signs the colleague out: nothing of the queue, its customers or the manager view
    /// stays in the models.
    pub(super) fn end_staff_session(&self) {
        *self.staff.borrow_mut() = None;
        let Some(w) = self.window() else { return };
        let s = w.global::<StaffAdapter>();
        s.set_page(StaffPage::Pin);
        s.set_badge_name(blank());
        s.set_staff_name(blank());
        s.set_manager(false);
        s.set_pin_notice(0);
        s.set_queue(ModelRc::default());
        s.set_order_id(blank());
        s.set_order_customer(blank());
        s.set_order_status(blank());
        s.set_lines(ModelRc::default());
        s.set_assists(ModelRc::default());
        s.set_short_reason(blank());
        s.set_notice(0);
        s.set_notice_order(blank());
        s.set_notice_detail(blank());
        let m = w.global::<ManagerAdapter>();
        m.set_overdue(ModelRc::default());
        m.set_waiting_now(ModelRc::default());
        m.set_expiring(ModelRc::default());
        m.set_conflicts(ModelRc::default());
    }
}

/// "Anna K.": how staff screens name a customer.
fn short_name(c: &CustomerRecord) -> String {
    format!("{} {}.", c.first_name, c.last_initial)
}
