//! The controller behind the kiosk window: a scan starts a shopper session (in the
//! shopper's language, with an idle countdown), the shopper can say "I'm here" for a
//! ready order and rate the visit, and when the session ends every personal value is
//! cleared from the UI models. Local lookups run on the UI thread (they take well under a
//! millisecond); only a customer this store has not cached is asked of the hub, on the
//! tokio thread, and the answer comes back with `upgrade_in_event_loop`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use omnikiosk_protocol::ops::OpBody;
use slint::{ComponentHandle, Image, ModelRc, Rgba8Pixel, SharedPixelBuffer, SharedString, Timer, TimerMode, VecModel};

use super::view::{shopper_screen, OrderRowView, ShopperScreenView};
use super::{AppAdapter, AppWindow, AttractAdapter, CartRow, OrderRow, Screen, ShopperAdapter};
use crate::clock::unix_now;
use crate::config::LoyaltyConfig;
use crate::domain::shopper::ShopperView;
use crate::resolve::{resolve_at_hub, resolve_local, Resolution, ScanError};
use crate::store::LocalStore;
use crate::sync::HubClient;

/// What the screens need from the configuration.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// A shopper session ends after this long without a touch.
    pub idle_timeout_secs: u32,
    /// The store's offset from UTC, for promised-ready times.
    pub tz_offset_secs: i64,
    pub loyalty_prefix: String,
    pub loyalty: LoyaltyConfig,
    /// Where "Continue on your phone" leads (the web shop's cart page).
    pub phone_url: String,
}

/// The shopper being served right now.
struct Session {
    customer_id: String,
    view: ShopperView,
    /// Orders the shopper said "I'm here" for in this session.
    checked_in: Vec<String>,
    seconds_left: u32,
}

struct Inner {
    /// The window, weakly: the controller must not keep a closed window alive.
    window: slint::Weak<AppWindow>,
    store: LocalStore,
    settings: UiSettings,
    /// The hub client and the tokio runtime to ask it on, when the kiosk is online-capable.
    hub: Option<(HubClient, tokio::runtime::Handle)>,
    session: RefCell<Option<Session>>,
    /// Ticks once a second while a session is open.
    idle: Timer,
    /// Refreshes the idle screen's sync indicator while the window runs.
    status: Timer,
}

thread_local! {
    /// The controller of this UI thread, for answers that come back from the tokio thread.
    static CONTROLLER: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

pub struct KioskUi {
    window: AppWindow,
    inner: Rc<Inner>,
}

impl UiSettings {
    pub fn from_config(cfg: &crate::config::Config) -> UiSettings {
        UiSettings {
            idle_timeout_secs: cfg.ui.idle_timeout_secs,
            tz_offset_secs: i64::from(cfg.ui.utc_offset_minutes) * 60,
            loyalty_prefix: cfg.scan.loyalty_prefix.clone(),
            loyalty: cfg.loyalty.clone(),
            phone_url: cfg.ui.phone_url.clone(),
        }
    }
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
            session: RefCell::new(None),
            idle: Timer::default(),
            status: Timer::default(),
        });
        CONTROLLER.with(|c| *c.borrow_mut() = Rc::downgrade(&inner));

        let attract = window.global::<AttractAdapter>();
        let i = Rc::downgrade(&inner);
        attract.on_scanned(move |code| {
            if let Some(i) = i.upgrade() {
                i.scan(&code);
            }
        });
        attract.on_language_chosen(|lang| select_language(&lang));
        let shopper = window.global::<ShopperAdapter>();
        let i = Rc::downgrade(&inner);
        shopper.on_im_here(move |order| {
            if let Some(i) = i.upgrade() {
                i.im_here(&order);
            }
        });
        let i = Rc::downgrade(&inner);
        shopper.on_rate(move |score| {
            if let Some(i) = i.upgrade() {
                i.rate(score);
            }
        });
        let i = Rc::downgrade(&inner);
        shopper.on_done(move || {
            if let Some(i) = i.upgrade() {
                i.end_session();
            }
        });
        inner.refresh_sync_state();
        Ok(KioskUi { window, inner })
    }

    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// A code from any scanner goes the same way as one typed into the window.
    pub fn scan(&self, code: &str) {
        self.inner.scan(code);
    }

    /// The sync indicator on the idle screen: online or not, and ops waiting.
    pub fn refresh_sync_state(&self) {
        self.inner.refresh_sync_state();
    }

    /// A handle another thread can close the window with (SIGTERM, the demo ending).
    pub fn closer(&self) -> UiCloser {
        UiCloser(self.window.as_weak())
    }

    /// Shows the window and runs the event loop until the window closes.
    pub fn run(&self) -> Result<(), slint::PlatformError> {
        let i = Rc::downgrade(&self.inner);
        self.inner.status.start(TimerMode::Repeated, std::time::Duration::from_secs(2), move || {
            if let Some(i) = i.upgrade() {
                i.refresh_sync_state();
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

fn select_language(lang: &str) {
    if let Err(e) = slint::select_bundled_translation(lang) {
        tracing::warn!(lang, error = %e, "no translation; showing English");
        let _ = slint::select_bundled_translation("en");
    }
}

impl Inner {
    fn window(&self) -> Option<AppWindow> {
        self.window.upgrade()
    }

    fn scan(self: &Rc<Self>, code: &str) {
        let Some(w) = self.window() else { return };
        let notice = |n: i32| w.global::<AttractAdapter>().set_notice(n);
        match resolve_local(&self.store, &self.settings.loyalty_prefix, code, unix_now()) {
            Ok(Some(outcome)) => match outcome.resolution {
                Resolution::Shopper(view) => self.start_session(view),
                // Orders, badges and products get their own flows at the desk and in the
                // staff screens; at the shopper's idle screen they are not a shopper.
                _ => notice(2),
            },
            Ok(None) => match &self.hub {
                Some((client, rt)) => {
                    let (client, store, code) = (client.clone(), self.store.clone(), code.to_string());
                    let weak = self.window.clone();
                    rt.spawn(async move {
                        let answer = resolve_at_hub(&store, Some(&client), &code).await;
                        let _ = weak.upgrade_in_event_loop(move |w| {
                            let controller = CONTROLLER.with(|c| c.borrow().upgrade());
                            match (answer, controller) {
                                (Ok(outcome), Some(c)) => {
                                    if let Resolution::Shopper(view) = outcome.resolution {
                                        c.start_session(view);
                                    }
                                }
                                _ => w.global::<AttractAdapter>().set_notice(2),
                            }
                        });
                    });
                }
                None => notice(2),
            },
            Err(ScanError::NotRecognised(_)) => notice(1),
            Err(e) => {
                tracing::info!(error = %e, "scan led nowhere");
                notice(2);
            }
        }
    }

    fn start_session(self: &Rc<Self>, view: ShopperView) {
        let Some(w) = self.window() else { return };
        let customer_id = view.customer.id.clone();
        // A touchpoint for the central profile; the screen does not wait on it.
        if let Err(e) = self.store.record_op(OpBody::VisitSeen { customer_id: customer_id.clone() }, &self.settings.loyalty, unix_now()) {
            tracing::warn!(error = %e, "could not record the visit");
        }
        select_language(&view.customer.language);
        *self.session.borrow_mut() =
            Some(Session { customer_id, view, checked_in: Vec::new(), seconds_left: self.settings.idle_timeout_secs });
        self.show_session(&w);
        w.global::<AttractAdapter>().set_notice(0);
        w.global::<ShopperAdapter>().set_phone_qr(phone_qr(&self.settings.phone_url));
        w.global::<AppAdapter>().set_screen(Screen::Shopper);
        let i = Rc::downgrade(self);
        self.idle.start(TimerMode::Repeated, std::time::Duration::from_secs(1), move || {
            if let Some(i) = i.upgrade() {
                i.tick();
            }
        });
    }

    fn show_session(&self, w: &AppWindow) {
        let session = self.session.borrow();
        let Some(s) = session.as_ref() else { return };
        let v: ShopperScreenView = shopper_screen(&s.view, &s.checked_in, self.settings.tz_offset_secs);
        let a = w.global::<ShopperAdapter>();
        a.set_first_name(v.first_name.into());
        a.set_tier(v.tier.into());
        a.set_points(v.points.into());
        a.set_ready_orders(rows(&v.ready));
        a.set_preparing_orders(rows(&v.preparing));
        a.set_cart(ModelRc::new(VecModel::from(
            v.cart
                .into_iter()
                .map(|c| CartRow {
                    name: c.name.into(),
                    qty: c.qty as i32,
                    price: c.price.into(),
                    availability: c.availability.into(),
                    on_hand: c.on_hand as i32,
                    aisle: c.aisle.into(),
                })
                .collect::<Vec<_>>(),
        )));
        a.set_cart_total(v.cart_total.into());
        a.set_seconds_left(s.seconds_left as i32);
    }

    fn tick(&self) {
        let left = {
            let mut session = self.session.borrow_mut();
            let Some(s) = session.as_mut() else { return };
            s.seconds_left = s.seconds_left.saturating_sub(1);
            s.seconds_left
        };
        if left == 0 {
            self.end_session();
        } else if let Some(w) = self.window() {
            w.global::<ShopperAdapter>().set_seconds_left(left as i32);
        }
    }

    /// A touch: the shopper is still there.
    fn touched(&self) {
        if let Some(s) = self.session.borrow_mut().as_mut() {
            s.seconds_left = self.settings.idle_timeout_secs;
        }
    }

    fn im_here(&self, order_id: &str) {
        self.touched();
        let customer_id = match self.session.borrow().as_ref() {
            Some(s) => s.customer_id.clone(),
            None => return,
        };
        let op = OpBody::VisitCheckin { order_id: order_id.to_string(), customer_id };
        match self.store.record_op(op, &self.settings.loyalty, unix_now()) {
            Ok(_) => {
                if let Some(s) = self.session.borrow_mut().as_mut() {
                    s.checked_in.push(order_id.to_string());
                }
                if let Some(w) = self.window() {
                    self.show_session(&w);
                }
            }
            Err(e) => tracing::warn!(order_id, error = %e, "check-in refused"),
        }
    }

    fn rate(&self, score: i32) {
        self.touched();
        let customer_id = self.session.borrow().as_ref().map(|s| s.customer_id.clone());
        let op = OpBody::FeedbackNps { score: score.into(), csat: None, customer_id };
        match self.store.record_op(op, &self.settings.loyalty, unix_now()) {
            Ok(_) => {
                if let Some(w) = self.window() {
                    w.global::<ShopperAdapter>().set_message(1);
                }
            }
            Err(e) => tracing::warn!(error = %e, "feedback refused"),
        }
    }

    /// Ends the shopper's session: nothing personal stays in any UI model.
    fn end_session(&self) {
        self.idle.stop();
        *self.session.borrow_mut() = None;
        let Some(w) = self.window() else { return };
        let a = w.global::<ShopperAdapter>();
        a.set_first_name(SharedString::new());
        a.set_tier(SharedString::new());
        a.set_points(SharedString::new());
        a.set_ready_orders(ModelRc::default());
        a.set_preparing_orders(ModelRc::default());
        a.set_cart(ModelRc::default());
        a.set_cart_total(SharedString::new());
        a.set_phone_qr(Image::default());
        a.set_message(0);
        a.set_seconds_left(0);
        w.global::<AppAdapter>().set_screen(Screen::Attract);
        select_language("en");
        self.refresh_sync_state();
    }

    fn refresh_sync_state(&self) {
        let Some(w) = self.window() else { return };
        let a = w.global::<AttractAdapter>();
        let waiting = self.store.outbox_stats().map(|s| s.pending).unwrap_or(0);
        let failing = self.store.sync_state().map(|s| s.last_error.is_some()).unwrap_or(true);
        a.set_online(!failing);
        a.set_changes_waiting(waiting as i32);
    }
}

fn rows(rows: &[OrderRowView]) -> ModelRc<OrderRow> {
    ModelRc::new(VecModel::from(
        rows.iter()
            .map(|o| OrderRow {
                id: o.id.clone().into(),
                pickup_code: o.pickup_code.clone().into(),
                status: o.status.clone().into(),
                promised: o.promised.clone().into(),
                items: o.items as i32,
                checked_in: o.checked_in,
            })
            .collect::<Vec<_>>(),
    ))
}

/// The "continue on your phone" QR, 4 px a module with a quiet zone.
fn phone_qr(url: &str) -> Image {
    let Ok(code) = qrcode::QrCode::new(url.as_bytes()) else { return Image::default() };
    let width = code.width();
    let colors = code.to_colors();
    let (scale, quiet) = (4usize, 4usize);
    let side = (width + 2 * quiet) * scale;
    let mut buffer = SharedPixelBuffer::<Rgba8Pixel>::new(side as u32, side as u32);
    let pixels = buffer.make_mut_slice();
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / scale) as isize - quiet as isize, (y / scale) as isize - quiet as isize);
            let dark = mx >= 0
                && my >= 0
                && (mx as usize) < width
                && (my as usize) < width
                && colors[my as usize * width + mx as usize] == qrcode::Color::Dark;
            let v = if dark { 0 } else { 255 };
            pixels[y * side + x] = Rgba8Pixel { r: v, g: v, b: v, a: 255 };
        }
    }
    Image::from_rgba8(buffer)
}
