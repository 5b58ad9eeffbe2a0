//! The kiosk window as a service. Scans from the scanner thread reach the window through
//! the event loop and take the same path as a code typed into it; READY=1 goes out once
//! the event loop runs (the window is shown by then); watchdog pings come from a timer on
//! the UI thread, so a frozen UI stops them and systemd restarts the kiosk; and a stop
//! takes no more scans, says STOPPING=1 and closes the window.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slint::{Timer, TimerMode};

use super::Notifier;
use crate::ui::{KioskUi, UiCloser};

thread_local! {
    /// The window of this UI thread, for scans that arrive from the scanner thread.
    static KIOSK: RefCell<Weak<KioskUi>> = const { RefCell::new(Weak::new()) };
}

/// What keeps the window running as a service; dropped after the window closed.
pub struct WindowService {
    /// Pings the watchdog while the UI thread is alive.
    _watchdog: Option<Timer>,
    stopper: Stopper,
    forwarder: Option<std::thread::JoinHandle<()>>,
}

/// Stops the window from any thread (SIGTERM); stopping twice is harmless.
#[derive(Clone)]
pub struct Stopper {
    /// Cleared first: a scan that arrives while stopping is not taken.
    accepting: Arc<AtomicBool>,
    stopping_sent: Arc<AtomicBool>,
    notifier: Notifier,
    closer: Arc<Mutex<UiCloser>>,
}

impl Stopper {
    pub fn stop(&self) {
        self.accepting.store(false, Ordering::SeqCst);
        if !self.stopping_sent.swap(true, Ordering::SeqCst) {
            tracing::info!("stopping: no more scans; closing the window");
            self.notifier.stopping();
        }
        self.closer.lock().unwrap_or_else(|p| p.into_inner()).close();
    }

    /// Whether scans are still taken.
    pub fn accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }
}

/// Wires `ui` up as a service; call on the UI thread before [`KioskUi::run`].
pub fn attach(ui: &Rc<KioskUi>, scans: Option<Receiver<String>>, notifier: Notifier, watchdog: Option<Duration>) -> WindowService {
    KIOSK.with(|k| *k.borrow_mut() = Rc::downgrade(ui));
    let stopper = Stopper {
        accepting: Arc::new(AtomicBool::new(true)),
        stopping_sent: Arc::new(AtomicBool::new(false)),
        notifier: notifier.clone(),
        closer: Arc::new(Mutex::new(ui.closer())),
    };
    let ready = notifier.clone();
    Timer::single_shot(Duration::ZERO, move || {
        tracing::info!("kiosk window shown");
        ready.ready();
    });
    let watchdog = watchdog.map(|every| {
        let timer = Timer::default();
        let n = notifier.clone();
        timer.start(TimerMode::Repeated, every, move || n.watchdog());
        timer
    });
    let forwarder = scans.map(|scans| {
        let accepting = stopper.accepting.clone();
        std::thread::Builder::new()
            .name("scans-to-window".into())
            .spawn(move || forward(scans, accepting))
            .expect("spawning the scan forwarder")
    });
    WindowService { _watchdog: watchdog, stopper, forwarder }
}

/// Hands each scan to the UI thread; ends when the scanner stops (its sender is gone),
/// when the kiosk stops, or when the event loop is gone.
fn forward(scans: Receiver<String>, accepting: Arc<AtomicBool>) {
    for code in scans.iter() {
        if !accepting.load(Ordering::SeqCst) {
            break;
        }
        let still = accepting.clone();
        let sent = slint::invoke_from_event_loop(move || {
            if still.load(Ordering::SeqCst) {
                if let Some(ui) = KIOSK.with(|k| k.borrow().upgrade()) {
                    ui.scan(&code);
                }
            }
        });
        if sent.is_err() {
            break;
        }
    }
}

impl WindowService {
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// After the window closed and the scanner stopped: waits for the forwarder.
    pub fn finish(mut self) {
        self.stopper.accepting.store(false, Ordering::SeqCst);
        if let Some(t) = self.forwarder.take() {
            let _ = t.join();
        }
    }
}
