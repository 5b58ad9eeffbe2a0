//! What the hub's queries answer, built from a transaction's rows. Used by reads and by
//! writes alike (a write publishes the state it just made).

use omnikiosk_protocol::wire::{
    CartRecord, ConflictRecord, CustomerProfile, CustomerRecord, HelpRecord, OrderDetail, OrderEvent, OrderRecord, OrderStatus, StaffRecord,
    StaffRole, Timeline, TimelineEntry, Touch,
};

use omnikiosk_protocol::shift::ZReport;
use omnikiosk_protocol::till::Receipt;
use omnikiosk_protocol::wire::ReceiptLink;

use super::{FeedPage, HelpRow, HubTx, OrderFilter, OrderRow, ReceiptFilter, ReceiptRow, ShiftFilter, Stored, TimelineRow};
use crate::error::StorageError;
use crate::lookups::{LookupAudit, LookupOutcome};

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

/// A staff member's columns read back ([`super::sql::STAFF_COLS`]).
pub fn staff_record(row: (String, String, String, i64, String, String, bool, i64)) -> Stored<StaffRecord> {
    let (id, name, role, store_id, pin_salt, pin_hash, till, badge_version) = row;
    Ok(StaffRecord { id, name, role: staff_role(&role)?, store_id, pin_salt, pin_hash, till, badge_version })
}

/// A stored staff role read back.
pub fn staff_role(s: &str) -> Stored<StaffRole> {
    StaffRole::parse(s).ok_or_else(|| StorageError(format!("stored staff role {s:?}")))
}

/// A stored order status read back.
pub fn order_status(s: &str) -> Stored<OrderStatus> {
    OrderStatus::parse(s).ok_or_else(|| StorageError(format!("stored order status {s:?}")))
}

/// How many pages' worth of changes a pull page counts as remaining, at most.
pub const REMAINING_COUNTED_PAGES: i64 = 10;

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
    // Counted only so far (ten pages' worth), and only by the first page of the feed and
    // the pages that cross into a new stretch of that many sequence numbers: a store
    // catching up on 400,000 changes must not count them again for every page (counting
    // was a third of reading a page). The kiosk keeps its total as the largest it was
    // told; between counts, whether more waits is one index probe.
    let stretch = REMAINING_COUNTED_PAGES * limit;
    let counted = after == 0 || last_seq / stretch != after / stretch;
    let remaining = match (full, counted) {
        (false, _) => 0,
        (true, true) => tx.feed_count_after(scope, last_seq, stretch)?,
        (true, false) => tx.feed_count_after(scope, last_seq, 1)?,
    };
    Ok(FeedPage {
        changes: rows.into_iter().map(|r| r.body).collect(),
        last_seq,
        has_more: remaining > 0,
        remaining: (counted && remaining > 0).then_some(remaining as u64),
    })
}

/// A shopper as the store's screens name them: "Anna K.".
pub fn shopper_name(tx: &mut dyn HubTx, customer_id: &str) -> Stored<Option<String>> {
    Ok(tx.customer(customer_id)?.map(|c| format!("{} {}.", c.first_name, initial(&c.last_name))))
}

/// What a shopper is told of a colleague: the first word of the stored name ("Kasia"), or
/// the badge id of someone no longer on the staff list.
pub fn staff_first_name(tx: &mut dyn HubTx, staff_id: &str) -> Stored<String> {
    let name = tx.staff_name(staff_id)?;
    Ok(name.as_deref().and_then(|n| n.split_whitespace().next()).unwrap_or(staff_id).to_string())
}

/// A help request as the store's devices show it.
pub fn help_record(tx: &mut dyn HubTx, h: &HelpRow) -> Stored<HelpRecord> {
    let shopper = match &h.customer_id {
        Some(c) => shopper_name(tx, c)?,
        None => None,
    };
    let taken_by_name = match &h.taken_by {
        Some(s) => Some(staff_first_name(tx, s)?),
        None => None,
    };
    Ok(HelpRecord {
        id: h.id.clone(),
        store_id: h.store_id,
        device_id: h.device_id.clone(),
        customer_id: h.customer_id.clone(),
        shopper,
        raised_at: h.raised_at,
        taken_by: h.taken_by.clone(),
        taken_by_name,
        taken_at: h.taken_at,
    })
}

/// Where a timeline page ends: the time and op id of its last (oldest) entry. Its text
/// form, `<at>.<op id in hex>`, is opaque to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineCursor {
    pub at: i64,
    pub op_id: String,
}

impl TimelineCursor {
    pub fn parse(text: &str) -> Option<TimelineCursor> {
        let (at, op_id) = text.trim().split_once('.')?;
        let op_id = String::from_utf8(hex::decode(op_id).ok()?).ok()?;
        Some(TimelineCursor { at: at.parse().ok()?, op_id })
    }
}

impl std::fmt::Display for TimelineCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, hex::encode(&self.op_id))
    }
}

/// A customer's touchpoints, newest first, after `after` (the `next` of the page before),
/// at most `limit`; `None` for a customer the hub does not know.
pub fn timeline(tx: &mut dyn HubTx, customer_id: &str, after: Option<&TimelineCursor>, limit: u32) -> Stored<Option<Timeline>> {
    if tx.customer(customer_id)?.is_none() {
        return Ok(None);
    }
    let limit = limit.max(1) as usize;
    let before = after.map(|c| (c.at, c.op_id.as_str()));
    let mut rows = tx.timeline(customer_id, before, limit as i64 + 1)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let entries = rows.into_iter().map(timeline_entry).collect::<Stored<Vec<_>>>()?;
    let next = match entries.last() {
        Some(last) if more => Some(TimelineCursor { at: last.at, op_id: last.id.clone() }.to_string()),
        _ => None,
    };
    Ok(Some(Timeline { entries, next }))
}

/// A stored touchpoint read back.
fn timeline_entry(r: TimelineRow) -> Stored<TimelineEntry> {
    let order = |o: Option<String>| o.ok_or_else(|| StorageError(format!("touchpoint {} has no order", r.op_id)));
    let touch = match r.kind.as_str() {
        "seen" => Touch::Visit,
        "checkin" => Touch::Checkin { order_id: order(r.order_id)? },
        "pickup" => Touch::Pickup { order_id: order(r.order_id)? },
        "help" => Touch::Help,
        "cart_add" => Touch::CartAdd { sku: r.sku.ok_or_else(|| StorageError(format!("touchpoint {} has no product", r.op_id)))? },
        kind @ ("sale" | "return") => match (r.receipt, r.total_cents) {
            (Some(receipt), Some(total_cents)) if kind == "sale" => Touch::Sale { receipt, total_cents },
            (Some(receipt), Some(total_cents)) => Touch::Return { receipt, total_cents },
            _ => return Err(StorageError(format!("touchpoint {} has no receipt", r.op_id))),
        },
        "feedback" => Touch::Feedback { score: r.score.ok_or_else(|| StorageError(format!("answer {} has no score", r.op_id)))?, csat: r.csat },
        other => return Err(StorageError(format!("stored touchpoint kind {other:?}"))),
    };
    Ok(TimelineEntry { id: r.op_id, at: r.at, store_id: r.store_id, touch })
}

/// A recorded receipt read back, as it was pushed (less the shopper, once erased).
pub fn receipt(row: &ReceiptRow) -> Stored<Receipt> {
    Ok(serde_json::from_str(&row.body)?)
}

/// The receipt numbered `number`.
pub fn receipt_by_number(tx: &mut dyn HubTx, number: &str) -> Stored<Option<Receipt>> {
    tx.receipts(ReceiptFilter::Number(number))?.first().map(receipt).transpose()
}

/// Where the device's receipt chain stands at the hub: its highest sequence and that
/// receipt's hash.
pub fn last_receipt(tx: &mut dyn HubTx, device_id: &str) -> Stored<Option<ReceiptLink>> {
    Ok(tx.receipts(ReceiptFilter::LastOfDevice(device_id))?.into_iter().next().map(|r| ReceiptLink { seq: r.seq, hash: r.hash }))
}

/// One page of what a channel list (`/v1/sales`, `/v1/shifts`) holds, in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPage<T> {
    pub items: Vec<T>,
    /// Position of the last item in the page, or the one asked after.
    pub last: i64,
    pub has_more: bool,
}

/// The page of `rows`, read with one more than `limit` to learn whether more follow.
fn commit_page<R, T>(mut rows: Vec<R>, limit: usize, after: i64, position: impl Fn(&R) -> i64, item: impl Fn(&R) -> Stored<T>) -> Stored<CommitPage<T>> {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let last = rows.last().map_or(after, position);
    Ok(CommitPage { items: rows.iter().map(item).collect::<Stored<_>>()?, last, has_more })
}

/// Receipts of the store (or every store) recorded after position `after`, at most `limit`.
pub fn sales(tx: &mut dyn HubTx, store_id: Option<i64>, after: i64, limit: u32) -> Stored<CommitPage<Receipt>> {
    let limit = limit.max(1) as usize;
    let rows = tx.receipts(ReceiptFilter::After { store_id, position: after, limit: limit as i64 + 1 })?;
    commit_page(rows, limit, after, |r| r.position, receipt)
}

/// Z reports of the store (or every store) recorded after position `after`, at most `limit`.
pub fn shifts(tx: &mut dyn HubTx, store_id: Option<i64>, after: i64, limit: u32) -> Stored<CommitPage<ZReport>> {
    let limit = limit.max(1) as usize;
    let rows = tx.shifts(ShiftFilter::After { store_id, position: after, limit: limit as i64 + 1 })?;
    commit_page(rows, limit, after, |r| r.position, |r| Ok(serde_json::from_str(&r.body)?))
}

/// Lookups of the store (or every store) recorded after position `after`, at most `limit`.
pub fn lookups(tx: &mut dyn HubTx, store_id: Option<i64>, after: i64, limit: u32) -> Stored<CommitPage<LookupAudit>> {
    let limit = limit.max(1) as usize;
    let rows = tx.lookups(store_id, after, limit as i64 + 1)?;
    commit_page(rows, limit, after, |r| r.position, |r| {
        let outcome = LookupOutcome::parse(&r.outcome).ok_or_else(|| StorageError(format!("stored lookup outcome {:?}", r.outcome)))?;
        Ok(LookupAudit { at: r.at, store_id: r.store_id, device_id: r.device_id.clone(), kind: r.kind.clone(), outcome, customer_id: r.customer_id.clone() })
    })
}
