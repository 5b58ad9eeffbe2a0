//! The shopper's one screen after a scan: who they are, their points, their online cart
//! with what is in stock here and where, and their click-and-collect orders.

use omnikiosk_protocol::wire::{CartLine, CustomerRecord, OrderRecord, OrderStatus, ProductRecord, StockRecord};
use serde::Serialize;

/// Whether a cart line can be taken off the shelf in this store today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// At least the wanted quantity is on the shelf.
    InStock,
    /// Some, but fewer than wanted.
    Partial,
    OutOfStock,
    /// This store does not carry the product.
    NotStocked,
}

impl Availability {
    pub fn of(wanted: i64, stock: Option<&StockRecord>) -> Availability {
        match stock {
            None => Availability::NotStocked,
            Some(s) if s.on_hand >= wanted => Availability::InStock,
            Some(s) if s.on_hand > 0 => Availability::Partial,
            Some(_) => Availability::OutOfStock,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CartLineView {
    pub sku: String,
    /// `None` when the catalogue on this kiosk does not know the SKU (yet).
    pub name: Option<String>,
    pub qty: i64,
    pub unit_price_cents: Option<i64>,
    pub line_total_cents: Option<i64>,
    pub on_hand: Option<i64>,
    pub aisle: Option<String>,
    pub availability: Availability,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    pub items: i64,
    /// Sum of the lines whose price is known.
    pub total_cents: i64,
}

impl CartView {
    /// `lookup` finds a SKU's catalogue entry and this store's stock of it.
    pub fn build(
        lines: &[CartLine],
        mut lookup: impl FnMut(&str) -> (Option<ProductRecord>, Option<StockRecord>),
    ) -> CartView {
        let lines: Vec<CartLineView> = lines
            .iter()
            .map(|l| {
                let (product, stock) = lookup(&l.sku);
                let unit = product.as_ref().map(|p| p.price_cents);
                CartLineView {
                    sku: l.sku.clone(),
                    name: product.map(|p| p.name),
                    qty: l.qty,
                    unit_price_cents: unit,
                    line_total_cents: unit.map(|u| u * l.qty),
                    on_hand: stock.as_ref().map(|s| s.on_hand),
                    availability: Availability::of(l.qty, stock.as_ref()),
                    aisle: stock.map(|s| s.aisle),
                }
            })
            .collect();
        CartView {
            items: lines.iter().map(|l| l.qty).sum(),
            total_cents: lines.iter().filter_map(|l| l.line_total_cents).sum(),
            lines,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopperView {
    /// `points` is the hub's balance plus what this kiosk earned or redeemed and the hub
    /// has not confirmed yet.
    pub customer: CustomerRecord,
    /// The unconfirmed part of `customer.points`.
    pub points_pending: i64,
    pub cart: CartView,
    /// Waiting at the pickup desk: the shopper can say "I'm here".
    pub ready_for_pickup: Vec<OrderRecord>,
    /// Placed or being picked, soonest promised first.
    pub in_preparation: Vec<OrderRecord>,
}

impl ShopperView {
    /// Sorts the customer's orders at this store into what the screen shows; finished
    /// orders (collected, cancelled, expired) are history and not shown.
    pub fn new(customer: CustomerRecord, cart: CartView, orders: Vec<OrderRecord>) -> ShopperView {
        let (mut ready, mut preparing): (Vec<_>, Vec<_>) = orders
            .into_iter()
            .filter(|o| !o.status.is_final())
            .partition(|o| o.status == OrderStatus::Ready);
        ready.sort_by_key(|o| o.promised_ready_at);
        preparing.sort_by_key(|o| o.promised_ready_at);
        ShopperView { customer, points_pending: 0, cart, ready_for_pickup: ready, in_preparation: preparing }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(on_hand: i64) -> StockRecord {
        StockRecord { store_id: 1, sku: "x".into(), on_hand, aisle: "B4".into() }
    }

    #[test]
    fn availability_table() {
        let cases = [
            (2, Some(5), Availability::InStock),
            (2, Some(2), Availability::InStock),
            (3, Some(1), Availability::Partial),
            (1, Some(0), Availability::OutOfStock),
            (1, None, Availability::NotStocked),
        ];
        for (wanted, on_hand, expected) in cases {
            let s = on_hand.map(stock);
            assert_eq!(Availability::of(wanted, s.as_ref()), expected, "wanted {wanted}, on hand {on_hand:?}");
        }
    }

    #[test]
    fn cart_total_counts_known_prices_and_shows_aisle() {
        let lines = vec![CartLine { sku: "a".into(), qty: 2 }, CartLine { sku: "unknown".into(), qty: 1 }];
        let cart = CartView::build(&lines, |sku| match sku {
            "a" => (
                Some(ProductRecord { sku: "a".into(), name: "Oat milk".into(), price_cents: 199, category: "Dairy".into(), vat_bp: 500, ..Default::default() }),
                Some(stock(10)),
            ),
            _ => (None, None),
        });
        assert_eq!(cart.items, 3);
        assert_eq!(cart.total_cents, 398);
        assert_eq!(cart.lines[0].aisle.as_deref(), Some("B4"));
        assert_eq!(cart.lines[1].name, None);
        assert_eq!(cart.lines[1].availability, Availability::NotStocked);
    }
}
