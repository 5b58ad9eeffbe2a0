//! `ShopperAdapter`: the shopper's home after a scan, and their countdown.

use slint::{ComponentHandle, Image, Rgba8Pixel, SharedPixelBuffer};

use crate::ui::controller::shopper::{ShopperMessage, ShopperScreen};
use crate::ui::view::OrderRowView;
use crate::ui::generated::{AppWindow, CartRow, OrderRow, ShopperAdapter, ShopperMessage as Message};
use super::support::{int, model, Act};

pub fn wire(w: &AppWindow, act: &Act) {
    let a = w.global::<ShopperAdapter>();
    on!(act, a, on_im_here, |k, order| k.im_here(&order));
    on!(act, a, on_rate, |k, score| k.rate(score));
    on!(act, a, on_call_staff, |k| k.call_staff());
    on!(act, a, on_done, |k| k.go_home());
}

pub fn show_seconds_left(w: &AppWindow, secs: u32) {
    w.global::<ShopperAdapter>().set_seconds_left(int(secs));
}

pub fn show(w: &AppWindow, s: &ShopperScreen, before: &ShopperScreen) {
    let a = w.global::<ShopperAdapter>();
    let v = &s.view;
    a.set_first_name(v.first_name.as_str().into());
    a.set_tier(v.tier.as_str().into());
    a.set_points(v.points.as_str().into());
    a.set_purchase_points(int(v.purchase_points));
    if v != &before.view {
        a.set_ready_orders(model(&v.ready, order_row));
        a.set_preparing_orders(model(&v.preparing, order_row));
        a.set_cart(model(&v.cart, |c| CartRow {
            name: c.name.as_str().into(),
            qty: int(c.qty),
            price: c.price.as_str().into(),
            availability: c.availability.into(),
            on_hand: int(c.on_hand),
            aisle: c.aisle.as_str().into(),
        }));
    }
    a.set_cart_total(v.cart_total.as_str().into());
    if s.phone_url != before.phone_url {
        a.set_phone_qr(if s.phone_url.is_empty() { Image::default() } else { phone_qr(&s.phone_url) });
    }
    a.set_message(mirror!(s.message, ShopperMessage => Message { None => None, ThanksForRating => ThanksForRating, SavedForLater => SavedForLater, NotSaved => NotSaved }));
    a.set_saved(s.saved.as_str().into());
    a.set_saved_description(s.saved_description.as_str().into());
    a.set_help_called(s.help_called);
    a.set_help_by(s.help_by.as_str().into());
}

fn order_row(o: &OrderRowView) -> OrderRow {
    OrderRow {
        id: o.id.as_str().into(),
        pickup_code: o.pickup_code.as_str().into(),
        status: o.status.as_str().into(),
        promised: o.promised.as_str().into(),
        items: int(o.items),
        checked_in: o.checked_in,
        position: int(o.position),
    }
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
