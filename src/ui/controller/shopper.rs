//! The shopper's session: their screen after a scan, "I'm here" for a ready order, the
//! NPS question, the answer to "Call staff" (and who is coming), a product scanned and
//! saved to their online cart, and clearing it all when they leave.

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::ProductRecord;

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
    /// A product they scanned is saved to their online cart ([`ShopperScreen::saved`]).
    SavedForLater,
    /// A product they scanned could not be saved (not in this store's catalogue).
    NotSaved,
}

/// What the shopper's screen shows; all empty when nobody is there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopperScreen {
    pub view: ShopperScreenView,
    /// Where "Continue on your phone" leads; empty without a shopper.
    pub phone_url: String,
    pub message: ShopperMessage,
    /// The name of the product last saved for later.
    pub saved: String,
    /// What that product is, from the catalogue ("" when it has no description).
    pub saved_description: String,
    /// They pressed "Call staff" in this session.
    pub help_called: bool,
    /// The colleague who took their request ("Kasia"), empty until somebody did.
    pub help_by: String,
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
        // Nothing of a shopper before them (a message, a call for staff) carries over.
        self.screen = ShopperScreen::default();
        self.screen.phone_url = ctx.settings.phone_url.clone();
        self.load(ctx);
        language
    }

    fn load(&mut self, ctx: &Ctx) {
        let Some(s) = &self.session else { return };
        let waiting = ctx.store.waiting().unwrap_or_default();
        self.screen.view = shopper_screen(&s.view, &s.checked_in, &waiting, &ctx.zone, &ctx.currency());
        self.screen.view.purchase_points = purchase_points(ctx, &s.customer_id);
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
        self.screen.help_called = true;
        self.screen.help_by.clear();
    }

    /// Waiting for a colleague to take their call for staff.
    pub fn awaiting_help(&self) -> bool {
        self.screen.help_called && self.screen.help_by.is_empty()
    }

    /// A colleague took the call; true when that is news to the screen.
    pub fn help_taken(&mut self, by: &str) -> bool {
        if !self.screen.help_called || self.screen.help_by == by {
            return false;
        }
        self.screen.help_by = by.to_string();
        true
    }

    /// "Save for later": a product scanned on the shopper's screen goes into their online
    /// cart (a `cart.add` op, on their cart at once through the pending overlay). `product`
    /// is the product as this store knows it, shown with its description; an unknown one
    /// is refused by the op's rule.
    pub fn save_for_later(&mut self, ctx: &Ctx, sku: &str, product: Option<&ProductRecord>) {
        let Some(customer_id) = self.customer_id().map(str::to_string) else { return };
        match ctx.record(OpBody::CartAdd { customer_id: customer_id.clone(), sku: sku.to_string() }) {
            Ok(_) => {
                self.screen.message = ShopperMessage::SavedForLater;
                self.screen.saved = product.map_or(sku, |p| p.name.as_str()).to_string();
                self.screen.saved_description = product.map(|p| p.description.clone()).unwrap_or_default();
                match ctx.store.shopper_view(&customer_id) {
                    Ok(Some(view)) => {
                        if let Some(s) = self.session.as_mut() {
                            s.view = view;
                        }
                        self.load(ctx);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "could not read the cart back"),
                }
            }
            Err(e) => {
                tracing::info!(sku, error = %e, "not saved for later");
                self.screen.message = ShopperMessage::NotSaved;
                self.screen.saved.clear();
                self.screen.saved_description.clear();
            }
        }
    }

    /// Ends the session: nothing personal stays in the screen's state.
    pub fn end(&mut self) {
        *self = ShopperPart::default();
    }
}

/// Points the shopper earned today at this kiosk's till (its newest receipts; a sale at
/// another device of the store shows there).
fn purchase_points(ctx: &Ctx, customer_id: &str) -> i64 {
    let now = ctx.now();
    let since = ctx.day_start(now);
    let receipts = ctx.store.receipts(RECENT_RECEIPTS).unwrap_or_default();
    receipts
        .iter()
        .filter(|r| r.at >= since && r.customer_id.as_deref() == Some(customer_id))
        .filter_map(|r| ctx.store.receipt(&r.number).ok().flatten())
        .map(|r| r.points_earned)
        .sum()
}

/// How many of this kiosk's newest receipts are looked through for a shopper's points.
const RECENT_RECEIPTS: usize = 50;

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
        part.called_staff();
        assert!(part.awaiting_help());
        assert!(part.help_taken("Kasia") && !part.help_taken("Kasia"), "news once");
        part.end();
        assert_eq!(*part.screen(), ShopperScreen::default(), "nothing of Anna stays");
        assert!(!part.im_here(&ctx, "O-1-1"), "no check-in without a shopper");
    }

    #[test]
    fn a_product_scanned_on_the_shoppers_screen_is_saved_to_their_cart_at_once() {
        let (_f, ctx) = Fixture::start();
        let mut part = ShopperPart::default();
        part.start(&ctx, ctx.store.shopper_view("C-ANNA").unwrap().unwrap());
        assert!(part.screen().view.cart.is_empty());
        let tea = ProductRecord { sku: "5901234123457".into(), name: "Tea".into(), description: "Black tea, 20 bags.".into(), ..Default::default() };
        part.save_for_later(&ctx, "5901234123457", Some(&tea));
        part.save_for_later(&ctx, "5901234123457", Some(&tea));
        let shown = (part.screen().message, part.screen().saved.as_str(), part.screen().saved_description.as_str());
        assert_eq!(shown, (ShopperMessage::SavedForLater, "Tea", "Black tea, 20 bags."));
        let cart = &part.screen().view.cart;
        assert_eq!((cart.len(), cart[0].name.as_str(), cart[0].qty), (1, "Tea", 2), "on the cart before the hub hears of it");
        assert_eq!(ctx.store.pending_ops(10).unwrap().iter().filter(|o| o.name == "cart.add").count(), 2);

        part.save_for_later(&ctx, "4000000000006", None);
        assert_eq!(part.screen().message, ShopperMessage::NotSaved, "a product this store does not know");
        assert_eq!(part.screen().saved_description, "", "nothing of the product before");
        assert_eq!(part.screen().view.cart[0].qty, 2);
    }
}
