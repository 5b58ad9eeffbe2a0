//! Staff at the kiosk: badge scan and PIN (five wrong PINs lock the badge for five
//! minutes; a colleague without one chooses it, twice, and a trivial one is refused), the
//! pickup queue with its tabs, picking with short-pick reasons, "Ready", the
//! handover that needs the pickup code or the order QR, and help requests with the
//! shopper's context.
//!
//! Every change is an op recorded in the local outbox (`LocalStore::record_op`): it works
//! offline and is checked by the same rules the hub applies.

use omnikiosk_protocol::ops::{OpBody, PickedLine, Verification};
use omnikiosk_protocol::pin;
use omnikiosk_protocol::wire::{CustomerRecord, OrderRecord, OrderStatus, StaffRole};

use super::context::Ctx;
use crate::domain::desk::{self, QueueTab, Waiting};
use crate::store::{OpError, PinCheck, StaffMember};

/// Which page of the staff screen shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StaffPage {
    #[default]
    Pin,
    Queue,
    Order,
    Handover,
    Assist,
    /// The till: its state is the router's `TillPart`.
    Till,
}

/// The line under the PIN pad.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PinNotice {
    #[default]
    None,
    Wrong,
    /// Too many wrong PINs: the pad is gone until `locked_until`.
    Locked,
    /// The PIN chosen is refused by `pin::check_chosen` (0000, 1234, too short).
    TooEasy,
    /// The PIN typed again was not the one chosen: choose again.
    Mismatch,
}

/// What the PIN pad asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PinPrompt {
    /// The colleague's PIN.
    #[default]
    Enter,
    /// A colleague without a PIN (new, or theirs reset at the hub): "Choose your PIN".
    Choose,
    /// The PIN chosen, typed again.
    Repeat,
}

/// What the last action did, shown above the queue, the order or the handover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StaffNotice {
    #[default]
    None,
    PickSaved,
    Ready,
    Collected,
    /// The handover's code was not the order's: nothing was handed over.
    WrongCode,
    /// An op was refused; `notice_detail` says why.
    Refused,
    /// Lines are short and no reason was chosen.
    NeedsReason,
    /// A shopper's card was scanned while a colleague is signed in.
    ShopperCard,
    HelpClosed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueRow {
    pub id: String,
    /// "Anna K.", or the customer id when this store has not cached the customer.
    pub customer: String,
    pub items: i64,
    pub promised: String,
    pub status: &'static str,
    pub late_minutes: Option<i64>,
    pub waiting_minutes: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PickLine {
    pub sku: String,
    pub name: String,
    pub qty: i64,
    pub picked: i64,
    pub aisle: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssistRow {
    /// The request's id (its `help.request` op).
    pub id: String,
    /// The colleague on the way, if one took it.
    pub taken_by: String,
    pub who: String,
    pub since: String,
    pub cart: String,
    pub orders: String,
}

/// The order open in detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderScreen {
    pub id: String,
    pub customer: String,
    pub status: &'static str,
    pub promised: String,
    pub lines: Vec<PickLine>,
    /// Lines are short: the reasons show.
    pub short: bool,
    pub short_reason: String,
}

/// What the staff screen shows; empty when nobody is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffScreen {
    pub page: StaffPage,
    /// Whose badge was scanned, and who signed in.
    pub badge_name: String,
    pub staff_name: String,
    pub manager: bool,
    pub pin_notice: PinNotice,
    pub pin_prompt: PinPrompt,
    pub attempts_left: i64,
    pub locked_until: String,
    pub tab: QueueTab,
    /// Orders under each tab, in [`QueueTab::ALL`] order.
    pub tab_counts: [usize; 5],
    pub queue: Vec<QueueRow>,
    pub assist_count: usize,
    pub order: OrderScreen,
    pub notice: StaffNotice,
    /// The order the notice is about.
    pub notice_order: String,
    pub notice_detail: String,
    pub assists: Vec<AssistRow>,
}

impl Default for StaffScreen {
    fn default() -> StaffScreen {
        StaffScreen {
            page: StaffPage::Pin,
            badge_name: String::new(),
            staff_name: String::new(),
            manager: false,
            pin_notice: PinNotice::None,
            pin_prompt: PinPrompt::Enter,
            attempts_left: 0,
            locked_until: String::new(),
            tab: QueueTab::New,
            tab_counts: [0; 5],
            queue: Vec::new(),
            assist_count: 0,
            order: OrderScreen::default(),
            notice: StaffNotice::None,
            notice_order: String::new(),
            notice_detail: String::new(),
            assists: Vec::new(),
        }
    }
}

/// Where the router goes after a staff action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Go {
    Stay,
    /// The staff screen (restarting the colleague's idle countdown).
    Staff,
    /// The manager view.
    Manager,
    /// Back to the idle screen.
    Home,
}

/// A colleague at the kiosk.
struct Session {
    /// The badge scanned, waiting for its PIN.
    badge: StaffMember,
    /// Set once the PIN was right.
    signed_in: Option<StaffMember>,
    /// The PIN a colleague without one chose, until they type it again.
    chosen: Option<String>,
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

#[derive(Default)]
pub struct StaffPart {
    /// `None` while no badge was scanned.
    session: Option<Session>,
    screen: StaffScreen,
}

impl StaffPart {
    pub fn screen(&self) -> &StaffScreen {
        &self.screen
    }

    /// A badge was scanned (the PIN pad shows), whether or not its PIN was right yet.
    pub fn is_present(&self) -> bool {
        self.session.is_some()
    }

    pub fn signed_in(&self) -> Option<&StaffMember> {
        self.session.as_ref().and_then(|s| s.signed_in.as_ref())
    }

    pub fn is_manager(&self) -> bool {
        self.signed_in().is_some_and(|m| m.role == StaffRole::Manager)
    }

    /// At the handover page, whatever is scanned is the shopper's proof.
    pub fn handing_over(&self) -> bool {
        self.signed_in().is_some() && self.screen.page == StaffPage::Handover
    }

    /// A badge: the PIN pad, or the lock if this badge had too many wrong PINs.
    pub fn badge(&mut self, ctx: &Ctx, member: StaffMember) {
        self.end();
        self.screen.badge_name = member.name.clone();
        if let Ok(Some(until)) = ctx.store.pin_locked_until(&member.id, ctx.now()) {
            self.locked(ctx, until);
        }
        if !member.pin_set {
            self.screen.pin_prompt = PinPrompt::Choose;
        }
        self.session = Some(Session { badge: member, signed_in: None, chosen: None, order: None });
    }

    fn locked(&mut self, ctx: &Ctx, until: i64) {
        self.screen.locked_until = ctx.clock(until);
        self.screen.pin_notice = PinNotice::Locked;
    }

    pub fn pin_entered(&mut self, ctx: &Ctx, pin: &str) -> Go {
        let Some(session) = self.session.as_mut() else { return Go::Stay };
        if !session.badge.pin_set {
            return self.pin_chosen(ctx, pin);
        }
        match ctx.store.verify_pin(&session.badge.id, pin, ctx.now()) {
            Ok(PinCheck::Accepted(member)) => self.sign_in(ctx, member),
            Ok(PinCheck::Wrong { attempts_left }) => {
                self.screen.attempts_left = attempts_left;
                self.screen.pin_notice = PinNotice::Wrong;
                Go::Stay
            }
            Ok(PinCheck::Locked { until }) => {
                self.locked(ctx, until);
                Go::Stay
            }
            Ok(PinCheck::UnknownBadge) => Go::Home,
            Err(e) => {
                tracing::error!(error = %e, "cannot check the PIN");
                Go::Home
            }
        }
    }

    fn sign_in(&mut self, ctx: &Ctx, member: StaffMember) -> Go {
        let Some(session) = self.session.as_mut() else { return Go::Stay };
        self.screen.pin_notice = PinNotice::None;
        self.screen.staff_name = member.name.clone();
        self.screen.manager = member.role == StaffRole::Manager;
        session.signed_in = Some(member);
        if self.screen.manager {
            Go::Manager
        } else {
            self.open_queue(ctx)
        }
    }

    /// A colleague without a PIN chooses one: typed once (refused when trivial), typed
    /// again (the same, or choose again), then kept as a `staff.set_pin` op and signed in.
    fn pin_chosen(&mut self, ctx: &Ctx, pin: &str) -> Go {
        let Some(session) = self.session.as_mut() else { return Go::Stay };
        match session.chosen.take() {
            None => {
                if pin::check_chosen(pin).is_err() {
                    self.screen.pin_notice = PinNotice::TooEasy;
                    return Go::Stay;
                }
                session.chosen = Some(pin.to_string());
                (self.screen.pin_prompt, self.screen.pin_notice) = (PinPrompt::Repeat, PinNotice::None);
                Go::Stay
            }
            Some(first) if first != pin => {
                (self.screen.pin_prompt, self.screen.pin_notice) = (PinPrompt::Choose, PinNotice::Mismatch);
                Go::Stay
            }
            Some(_) => match ctx.store.choose_pin(&session.badge.id, pin, &ctx.settings.loyalty, ctx.now()) {
                Ok(_) => {
                    let member = StaffMember { pin_set: true, ..session.badge.clone() };
                    session.badge.pin_set = true;
                    self.screen.pin_prompt = PinPrompt::Enter;
                    self.sign_in(ctx, member)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot keep the chosen PIN");
                    Go::Home
                }
            },
        }
    }

    pub fn notice(&mut self, notice: StaffNotice, order: &str) {
        self.notice_detail(notice, order, "");
    }

    fn notice_detail(&mut self, notice: StaffNotice, order: &str, detail: &str) {
        self.screen.notice = notice;
        self.screen.notice_order = order.to_string();
        self.screen.notice_detail = detail.to_string();
    }

    pub fn open_queue(&mut self, ctx: &Ctx) -> Go {
        let Some(session) = self.session.as_mut().filter(|s| s.signed_in.is_some()) else { return Go::Stay };
        session.order = None;
        self.screen.page = StaffPage::Queue;
        self.load_queue(ctx);
        Go::Staff
    }

    pub fn tab_chosen(&mut self, ctx: &Ctx, tab: QueueTab) {
        self.screen.tab = tab;
        self.notice(StaffNotice::None, "");
        self.load_queue(ctx);
    }

    fn load_queue(&mut self, ctx: &Ctx) {
        if self.session.is_none() {
            return;
        }
        let now = ctx.now();
        let orders = ctx.store.open_orders().unwrap_or_default();
        let waiting = ctx.store.waiting().unwrap_or_default();
        self.screen.tab_counts = desk::tab_counts(&orders, &waiting, now);
        self.screen.queue = desk::queue(self.screen.tab, &orders, &waiting, now).into_iter().map(|o| queue_row(ctx, o, &waiting, now)).collect();
        self.screen.assist_count = ctx.store.open_help().map(|a| a.len()).unwrap_or(0);
    }

    pub fn open_order(&mut self, ctx: &Ctx, id: &str) -> Go {
        let Some(session) = self.session.as_mut().filter(|s| s.signed_in.is_some()) else { return Go::Stay };
        let Ok(Some(order)) = ctx.store.order(id) else {
            self.notice_detail(StaffNotice::Refused, id, &format!("order {id} is not an order of this store"));
            return Go::Stay;
        };
        session.order = Some(OpenOrder::new(order));
        self.notice(StaffNotice::None, "");
        self.screen.page = StaffPage::Order;
        self.load_order(ctx);
        Go::Staff
    }

    fn open(&self) -> Option<&OpenOrder> {
        self.session.as_ref()?.order.as_ref()
    }

    fn open_mut(&mut self) -> Option<&mut OpenOrder> {
        self.session.as_mut()?.order.as_mut()
    }

    fn load_order(&mut self, ctx: &Ctx) {
        let Some(open) = self.open() else { return };
        let o = &open.order;
        let lines = o
            .lines
            .iter()
            .zip(&open.picked)
            .map(|(l, p)| PickLine {
                sku: l.sku.clone(),
                name: l.name.clone(),
                qty: l.qty,
                picked: *p,
                aisle: ctx.store.product(&l.sku).ok().flatten().and_then(|v| v.stock).map(|st| st.aisle).unwrap_or_default(),
            })
            .collect();
        self.screen.order = OrderScreen {
            id: o.id.clone(),
            customer: customer_label(ctx, &o.customer_id),
            status: o.status.as_str(),
            promised: ctx.clock(o.promised_ready_at),
            lines,
            short: open.ask_reason(),
            short_reason: open.reason.clone().unwrap_or_default(),
        };
    }

    pub fn set_picked(&mut self, ctx: &Ctx, sku: &str, picked: i64) {
        if let Some(open) = self.open_mut() {
            if let Some(i) = open.order.lines.iter().position(|l| l.sku == sku) {
                open.picked[i] = picked.clamp(0, open.order.lines[i].qty);
            }
        }
        self.notice(StaffNotice::None, "");
        self.load_order(ctx);
    }

    pub fn reason_chosen(&mut self, ctx: &Ctx, reason: &str) {
        if let Some(open) = self.open_mut() {
            open.reason = Some(reason.to_string());
        }
        self.notice(StaffNotice::None, "");
        self.load_order(ctx);
    }

    /// Records an op for the open order; on success reloads the order from the store and
    /// returns its id (empty with nobody signed in or no order open).
    fn order_op(&mut self, ctx: &Ctx, op: impl FnOnce(&OpenOrder, &str) -> OpBody) -> Result<String, OpError> {
        let Some(session) = self.session.as_mut() else { return Ok(String::new()) };
        let (Some(staff), Some(open)) = (&session.signed_in, &mut session.order) else { return Ok(String::new()) };
        ctx.record(op(open, &staff.id))?;
        let id = open.order.id.clone();
        if let Ok(Some(order)) = ctx.store.order(&id) {
            let reason = open.reason.take();
            *open = OpenOrder::new(order);
            open.reason = reason;
        }
        Ok(id)
    }

    /// Short without a reason: marks the reason as asked for, so the choices show.
    fn needs_reason(&mut self, ctx: &Ctx) -> bool {
        let Some(open) = self.open_mut() else { return false };
        let needs = open.short() && open.reason.is_none();
        open.asked_reason |= needs;
        if needs {
            self.notice(StaffNotice::NeedsReason, "");
            self.load_order(ctx);
        }
        needs
    }

    fn refused(&mut self, e: OpError) {
        let id = self.open().map(|o| o.order.id.clone()).unwrap_or_default();
        match &e {
            OpError::Refused(r) if r.code == "wrong_pickup_code" => self.notice(StaffNotice::WrongCode, &id),
            _ => self.notice_detail(StaffNotice::Refused, &id, &e.to_string()),
        }
    }

    pub fn save_pick(&mut self, ctx: &Ctx) {
        if self.needs_reason(ctx) {
            return;
        }
        match self.order_op(ctx, |o, staff| o.pick_op(staff)) {
            Ok(id) => self.notice(StaffNotice::PickSaved, &id),
            Err(e) => self.refused(e),
        }
        self.load_order(ctx);
    }

    pub fn mark_ready(&mut self, ctx: &Ctx) -> Go {
        if self.needs_reason(ctx) {
            return Go::Stay;
        }
        if self.open().is_some_and(OpenOrder::unsaved) {
            if let Err(e) = self.order_op(ctx, |o, staff| o.pick_op(staff)) {
                self.refused(e);
                self.load_order(ctx);
                return Go::Stay;
            }
        }
        match self.order_op(ctx, |o, staff| OpBody::OrderReady { order_id: o.order.id.clone(), staff_id: staff.to_string() }) {
            Ok(id) => {
                let go = self.open_queue(ctx);
                self.notice(StaffNotice::Ready, &id);
                go
            }
            Err(e) => {
                self.refused(e);
                self.load_order(ctx);
                Go::Stay
            }
        }
    }

    pub fn start_handover(&mut self) {
        self.notice(StaffNotice::None, "");
        self.screen.page = StaffPage::Handover;
    }

    /// The handover: only against the order's pickup code or its signed order QR.
    /// Returns the order handed over, and who handed it over.
    pub fn hand_over(&mut self, ctx: &Ctx, verification: Verification) -> Option<(OrderRecord, String)> {
        let op = |o: &OpenOrder, staff: &str| OpBody::OrderCollect { order_id: o.order.id.clone(), staff_id: staff.to_string(), verification };
        match self.order_op(ctx, op) {
            Ok(id) if !id.is_empty() => {
                let handed = ctx.store.order(&id).ok().flatten().zip(self.signed_in().map(|s| s.id.clone()));
                self.open_queue(ctx);
                self.notice(StaffNotice::Collected, &id);
                handed
            }
            Ok(_) => None,
            Err(e) => {
                self.refused(e);
                None
            }
        }
    }

    /// The till page (the basket itself is the till's part).
    pub fn show_till(&mut self) {
        if self.signed_in().is_some() {
            self.notice(StaffNotice::None, "");
            self.screen.page = StaffPage::Till;
        }
    }

    pub fn open_assists(&mut self, ctx: &Ctx) {
        if self.signed_in().is_none() {
            return;
        }
        self.notice(StaffNotice::None, "");
        self.screen.page = StaffPage::Assist;
        self.load_assists(ctx);
    }

    fn load_assists(&mut self, ctx: &Ctx) {
        self.screen.assists = ctx
            .store
            .open_help()
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let view = a.customer_id.as_deref().and_then(|id| ctx.store.shopper_view(id).ok().flatten());
                let (who, cart, orders) = match view {
                    Some(v) => (
                        short_name(&v.customer),
                        v.cart.lines.iter().map(|l| format!("{} × {}", l.qty, l.name.as_deref().unwrap_or(&l.sku))).collect::<Vec<_>>().join(", "),
                        v.ready_for_pickup.iter().chain(&v.in_preparation).map(|o| o.id.as_str()).collect::<Vec<_>>().join(", "),
                    ),
                    None => Default::default(),
                };
                let who = if who.is_empty() { a.shopper.clone().unwrap_or_default() } else { who };
                AssistRow { id: a.id, who, since: ctx.clock(a.raised_at), cart, orders, taken_by: a.taken_by_name.unwrap_or_default() }
            })
            .collect();
    }

    /// "On my way" (`done` false) or "Done" on a request; returns whether it was recorded
    /// (the desk's signals change).
    pub fn assist_answer(&mut self, ctx: &Ctx, id: &str, done: bool) -> bool {
        let Some(staff_id) = self.signed_in().map(|s| s.id.clone()) else { return false };
        let request_id = id.to_string();
        let op = if done { OpBody::HelpDone { request_id, staff_id } } else { OpBody::HelpTake { request_id, staff_id } };
        let recorded = match ctx.record(op) {
            Ok(_) => {
                self.notice(if done { StaffNotice::HelpClosed } else { StaffNotice::None }, "");
                true
            }
            Err(e) => {
                self.notice_detail(StaffNotice::Refused, "", &e.to_string());
                false
            }
        };
        self.load_assists(ctx);
        recorded
    }

    /// "Back": from the handover to its order, from anywhere else to the queue.
    pub fn back(&mut self, ctx: &Ctx) -> Go {
        if self.screen.page == StaffPage::Handover {
            self.notice(StaffNotice::None, "");
            self.screen.page = StaffPage::Order;
            return Go::Stay;
        }
        let go = self.open_queue(ctx);
        self.notice(StaffNotice::None, "");
        go
    }

    /// Keeps the list on screen current as sync brings new orders (the order being
    /// picked is left alone: a colleague is ticking it).
    pub fn refresh(&mut self, ctx: &Ctx) {
        match self.screen.page {
            StaffPage::Queue => self.load_queue(ctx),
            StaffPage::Assist => self.load_assists(ctx),
            _ => {}
        }
    }

    /// Signs the colleague out: nothing of the queue or its customers stays.
    pub fn end(&mut self) {
        *self = StaffPart::default();
    }
}

fn queue_row(ctx: &Ctx, o: &OrderRecord, waiting: &[Waiting], now: i64) -> QueueRow {
    QueueRow {
        id: o.id.clone(),
        customer: customer_label(ctx, &o.customer_id),
        items: o.lines.iter().map(|l| l.qty).sum(),
        promised: ctx.clock(o.promised_ready_at),
        status: o.status.as_str(),
        late_minutes: desk::is_overdue(o, now).then(|| (now - o.promised_ready_at) / 60),
        waiting_minutes: waiting.iter().find(|w| w.order.id == o.id).map(|w| (now - w.since) / 60),
    }
}

/// "Anna K.", or the customer id when this store has not cached the customer.
fn customer_label(ctx: &Ctx, customer_id: &str) -> String {
    match ctx.store.customer(customer_id) {
        Ok(Some(c)) => short_name(&c),
        _ => customer_id.to_string(),
    }
}

/// "Anna K.": how staff screens name a customer.
fn short_name(c: &CustomerRecord) -> String {
    format!("{} {}.", c.first_name, c.last_initial)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{Fixture, NOW};
    use super::*;

    fn signed_in(f: &Fixture, ctx: &Ctx, badge: &str, pin: &str) -> (StaffPart, Go) {
        let mut staff = StaffPart::default();
        staff.badge(ctx, f.store.staff_member(badge).unwrap().unwrap());
        let go = staff.pin_entered(ctx, pin);
        (staff, go)
    }

    #[test]
    fn a_wrong_pin_counts_down_and_the_right_one_opens_the_queue() {
        let (f, ctx) = Fixture::start();
        let (mut staff, go) = signed_in(&f, &ctx, "S1-STAFF", "0000");
        assert_eq!((go, staff.screen().pin_notice, staff.screen().attempts_left), (Go::Stay, PinNotice::Wrong, 4));
        assert!(staff.signed_in().is_none());
        assert_eq!(staff.pin_entered(&ctx, "1234"), Go::Staff);
        let s = staff.screen();
        assert_eq!((s.page, s.staff_name.as_str(), s.manager), (StaffPage::Queue, "Kasia", false));
        assert_eq!(s.tab_counts[QueueTab::New.index()], 1);
        assert_eq!(s.queue.iter().map(|r| (r.id.as_str(), r.customer.as_str())).collect::<Vec<_>>(), [("O-1-2", "Anna K.")]);
        assert_eq!(signed_in(&f, &ctx, "S1-MGR", "9999").1, Go::Manager);
    }

    #[test]
    fn a_new_colleague_chooses_a_pin_twice_and_a_trivial_one_is_refused() {
        let (f, ctx) = Fixture::start();
        let mut staff = StaffPart::default();
        staff.badge(&ctx, f.store.staff_member("S1-NEW").unwrap().unwrap());
        let asks = |s: &StaffPart| (s.screen().pin_prompt, s.screen().pin_notice);
        assert_eq!(asks(&staff), (PinPrompt::Choose, PinNotice::None));
        for trivial in ["0000", "7777", "1234", "4321", "2345", "12"] {
            assert_eq!(staff.pin_entered(&ctx, trivial), Go::Stay);
            assert_eq!(asks(&staff), (PinPrompt::Choose, PinNotice::TooEasy), "{trivial}");
        }
        assert_eq!(staff.pin_entered(&ctx, "2580"), Go::Stay);
        assert_eq!(asks(&staff), (PinPrompt::Repeat, PinNotice::None));
        assert_eq!(staff.pin_entered(&ctx, "2581"), Go::Stay);
        assert_eq!(asks(&staff), (PinPrompt::Choose, PinNotice::Mismatch), "typed differently: choose again");
        assert!(ctx.store.pending_ops(10).unwrap().is_empty(), "nothing is kept before the PIN was typed twice alike");
        staff.pin_entered(&ctx, "2580");
        assert_eq!(staff.pin_entered(&ctx, "2580"), Go::Staff);
        assert_eq!((staff.screen().page, staff.screen().staff_name.as_str()), (StaffPage::Queue, "Zofia"));
        let ops = ctx.store.pending_ops(10).unwrap();
        assert_eq!(ops.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["staff.set_pin"]);
        let hash = ops[0].body["pin_hash"].as_str().unwrap();
        assert!(hash.starts_with("$argon2id$") && !ops[0].body.to_string().contains("2580"), "the PIN never leaves the kiosk: {}", ops[0].body);
        staff.end();
        // At once, online or not, the colleague signs in with it here; a pull of the hub's
        // record from before the op was pushed does not take it away.
        f.store.apply_page(&[super::super::fixture::staff("S1-NEW", "Zofia", StaffRole::Staff, "", false)], "1.2", NOW).unwrap();
        let (staff, go) = signed_in(&f, &ctx, "S1-NEW", "2580");
        assert_eq!((go, staff.screen().pin_prompt), (Go::Staff, PinPrompt::Enter));
    }

    #[test]
    fn a_short_pick_needs_a_reason_before_the_order_is_ready() {
        let (f, ctx) = Fixture::start();
        let (mut staff, _) = signed_in(&f, &ctx, "S1-STAFF", "1234");
        assert_eq!(staff.open_order(&ctx, "O-1-2"), Go::Staff);
        staff.set_picked(&ctx, "5901234123457", 1);
        staff.set_picked(&ctx, "4006381333931", 9);
        assert_eq!(staff.screen().order.lines.iter().map(|l| l.picked).collect::<Vec<_>>(), [1, 1], "clamped to the ordered quantity");
        assert_eq!(staff.mark_ready(&ctx), Go::Stay);
        assert_eq!(staff.screen().notice, StaffNotice::NeedsReason);
        assert!(staff.screen().order.short);
        let ops = ctx.store.pending_ops(10).unwrap();
        assert!(ops.iter().all(|o| o.name == "staff.pin_ok"), "nothing half applied: {ops:?}");
        staff.reason_chosen(&ctx, "out_of_stock");
        assert_eq!(staff.mark_ready(&ctx), Go::Staff);
        assert_eq!((staff.screen().notice, staff.screen().notice_order.as_str()), (StaffNotice::Ready, "O-1-2"));
        assert_eq!(ctx.store.order("O-1-2").unwrap().unwrap().status, OrderStatus::Ready);
    }

    #[test]
    fn a_handover_needs_the_orders_pickup_code() {
        let (f, ctx) = Fixture::start();
        let (mut staff, _) = signed_in(&f, &ctx, "S1-STAFF", "1234");
        staff.open_order(&ctx, "O-1-1");
        staff.start_handover();
        assert!(staff.handing_over());
        assert_eq!(staff.hand_over(&ctx, Verification::PickupCode("999999".into())), None);
        assert_eq!(staff.screen().notice, StaffNotice::WrongCode);
        assert_eq!(ctx.store.order("O-1-1").unwrap().unwrap().status, OrderStatus::Ready);
        let (order, by) = staff.hand_over(&ctx, Verification::PickupCode("111111".into())).expect("handed over");
        assert_eq!((order.id.as_str(), order.status, by.as_str()), ("O-1-1", OrderStatus::Collected, "S1-STAFF"));
        assert_eq!((staff.screen().page, staff.screen().notice), (StaffPage::Queue, StaffNotice::Collected));
        staff.end();
        assert_eq!(*staff.screen(), StaffScreen::default(), "signing out leaves nothing");
    }
}
