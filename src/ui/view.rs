//! What the shopper screen shows, as plain rows: built from the domain's shopper view,
//! with money and times formatted for the shop floor.

use jiff::tz::TimeZone;
use omnikiosk_protocol::wire::OrderRecord;

use crate::domain::desk::{position, Waiting};
use crate::domain::shopper::{Availability, ShopperView};

/// One order line on screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderRowView {
    pub id: String,
    pub pickup_code: String,
    pub status: String,
    /// Promised ready time, "14:30" on the store's clock.
    pub promised: String,
    pub items: i64,
    pub checked_in: bool,
    /// Place among the shoppers waiting at the desk (1 = next; 0 = not waiting).
    pub position: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartRowView {
    pub name: String,
    pub qty: i64,
    pub price: String,
    pub availability: &'static str,
    pub on_hand: i64,
    pub aisle: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopperScreenView {
    pub first_name: String,
    pub tier: String,
    pub points: String,
    pub language: String,
    pub ready: Vec<OrderRowView>,
    pub preparing: Vec<OrderRowView>,
    pub cart: Vec<CartRowView>,
    pub cart_total: String,
    /// Points earned by today's purchases at this kiosk's till (0: none).
    pub purchase_points: i64,
}

fn order_row(o: &OrderRecord, checked_in: &[String], waiting: &[Waiting], zone: &TimeZone) -> OrderRowView {
    OrderRowView {
        id: o.id.clone(),
        pickup_code: o.pickup_code.clone(),
        status: o.status.as_str().to_string(),
        promised: crate::clock::clock(o.promised_ready_at, zone),
        items: o.lines.iter().map(|l| l.qty).sum(),
        checked_in: checked_in.contains(&o.id),
        position: position(waiting, &o.id).unwrap_or(0),
    }
}

/// The shopper's screen: `checked_in` are the orders they said "I'm here" for in this
/// session, `waiting` the desk's line (for their place in it); money in the store's
/// `currency`, written the way the shopper's language writes it.
pub fn shopper_screen(v: &ShopperView, checked_in: &[String], waiting: &[Waiting], zone: &TimeZone, currency: &str) -> ShopperScreenView {
    let row = |o| order_row(o, checked_in, waiting, zone);
    let money = |cents| omnikiosk_protocol::money::format(cents, currency, &v.customer.language);
    ShopperScreenView {
        first_name: v.customer.first_name.clone(),
        tier: v.customer.tier.clone(),
        points: v.customer.points.to_string(),
        language: v.customer.language.clone(),
        ready: v.ready_for_pickup.iter().map(row).collect(),
        preparing: v.in_preparation.iter().map(row).collect(),
        cart: v
            .cart
            .lines
            .iter()
            .map(|l| CartRowView {
                name: l.name.clone().unwrap_or_else(|| l.sku.clone()),
                qty: l.qty,
                price: l.line_total_cents.map(money).unwrap_or_default(),
                availability: match l.availability {
                    Availability::InStock => "in_stock",
                    Availability::Partial => "partial",
                    Availability::OutOfStock => "out_of_stock",
                    Availability::NotStocked => "not_stocked",
                },
                on_hand: l.on_hand.unwrap_or(0),
                aisle: l.aisle.clone().unwrap_or_default(),
            })
            .collect(),
        cart_total: money(v.cart.total_cents),
        purchase_points: 0,
    }
}
