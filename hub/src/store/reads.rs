//! What the hub's queries answer, built from a transaction's rows. Used by reads and by
//! writes alike (a write publishes the state it just made).

use omnikiosk_protocol::wire::{
    CartRecord, ConflictRecord, CustomerProfile, CustomerRecord, OrderDetail, OrderEvent, OrderRecord, OrderStatus, StaffRecord,
    StaffRole,
};

use super::{FeedPage, HubTx, OrderFilter, OrderRow, Stored};
use crate::error::StorageError;

/// A customer as a kiosk sees them: first name and initial, tier, points, cards.
pub fn customer_record(tx: &mut dyn HubTx, id: &str) -> Stored<Option<CustomerRecord>> {
    let Some(row) = tx.customer(id)? else { return Ok(None) };
    Ok(Some(CustomerRecord {
        id: id.to_string(),
        first_name: row.first_name,
        last_initial: initial(&row.last_name),
        tier: row.tier,
        language: row.language,
        points: tx.points(id)?,
        home_store: row.home_store,
        loyalty_cards: tx.cards(id)?,
    }))
}

/// The last name's first letter, upper case: all a kiosk keeps of it.
pub fn initial(last_name: &str) -> String {
    last_name.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default()
}

/// The whole profile, for the channel.
pub fn customer_profile(tx: &mut dyn HubTx, id: &str) -> Stored<Option<CustomerProfile>> {
    let Some(row) = tx.customer(id)? else { return Ok(None) };
    Ok(Some(CustomerProfile {
        id: id.to_string(),
        first_name: row.first_name,
        last_name: row.last_name,
        tier: row.tier,
        home_store: row.home_store,
        language: row.language,
        email: row.email,
        points: tx.points(id)?,
        loyalty_cards: tx.cards(id)?,
        cart: cart_record(tx, id)?.map(|c| c.lines).unwrap_or_default(),
    }))
}

pub fn cart_record(tx: &mut dyn HubTx, id: &str) -> Stored<Option<CartRecord>> {
    match tx.cart(id)? {
        Some((lines, updated_at)) => Ok(Some(CartRecord { customer_id: id.to_string(), lines: serde_json::from_str(&lines)?, updated_at })),
        None => Ok(None),
    }
}

/// The orders `filter` selects, oldest first.
pub fn orders(tx: &mut dyn HubTx, filter: OrderFilter<'_>) -> Stored<Vec<OrderRecord>> {
    tx.orders(filter)?.into_iter().map(order_record).collect()
}

/// A stored order read back.
pub fn order_record(row: OrderRow) -> Stored<OrderRecord> {
    let (id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version) = row;
    let (status, lines) = (order_status(&status)?, serde_json::from_str(&lines)?);
    Ok(OrderRecord { id, store_id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version })
}

/// Rejected ops, of one store or all, oldest first.
pub fn conflicts(tx: &mut dyn HubTx, store_id: Option<i64>) -> Stored<Vec<ConflictRecord>> {
    tx.conflicts(store_id)?
        .into_iter()
        .map(|(op_id, device_id, store_id, name, body, kiosk_time, code, message, facts, at)| {
            let op = serde_json::from_str(&body)?;
            let hub_facts = facts.map(|f| serde_json::from_str(&f)).transpose()?;
            Ok(ConflictRecord { op_id, device_id, store_id, name, op, kiosk_time, code, message, hub_facts, at })
        })
        .collect()
}

/// An order with its history.
pub fn order_detail(tx: &mut dyn HubTx, id: &str) -> Stored<Option<OrderDetail>> {
    let Some(order) = orders(tx, OrderFilter::Id(id))?.into_iter().next() else { return Ok(None) };
    let history = tx
        .order_events(id)?
        .into_iter()
        .map(|(at, status, by, note)| Ok(OrderEvent { at, status: order_status(&status)?, by, note }))
        .collect::<Stored<Vec<_>>>()?;
    Ok(Some(OrderDetail { order, history }))
}

/// A staff member's columns read back: id, name, role, store, PIN salt and hash.
pub fn staff_record(row: (String, String, String, i64, String, String)) -> Stored<StaffRecord> {
    let (id, name, role, store_id, pin_salt, pin_hash) = row;
    let role = StaffRole::parse(&role).ok_or_else(|| StorageError(format!("stored staff role {role:?}")))?;
    Ok(StaffRecord { id, name, role, store_id, pin_salt, pin_hash })
}

/// A stored order status read back.
pub fn order_status(s: &str) -> Stored<OrderStatus> {
    OrderStatus::parse(s).ok_or_else(|| StorageError(format!("stored order status {s:?}")))
}

/// Changes after `after` in scopes `global` and `scope`, at most about `limit`: a page is
/// extended to hold its last server transaction whole, so a kiosk never applies half of
/// one.
pub fn feed_page(tx: &mut dyn HubTx, scope: &str, after: i64, limit: u32) -> Stored<FeedPage> {
    let limit = i64::from(limit.max(1));
    let mut rows = tx.feed_after(scope, after, limit)?;
    let full = rows.len() as i64 == limit;
    if full {
        if let Some(last) = rows.last() {
            let (txid, seq) = (last.txid, last.seq);
            rows.extend(tx.feed_tx_rest(scope, txid, seq)?);
        }
    }
    let last_seq = rows.last().map(|r| r.seq).unwrap_or(after);
    let remaining = if full { tx.feed_count_after(scope, last_seq)? } else { 0 };
    Ok(FeedPage {
        changes: rows.into_iter().map(|r| r.body).collect(),
        last_seq,
        has_more: remaining > 0,
        remaining: (remaining > 0).then_some(remaining as u64),
    })
}
