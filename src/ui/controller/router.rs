//! The top of the touchscreen: [`Kiosk`] routes every scan by what the code is and who is
//! at the kiosk (a shopper's card → their home; an order QR or pickup code → check-in,
//! or, with a colleague signed in, that order; a badge → the PIN pad; at the handover,
//! anything scanned is the shopper's proof), picks the screen, runs one idle countdown
//! for whichever screen shows, and keeps the sync line, the lists and the desk's signals
//! current. When any session ends, every part is emptied and the idle screen returns.

use omnikiosk_protocol::ops::Verification;
use omnikiosk_protocol::scan::{classify, Scan, ScanContext};
use omnikiosk_protocol::wire::OrderStatus;

use super::desk::{self, DeskPart, ANSWER_SECS};
use super::manager::ManagerPart;
use super::shopper::ShopperPart;
use super::staff::{Go, StaffNotice, StaffPage, StaffPart};
use super::returns::Refund;
use super::shift::{ShiftPart, ShiftStep};
use super::till::{Entry, TillNotice, TillPart};
use super::context::{Ctx, DeskSignals, Effect, UiSettings};
use crate::domain::desk::QueueTab;
use crate::resolve::{resolve_local, LocalAnswer, Resolution, ScanError, ScanOutcome};
use crate::store::LocalStore;

/// Which screen shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Screen {
    #[default]
    Attract,
    Shopper,
    Pickup,
    Help,
    Staff,
    Manager,
}

/// The idle screen's answer to a scan that led nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AttractNotice {
    #[default]
    None,
    NotRecognised,
    /// Recognised, but nothing this store knows (or may show).
    NotFound,
    /// The hub could not look the shopper up now (busy, or this kiosk asked too often).
    TryAgain,
}

/// What the idle screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttractScreen {
    /// The last sync round reached the hub.
    pub online: bool,
    /// "14:05" when the kiosk went offline (empty while online).
    pub offline_since: String,
    /// Local actions not yet sent to the hub.
    pub changes_waiting: u64,
    pub notice: AttractNotice,
}

impl Default for AttractScreen {
    fn default() -> AttractScreen {
        AttractScreen { online: true, offline_since: String::new(), changes_waiting: 0, notice: AttractNotice::None }
    }
}

pub struct Kiosk {
    ctx: Ctx,
    screen: Screen,
    /// Seconds until the screen goes back to attract; counts only while not on attract.
    idle_left: u32,
    /// The countdown the shopper sees.
    seconds_left: u32,
    attract: AttractScreen,
    shopper: ShopperPart,
    desk: DeskPart,
    staff: StaffPart,
    manager: ManagerPart,
    till: TillPart,
    shift: ShiftPart,
    /// The call for staff made at this screen, to say who takes it; ends with the session.
    help_asked: Option<String>,
    /// The desk's signals as last told, so only a change is told again.
    signals: Option<DeskSignals>,
    /// What the window still has to do.
    effects: Vec<Effect>,
}

impl Kiosk {
    pub fn new(store: LocalStore, settings: UiSettings) -> Kiosk {
        let mut kiosk = Kiosk {
            ctx: Ctx::new(store, settings),
            screen: Screen::Attract,
            idle_left: 0,
            seconds_left: 0,
            attract: AttractScreen::default(),
            shopper: ShopperPart::default(),
            desk: DeskPart::default(),
            staff: StaffPart::default(),
            manager: ManagerPart::default(),
            till: TillPart::default(),
            shift: ShiftPart::default(),
            help_asked: None,
            signals: None,
            effects: Vec::new(),
        };
        kiosk.effects.push(Effect::Language(kiosk.ctx.home_language()));
        kiosk.refresh();
        kiosk
    }

    pub fn store(&self) -> &LocalStore {
        &self.ctx.store
    }

    /// The store's time zone, as the screens show times.
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.ctx.zone
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn seconds_left(&self) -> u32 {
        self.seconds_left
    }

    pub fn attract(&self) -> &AttractScreen {
        &self.attract
    }

    pub fn shopper(&self) -> &super::shopper::ShopperScreen {
        self.shopper.screen()
    }

    pub fn desk(&self) -> &super::desk::DeskScreen {
        self.desk.screen()
    }

    pub fn staff(&self) -> &super::staff::StaffScreen {
        self.staff.screen()
    }

    pub fn manager(&self) -> &super::manager::ManagerScreen {
        self.manager.screen()
    }

    pub fn till(&self) -> &super::till::TillScreen {
        self.till.screen()
    }

    pub fn shift(&self) -> &super::shift::ShiftScreen {
        self.shift.screen()
    }

    /// What the window has to do since it last asked, oldest first.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// A code from a scanner, typed into the window, or typed on the pickup keypad.
    pub fn scan(&mut self, code: &str) {
        let answer = resolve_local(&self.ctx.store, &self.ctx.settings.loyalty_prefix, code, self.ctx.now());
        // At the handover, whatever is scanned is the shopper's proof, right or wrong.
        if self.screen == Screen::Staff && self.staff.handing_over() {
            let code = code.trim().to_string();
            let verification = match &answer {
                Ok(LocalAnswer::Found(ScanOutcome { code_kind: "order", .. })) => Verification::OrderQr(code),
                _ => Verification::PickupCode(code),
            };
            return self.hand_over(verification);
        }
        let answer = match self.till_scan(answer, code) {
            Some(answer) => answer,
            None => return,
        };
        match answer {
            Ok(LocalAnswer::Found(outcome)) => self.route(outcome.resolution),
            Ok(LocalAnswer::AskHub(query)) if !self.staff.is_present() => self.effects.push(Effect::AskHub(query)),
            Ok(LocalAnswer::AskHub(_)) => self.attract.notice = AttractNotice::NotFound,
            // A product this store does not know, on a shopper's screen: saving it is refused
            // in words they understand.
            Err(ScanError::NotFound(_)) if self.screen == Screen::Shopper && self.product_code(code).is_some() => {
                let sku = self.product_code(code).unwrap_or_default();
                self.touched();
                self.shopper.save_for_later(&self.ctx, &sku, None);
            }
            Err(e) => {
                let notice = match e {
                    ScanError::NotRecognised(_) => AttractNotice::NotRecognised,
                    e => {
                        tracing::info!(error = %e, "scan led nowhere");
                        AttractNotice::NotFound
                    }
                };
                if self.screen == Screen::Pickup {
                    self.desk.not_found();
                }
                self.attract.notice = notice;
            }
        }
    }

    /// At the till, a product goes into the basket and a shopper's card attaches the sale
    /// to them; what the till cannot use is said there. Returns the answer when the till
    /// is not showing or the code is for elsewhere (a badge, an order).
    fn till_scan(&mut self, answer: Result<LocalAnswer, ScanError>, code: &str) -> Option<Result<LocalAnswer, ScanError>> {
        if !(self.screen == Screen::Staff && self.staff.screen().page == StaffPage::Till && self.till.is_open()) {
            return Some(answer);
        }
        self.touched();
        let ctx = &self.ctx;
        match answer {
            Ok(LocalAnswer::Found(ScanOutcome { resolution: Resolution::Product(p), .. })) => self.till.add_product(ctx, &p),
            Ok(LocalAnswer::Found(ScanOutcome { resolution: Resolution::Shopper(view), .. })) => self.till.attach(ctx, view),
            Ok(LocalAnswer::Found(ScanOutcome { resolution: Resolution::Receipt(r), .. })) => self.till.find_return(ctx, &r.number),
            Err(ScanError::ReceiptElsewhere { number, .. }) => self.till.find_return(ctx, &number),
            // A collected click-and-collect order's QR at the till: bought online, brought back.
            Ok(LocalAnswer::Found(ScanOutcome { resolution: Resolution::Order(o), .. })) if o.status == OrderStatus::Collected => {
                self.till.find_return(ctx, &o.id)
            }
            Ok(LocalAnswer::AskHub(_)) => self.till.not_found(ctx, TillNotice::UnknownShopper, code),
            // Not a barcode, but perhaps the retailer's SKU typed on the keypad.
            Err(ScanError::NotFound(_) | ScanError::NotRecognised(_)) => match ctx.store.product_by_code(code) {
                Ok(Some(p)) => self.till.add_product(ctx, &p),
                _ => self.till.not_found(ctx, TillNotice::UnknownProduct, code),
            },
            other => return Some(other),
        }
        None
    }

    /// The product number in `code`, if it is a product barcode.
    fn product_code(&self, code: &str) -> Option<String> {
        let context = ScanContext { hub_key: None, now: self.ctx.now(), loyalty_prefix: &self.ctx.settings.loyalty_prefix };
        match classify(code, &context) {
            Ok(Scan::Product(gtin)) => Some(gtin.as_str().to_string()),
            _ => None,
        }
    }

    /// The hub's answer to an [`Effect::AskHub`].
    pub fn hub_answered(&mut self, answer: Result<ScanOutcome, ScanError>) {
        match answer {
            Ok(outcome) => self.route(outcome.resolution),
            Err(e) => {
                tracing::info!(error = %e, "the hub could not name this customer");
                self.attract.notice = match e {
                    ScanError::Hub(crate::sync::SyncError::Busy { .. }) => AttractNotice::TryAgain,
                    _ => AttractNotice::NotFound,
                };
            }
        }
    }

    /// What a recognised code opens, given who is at the kiosk.
    fn route(&mut self, resolution: Resolution) {
        let staff_in = self.staff.signed_in().is_some();
        match resolution {
            Resolution::Staff(member) => {
                self.shopper.end();
                self.desk.reset();
                self.manager.clear();
                self.till.end();
        self.shift.end();
                self.staff.badge(&self.ctx, member);
                self.show(Screen::Staff, self.ctx.settings.staff_idle_timeout_secs);
            }
            Resolution::Order(order) if staff_in => self.open_order(&order.id),
            Resolution::Order(order) => {
                self.shopper.end();
                self.desk.check_in(&self.ctx, &order);
                self.show(Screen::Pickup, ANSWER_SECS);
                self.refresh();
            }
            Resolution::Shopper(_) if staff_in => self.staff.notice(StaffNotice::ShopperCard, ""),
            Resolution::Shopper(view) => {
                self.end_staff();
                self.desk.reset();
                self.help_asked = None;
                let language = self.shopper.start(&self.ctx, view);
                self.effects.push(Effect::Language(language));
                let secs = self.ctx.settings.idle_timeout_secs;
                self.show(Screen::Shopper, secs);
                self.seconds_left = secs;
            }
            // A product scanned on a shopper's screen: saved to their online cart.
            Resolution::Product(p) if self.screen == Screen::Shopper && self.shopper.customer_id().is_some() => {
                self.touched();
                self.shopper.save_for_later(&self.ctx, &p.product.sku, Some(&p.product));
            }
            // A product barcode at the idle screen is not a shopper; a receipt (returns come
            // later) is not one either.
            Resolution::Product(_) | Resolution::Receipt(_) => self.attract.notice = AttractNotice::NotFound,
        }
    }

    /// Shows `screen` and restarts the idle countdown at `secs`.
    fn show(&mut self, screen: Screen, secs: u32) {
        self.attract.notice = AttractNotice::None;
        self.screen = screen;
        self.idle_left = secs;
    }

    /// One second of the idle countdown; the window ticks it while a screen but attract
    /// shows.
    pub fn tick(&mut self) {
        self.idle_left = self.idle_left.saturating_sub(1);
        if self.idle_left == 0 {
            self.go_home();
        } else {
            self.seconds_left = self.idle_left;
        }
    }

    /// A touch: whoever is at the kiosk is still there.
    pub fn touched(&mut self) {
        let s = &self.ctx.settings;
        self.idle_left = if self.staff.is_present() { s.staff_idle_timeout_secs } else { s.idle_timeout_secs };
        if self.shopper.customer_id().is_some() {
            self.seconds_left = self.idle_left;
        }
    }

    /// Back to the attract screen, in the store's language (or the config's), with nothing
    /// personal left in any part.
    pub fn go_home(&mut self) {
        self.idle_left = 0;
        self.shopper.end();
        self.seconds_left = 0;
        self.end_staff();
        self.desk.reset();
        self.help_asked = None;
        self.screen = Screen::Attract;
        self.attract.notice = AttractNotice::None;
        self.effects.push(Effect::Language(self.ctx.home_language()));
        self.refresh();
    }

    fn end_staff(&mut self) {
        self.staff.end();
        self.till.end();
        self.shift.end();
        self.manager.clear();
    }

    /// A language button on the idle screen.
    pub fn language_chosen(&mut self, language: &str) {
        self.effects.push(Effect::Language(language.to_string()));
    }

    /// "Collect an order": the pickup keypad.
    pub fn open_pickup(&mut self) {
        self.desk.reset();
        self.show(Screen::Pickup, self.ctx.settings.idle_timeout_secs);
    }

    /// A pickup code typed on our keypad: the same path as a scanned code.
    pub fn pickup_code_entered(&mut self, code: &str) {
        self.touched();
        self.scan(code);
    }

    /// "Call staff", from the idle screen or a shopper's.
    pub fn call_staff(&mut self) {
        let customer = self.shopper.customer_id().map(str::to_string);
        self.help_asked = desk::call_staff(&self.ctx, customer.as_deref());
        match customer {
            Some(_) => {
                self.touched();
                self.shopper.called_staff();
            }
            // Up as long as a shopper's session, to name the colleague who takes it.
            None => {
                self.desk.reset();
                self.show(Screen::Help, self.ctx.settings.idle_timeout_secs);
            }
        }
        self.refresh();
    }

    pub fn im_here(&mut self, order_id: &str) {
        self.touched();
        if self.shopper.im_here(&self.ctx, order_id) {
            self.refresh();
        }
    }

    pub fn rate(&mut self, score: i32) {
        self.touched();
        self.shopper.rate(&self.ctx, score);
    }

    fn go(&mut self, go: Go) {
        match go {
            Go::Stay => {}
            Go::Staff => self.show(Screen::Staff, self.ctx.settings.staff_idle_timeout_secs),
            Go::Manager => self.open_manager(),
            Go::Home => self.go_home(),
        }
    }

    pub fn pin_entered(&mut self, pin: &str) {
        self.touched();
        let go = self.staff.pin_entered(&self.ctx, pin);
        self.go(go);
    }

    pub fn open_queue(&mut self) {
        let go = self.staff.open_queue(&self.ctx);
        self.go(go);
    }

    pub fn tab_chosen(&mut self, tab: QueueTab) {
        self.touched();
        self.staff.tab_chosen(&self.ctx, tab);
    }

    pub fn open_order(&mut self, id: &str) {
        if self.staff.signed_in().is_none() {
            return;
        }
        self.touched();
        let go = self.staff.open_order(&self.ctx, id);
        self.go(go);
    }

    pub fn set_picked(&mut self, sku: &str, picked: i64) {
        self.touched();
        self.staff.set_picked(&self.ctx, sku, picked);
    }

    pub fn reason_chosen(&mut self, reason: &str) {
        self.touched();
        self.staff.reason_chosen(&self.ctx, reason);
    }

    pub fn save_pick(&mut self) {
        self.touched();
        self.staff.save_pick(&self.ctx);
    }

    pub fn mark_ready(&mut self) {
        self.touched();
        let go = self.staff.mark_ready(&self.ctx);
        self.go(go);
    }

    pub fn start_handover(&mut self) {
        self.touched();
        self.staff.start_handover();
    }

    /// The handover, against what the shopper showed: only the order's pickup code or
    /// its signed order QR hands it over.
    pub fn hand_over(&mut self, verification: Verification) {
        self.touched();
        if let Some((order, staff_id)) = self.staff.hand_over(&self.ctx, verification) {
            self.effects.push(Effect::HandedOver { order, staff_id });
            self.go(Go::Staff);
        }
    }

    pub fn open_assists(&mut self) {
        self.touched();
        self.staff.open_assists(&self.ctx);
    }

    /// "On my way": the device that asked shows who is coming.
    pub fn assist_take(&mut self, id: &str) {
        self.touched();
        self.staff.assist_answer(&self.ctx, id, false);
        self.refresh();
    }

    pub fn assist_done(&mut self, id: &str) {
        self.touched();
        if self.staff.assist_answer(&self.ctx, id, true) {
            self.refresh();
        }
    }

    /// "Back" on the staff screen.
    pub fn staff_back(&mut self) {
        self.touched();
        let go = self.staff.back(&self.ctx);
        self.go(go);
    }

    /// "Till": a basket of its own for the colleague signed in.
    pub fn open_till(&mut self) {
        self.touched();
        let Some(member) = self.staff.signed_in().cloned() else { return };
        if self.screen == Screen::Manager {
            self.open_queue();
        }
        self.staff.show_till();
        if !self.till.is_open() {
            self.till.open(&self.ctx, member);
            self.shift.show(&self.ctx);
        }
    }

    /// A product code typed on the till's keypad: the same path as a scanned one.
    pub fn till_code(&mut self, code: &str) {
        self.scan(code);
    }

    pub fn till_change_qty(&mut self, index: usize, delta: i64) {
        self.touched();
        self.till.change_qty(&self.ctx, index, delta);
    }

    pub fn till_remove(&mut self, index: usize) {
        self.touched();
        self.till.remove_line(&self.ctx, index);
    }

    pub fn till_buy_here(&mut self) {
        self.touched();
        self.till.buy_here(&self.ctx);
    }

    pub fn till_entry(&mut self, entry: Entry) {
        self.touched();
        self.till.choose_entry(&self.ctx, entry);
    }

    pub fn till_typing(&mut self, digits: &str) {
        self.touched();
        self.till.typing(&self.ctx, digits);
    }

    pub fn till_entered(&mut self, digits: &str) {
        self.touched();
        self.till.entered(&self.ctx, digits);
    }

    pub fn till_exact(&mut self) {
        self.touched();
        self.till.exact(&self.ctx);
    }

    pub fn till_clear_tenders(&mut self) {
        self.touched();
        self.till.clear_tenders(&self.ctx);
    }

    /// "Void" (`None`), then "Yes, void" (`Some(true)`) or "Keep" (`Some(false)`).
    pub fn till_void(&mut self, confirmed: Option<bool>) {
        self.touched();
        self.till.void(&self.ctx, confirmed);
    }

    pub fn till_next_sale(&mut self) {
        self.touched();
        self.till.start_next(&self.ctx);
    }

    /// "Pay": the sale recorded with its receipt, which the window prints.
    pub fn till_pay(&mut self) {
        self.touched();
        if let Some(receipt) = self.till.complete(&self.ctx) {
            self.effects.push(Effect::Sold(Box::new(receipt)));
            self.refresh();
        }
    }

    /// "Return": the receipt's number on the keypad, or its QR scanned.
    pub fn till_return(&mut self) {
        self.touched();
        self.till.start_return(&self.ctx);
    }

    pub fn till_return_qty(&mut self, index: usize, delta: i64) {
        self.touched();
        self.till.return_qty(&self.ctx, index, delta);
    }

    pub fn till_return_reason(&mut self, index: usize) {
        self.touched();
        self.till.return_reason(&self.ctx, index);
    }

    pub fn till_return_refund(&mut self, refund: Refund) {
        self.touched();
        self.till.return_refund(&self.ctx, refund);
    }

    pub fn till_return_cancel(&mut self) {
        self.touched();
        self.till.cancel_return(&self.ctx);
    }

    /// "Complete return": its receipt recorded, and printed as a sale's is.
    pub fn till_return_complete(&mut self) {
        self.touched();
        if let Some(receipt) = self.till.complete_return(&self.ctx) {
            self.effects.push(Effect::Sold(Box::new(receipt)));
            self.refresh();
        }
    }

    /// "Open shift", "Cash in/out", "Close shift" (or back to the till with `None`).
    pub fn shift_step(&mut self, step: ShiftStep) {
        self.touched();
        self.shift.begin(&self.ctx, step);
    }

    pub fn shift_typing(&mut self, digits: &str) {
        self.touched();
        self.shift.typing(&self.ctx, digits);
    }

    pub fn shift_cash_move(&mut self, out: bool, reason: Option<usize>) {
        self.touched();
        self.shift.cash_move(&self.ctx, out, reason);
    }

    /// The shift's amount entered; a close's Z report goes to the printer.
    pub fn shift_entered(&mut self, digits: &str) {
        self.touched();
        let Some(member) = self.staff.signed_in().cloned() else { return };
        if let Some(report) = self.shift.entered(&self.ctx, &member.id, digits) {
            self.effects.push(Effect::ShiftClosed(Box::new(report)));
            self.refresh();
        }
    }

    pub fn open_manager(&mut self) {
        if !self.staff.is_manager() {
            return;
        }
        self.show(Screen::Manager, self.ctx.settings.staff_idle_timeout_secs);
        self.load_manager();
    }

    /// The manager view for the manager signed in.
    fn load_manager(&mut self) {
        if let Some(me) = self.staff.signed_in().filter(|_| self.staff.is_manager()).map(|m| m.id.clone()) {
            self.manager.load(&self.ctx, &me);
        }
    }

    /// "Reset PIN" beside a colleague on the manager view: asks to confirm.
    pub fn ask_pin_reset(&mut self, colleague_id: &str) {
        self.touched();
        if self.staff.is_manager() {
            self.manager.ask_pin_reset(colleague_id);
        }
    }

    /// The reset confirmed: recorded as the signed-in manager's `staff.reset_pin`.
    pub fn confirm_pin_reset(&mut self) {
        self.touched();
        let Some(me) = self.staff.signed_in().filter(|_| self.staff.is_manager()).map(|m| m.id.clone()) else { return };
        self.manager.confirm_pin_reset(&self.ctx, &me);
    }

    pub fn cancel_pin_reset(&mut self) {
        self.touched();
        self.manager.cancel_pin_reset();
    }

    /// Brings the screens up to date with the local store: the sync line, the staff
    /// lists, the manager view, and the desk's signals. The window calls it every two
    /// seconds, and every action that changes what the desk sees calls it too.
    pub fn refresh(&mut self) {
        // The store's record (its zone, its language) may have come with the last pull.
        if self.ctx.follow_store() && self.screen == Screen::Attract {
            self.effects.push(Effect::Language(self.ctx.home_language()));
        }
        let store = &self.ctx.store;
        let sync = store.sync_state().ok();
        let online = sync.as_ref().is_some_and(|s| s.last_error.is_none());
        self.attract.online = online;
        self.attract.offline_since = sync.and_then(|s| s.offline_since).map(|t| self.ctx.clock(t)).unwrap_or_default();
        self.attract.changes_waiting = store.outbox_stats().map(|s| s.pending).unwrap_or(0);
        if self.staff.signed_in().is_some() {
            match self.screen {
                Screen::Manager => self.load_manager(),
                Screen::Staff => self.staff.refresh(&self.ctx),
                _ => {}
            }
        }
        self.show_who_is_coming();
        let store = &self.ctx.store;
        let signals = DeskSignals {
            customers_waiting: store.waiting().map(|w| w.len()).unwrap_or(0),
            new_orders: store.orders(Some(OrderStatus::Placed)).map(|o| o.len()).unwrap_or(0),
            help_requests: store.open_help().map(|a| a.len()).unwrap_or(0),
            online,
        };
        if self.signals != Some(signals) {
            self.signals = Some(signals);
            self.effects.push(Effect::Signals(signals));
        }
    }

    /// After "Call staff" here: names the colleague who took the request, wherever they
    /// took it (sync brings it), and keeps the answer up long enough to be read.
    fn show_who_is_coming(&mut self) {
        let help_screen = self.screen == Screen::Help && self.desk.screen().help_by.is_empty();
        if !help_screen && !self.shopper.awaiting_help() {
            return;
        }
        let Some(request) = &self.help_asked else { return };
        let Some(by) = desk::colleague_on_the_way(&self.ctx, request) else { return };
        let news = match self.screen {
            Screen::Help => self.desk.help_taken(&by),
            _ => self.shopper.help_taken(&by),
        };
        if news && self.idle_left < ANSWER_SECS {
            self.idle_left = ANSWER_SECS;
            if self.shopper.customer_id().is_some() {
                self.seconds_left = ANSWER_SECS;
            }
        }
    }

    /// Tells the desk's signals again at the next refresh (a new listener).
    pub fn forget_signals(&mut self) {
        self.signals = None;
    }
}

#[cfg(test)]
mod tests {
    use omnikiosk_protocol::code::CodeKind;
    use omnikiosk_protocol::gtin::{LoyaltyCard, DEFAULT_LOYALTY_PREFIX};

    use omnikiosk_protocol::ops::OpBody;

    use super::super::desk::DeskState;
    use super::super::fixture::Fixture;
    use super::super::shopper::ShopperMessage;
    use super::*;

    fn kiosk(f: &Fixture) -> Kiosk {
        let ctx = f.ctx();
        let mut k = Kiosk::new(ctx.store, ctx.settings);
        k.take_effects();
        k
    }

    #[test]
    fn a_pickup_code_typed_or_scanned_checks_the_shopper_in() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        k.open_pickup();
        k.pickup_code_entered("000000");
        assert_eq!((k.screen(), k.desk().state), (Screen::Pickup, DeskState::NotFound));
        k.pickup_code_entered("12345");
        assert_eq!(k.desk().state, DeskState::NotFound, "a code the keypad cannot make whole is not found either");
        k.pickup_code_entered("111111");
        assert_eq!((k.desk().state, k.desk().order_id.as_str()), (DeskState::CheckedIn, "O-1-1"));
        k.go_home();
        // The same code scanned at the idle screen takes the same path.
        k.scan("222222");
        assert_eq!((k.screen(), k.desk().state), (Screen::Pickup, DeskState::NotReady));
        let order_qr = f.code(CodeKind::Order, "O-1-1");
        k.scan(&order_qr);
        assert_eq!(k.desk().state, DeskState::CheckedIn);
    }

    #[test]
    fn a_collected_orders_qr_at_the_till_starts_its_return() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        let order_qr = f.code(CodeKind::Order, "O-1-1");
        k.scan(&f.code(CodeKind::Staff, "S1-STAFF"));
        k.pin_entered("1234");
        k.open_till();
        // Not collected yet: the order opens as it always did, no return starts.
        k.scan(&order_qr);
        assert!(k.till().ret.is_none());
        let verification = Verification::PickupCode("111111".into());
        f.ctx().record(OpBody::OrderCollect { order_id: "O-1-1".into(), staff_id: "S1-STAFF".into(), verification }).unwrap();
        k.open_till();
        k.scan(&order_qr);
        let ret = k.till().ret.clone().expect("the collected order's return");
        assert_eq!(ret.reference, "O-1-1");
        assert!(!ret.lines.is_empty(), "what was handed over can come back");
    }

    #[test]
    fn a_card_opens_the_shoppers_session_in_their_language_until_the_idle_timeout() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        k.scan("' OR 1=1; --");
        assert_eq!(k.attract().notice, AttractNotice::NotRecognised);
        k.scan(&Fixture::card());
        assert_eq!((k.screen(), k.shopper().view.first_name.as_str()), (Screen::Shopper, "Anna"));
        assert!(k.take_effects().contains(&Effect::Language("pl".into())));
        assert_eq!(k.attract().notice, AttractNotice::None);
        let secs = k.seconds_left();
        for _ in 1..secs {
            k.tick();
        }
        assert_eq!((k.screen(), k.seconds_left()), (Screen::Shopper, 1));
        k.tick();
        assert_eq!(k.screen(), Screen::Attract);
        assert_eq!(*k.shopper(), Default::default(), "nothing of Anna is left");
        assert!(k.take_effects().contains(&Effect::Language("en".into())));
    }

    /// With nobody signed in the screens speak the store's language — from its record,
    /// as soon as a pull brings it — unless the config names one; a shopper's session is
    /// in theirs, and ends back in the store's.
    #[test]
    fn the_idle_screen_speaks_the_stores_language_unless_the_config_names_one() {
        let languages = |k: &mut Kiosk| -> Vec<String> {
            k.take_effects().into_iter().filter_map(|e| if let Effect::Language(l) = e { Some(l) } else { None }).collect()
        };
        for (configured, store_says, idle) in [(None, "uk", "uk"), (Some("zh"), "uk", "zh"), (None, "en", "en")] {
            let f = Fixture::new();
            let ctx = f.ctx();
            let mut settings = ctx.settings;
            settings.language = configured.map(str::to_string);
            let mut k = Kiosk::new(ctx.store, settings);
            assert_eq!(languages(&mut k), [configured.unwrap_or("en")], "{configured:?}: the record as it stood at the start");
            f.store_in("Europe/Kyiv", store_says);
            k.refresh();
            assert_eq!(languages(&mut k), [idle], "{configured:?}: the record a pull brought");
            k.scan(&Fixture::card());
            assert_eq!(languages(&mut k), ["pl"], "Anna's");
            k.go_home();
            assert_eq!(languages(&mut k), [idle], "{configured:?}, the store says {store_says}");
        }
    }

    #[test]
    fn the_device_that_called_staff_says_who_is_coming_once_a_colleague_took_it() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        k.call_staff();
        assert_eq!((k.screen(), k.desk().help_by.as_str()), (Screen::Help, ""), "called, nobody on the way yet");
        for _ in 0..k.ctx.settings.idle_timeout_secs - 2 {
            k.tick();
        }
        let open = f.store.open_help().unwrap();
        let [request] = &open[..] else { panic!("one request raised here: {open:?}") };
        let request = request.clone();
        assert_eq!(k.help_asked.as_deref(), Some(request.id.as_str()));
        f.ctx().record(OpBody::HelpTake { request_id: request.id, staff_id: "S1-STAFF".into() }).unwrap();
        k.refresh();
        assert_eq!((k.screen(), k.desk().help_by.as_str()), (Screen::Help, "Kasia"));
        for _ in 1..ANSWER_SECS {
            k.tick();
        }
        assert_eq!(k.screen(), Screen::Help, "the name stays up long enough to read");
        k.tick();
        assert_eq!(k.screen(), Screen::Attract);

        // The same on a shopper's screen.
        k.scan(&Fixture::card());
        k.call_staff();
        assert!(k.shopper().help_called && k.shopper().help_by.is_empty(), "a new call: nobody on the way yet");
        let request = k.help_asked.clone().unwrap();
        f.ctx().record(OpBody::HelpTake { request_id: request, staff_id: "S1-STAFF".into() }).unwrap();
        k.refresh();
        assert_eq!(k.shopper().help_by, "Kasia");
    }

    #[test]
    fn a_product_scanned_on_a_shoppers_screen_is_saved_for_later_and_at_the_idle_screen_is_nobody() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        k.scan("5901234123457");
        assert_eq!((k.screen(), k.attract().notice), (Screen::Attract, AttractNotice::NotFound));
        assert!(f.store.pending_ops(10).unwrap().is_empty());
        k.scan(&Fixture::card());
        k.scan("5901234123457");
        assert_eq!((k.shopper().message, k.shopper().saved.as_str()), (ShopperMessage::SavedForLater, "Tea"));
        assert!(f.store.pending_ops(10).unwrap().iter().any(|o| o.name == "cart.add" && o.body["sku"] == "5901234123457"));
        k.scan("4000000000006");
        assert_eq!((k.screen(), k.shopper().message), (Screen::Shopper, ShopperMessage::NotSaved));
    }

    #[test]
    fn an_uncached_customer_is_asked_of_the_hub_with_the_kind_of_code() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        let code = f.code(CodeKind::Customer, "C-NEW");
        k.scan(&format!(" {code}\n"));
        let asked = k.take_effects();
        assert!(
            matches!(&asked[..], [Effect::AskHub(q)] if q.kind == "customer" && q.code == code),
            "{asked:?}"
        );
        k.hub_answered(Err(ScanError::OfflineNotCached));
        assert_eq!((k.screen(), k.attract().notice), (Screen::Attract, AttractNotice::NotFound));
        // The hub turned the lookup away for now (this kiosk asked too often): try again.
        let busy = crate::sync::SyncError::Busy { retry_after: std::time::Duration::from_secs(2), message: "lookup_rate_limited".into() };
        k.hub_answered(Err(ScanError::Hub(busy)));
        assert_eq!((k.screen(), k.attract().notice), (Screen::Attract, AttractNotice::TryAgain));
        let stranger = LoyaltyCard::generate(DEFAULT_LOYALTY_PREFIX, 7);
        k.scan(stranger.as_str());
        assert!(matches!(&k.take_effects()[..], [Effect::AskHub(q)] if q.kind == "loyalty_card"));
    }

    #[test]
    fn at_the_till_a_product_goes_into_the_basket_and_a_card_attaches_the_shopper() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        k.scan(&f.code(CodeKind::Staff, "S1-STAFF"));
        k.pin_entered("1234");
        k.open_till();
        assert_eq!(k.staff().page, StaffPage::Till);
        k.scan("5901234123457");
        k.till_code("5901234123457");
        assert_eq!(k.till().lines.iter().map(|l| (l.name.as_str(), l.qty)).collect::<Vec<_>>(), [("Tea", 2)], "scanned and typed alike");
        k.scan(&Fixture::card());
        assert_eq!((k.screen(), k.till().shopper.as_str()), (Screen::Staff, "Anna K."), "the sale is hers, no shopper session");
        k.scan("4000000000006");
        assert_eq!(k.till().notice, TillNotice::UnknownProduct);
        k.till_entry(Entry::Cash);
        k.till_exact();
        k.till_pay();
        assert!(k.take_effects().iter().any(|e| matches!(e, Effect::Sold(r) if r.customer_id.as_deref() == Some("C-ANNA"))));
        k.staff_back();
        assert_eq!(k.staff().page, StaffPage::Queue);
        k.go_home();
        assert_eq!(*k.till(), Default::default(), "signing out leaves nothing of the sale");
    }

    #[test]
    fn with_a_colleague_signed_in_an_order_code_opens_the_order_and_at_the_handover_is_the_proof() {
        let f = Fixture::new();
        let mut k = kiosk(&f);
        k.scan(&f.code(CodeKind::Staff, "S1-STAFF"));
        assert_eq!((k.screen(), k.staff().page), (Screen::Staff, StaffPage::Pin));
        k.pin_entered("1234");
        assert_eq!(k.staff().page, StaffPage::Queue);
        k.scan(&Fixture::card());
        assert_eq!((k.screen(), k.staff().notice), (Screen::Staff, StaffNotice::ShopperCard), "no shopper session over a colleague's");
        let order_qr = f.code(CodeKind::Order, "O-1-1");
        k.scan(&order_qr);
        assert_eq!((k.staff().page, k.staff().order.id.as_str()), (StaffPage::Order, "O-1-1"));
        k.start_handover();
        k.take_effects();
        k.scan(&order_qr);
        let effects = k.take_effects();
        assert!(effects.iter().any(|e| matches!(e, Effect::HandedOver { order, staff_id } if order.id == "O-1-1" && staff_id == "S1-STAFF")));
        assert_eq!((k.staff().page, k.staff().notice), (StaffPage::Queue, StaffNotice::Collected));
        k.go_home();
        assert_eq!(*k.staff(), Default::default(), "signing out leaves nothing of the queue");
    }
}
