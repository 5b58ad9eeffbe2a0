//! The shopper's session: their screen after a scan, "I'm here" for a ready order, the
//! NPS question, the answer to "Call staff", and clearing it all when they leave.

use omnikiosk_protocol::ops::OpBody;

use super::context::Ctx;
use crate::domain::shopper::ShopperView;
use crate::ui::view::{shopper_screen, ShopperScreenView};

/// The line under the shopper's orders after they did something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShopperMessage {
    #[default]
    None,
    /// They rated the visit.
    ThanksForRating,
    /// They pressed "Call staff".
    HelpComing,
}

/// What the shopper's screen shows; all empty when nobody is there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopperScreen {
    pub view: ShopperScreenView,
    /// Where "Continue on your phone" leads; empty without a shopper.
    pub phone_url: String,
    pub message: ShopperMessage,
}

/// The shopper being served right now.
struct Session {
    customer_id: String,
    view: ShopperView,
    /// Orders the shopper said "I'm here" for in this session.
    checked_in: Vec<String>,
}

#[derive(Default)]
pub struct ShopperPart {
    /// `None` while nobody is served.
    session: Option<Session>,
    screen: ShopperScreen,
}

impl ShopperPart {
    pub fn screen(&self) -> &ShopperScreen {
        &self.screen
    }

    /// The shopper on screen, if any.
    pub fn customer_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.customer_id.as_str())
    }

    /// Opens the session of the shopper whose code was scanned; returns their language.
    pub fn start(&mut self, ctx: &Ctx, view: ShopperView) -> String {
        let customer_id = view.customer.id.clone();
        // A touchpoint for the central profile; the screen does not wait on it.
        if let Err(e) = ctx.record(OpBody::VisitSeen { customer_id: customer_id.clone() }) {
            tracing::warn!(error = %e, "could not record the visit");
        }
        let language = view.customer.language.clone();
        self.session = Some(Session { customer_id, view, checked_in: Vec::new() });
        self.screen.message = ShopperMessage::None;
        self.screen.phone_url = ctx.settings.phone_url.clone();
        self.load(ctx);
        language
    }

    fn load(&mut self, ctx: &Ctx) {
        let Some(s) = &self.session else { return };
        let waiting = ctx.store.waiting().unwrap_or_default();
        self.screen.view = shopper_screen(&s.view, &s.checked_in, &waiting, ctx.settings.tz_offset_secs);
    }

    /// "I'm here" for a ready order; true when the check-in was recorded.
    pub fn im_here(&mut self, ctx: &Ctx, order_id: &str) -> bool {
        let Some(customer_id) = self.customer_id().map(str::to_string) else { return false };
        match ctx.record(OpBody::VisitCheckin { order_id: order_id.to_string(), customer_id }) {
            Ok(_) => {
                if let Some(s) = self.session.as_mut() {
                    s.checked_in.push(order_id.to_string());
                }
                self.load(ctx);
                true
            }
            Err(e) => {
                tracing::warn!(order_id, error = %e, "check-in refused");
                false
            }
        }
    }

    /// An NPS answer, from the shopper on screen or from nobody in particular.
    pub fn rate(&mut self, ctx: &Ctx, score: i32) {
        let customer_id = self.customer_id().map(str::to_string);
        match ctx.record(OpBody::FeedbackNps { score: score.into(), csat: None, customer_id }) {
            Ok(_) => self.screen.message = ShopperMessage::ThanksForRating,
            Err(e) => tracing::warn!(error = %e, "feedback refused"),
        }
    }

    pub fn called_staff(&mut self) {
        self.screen.message = ShopperMessage::HelpComing;
    }

    /// Ends the session: nothing personal stays in the screen's state.
    pub fn end(&mut self) {
        *self = ShopperPart::default();
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    #[test]
    fn a_check_in_is_an_op_and_shows_on_the_order() {
        let (_f, ctx) = Fixture::start();
        let view = ctx.store.shopper_view("C-ANNA").unwrap().unwrap();
        let mut part = ShopperPart::default();
        assert_eq!(part.start(&ctx, view), "pl");
        assert_eq!(part.screen().view.first_name, "Anna");
        assert_eq!(part.screen().view.ready.len(), 1);
        assert!(!part.screen().view.ready[0].checked_in);

        assert!(part.im_here(&ctx, "O-1-1"));
        let row = &part.screen().view.ready[0];
        assert!(row.checked_in, "the button turns into the answer");
        assert_eq!(row.position, 1, "first in line");
        let ops = ctx.store.pending_ops(10).unwrap();
        assert_eq!(ops.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["visit.seen", "visit.checkin"]);

        part.rate(&ctx, 9);
        assert_eq!(part.screen().message, ShopperMessage::ThanksForRating);
        part.end();
        assert_eq!(*part.screen(), ShopperScreen::default(), "nothing of Anna stays");
        assert!(!part.im_here(&ctx, "O-1-1"), "no check-in without a shopper");
    }
}
