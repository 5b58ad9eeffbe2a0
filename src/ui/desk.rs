//! The shopper's side of the pickup desk, without a card: "Collect an order" (pickup code
//! or order QR → check-in, place in line) and "Call staff".

use std::rc::Rc;

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::{OrderRecord, OrderStatus};
use slint::ComponentHandle;

use super::kiosk::{blank, Inner};
use super::view::clock;
use super::{AppAdapter, DeskAdapter, Screen};
use crate::domain::desk::position;

/// How long the check-in answer and the "help is coming" screen stay up.
const ANSWER_SECS: u32 = 20;

impl Inner {
    pub(super) fn open_pickup(self: &Rc<Self>) {
        self.reset_desk();
        self.show(Screen::Pickup, self.settings.idle_timeout_secs);
    }

    pub(super) fn on_pickup_screen(&self) -> bool {
        self.window().is_some_and(|w| w.global::<AppAdapter>().get_screen() == Screen::Pickup)
    }

    pub(super) fn pickup_code_entered(self: &Rc<Self>, code: &str) {
        self.touched();
        match self.store.open_order_by_pickup_code(code.trim()) {
            Ok(Some(order)) => self.pickup_checkin(order),
            Ok(None) => self.set_desk_state(3),
            Err(e) => {
                tracing::warn!(error = %e, "pickup code lookup failed");
                self.set_desk_state(3);
            }
        }
    }

    /// The shopper identified an order (code or QR) at the kiosk: check them in if it is
    /// ready, else say when it will be.
    pub(super) fn pickup_checkin(self: &Rc<Self>, order: OrderRecord) {
        self.end_shopper_session();
        let Some(w) = self.window() else { return };
        let d = w.global::<DeskAdapter>();
        d.set_order_id(order.id.clone().into());
        d.set_items(order.lines.iter().map(|l| l.qty).sum::<i64>() as i32);
        match order.status {
            OrderStatus::Ready => {
                let op = OpBody::VisitCheckin { order_id: order.id.clone(), customer_id: order.customer_id.clone() };
                if let Err(e) = self.store.record_op(op, &self.settings.loyalty, self.now()) {
                    tracing::warn!(order = order.id, error = %e, "check-in refused");
                    d.set_state(4);
                } else {
                    let waiting = self.store.waiting().unwrap_or_default();
                    d.set_position(position(&waiting, &order.id).unwrap_or(1) as i32);
                    d.set_state(1);
                }
            }
            OrderStatus::Placed | OrderStatus::Picking => {
                d.set_ready_by(clock(order.promised_ready_at, self.settings.tz_offset_secs).into());
                d.set_state(2);
            }
            _ => d.set_state(4),
        }
        self.show(Screen::Pickup, ANSWER_SECS);
        self.refresh();
    }

    fn set_desk_state(&self, state: i32) {
        if let Some(w) = self.window() {
            w.global::<DeskAdapter>().set_state(state);
        }
    }

    /// "Call staff": recorded for the desk with whoever is signed in as the shopper.
    pub(super) fn call_staff(self: &Rc<Self>) {
        let customer = self.shopper_id();
        if let Err(e) = self.store.call_staff(customer.as_deref(), self.now()) {
            tracing::warn!(error = %e, "could not record the call for staff");
        }
        match customer {
            Some(_) => {
                self.touched();
                self.shopper_called_staff();
            }
            None => self.show(Screen::Help, ANSWER_SECS),
        }
        self.refresh();
    }

    pub(super) fn reset_desk(&self) {
        let Some(w) = self.window() else { return };
        let d = w.global::<DeskAdapter>();
        d.set_state(0);
        d.set_order_id(blank());
        d.set_items(0);
        d.set_position(0);
        d.set_ready_by(blank());
    }
}
