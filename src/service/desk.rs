//! The pickup light, buzzer and slip printer follow the desk: the window reports its
//! signals (shoppers waiting, new orders, help requests, online) on the UI thread, and a
//! thread of its own turns them into an alert and prints a pickup slip for each shopper
//! who newly checks in — printing never holds up the screen.

use std::collections::HashSet;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use crate::clock::unix_now;
use crate::config::PrinterConfig;
use crate::peripherals::indicator::{Alert, Indicator};
use crate::peripherals::printer::{PickupSlip, SlipPrinter};
use crate::store::LocalStore;
use crate::ui::DeskSignals;

/// What the light shows for these signals: people first, then work, then the network.
pub fn alert_for(s: &DeskSignals) -> Alert {
    if s.customers_waiting > 0 || s.help_requests > 0 {
        Alert::CustomerWaiting
    } else if s.new_orders > 0 {
        Alert::NewOrder
    } else if !s.online {
        Alert::Offline
    } else {
        Alert::Quiet
    }
}

/// Whether the alert's pattern (and its beeps) should start again: one more shopper
/// waiting or asking for help, or one more new order, even though the light already shows it.
pub fn sound_again(before: &DeskSignals, now: &DeskSignals) -> bool {
    now.customers_waiting > before.customers_waiting
        || now.help_requests > before.help_requests
        || now.new_orders > before.new_orders
}

/// A slip printer shared with other users (the command line prints receipts on it).
pub type SharedPrinter = Arc<Mutex<Box<dyn SlipPrinter>>>;

enum Message {
    Signals(DeskSignals),
    Stop,
}

/// Where the window sends its signals; usable from the UI thread's callback.
#[derive(Clone)]
pub struct SignalSender(Sender<Message>);

impl SignalSender {
    pub fn send(&self, signals: DeskSignals) {
        let _ = self.0.send(Message::Signals(signals));
    }
}

/// The thread following the desk's signals.
pub struct DeskFollower {
    tx: Sender<Message>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DeskFollower {
    /// Starts following; signals go in with [`DeskFollower::sender`].
    pub fn start(
        indicator: Arc<Indicator>,
        printer: Option<SharedPrinter>,
        store: LocalStore,
        cfg: PrinterConfig,
    ) -> DeskFollower {
        let (tx, rx) = mpsc::channel::<Message>();
        let thread = std::thread::Builder::new()
            .name("desk-signals".into())
            .spawn(move || {
                let mut before: Option<DeskSignals> = None;
                // Orders a slip was printed for (or that were waiting when the kiosk
                // started: a restart must not print everyone's slip again).
                let mut slipped: Option<HashSet<String>> = None;
                while let Ok(Message::Signals(now)) = rx.recv() {
                    let alert = alert_for(&now);
                    match &before {
                        Some(b) if sound_again(b, &now) => indicator.replay(alert),
                        _ => indicator.show(alert),
                    }
                    before = Some(now);
                    let Some(printer) = printer.as_ref().filter(|_| cfg.slip_on_checkin) else { continue };
                    let waiting = match store.waiting() {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read who is waiting; no slip printed");
                            continue;
                        }
                    };
                    let Some(done) = slipped.as_mut() else {
                        slipped = Some(waiting.into_iter().map(|w| w.order.id).collect());
                        continue;
                    };
                    // Printed at the store's local time (its record may have come since the start).
                    let zone = store.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
                    for w in waiting {
                        if !done.insert(w.order.id.clone()) {
                            continue;
                        }
                        let slip = PickupSlip {
                            order_id: w.order.id.clone(),
                            customer: w.first_name.clone(),
                            pickup_code: w.order.pickup_code.clone(),
                            lines: w.order.lines.iter().map(|l| format!("{} × {}", l.qty, l.name)).collect(),
                            printed_at: crate::clock::date_time(unix_now(), &zone),
                        };
                        let result = printer.lock().unwrap_or_else(|p| p.into_inner()).pickup_slip(&slip);
                        match result {
                            Ok(()) => tracing::info!(order = %slip.order_id, "pickup slip printed"),
                            Err(e) => tracing::warn!(order = %slip.order_id, error = %e, "pickup slip not printed"),
                        }
                    }
                }
                indicator.show(Alert::Quiet);
            })
            .expect("spawning the desk-signals thread");
        DeskFollower { tx, thread: Some(thread) }
    }

    /// Where the window sends its signals.
    pub fn sender(&self) -> SignalSender {
        SignalSender(self.tx.clone())
    }

    /// Stops following, turns the light off, and waits for the thread.
    pub fn stop(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(waiting: usize, new: usize, help: usize, online: bool) -> DeskSignals {
        DeskSignals { customers_waiting: waiting, new_orders: new, help_requests: help, online }
    }

    #[test]
    fn people_come_before_orders_and_orders_before_the_network() {
        let cases = [
            (signals(0, 0, 0, true), Alert::Quiet),
            (signals(0, 0, 0, false), Alert::Offline),
            (signals(0, 3, 0, false), Alert::NewOrder),
            (signals(1, 3, 0, false), Alert::CustomerWaiting),
            (signals(0, 0, 1, true), Alert::CustomerWaiting),
        ];
        for (s, want) in cases {
            assert_eq!(alert_for(&s), want, "{s:?}");
        }
    }

    #[test]
    fn the_buzzer_sounds_again_only_for_more_people_or_more_orders() {
        assert!(sound_again(&signals(1, 0, 0, true), &signals(2, 0, 0, true)));
        assert!(sound_again(&signals(0, 1, 0, true), &signals(0, 2, 0, true)));
        assert!(sound_again(&signals(0, 0, 0, true), &signals(0, 0, 1, true)));
        assert!(!sound_again(&signals(2, 2, 0, true), &signals(1, 2, 0, true)));
        assert!(!sound_again(&signals(1, 1, 0, true), &signals(1, 1, 0, false)));
    }
}
