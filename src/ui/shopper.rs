//! The shopper's session: their screen after a scan, "I'm here" for a ready order,
//! "Call staff", the NPS question, and clearing it all when they leave.

use std::rc::Rc;

use omnikiosk_protocol::ops::OpBody;
use slint::{ComponentHandle, Image, ModelRc, Rgba8Pixel, SharedPixelBuffer, VecModel};

use super::kiosk::{blank, select_language, Inner};
use super::view::{shopper_screen, OrderRowView, ShopperScreenView};
use super::{AppWindow, CartRow, OrderRow, Screen, ShopperAdapter};
use crate::domain::desk::position;
use crate::domain::shopper::ShopperView;

/// The shopper being served right now.
pub(super) struct ShopperSession {
    pub(super) customer_id: String,
    view: ShopperView,
    /// Orders the shopper said "I'm here" for in this session.
    checked_in: Vec<String>,
}

impl Inner {
    pub(super) fn start_shopper_session(self: &Rc<Self>, view: ShopperView) {
        let Some(w) = self.window() else { return };
        self.end_staff_session();
        self.reset_desk();
        let customer_id = view.customer.id.clone();
        // A touchpoint for the central profile; the screen does not wait on it.
        if let Err(e) = self.store.record_op(OpBody::VisitSeen { customer_id: customer_id.clone() }, &self.settings.loyalty, self.now()) {
            tracing::warn!(error = %e, "could not record the visit");
        }
        select_language(&view.customer.language);
        *self.shopper.borrow_mut() = Some(ShopperSession { customer_id, view, checked_in: Vec::new() });
        let a = w.global::<ShopperAdapter>();
        a.set_message(0);
        a.set_phone_qr(phone_qr(&self.settings.phone_url));
        self.show_shopper(&w);
        self.show(Screen::Shopper, self.settings.idle_timeout_secs);
        a.set_seconds_left(self.settings.idle_timeout_secs as i32);
    }

    fn show_shopper(&self, w: &AppWindow) {
        let session = self.shopper.borrow();
        let Some(s) = session.as_ref() else { return };
        let waiting = self.store.waiting().unwrap_or_default();
        let v: ShopperScreenView = shopper_screen(&s.view, &s.checked_in, &waiting, self.settings.tz_offset_secs);
        let a = w.global::<ShopperAdapter>();
        a.set_first_name(v.first_name.into());
        a.set_tier(v.tier.into());
        a.set_points(v.points.into());
        a.set_ready_orders(order_rows(&v.ready, &waiting));
        a.set_preparing_orders(order_rows(&v.preparing, &waiting));
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
    }

    pub(super) fn im_here(self: &Rc<Self>, order_id: &str) {
        self.touched();
        let Some(customer_id) = self.shopper.borrow().as_ref().map(|s| s.customer_id.clone()) else { return };
        let op = OpBody::VisitCheckin { order_id: order_id.to_string(), customer_id };
        match self.store.record_op(op, &self.settings.loyalty, self.now()) {
            Ok(_) => {
                if let Some(s) = self.shopper.borrow_mut().as_mut() {
                    s.checked_in.push(order_id.to_string());
                }
                if let Some(w) = self.window() {
                    self.show_shopper(&w);
                }
                self.refresh();
            }
            Err(e) => tracing::warn!(order_id, error = %e, "check-in refused"),
        }
    }

    pub(super) fn rate(&self, score: i32) {
        self.touched();
        let customer_id = self.shopper.borrow().as_ref().map(|s| s.customer_id.clone());
        let op = OpBody::FeedbackNps { score: score.into(), csat: None, customer_id };
        match self.store.record_op(op, &self.settings.loyalty, self.now()) {
            Ok(_) => {
                if let Some(w) = self.window() {
                    w.global::<ShopperAdapter>().set_message(1);
                }
            }
            Err(e) => tracing::warn!(error = %e, "feedback refused"),
        }
    }

    /// Ends the shopper's session: nothing personal stays in any UI model.
    pub(super) fn end_shopper_session(&self) {
        *self.shopper.borrow_mut() = None;
        let Some(w) = self.window() else { return };
        let a = w.global::<ShopperAdapter>();
        a.set_first_name(blank());
        a.set_tier(blank());
        a.set_points(blank());
        a.set_ready_orders(ModelRc::default());
        a.set_preparing_orders(ModelRc::default());
        a.set_cart(ModelRc::default());
        a.set_cart_total(blank());
        a.set_phone_qr(Image::default());
        a.set_message(0);
        a.set_seconds_left(0);
    }

    /// The shopper on screen, if any (for "call staff").
    pub(super) fn shopper_id(&self) -> Option<String> {
        self.shopper.borrow().as_ref().map(|s| s.customer_id.clone())
    }

    pub(super) fn shopper_called_staff(&self) {
        if let Some(w) = self.window() {
            w.global::<ShopperAdapter>().set_message(2);
        }
    }
}

fn order_rows(rows: &[OrderRowView], waiting: &[crate::domain::desk::Waiting]) -> ModelRc<OrderRow> {
    ModelRc::new(VecModel::from(
        rows.iter()
            .map(|o| OrderRow {
                id: o.id.clone().into(),
                pickup_code: o.pickup_code.clone().into(),
                status: o.status.clone().into(),
                promised: o.promised.clone().into(),
                items: o.items as i32,
                checked_in: o.checked_in,
                position: position(waiting, &o.id).unwrap_or(0) as i32,
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
