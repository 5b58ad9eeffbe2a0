//! The pickup desk as staff and the manager see it: which orders belong under which tab
//! of the queue, what is late, who is waiting and which ready orders are about to become
//! no-shows. Pure functions of the orders, the waiting list and the time.

use std::collections::HashSet;

use omnikiosk_protocol::wire::{OrderRecord, OrderStatus};

/// A shopper who said "I'm here" for a ready order that is not handed over yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waiting {
    pub order: OrderRecord,
    pub first_name: String,
    /// When they checked in (the first time, if twice).
    pub since: i64,
    /// The device of the store they checked in at (the first time), when known.
    pub device_id: Option<String>,
}

/// The tabs of the staff queue, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueTab {
    /// Placed online, nobody has started picking.
    New,
    Picking,
    Ready,
    /// Ready, and the shopper said "I'm here".
    Waiting,
    /// Not ready although its promised time has passed.
    Overdue,
}

impl QueueTab {
    pub const ALL: [QueueTab; 5] = [QueueTab::New, QueueTab::Picking, QueueTab::Ready, QueueTab::Waiting, QueueTab::Overdue];

    pub fn index(self) -> usize {
        QueueTab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    pub fn from_index(i: usize) -> QueueTab {
        QueueTab::ALL.get(i).copied().unwrap_or(QueueTab::New)
    }
}

/// Whether a ready or being-prepared order is late: not ready by its promised time.
pub fn is_overdue(o: &OrderRecord, now: i64) -> bool {
    matches!(o.status, OrderStatus::Placed | OrderStatus::Picking) && o.promised_ready_at < now
}

/// The orders under one tab, most urgent first (the store's queue is already ordered by
/// promised time; the waiting tab is ordered by how long the shopper has waited).
pub fn queue<'a>(tab: QueueTab, orders: &'a [OrderRecord], waiting: &'a [Waiting], now: i64) -> Vec<&'a OrderRecord> {
    match tab {
        QueueTab::New => orders.iter().filter(|o| o.status == OrderStatus::Placed).collect(),
        QueueTab::Picking => orders.iter().filter(|o| o.status == OrderStatus::Picking).collect(),
        QueueTab::Ready => orders.iter().filter(|o| o.status == OrderStatus::Ready).collect(),
        QueueTab::Waiting => waiting.iter().map(|w| &w.order).collect(),
        QueueTab::Overdue => orders.iter().filter(|o| is_overdue(o, now)).collect(),
    }
}

/// How many orders each tab holds, in [`QueueTab::ALL`] order.
pub fn tab_counts(orders: &[OrderRecord], waiting: &[Waiting], now: i64) -> [usize; 5] {
    QueueTab::ALL.map(|t| queue(t, orders, waiting, now).len())
}

/// What the manager screen shows about the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskSummary {
    pub placed: usize,
    pub picking: usize,
    pub ready: usize,
    pub waiting: usize,
    /// Late orders with how many seconds past their promised time, latest first.
    pub overdue: Vec<(OrderRecord, i64)>,
    /// Waiting shoppers with how many seconds they have waited, longest first.
    pub waiting_now: Vec<(Waiting, i64)>,
    /// Ready orders that expire as no-shows within a day, with seconds left, soonest first.
    pub expiring: Vec<(OrderRecord, i64)>,
}

/// A ready order the shopper has not collected expires this long after its promised time
/// (the hub's `--no-show-days`); the manager is warned a day before.
pub const EXPIRY_WARNING_SECS: i64 = 86_400;

pub fn summary(orders: &[OrderRecord], waiting: &[Waiting], now: i64, no_show_secs: i64) -> DeskSummary {
    let count = |s: OrderStatus| orders.iter().filter(|o| o.status == s).count();
    let mut overdue: Vec<_> =
        orders.iter().filter(|o| is_overdue(o, now)).map(|o| (o.clone(), now - o.promised_ready_at)).collect();
    overdue.sort_by_key(|(_, late)| -late);
    let waiting_ids: HashSet<&str> = waiting.iter().map(|w| w.order.id.as_str()).collect();
    let mut expiring: Vec<_> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Ready)
        .map(|o| (o.clone(), o.promised_ready_at + no_show_secs - now))
        .filter(|(o, left)| *left <= EXPIRY_WARNING_SECS && !waiting_ids.contains(o.id.as_str()))
        .collect();
    expiring.sort_by_key(|(_, left)| *left);
    DeskSummary {
        placed: count(OrderStatus::Placed),
        picking: count(OrderStatus::Picking),
        ready: count(OrderStatus::Ready),
        waiting: waiting.len(),
        overdue,
        waiting_now: waiting.iter().map(|w| (w.clone(), now - w.since)).collect(),
        expiring,
    }
}

/// Where a shopper stands among those waiting for this order's handover (1 = next).
pub fn position(waiting: &[Waiting], order_id: &str) -> Option<usize> {
    waiting.iter().position(|w| w.order.id == order_id).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnikiosk_protocol::wire::OrderLine;

    fn order(id: &str, status: OrderStatus, promised: i64) -> OrderRecord {
        OrderRecord {
            id: id.into(),
            store_id: 1,
            customer_id: "C1".into(),
            status,
            pickup_code: "123456".into(),
            lines: vec![OrderLine { sku: "S".into(), name: "Tea".into(), qty: 1, picked: None }],
            placed_at: 0,
            promised_ready_at: promised,
            updated_at: 0,
            version: 1,
        }
    }

    #[test]
    fn tabs_sort_the_queue_as_the_desk_works_it() {
        let now = 10_000;
        let orders = vec![
            order("late-new", OrderStatus::Placed, now - 600),
            order("new", OrderStatus::Placed, now + 600),
            order("picking-late", OrderStatus::Picking, now - 60),
            order("ready", OrderStatus::Ready, now - 3600),
            order("ready-waited", OrderStatus::Ready, now),
            order("gone", OrderStatus::Collected, now - 7200),
        ];
        let waiting = vec![Waiting { order: orders[4].clone(), first_name: "Anna".into(), since: now - 120, device_id: None }];
        let ids = |t| queue(t, &orders, &waiting, now).iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(QueueTab::New), ["late-new", "new"]);
        assert_eq!(ids(QueueTab::Picking), ["picking-late"]);
        assert_eq!(ids(QueueTab::Ready), ["ready", "ready-waited"]);
        assert_eq!(ids(QueueTab::Waiting), ["ready-waited"]);
        assert_eq!(ids(QueueTab::Overdue), ["late-new", "picking-late"], "a ready order is not late");
        assert_eq!(tab_counts(&orders, &waiting, now), [2, 1, 2, 1, 2]);

        let s = summary(&orders, &waiting, now, 7 * 86_400);
        assert_eq!((s.placed, s.picking, s.ready, s.waiting), (2, 1, 2, 1));
        assert_eq!(s.overdue.iter().map(|(o, late)| (o.id.as_str(), *late)).collect::<Vec<_>>(), [("late-new", 600), ("picking-late", 60)]);
        assert_eq!(s.waiting_now[0].1, 120);
        assert!(s.expiring.is_empty(), "a week to go is not 'about to expire'");
        let s = summary(&orders, &waiting, now, 3000);
        assert_eq!(s.expiring.iter().map(|(o, left)| (o.id.as_str(), *left)).collect::<Vec<_>>(), [("ready", -600)],
            "the waiting shopper's order is not a no-show");
        assert_eq!(position(&waiting, "ready-waited"), Some(1));
        assert_eq!(position(&waiting, "ready"), None);
    }
}
