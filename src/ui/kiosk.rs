//! The controller behind the kiosk window: it owns what is on screen and routes every
//! scan. A shopper's card opens their session (in their language, with an idle
//! countdown); "Collect an order" and "Call staff" serve a shopper without a card; a
//! staff badge opens the PIN pad and then the desk (queue, picking, handover, help
//! requests) or, for a manager, the manager view. When any session ends, every personal
//! value is cleared from the UI models and the attract screen returns.
//!
//! Local lookups run on the UI thread (they take well under a millisecond); only a
//! customer this store has not cached is asked of the hub, on the tokio thread, and the
//! answer comes back with `upgrade_in_event_loop`. The behaviour of each part lives in
//! its own file: [`super::shopper`], [`super::desk`], [`super::staff`].

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use slint::{ComponentHandle, ModelRc, SharedString, Timer, TimerMode, VecModel};

use super::shopper::ShopperSession;
use super::staff::StaffSession;
use super::{AppAdapter, AppWindow, AttractAdapter, DemoCode, DeskAdapter, ManagerAdapter, Screen, ShopperAdapter, StaffAdapter};
use crate::clock::unix_now;
use crate::config::LoyaltyConfig;
use crate::resolve::{resolve_at_hub, resolve_local, LocalAnswer, Resolution, ScanError, ScanOutcome};
use crate::store::LocalStore;
use crate::sync::HubClient;

/// What the screens need from the configuration.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// A shopper session ends after this long without a touch.
    pub idle_timeout_secs: u32,
    /// A signed-in colleague is signed out after this long without a touch.
    pub staff_idle_timeout_secs: u32,
    /// The store's offset from UTC, for promised-ready times.
    pub tz_offset_secs: i64,
    pub loyalty_prefix: String,
    pub loyalty: LoyaltyConfig,
    /// Where "Continue on your phone" leads (the web shop's cart page).
    pub phone_url: String,
    /// How long after its promised time a ready order expires as a no-show (the hub's rule).
    pub no_show_secs: i64,
    /// The time: the system clock, or a fixed one where a picture must not change
    /// (screenshot references, benchmarks).
    pub clock: fn() -> i64,
}

impl UiSettings {
    pub fn from_config(cfg: &crate::config::Config) -> UiSettings {
        UiSettings {
            idle_timeout_secs: cfg.ui.idle_timeout_secs,
            staff_idle_timeout_secs: cfg.ui.staff_idle_timeout_secs,
            tz_offset_secs: i64::from(cfg.ui.utc_offset_minutes) * 60,
            loyalty_prefix: cfg.scan.loyalty_prefix.clone(),
            loyalty: cfg.loyalty.clone(),
            phone_url: cfg.ui.phone_url.clone(),
            no_show_secs: i64::from(cfg.ui.no_show_days) * 86_400,
            clock: unix_now,
        }
    }
}

/// What the pickup light and buzzer (or any other signal outside the window) follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeskSignals {
    /// Shoppers checked in at the desk, waiting for a colleague.
    pub customers_waiting: usize,
    /// Online orders nobody has started picking.
    pub new_orders: usize,
    /// Open "call staff" requests.
    pub help_requests: usize,
    /// The last sync round reached the hub.
    pub online: bool,
}

/// Where the desk's signals go (the pickup light), on the UI thread.
type SignalSink = Box<dyn Fn(DeskSignals)>;
/// Told of every handover made at this kiosk (the receipt printer): the order, and the
/// colleague who handed it over.
type HandoverSink = Box<dyn Fn(&omnikiosk_protocol::wire::OrderRecord, &str)>;

pub(super) struct Inner {
    /// The window, weakly: the controller must not keep a closed window alive.
    pub(super) window: slint::Weak<AppWindow>,
    pub(super) store: LocalStore,
    pub(super) settings: UiSettings,
    /// The hub client and the tokio runtime to ask it on, when the kiosk is online-capable.
    hub: Option<(HubClient, tokio::runtime::Handle)>,
    pub(super) shopper: RefCell<Option<ShopperSession>>,
    pub(super) staff: RefCell<Option<StaffSession>>,
    /// Seconds until the screen goes back to attract; counts only while not on attract.
    pub(super) idle_left: Cell<u32>,
    /// Ticks once a second while any screen but attract shows.
    idle: Timer,
    /// Refreshes the sync indicator, the queue and the manager view while the window runs.
    status: Timer,
    /// Told whenever the desk's signals change.
    signal_sink: RefCell<Option<SignalSink>>,
    pub(super) handover_sink: RefCell<Option<HandoverSink>>,
    last_signals: Cell<Option<DeskSignals>>,
}

thread_local! {
    /// The controller of this UI thread, for answers that come back from the tokio thread.
    static CONTROLLER: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

pub struct KioskUi {
    window: AppWindow,
    inner: Rc<Inner>,
}

/// Connects a Slint callback to a controller method without keeping the controller alive.
macro_rules! on {
    ($inner:expr, $adapter:expr, $setter:ident, |$i:ident $(, $arg:ident)*| $body:expr) => {{
        let weak = Rc::downgrade(&$inner);
        $adapter.$setter(move |$($arg),*| {
            if let Some($i) = weak.upgrade() {
                $body;
            }
        });
    }};
}

impl KioskUi {
    pub fn new(
        store: LocalStore,
        settings: UiSettings,
        hub: Option<(HubClient, tokio::runtime::Handle)>,
    ) -> Result<KioskUi, slint::PlatformError> {
        let window = AppWindow::new()?;
        let inner = Rc::new(Inner {
            window: window.as_weak(),
            store,
            settings,
            hub,
            shopper: RefCell::new(None),
            staff: RefCell::new(None),
            idle_left: Cell::new(0),
            idle: Timer::default(),
            status: Timer::default(),
            signal_sink: RefCell::new(None),
            handover_sink: RefCell::new(None),
            last_signals: Cell::new(None),
        });
        CONTROLLER.with(|c| *c.borrow_mut() = Rc::downgrade(&inner));

        let attract = window.global::<AttractAdapter>();
        on!(inner, attract, on_scanned, |i, code| i.scan(&typed_code(&code)));
        attract.on_language_chosen(|lang| select_language(&lang));
        on!(inner, attract, on_collect_order, |i| i.open_pickup());
        on!(inner, attract, on_call_staff, |i| i.call_staff());

        let shopper = window.global::<ShopperAdapter>();
        on!(inner, shopper, on_im_here, |i, order| i.im_here(&order));
        on!(inner, shopper, on_rate, |i, score| i.rate(score));
        on!(inner, shopper, on_call_staff, |i| i.call_staff());
        on!(inner, shopper, on_done, |i| i.go_home());

        let desk = window.global::<DeskAdapter>();
        on!(inner, desk, on_code_entered, |i, code| i.pickup_code_entered(&code));
        on!(inner, desk, on_typed, |i| i.touched());
        on!(inner, desk, on_close, |i| i.go_home());

        let staff = window.global::<StaffAdapter>();
        on!(inner, staff, on_pin_entered, |i, pin| i.pin_entered(&pin));
        on!(inner, staff, on_tab_chosen, |i, tab| i.tab_chosen(tab));
        on!(inner, staff, on_open_order, |i, id| i.open_order(&id));
        on!(inner, staff, on_set_picked, |i, sku, n| i.set_picked(&sku, n));
        on!(inner, staff, on_reason_chosen, |i, reason| i.reason_chosen(&reason));
        on!(inner, staff, on_save_pick, |i| i.save_pick());
        on!(inner, staff, on_mark_ready, |i| i.mark_ready());
        on!(inner, staff, on_start_handover, |i| i.start_handover());
        on!(inner, staff, on_handover_code, |i, code| i.hand_over(omnikiosk_protocol::ops::Verification::PickupCode(code.trim().to_string())));
        on!(inner, staff, on_open_assists, |i| i.open_assists());
        on!(inner, staff, on_assist_done, |i, id| i.assist_done(i64::from(id)));
        on!(inner, staff, on_open_manager, |i| i.open_manager());
        on!(inner, staff, on_back, |i| i.staff_back());
        on!(inner, staff, on_sign_out, |i| i.go_home());
        on!(inner, staff, on_touched, |i| i.touched());

        let manager = window.global::<ManagerAdapter>();
        on!(inner, manager, on_open_queue, |i| i.open_queue());
        on!(inner, manager, on_sign_out, |i| i.go_home());

        inner.refresh();
        Ok(KioskUi { window, inner })
    }

    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// A code from any scanner goes the same way as one typed into the window.
    pub fn scan(&self, code: &str) {
        self.inner.scan(code);
    }

    /// Brings every screen up to date with the local store: the sync indicator, the staff
    /// queue, the manager view, and the desk signals. Runs every two seconds by itself
    /// once the window runs; tests call it after changing the store.
    pub fn refresh(&self) {
        self.inner.refresh();
    }

    /// Codes the demo offers on the attract screen instead of a scanner: (label, code).
    pub fn set_demo_codes(&self, codes: &[(String, String)]) {
        let rows: Vec<DemoCode> =
            codes.iter().map(|(label, code)| DemoCode { label: label.into(), code: code.into() }).collect();
        self.window.global::<AttractAdapter>().set_demo_codes(ModelRc::new(VecModel::from(rows)));
    }

    /// Calls `sink` on the UI thread whenever the desk's signals change (the pickup light).
    pub fn on_desk_signals(&self, sink: impl Fn(DeskSignals) + 'static) {
        *self.inner.signal_sink.borrow_mut() = Some(Box::new(sink));
        self.inner.last_signals.set(None);
        self.inner.refresh();
    }

    /// Calls `sink` on the UI thread after each handover recorded here (for a receipt).
    pub fn on_handover(&self, sink: impl Fn(&omnikiosk_protocol::wire::OrderRecord, &str) + 'static) {
        *self.inner.handover_sink.borrow_mut() = Some(Box::new(sink));
    }

    /// A handle another thread can close the window with (SIGTERM, the demo ending).
    pub fn closer(&self) -> UiCloser {
        UiCloser(self.window.as_weak())
    }

    /// Shows the window and runs the event loop until the window closes.
    pub fn run(&self) -> Result<(), slint::PlatformError> {
        let i = Rc::downgrade(&self.inner);
        self.inner.status.start(TimerMode::Repeated, Duration::from_secs(2), move || {
            if let Some(i) = i.upgrade() {
                i.refresh();
            }
        });
        self.window.run()
    }
}

/// Closes the kiosk window from any thread.
pub struct UiCloser(slint::Weak<AppWindow>);

impl UiCloser {
    pub fn close(&self) {
        let _ = self.0.upgrade_in_event_loop(|w| {
            let _ = w.hide();
        });
        let _ = slint::quit_event_loop();
    }
}

pub(super) fn select_language(lang: &str) {
    if let Err(e) = slint::select_bundled_translation(lang) {
        tracing::warn!(lang, error = %e, "no translation; showing English");
        let _ = slint::select_bundled_translation("en");
    }
}

impl Inner {
    pub(super) fn window(&self) -> Option<AppWindow> {
        self.window.upgrade()
    }

    pub(super) fn now(&self) -> i64 {
        (self.settings.clock)()
    }

    fn scan(self: &Rc<Self>, code: &str) {
        let Some(w) = self.window() else { return };
        let notice = |n: i32| w.global::<AttractAdapter>().set_notice(n);
        let outcome = resolve_local(&self.store, &self.settings.loyalty_prefix, code, self.now());
        // At the handover, whatever is scanned is the shopper's proof, right or wrong.
        if self.handing_over() {
            let verification = match &outcome {
                Ok(LocalAnswer::Found(ScanOutcome { code_kind: "order", .. })) => omnikiosk_protocol::ops::Verification::OrderQr(code.trim().to_string()),
                _ => omnikiosk_protocol::ops::Verification::PickupCode(code.trim().to_string()),
            };
            self.hand_over(verification);
            return;
        }
        match outcome {
            Ok(LocalAnswer::Found(outcome)) => self.route(outcome.resolution),
            Ok(LocalAnswer::AskHub(query)) => match &self.hub {
                Some((client, rt)) if self.staff.borrow().is_none() => {
                    let (client, store) = (client.clone(), self.store.clone());
                    let weak = self.window.clone();
                    rt.spawn(async move {
                        let answer = resolve_at_hub(&store, Some(&client), &query).await;
                        let _ = weak.upgrade_in_event_loop(move |w| {
                            let controller = CONTROLLER.with(|c| c.borrow().upgrade());
                            match (answer, controller) {
                                (Ok(outcome), Some(c)) => c.route(outcome.resolution),
                                _ => w.global::<AttractAdapter>().set_notice(2),
                            }
                        });
                    });
                }
                _ => notice(2),
            },
            Err(ScanError::NotRecognised(_)) => notice(1),
            Err(e) => {
                tracing::info!(error = %e, "scan led nowhere");
                if self.on_pickup_screen() {
                    w.global::<DeskAdapter>().set_state(3);
                }
                notice(2);
            }
        }
    }

    /// What a recognised code opens, given who is at the kiosk.
    fn route(self: &Rc<Self>, resolution: Resolution) {
        let staff_in = self.staff.borrow().as_ref().is_some_and(|s| s.signed_in.is_some());
        match resolution {
            Resolution::Staff(member) => self.badge_scanned(member),
            Resolution::Order(order) if staff_in => self.open_order(&order.id),
            Resolution::Order(order) => self.pickup_checkin(order),
            Resolution::Shopper(_) if staff_in => self.staff_notice(7, ""),
            Resolution::Shopper(view) => self.start_shopper_session(view),
            // A product barcode at the idle screen is not a shopper.
            Resolution::Product(_) => {
                if let Some(w) = self.window() {
                    w.global::<AttractAdapter>().set_notice(2);
                }
            }
        }
    }

    /// Shows `screen` and restarts the idle countdown at `secs`.
    pub(super) fn show(self: &Rc<Self>, screen: Screen, secs: u32) {
        let Some(w) = self.window() else { return };
        w.global::<AttractAdapter>().set_notice(0);
        w.global::<AppAdapter>().set_screen(screen);
        self.idle_left.set(secs);
        if !self.idle.running() {
            let i = Rc::downgrade(self);
            self.idle.start(TimerMode::Repeated, Duration::from_secs(1), move || {
                if let Some(i) = i.upgrade() {
                    i.tick();
                }
            });
        }
    }

    fn tick(self: &Rc<Self>) {
        let left = self.idle_left.get().saturating_sub(1);
        self.idle_left.set(left);
        if left == 0 {
            self.go_home();
        } else if let Some(w) = self.window() {
            w.global::<ShopperAdapter>().set_seconds_left(left as i32);
        }
    }

    /// A touch: whoever is at the kiosk is still there.
    pub(super) fn touched(&self) {
        let full = if self.staff.borrow().is_some() {
            self.settings.staff_idle_timeout_secs
        } else {
            self.settings.idle_timeout_secs
        };
        self.idle_left.set(full);
        if let Some(w) = self.window() {
            if self.shopper.borrow().is_some() {
                w.global::<ShopperAdapter>().set_seconds_left(full as i32);
            }
        }
    }

    /// Back to the attract screen, in English, with nothing personal left in any model.
    pub(super) fn go_home(&self) {
        self.idle.stop();
        self.idle_left.set(0);
        self.end_shopper_session();
        self.end_staff_session();
        self.reset_desk();
        if let Some(w) = self.window() {
            w.global::<AppAdapter>().set_screen(Screen::Attract);
            w.global::<AttractAdapter>().set_notice(0);
        }
        select_language("en");
        self.refresh();
    }

    pub(super) fn refresh(&self) {
        let Some(w) = self.window() else { return };
        let a = w.global::<AttractAdapter>();
        let waiting_ops = self.store.outbox_stats().map(|s| s.pending).unwrap_or(0);
        let sync = self.store.sync_state().ok();
        let online = sync.as_ref().is_some_and(|s| s.last_error.is_none());
        a.set_online(online);
        let since = sync.and_then(|s| s.offline_since).map(|t| super::view::clock(t, self.settings.tz_offset_secs));
        a.set_offline_since(since.unwrap_or_default().into());
        a.set_changes_waiting(waiting_ops as i32);
        self.refresh_staff_screens();
        let signals = DeskSignals {
            customers_waiting: self.store.waiting().map(|w| w.len()).unwrap_or(0),
            new_orders: self.store.orders(Some(omnikiosk_protocol::wire::OrderStatus::Placed)).map(|o| o.len()).unwrap_or(0),
            help_requests: self.store.open_assists().map(|a| a.len()).unwrap_or(0),
            online,
        };
        if self.last_signals.get() != Some(signals) {
            self.last_signals.set(Some(signals));
            if let Some(sink) = self.signal_sink.borrow().as_ref() {
                sink(signals);
            }
        }
    }
}

/// A code typed into the window (a keyboard-wedge scanner, or a person) without the
/// key events that carry no character: Shift for capitals, other modifiers, arrows.
/// Slint reports those as control characters or as characters of Unicode's private use
/// area.
fn typed_code(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control() && !('\u{E000}'..='\u{F8FF}').contains(c)).collect()
}

/// Clears a string property: used where personal values leave the models.
pub(super) fn blank() -> SharedString {
    SharedString::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn modifier_keys_are_not_part_of_a_typed_code() {
        // Shift (U+0010) before each capital, as a keyboard-wedge scanner sends them.
        assert_eq!(super::typed_code("\u{10}K1.\u{10}Ab\u{15}C"), "K1.AbC");
        assert_eq!(super::typed_code("\u{F700}0420000000068\u{11}"), "0420000000068");
        assert_eq!(super::typed_code("zażółć"), "zażółć");
    }
}
