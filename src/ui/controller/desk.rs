//! The shopper's side of the pickup desk, without a card: "Collect an order" (the pickup
//! code typed on our keypad, or the order QR scanned, checks a ready order in and shows
//! the place in line) and "Call staff" (who is coming, once a colleague took it).

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::{OrderRecord, OrderStatus};

use super::context::Ctx;
use crate::domain::desk::position;

/// How long the check-in answer stays up, and the least the "help is coming" screen
/// stays up once it names the colleague on the way.
pub const ANSWER_SECS: u32 = 20;

/// What the "Collect an order" screen shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeskState {
    /// The keypad, waiting for a code.
    #[default]
    Typing,
    CheckedIn,
    /// The order is still being prepared.
    NotReady,
    /// The code led to no order here.
    NotFound,
    /// The order is collected, cancelled or expired.
    NothingToCollect,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskScreen {
    pub state: DeskState,
    pub order_id: String,
    pub items: i64,
    /// Place among the shoppers waiting at the desk (1 = next).
    pub position: usize,
    /// Promised ready time, for an order still being prepared.
    pub ready_by: String,
    /// After "Call staff": the colleague who took the request ("Kasia"), empty until
    /// somebody did.
    pub help_by: String,
}

#[derive(Default)]
pub struct DeskPart {
    screen: DeskScreen,
}

impl DeskPart {
    pub fn screen(&self) -> &DeskScreen {
        &self.screen
    }

    /// Back to the empty keypad, with nothing of the last shopper's order.
    pub fn reset(&mut self) {
        self.screen = DeskScreen::default();
    }

    /// A colleague took this device's call for staff; true when that is news.
    pub fn help_taken(&mut self, by: &str) -> bool {
        if self.screen.help_by == by {
            return false;
        }
        self.screen.help_by = by.to_string();
        true
    }

    pub fn not_found(&mut self) {
        self.screen.state = DeskState::NotFound;
    }

    /// The shopper identified an order (code or QR): check them in if it is ready, else
    /// say when it will be.
    pub fn check_in(&mut self, ctx: &Ctx, order: &OrderRecord) {
        let s = &mut self.screen;
        s.order_id = order.id.clone();
        s.items = order.lines.iter().map(|l| l.qty).sum();
        s.state = match order.status {
            OrderStatus::Ready => {
                let op = OpBody::VisitCheckin { order_id: order.id.clone(), customer_id: order.customer_id.clone() };
                match ctx.record(op) {
                    Ok(_) => {
                        let waiting = ctx.store.waiting().unwrap_or_default();
                        s.position = position(&waiting, &order.id).unwrap_or(1);
                        DeskState::CheckedIn
                    }
                    Err(e) => {
                        tracing::warn!(order = order.id, error = %e, "check-in refused");
                        DeskState::NothingToCollect
                    }
                }
            }
            OrderStatus::Placed | OrderStatus::Picking => {
                s.ready_by = ctx.clock(order.promised_ready_at);
                DeskState::NotReady
            }
            _ => DeskState::NothingToCollect,
        };
    }
}

/// "Call staff": a help request for every staff screen of the store, naming the shopper
/// on screen if any. Its id, to follow who takes it.
pub fn call_staff(ctx: &Ctx, customer_id: Option<&str>) -> Option<String> {
    match ctx.record(OpBody::HelpRequest { customer_id: customer_id.map(str::to_string) }) {
        Ok(op) => Some(op.op_id),
        Err(e) => {
            tracing::warn!(error = %e, "could not record the call for staff");
            None
        }
    }
}

/// The colleague on the way to the call for staff `request_id` (raised here), if one took
/// it, here or at any other device of the store.
pub fn colleague_on_the_way(ctx: &Ctx, request_id: &str) -> Option<String> {
    match ctx.store.open_help() {
        Ok(open) => open.into_iter().find(|r| r.id == request_id).and_then(|r| r.taken_by_name),
        Err(e) => {
            tracing::warn!(error = %e, "could not read this device's call for staff");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    #[test]
    fn a_ready_order_checks_in_and_one_in_preparation_says_when() {
        let (_f, ctx) = Fixture::start();
        let mut desk = DeskPart::default();
        desk.check_in(&ctx, &ctx.store.order("O-1-2").unwrap().unwrap());
        assert_eq!(desk.screen().state, DeskState::NotReady);
        assert_eq!(desk.screen().ready_by, ctx.clock(super::super::fixture::NOW + 3600));
        assert!(ctx.store.waiting().unwrap().is_empty(), "nobody checked in for an order not ready");

        desk.check_in(&ctx, &ctx.store.order("O-1-1").unwrap().unwrap());
        assert_eq!(desk.screen().state, DeskState::CheckedIn);
        assert_eq!((desk.screen().position, desk.screen().items), (1, 3));
        assert_eq!(ctx.store.waiting().unwrap().len(), 1);
        desk.reset();
        assert_eq!(*desk.screen(), DeskScreen::default());
    }
}
