//! The kiosk window: [`KioskUi`] holds the window and the [`Kiosk`] controller, runs each
//! callback's action on the controller, does what the controller asks of the outside
//! (language, a hub lookup on the tokio thread, the receipt printer, the pickup light),
//! copies the new state into the screens' globals, and ticks the idle countdown and the
//! two-second refresh.
//!
//! Local lookups run on the UI thread (they take well under a millisecond); only a
//! customer this store has not cached is asked of the hub, on the tokio thread, and the
//! answer comes back with `upgrade_in_event_loop`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use omnikiosk_protocol::till::Receipt;
use omnikiosk_protocol::wire::OrderRecord;
use slint::{ComponentHandle, Timer, TimerMode};

use super::adapter::{self, Act, Shown};
use super::controller::{DeskSignals, Effect, Kiosk, Screen, UiSettings};
use super::generated::{AppAdapter, AppWindow};
use crate::resolve::{resolve_at_hub, HubQuery, ScanError};
use crate::store::LocalStore;
use crate::sync::HubClient;

/// Where the desk's signals go (the pickup light), on the UI thread.
type SignalSink = Box<dyn Fn(DeskSignals)>;
/// Told of every handover made at this kiosk (the receipt printer): the order, and the
/// colleague who handed it over.
type HandoverSink = Box<dyn Fn(&OrderRecord, &str)>;
/// Told of every sale made at this kiosk's till, after its receipt went to the printer.
type SaleSink = Box<dyn Fn(&Receipt)>;

/// The controller and what drives it: the window's callbacks and timers reach it, on the
/// UI thread only.
struct WindowDriver {
    /// The window, weakly: the controller must not keep a closed window alive.
    window: slint::Weak<AppWindow>,
    kiosk: RefCell<Kiosk>,
    /// The hub client and the tokio runtime to ask it on, when the kiosk is online-capable.
    hub: Option<(HubClient, tokio::runtime::Handle)>,
    /// What the globals hold now, so only what changed is copied again.
    shown: RefCell<Shown>,
    /// Ticks once a second while any screen but attract shows.
    idle: Timer,
    /// Refreshes the sync line, the queue and the manager view while the window runs.
    status: Timer,
    signal_sink: RefCell<Option<SignalSink>>,
    handover_sink: RefCell<Option<HandoverSink>>,
    sale_sink: RefCell<Option<SaleSink>>,
    /// Where sale receipts print (`enabled` false: nowhere).
    printer: crate::config::PrinterConfig,
    /// This window's place in [`WINDOWS`], which answers from the tokio thread name.
    slot: usize,
}

thread_local! {
    /// The windows of this UI thread (the demo opens several), for answers that come
    /// back from the tokio thread.
    static WINDOWS: RefCell<Vec<Weak<WindowDriver>>> = const { RefCell::new(Vec::new()) };
}

pub struct KioskUi {
    window: AppWindow,
    inner: Rc<WindowDriver>,
}

impl KioskUi {
    pub fn new(
        store: LocalStore,
        settings: UiSettings,
        hub: Option<(HubClient, tokio::runtime::Handle)>,
    ) -> Result<KioskUi, slint::PlatformError> {
        let window = AppWindow::new()?;
        let slot = WINDOWS.with(|c| c.borrow().len());
        let printer = settings.printer.clone();
        let inner = Rc::new(WindowDriver {
            window: window.as_weak(),
            kiosk: RefCell::new(Kiosk::new(store, settings)),
            hub,
            shown: RefCell::new(Shown::default()),
            idle: Timer::default(),
            status: Timer::default(),
            signal_sink: RefCell::new(None),
            handover_sink: RefCell::new(None),
            sale_sink: RefCell::new(None),
            printer,
            slot,
        });
        WINDOWS.with(|c| c.borrow_mut().push(Rc::downgrade(&inner)));
        let weak = Rc::downgrade(&inner);
        let act: Act = Rc::new(move |f: &dyn Fn(&mut Kiosk)| {
            if let Some(w) = weak.upgrade() {
                w.act(f);
            }
        });
        adapter::wire(&window, &act);
        inner.act(|_| {});
        Ok(KioskUi { window, inner })
    }

    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// A code from any scanner goes the same way as one typed into the window.
    pub fn scan(&self, code: &str) {
        self.inner.act(|k| k.scan(code));
    }

    /// Brings every screen up to date with the local store: the sync indicator, the staff
    /// queue, the manager view, and the desk signals. Runs every two seconds by itself
    /// once the window runs; tests call it after changing the store.
    pub fn refresh(&self) {
        self.inner.act(Kiosk::refresh);
    }

    /// The window's title (the demo names the store and the device of each window).
    pub fn set_title(&self, title: &str) {
        self.window.global::<AppAdapter>().set_title(title.into());
    }

    /// Codes the demo offers on the attract screen instead of a scanner: (label, code).
    pub fn set_demo_codes(&self, codes: &[(String, String)]) {
        adapter::attract::set_demo_codes(&self.window, codes);
    }

    /// Calls `sink` on the UI thread whenever the desk's signals change (the pickup light).
    pub fn on_desk_signals(&self, sink: impl Fn(DeskSignals) + 'static) {
        *self.inner.signal_sink.borrow_mut() = Some(Box::new(sink));
        self.inner.act(|k| {
            k.forget_signals();
            k.refresh();
        });
    }

    /// Calls `sink` on the UI thread after each handover recorded here (for a receipt).
    pub fn on_handover(&self, sink: impl Fn(&OrderRecord, &str) + 'static) {
        *self.inner.handover_sink.borrow_mut() = Some(Box::new(sink));
    }

    /// Calls `sink` on the UI thread after each sale made at the till (its receipt is
    /// printed by the window itself when `[printer]` is enabled).
    pub fn on_sale(&self, sink: impl Fn(&Receipt) + 'static) {
        *self.inner.sale_sink.borrow_mut() = Some(Box::new(sink));
    }

    /// A handle another thread can close the window with (SIGTERM, the demo ending).
    pub fn closer(&self) -> UiCloser {
        UiCloser(self.window.as_weak())
    }

    /// Shows the window and runs the event loop until the window closes.
    pub fn run(&self) -> Result<(), slint::PlatformError> {
        self.start_refresh();
        self.window.run()
    }

    /// Shows the window and starts its two-second refresh, without running the event
    /// loop: for several windows on one loop (the demo's devices), run with
    /// `slint::run_event_loop` after showing each.
    pub fn show(&self) -> Result<(), slint::PlatformError> {
        self.start_refresh();
        self.window.show()
    }

    fn start_refresh(&self) {
        let i = Rc::downgrade(&self.inner);
        self.inner.status.start(TimerMode::Repeated, Duration::from_secs(2), move || {
            if let Some(i) = i.upgrade() {
                i.act(Kiosk::refresh);
            }
        });
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

impl WindowDriver {
    /// Runs `f` on the controller, does what it asked of the outside, and shows the result.
    fn act(self: &Rc<Self>, f: impl FnOnce(&mut Kiosk)) {
        let mut effects = {
            let mut k = self.kiosk.borrow_mut();
            f(&mut k);
            k.take_effects()
        };
        while !effects.is_empty() {
            for effect in effects {
                self.apply(effect);
            }
            effects = self.kiosk.borrow_mut().take_effects();
        }
        self.show();
    }

    fn apply(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Language(lang) => select_language(&lang),
            Effect::AskHub(query) => self.ask_hub(query),
            Effect::HandedOver { order, staff_id } => {
                if let Some(sink) = self.handover_sink.borrow().as_ref() {
                    sink(&order, &staff_id);
                }
            }
            Effect::Sold(receipt) => {
                self.print_sale(&receipt);
                if let Some(sink) = self.sale_sink.borrow().as_ref() {
                    sink(&receipt);
                }
            }
            Effect::ShiftClosed(report) => self.print_z_report(*report),
            Effect::Signals(signals) => {
                if let Some(sink) = self.signal_sink.borrow().as_ref() {
                    sink(signals);
                }
            }
        }
    }

    /// Prints a sale's receipt off the UI thread. The sale is recorded already: a printer
    /// that is off is a warning (`omnikiosk receipt NUMBER --print` reprints it).
    fn print_sale(&self, receipt: &Receipt) {
        if !self.printer.enabled {
            return;
        }
        let (printer, receipt, store) = (self.printer.clone(), receipt.clone(), self.kiosk.borrow().store().clone());
        std::thread::spawn(move || {
            let qr = match store.receipt_code(&receipt) {
                Ok(qr) => qr,
                Err(e) => return tracing::warn!(number = %receipt.number, error = %e, "sale recorded; its receipt code could not be signed"),
            };
            let zone = store.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
            let printed = crate::peripherals::printer::open(&printer).and_then(|mut p| p.sale_receipt(&receipt, &qr, None, &zone));
            if let Err(e) = printed {
                tracing::warn!(number = %receipt.number, error = %e, "sale recorded; the receipt did not print");
            }
        });
    }

    /// Prints a Z report off the UI thread. The close is recorded already: a printer that
    /// is off is a warning.
    fn print_z_report(&self, report: omnikiosk_protocol::shift::ZReport) {
        if !self.printer.enabled {
            return;
        }
        let (printer, zone) = (self.printer.clone(), self.kiosk.borrow().zone().clone());
        std::thread::spawn(move || {
            if let Err(e) = crate::peripherals::printer::open(&printer).and_then(|mut p| p.z_report(&report, &zone)) {
                tracing::warn!(z = %report.number(), error = %e, "shift closed; the Z report did not print");
            }
        });
    }

    /// Asks the hub on the tokio thread; the answer comes back to the controller on this
    /// one. Without a hub, the answer is "offline" at once.
    fn ask_hub(&self, query: HubQuery) {
        let Some((client, rt)) = &self.hub else {
            return self.kiosk.borrow_mut().hub_answered(Err(ScanError::OfflineNotCached));
        };
        let (client, store) = (client.clone(), self.kiosk.borrow().store().clone());
        let (window, slot) = (self.window.clone(), self.slot);
        rt.spawn(async move {
            let answer = resolve_at_hub(&store, Some(&client), &query).await;
            let _ = window.upgrade_in_event_loop(move |_| {
                if let Some(w) = WINDOWS.with(|c| c.borrow().get(slot).and_then(Weak::upgrade)) {
                    w.act(|k| k.hub_answered(answer));
                }
            });
        });
    }

    /// Copies what changed into the globals, and keeps the idle countdown running while
    /// any screen but attract shows.
    fn show(self: &Rc<Self>) {
        let Some(w) = self.window.upgrade() else { return };
        let k = self.kiosk.borrow();
        adapter::show(&w, &k, &mut self.shown.borrow_mut());
        if k.screen() == Screen::Attract {
            self.idle.stop();
        } else if !self.idle.running() {
            let i = Rc::downgrade(self);
            self.idle.start(TimerMode::Repeated, Duration::from_secs(1), move || {
                if let Some(i) = i.upgrade() {
                    i.act(Kiosk::tick);
                }
            });
        }
    }
}
