//! Writes that keep the change feed in step: whatever a kiosk shows that a write
//! changed is appended to the feed of every store it is relevant to, in the same
//! transaction. Channel writes, the seed, erasure, no-shows, what the store's devices
//! share (help requests, PIN failures, answers, device health) and their expiry live
//! here, once.

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::returns::origin_of;
use omnikiosk_protocol::rules::pin_step;
use omnikiosk_protocol::shift::ZReport;
use omnikiosk_protocol::till::{Receipt, ReceiptKind};
use omnikiosk_protocol::wire::{
    CartLine, CartRecord, Change, CheckinRecord, CustomerRecord, CustomerUpsert, FeedbackRecord, LookupResponse, OrderCreate, OrderDetail,
    OrderLine, OrderRecord, OrderStatus, PinFailuresRecord, PinState, SaleRecord, StaffRecord,
};
use omnikiosk_protocol::wire::LoyaltyRules;
use rand::Rng;

use super::reads::{cart_record, customer_record, help_record, initial, order_detail, orders, receipt};
use super::{store_scope, CustomerRow, HelpFilter, HelpRow, HubTx, LedgerEntry, LookupRow, OrderFilter, ReceiptFilter, ReceiptRow, Relevance, ShiftRow, Stored};
use crate::error::{HubError, StorageError};
use crate::lookups::LookupOutcome;
use crate::seed::SeedData;

thread_local! {
    /// The scopes the transaction running on this thread appended to (a backend runs a
    /// job and its commit on one thread): after the commit, only their long-polls wake.
    static WRITTEN: std::cell::RefCell<std::collections::BTreeSet<String>> = Default::default();
}

/// Runs `job`, answering what it answered and the scopes it appended to the feed.
pub fn recording_scopes<T>(job: impl FnOnce() -> T) -> (T, Vec<String>) {
    WRITTEN.with(|w| w.borrow_mut().clear());
    let out = job();
    (out, WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut())).into_iter().collect())
}

/// The one way a change enters the feed.
pub(super) fn feed(tx: &mut dyn HubTx, scope: &str, key: &str, change: &Change) -> Stored<()> {
    tx.feed(scope, key, &serde_json::to_string(change)?)?;
    WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        if !w.contains(scope) {
            w.insert(scope.to_string());
        }
    });
    Ok(())
}

/// Appends the customer's profile to the feed of every store they are relevant to.
pub fn publish_customer(tx: &mut dyn HubTx, id: &str) -> Stored<()> {
    let Some(record) = customer_record(tx, id)? else { return Ok(()) };
    let change = Change::Customer(record);
    for store in tx.stores_of_customer(id)? {
        feed(tx, &store_scope(store), &format!("customer:{id}"), &change)?;
    }
    Ok(())
}

/// Writes the customer's cart and appends it to the feed of every store they are
/// relevant to: the one way a cart changes, for the channel and for "save for later".
fn store_cart(tx: &mut dyn HubTx, id: &str, lines: &[CartLine], now: i64) -> Stored<()> {
    tx.put_cart(id, &serde_json::to_string(lines)?, now)?;
    let Some(cart) = cart_record(tx, id)? else { return Ok(()) };
    let change = Change::Cart(cart);
    for store in tx.stores_of_customer(id)? {
        feed(tx, &store_scope(store), &format!("cart:{id}"), &change)?;
    }
    Ok(())
}
/// "Save for later": one more of `sku` in the customer's online cart (`rules::cart_effect`).
pub fn add_to_cart(tx: &mut dyn HubTx, id: &str, op: &OpBody, now: i64) -> Stored<()> {
    let mut lines = cart_record(tx, id)?.map(|c| c.lines).unwrap_or_default();
    omnikiosk_protocol::rules::cart_effect(&mut lines, op);
    store_cart(tx, id, &lines, now)
}

/// "Buy here": what a sale took from the shopper's online cart leaves it
/// (`rules::cart_after_sale`).
fn take_from_cart(tx: &mut dyn HubTx, id: &str, receipt: &Receipt, now: i64) -> Stored<()> {
    if !receipt.lines.iter().any(|l| l.from_cart) {
        return Ok(());
    }
    let Some(cart) = cart_record(tx, id)? else { return Ok(()) };
    let mut lines = cart.lines;
    omnikiosk_protocol::rules::cart_after_sale(&mut lines, receipt);
    store_cart(tx, id, &lines, now)
}

/// A receipt at the till, recorded by its op (applied once, so all of this happens once):
/// the receipt, the store's stock less what left it (a return's lines, of negative
/// quantity, put theirs back), the shopper's points earned, redeemed and refunded as
/// points (ledger rows keyed by the op; a return's earned and redeemed are negative, and
/// its balance may go below zero when the points it takes back were spent already), the
/// lines a sale bought here out of their online cart (a return leaves the cart alone),
/// and the receipt in the store's feed for the manager's numbers and the store's returns.
/// `points_earned` is what the shopper is credited: the chain's rule's number
/// ([`Receipt::points_by_rule`]), which the receipt's own may differ from.
pub fn record_sale(tx: &mut dyn HubTx, op_id: &str, receipt: &Receipt, points_earned: i64, now: i64) -> Stored<()> {
    // Taken in this write: feed writers run one at a time on both backends (on PostgreSQL
    // the `WRITERS_LOCK` taken at begin, and the counter row stays locked to commit), so
    // positions follow commit order and a `/v1/sales` cursor never passes a receipt that
    // commits later.
    let position = tx.next_counter("receipts")?;
    tx.insert_receipt(&ReceiptRow {
        position,
        number: receipt.number.clone(),
        store_id: receipt.store_id,
        device_id: receipt.device_id.clone(),
        seq: receipt.seq,
        op_id: op_id.to_string(),
        kind: receipt.kind.as_str().to_string(),
        customer_id: receipt.customer_id.clone(),
        total_cents: receipt.total_cents,
        at: receipt.at,
        hash: receipt.hash.clone(),
        body: serde_json::to_string(receipt)?,
        origin: origin_of(receipt).map(str::to_string),
    })?;
    let (store_id, scope) = (receipt.store_id, store_scope(receipt.store_id));
    let mut sold: std::collections::BTreeMap<&str, i64> = Default::default();
    for l in &receipt.lines {
        *sold.entry(&l.sku).or_default() += l.qty;
    }
    // What left the store: on_hand may go below zero (the count was wrong, not the sale).
    for (sku, qty) in sold {
        tx.add_stock(store_id, sku, -qty)?;
        if let Some(stock) = tx.stock(store_id, sku)? {
            feed(tx, &scope, &super::stock_key(&sku), &Change::Stock(stock))?;
        }
    }
    if let Some(customer_id) = receipt.customer_id.as_deref() {
        let reason = format!("{} {}", receipt.kind.as_str(), receipt.number);
        let (redeem_id, refund_id) = (format!("{op_id}:redeem"), format!("{op_id}:refund"));
        let moves = [(op_id, points_earned), (redeem_id.as_str(), -receipt.points_redeemed), (refund_id.as_str(), receipt.points_refunded)];
        for (entry_id, delta) in moves.into_iter().filter(|(_, d)| *d != 0) {
            tx.add_ledger(&LedgerEntry { op_id: entry_id, customer_id, delta, reason: &reason, at: now, device_id: Some(&receipt.device_id) })?;
        }
        // Bought (or brought back) here: relevant here, so the store's devices see the new balance.
        attach(tx, customer_id, store_id, Relevance::Seen, now)?;
        if receipt.kind == ReceiptKind::Sale {
            take_from_cart(tx, customer_id, receipt, now)?;
        }
        publish_customer(tx, customer_id)?;
    }
    let sale = SaleRecord {
        number: receipt.number.clone(),
        store_id,
        device_id: receipt.device_id.clone(),
        kind: receipt.kind,
        total_cents: receipt.total_cents,
        at: receipt.at,
        receipt: Some(Box::new(receipt.clone())),
    };
    feed(tx, &scope, &format!("sale:{}", receipt.number), &Change::Sale(sale))
}

/// A shift's close, recorded by its op: the Z report kept once, and shared with every
/// device of its store (each manager view lists the store's shifts).
pub fn record_shift(tx: &mut dyn HubTx, op_id: &str, report: &ZReport) -> Stored<()> {
    // Taken in this write, as a receipt's position is (see `record_sale`): commit order.
    let position = tx.next_counter("shifts")?;
    tx.insert_shift(&ShiftRow {
        position,
        store_id: report.store_id,
        device_id: report.device_id.clone(),
        z_number: report.z_number,
        op_id: op_id.to_string(),
        closed_at: report.closed_at,
        body: serde_json::to_string(report)?,
    })?;
    let key = format!("shift:{}:{}", report.device_id, report.z_number);
    feed(tx, &store_scope(report.store_id), &key, &Change::Shift(report.clone()))
}

/// Appends the order as it now stands to its store's feed.
pub fn publish_order(tx: &mut dyn HubTx, id: &str) -> Stored<OrderDetail> {
    let detail = order_detail(tx, id)?.ok_or_else(|| StorageError(format!("order {id} vanished inside its own transaction")))?;
    feed(tx, &store_scope(detail.order.store_id), &format!("order:{id}"), &Change::Order(detail.order.clone()))?;
    Ok(detail)
}

/// Makes a customer relevant to a store; when new, their current state enters its feed.
/// When they were relevant there by lookup alone, that is renewed, or made lasting
/// ([`Relevance::after_lookup`]).
pub fn attach(tx: &mut dyn HubTx, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Stored<()> {
    if !tx.attach(customer_id, store_id, why, now)? {
        return tx.renew_lookup(customer_id, store_id, why.after_lookup(), now);
    }
    let scope = store_scope(store_id);
    if let Some(c) = customer_record(tx, customer_id)? {
        feed(tx, &scope, &format!("customer:{customer_id}"), &Change::Customer(c))?;
    }
    if let Some(cart) = cart_record(tx, customer_id)? {
        feed(tx, &scope, &format!("cart:{customer_id}"), &Change::Cart(cart))?;
    }
    Ok(())
}

/// Moves an order to `status` with its event and publishes it; an order that ends takes
/// its check-in off every device of the store.
pub fn move_order(tx: &mut dyn HubTx, order: &OrderRecord, status: OrderStatus, by: &str, note: Option<&str>, now: i64) -> Stored<OrderDetail> {
    tx.update_order(&order.id, status, &serde_json::to_string(&order.lines)?, now)?;
    tx.add_order_event(&order.id, now, status, by, note)?;
    if status.is_final() {
        end_checkin(tx, &order.id, order.store_id, now)?;
    }
    publish_order(tx, &order.id)
}

/// Takes the order's open check-in off every device of the store, if it has one.
fn end_checkin(tx: &mut dyn HubTx, order_id: &str, store_id: i64, now: i64) -> Stored<bool> {
    if !tx.end_checkins(order_id, now)? {
        return Ok(false);
    }
    feed(tx, &store_scope(store_id), &checkin_key(order_id), &Change::CheckinEnded { order_id: order_id.to_string() })?;
    Ok(true)
}

/// The feed key of an order's check-in: one per order, the newest check-in for it.
fn checkin_key(order_id: &str) -> String {
    format!("checkin:{order_id}")
}

/// Shares a check-in with every device of the store, while its order is open.
pub fn publish_checkin(tx: &mut dyn HubTx, order: &OrderRecord, checkin: CheckinRecord) -> Stored<()> {
    if order.status.is_final() {
        return Ok(());
    }
    feed(tx, &store_scope(order.store_id), &checkin_key(&order.id), &Change::Checkin(checkin))
}

fn require_customer(tx: &mut dyn HubTx, id: &str) -> Result<(), HubError> {
    match tx.customer(id)? {
        Some(_) => Ok(()),
        None => Err(HubError::NotFound(format!("customer {id} not found"))),
    }
}

/// Replaces the chain's loyalty rule and publishes it to every kiosk (`global`).
pub fn set_loyalty_rules(tx: &mut dyn HubTx, rules: &LoyaltyRules) -> Stored<()> {
    tx.set_loyalty_rules(rules)?;
    feed(tx, super::GLOBAL_SCOPE, "loyalty_rule", &Change::LoyaltyRule(rules.clone()))
}

/// Fills an empty hub; refuses one that already has stores.
pub fn seed(tx: &mut dyn HubTx, data: &SeedData) -> Result<(), HubError> {
    if tx.store_count()? > 0 {
        return Err(HubError::Conflict("this hub database already has stores; seed an empty database (a new --db)".into()));
    }
    for s in &data.stores {
        tx.insert_store(s)?;
        feed(tx, super::GLOBAL_SCOPE, &format!("store:{}", s.id), &Change::Store(s.clone()))?;
    }
    // Every other entity gets a feed transaction of its own: sharing one would make a
    // single page of, say, the whole store's stock.
    for p in &data.products {
        tx.new_feed_tx();
        tx.insert_product(p)?;
        feed(tx, super::GLOBAL_SCOPE, &super::product_key(&p.sku), &Change::Product(p.clone()))?;
    }
    for s in &data.stock {
        tx.new_feed_tx();
        tx.insert_stock(s)?;
        feed(tx, &store_scope(s.store_id), &super::stock_key(&s.sku), &Change::Stock(s.clone()))?;
    }
    for st in &data.staff {
        tx.new_feed_tx();
        tx.insert_staff(st)?;
        publish_staff(tx, st)?;
    }
    for c in &data.customers {
        tx.new_feed_tx();
        let row = CustomerRow {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            tier: c.tier.clone(),
            home_store: Some(c.home_store),
            language: c.language.clone(),
            email: c.email.clone(),
        };
        tx.put_customer(&c.id, &row, data.now)?;
        tx.set_cards(&c.id, std::slice::from_ref(&c.card))?;
        let op_id = format!("seed:{}", c.id);
        tx.add_ledger(&LedgerEntry { op_id: &op_id, customer_id: &c.id, delta: c.points, reason: "opening balance", at: data.now, device_id: None })?;
        if !c.cart.is_empty() {
            tx.put_cart(&c.id, &serde_json::to_string(&c.cart).map_err(StorageError::from)?, data.now)?;
        }
        tx.attach(&c.id, c.home_store, Relevance::HomeStore, data.now)?;
        // Published from what was just written, without reading it back.
        let record = CustomerRecord {
            id: c.id.clone(),
            first_name: c.first_name.clone(),
            last_initial: initial(&c.last_name),
            tier: c.tier.clone(),
            language: c.language.clone(),
            points: c.points,
            home_store: Some(c.home_store),
            loyalty_cards: vec![c.card.clone()],
        };
        let scope = store_scope(c.home_store);
        feed(tx, &scope, &format!("customer:{}", c.id), &Change::Customer(record))?;
        if !c.cart.is_empty() {
            let cart = CartRecord { customer_id: c.id.clone(), lines: c.cart.clone(), updated_at: data.now };
            feed(tx, &scope, &format!("cart:{}", c.id), &Change::Cart(cart))?;
        }
    }
    for (o, history) in &data.orders {
        tx.new_feed_tx();
        tx.insert_order(o)?;
        for e in history {
            tx.add_order_event(&o.id, e.at, e.status, &e.by, e.note.as_deref())?;
        }
        attach(tx, &o.customer_id, o.store_id, Relevance::Order, data.now)?;
        feed(tx, &store_scope(o.store_id), &format!("order:{}", o.id), &Change::Order(o.clone()))?;
    }
    for (store, last) in &data.order_counters {
        tx.set_counter(&format!("order:{store}"), *last)?;
    }
    Ok(())
}

pub fn upsert_customer(tx: &mut dyn HubTx, id: &str, body: &CustomerUpsert, now: i64) -> Result<(), HubError> {
    if let Some(home) = body.home_store {
        if tx.store(home)?.is_none() {
            return Err(HubError::BadRequest(format!("home_store {home} does not exist")));
        }
    }
    let row = CustomerRow {
        first_name: body.first_name.clone(),
        last_name: body.last_name.clone(),
        tier: body.tier.clone(),
        home_store: body.home_store,
        language: body.language.clone(),
        email: body.email.clone(),
    };
    tx.put_customer(id, &row, now)?;
    if let Some(home) = body.home_store {
        attach(tx, id, home, Relevance::HomeStore, now)?;
    }
    Ok(publish_customer(tx, id)?)
}

pub fn put_identifiers(tx: &mut dyn HubTx, id: &str, loyalty_cards: &[String]) -> Result<(), HubError> {
    require_customer(tx, id)?;
    for card in loyalty_cards {
        if let Some(owner) = tx.card_owner(card)?.filter(|o| o != id) {
            return Err(HubError::Conflict(format!("loyalty card {card} belongs to another customer ({owner})")));
        }
    }
    tx.set_cards(id, loyalty_cards)?;
    Ok(publish_customer(tx, id)?)
}

pub fn put_cart(tx: &mut dyn HubTx, id: &str, lines: &[CartLine], now: i64) -> Result<(), HubError> {
    require_customer(tx, id)?;
    for l in lines {
        if tx.product_name(&l.sku)?.is_none() {
            return Err(HubError::BadRequest(format!("unknown sku {}", l.sku)));
        }
    }
    Ok(store_cart(tx, id, lines, now)?)
}

/// Makes the customer relevant to the store (their state enters its feed) and returns
/// what a kiosk there shows of them.
pub fn attach_customer(tx: &mut dyn HubTx, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Result<LookupResponse, HubError> {
    let customer = customer_record(tx, customer_id)?.ok_or_else(|| HubError::NotFound("customer not found".into()))?;
    attach(tx, customer_id, store_id, why, now)?;
    Ok(LookupResponse {
        customer,
        cart: cart_record(tx, customer_id)?,
        orders: orders(tx, OrderFilter::CustomerAtStore(customer_id, store_id))?,
    })
}

pub fn place_order(tx: &mut dyn HubTx, body: &OrderCreate, now: i64) -> Result<OrderDetail, HubError> {
    let Some(store) = tx.store(body.store_id)? else {
        return Err(HubError::BadRequest(format!("store {} does not exist", body.store_id)));
    };
    if !store.click_collect {
        return Err(HubError::Conflict(format!("store {} ({}) offers no click & collect", store.id, store.name)));
    }
    if tx.customer(&body.customer_id)?.is_none() {
        return Err(HubError::BadRequest(format!("customer {} does not exist", body.customer_id)));
    }
    let mut lines = Vec::with_capacity(body.lines.len());
    for l in &body.lines {
        let name = tx.product_name(&l.sku)?.ok_or_else(|| HubError::BadRequest(format!("unknown sku {}", l.sku)))?;
        lines.push(OrderLine { sku: l.sku.clone(), name, qty: l.qty, picked: None });
    }
    let n = tx.next_counter(&format!("order:{}", body.store_id))?;
    let order = OrderRecord {
        id: format!("O-{}-{n}", body.store_id),
        store_id: body.store_id,
        customer_id: body.customer_id.clone(),
        status: OrderStatus::Placed,
        pickup_code: free_pickup_code(tx, body.store_id)?,
        lines,
        placed_at: now,
        // The store's pickup promise, unless the shop promised otherwise.
        promised_ready_at: body.promised_ready_at.unwrap_or(now + store.pickup_minutes * 60),
        updated_at: now,
        version: 1,
    };
    tx.insert_order(&order)?;
    tx.add_order_event(&order.id, now, OrderStatus::Placed, "channel", None)?;
    attach(tx, &body.customer_id, body.store_id, Relevance::Order, now)?;
    Ok(publish_order(tx, &order.id)?)
}

/// A pickup code no open order of the store uses.
fn free_pickup_code(tx: &mut dyn HubTx, store_id: i64) -> Result<String, HubError> {
    let mut rng = rand::thread_rng();
    for _ in 0..1000 {
        let code = format!("{:06}", rng.gen_range(0..1_000_000));
        if !tx.pickup_code_taken(store_id, &code)? {
            return Ok(code);
        }
    }
    Err(HubError::Conflict("no free pickup code: too many open orders in this store".into()))
}

pub fn cancel_order(tx: &mut dyn HubTx, id: &str, reason: &str, now: i64) -> Result<OrderDetail, HubError> {
    let current = order_detail(tx, id)?.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))?;
    if current.order.status.is_final() {
        return Err(HubError::Conflict(format!("order {id} is already {}", current.order.status)));
    }
    Ok(move_order(tx, &current.order, OrderStatus::Cancelled, "channel", Some(reason), now)?)
}

/// The rows erasure deletes: (table, the column holding the customer's id).
pub const ERASED: &[(&str, &str)] = &[
    ("customers", "id"),
    ("loyalty_cards", "customer_id"),
    ("carts", "customer_id"),
    ("loyalty_ledger", "customer_id"),
    ("customer_stores", "customer_id"),
];

/// The rows erasure keeps without the customer: (table, column, what it says instead,
/// whether the row has a version that must move on so kiosks take the change). Visits
/// and answers still count for the store; orders stay in its history.
pub const UNLINKED: &[(&str, &str, Option<&str>, bool)] = &[
    ("visits", "customer_id", None, false),
    ("feedback", "customer_id", None, false),
    ("help_requests", "customer_id", None, false),
    ("orders", "customer_id", Some("erased"), true),
    ("receipts", "customer_id", None, false),
    ("lookups", "customer_id", None, false),
];

/// Erases a customer everywhere: profile, identifiers, cart, points, links from orders,
/// visits (their timeline), feedback, help requests, receipts and the lookups' audit; their stores' feeds get
/// a tombstone, their orders and help requests a new version without them.
pub fn erase_customer(tx: &mut dyn HubTx, id: &str) -> Result<(), HubError> {
    require_customer(tx, id)?;
    let stores = tx.stores_of_customer(id)?;
    let theirs = orders(tx, OrderFilter::Customer(id))?;
    let help = tx.help_requests(HelpFilter::Customer(id))?;
    // A receipt keeps its hash (the next receipt of its device chains onto it) but no
    // longer names the shopper: it then verifies only against the copy the shopper holds.
    for row in tx.receipts(ReceiptFilter::Customer(id))? {
        let unlinked = Receipt { customer_id: None, ..receipt(&row)? };
        tx.set_receipt_body(&row.number, &serde_json::to_string(&unlinked).map_err(StorageError::from)?)?;
    }
    for (table, column) in ERASED {
        tx.delete_rows(table, column, id)?;
    }
    for (table, column, to, versioned) in UNLINKED {
        tx.unlink_rows(table, column, id, *to, *versioned)?;
    }
    let mut keys = vec![format!("customer:{id}"), format!("cart:{id}")];
    keys.extend(theirs.iter().map(|o| checkin_key(&o.id)));
    keys.extend(help.iter().map(|h| help_key(&h.id)));
    tx.drop_feed_entities(&keys)?;
    for store in stores {
        feed(tx, &store_scope(store), &format!("customer:{id}"), &Change::CustomerRemoved { id: id.to_string() })?;
    }
    for order in theirs {
        publish_order(tx, &order.id)?;
    }
    // Shared again without them: an open request stays on the screens with no name, a
    // closed one still ends at a device that had not pulled its end yet.
    for h in help {
        publish_help(tx, &HelpRow { customer_id: None, ..h })?;
    }
    Ok(())
}

/// Ready orders promised before `ready_before` become `expired` (no-shows), each in a
/// feed transaction of its own.
pub fn expire_no_shows(tx: &mut dyn HubTx, ready_before: i64, now: i64) -> Result<Vec<String>, HubError> {
    let mut due = orders(tx, OrderFilter::ReadyBefore(ready_before))?;
    due.sort_by(|a, b| a.id.cmp(&b.id));
    for order in &due {
        tx.new_feed_tx();
        move_order(tx, order, OrderStatus::Expired, "hub", Some("not collected in time"), now)?;
    }
    Ok(due.into_iter().map(|o| o.id).collect())
}

/// One lookup into the audit, numbered in commit order (as a receipt's position is, see
/// [`record_sale`]).
pub fn record_lookup(tx: &mut dyn HubTx, store_id: i64, device_id: &str, kind: &str, outcome: LookupOutcome, customer_id: Option<&str>, now: i64) -> Stored<()> {
    let position = tx.next_counter("lookups")?;
    tx.insert_lookup(&LookupRow {
        position,
        at: now,
        store_id,
        device_id: device_id.to_string(),
        kind: kind.to_string(),
        outcome: outcome.as_str().to_string(),
        customer_id: customer_id.map(str::to_string),
    })
}

/// Customers relevant to a store by lookup alone, and not there since before
/// `not_seen_since`, leave the store's cache: each is detached and the store's feed gets
/// their tombstone, in a feed transaction of its own. Answers (customer, store) of each.
pub fn detach_stale_lookups(tx: &mut dyn HubTx, not_seen_since: i64) -> Stored<Vec<(String, i64)>> {
    let due = tx.stale_lookups(not_seen_since)?;
    for (customer_id, store_id) in &due {
        tx.new_feed_tx();
        tx.detach(customer_id, *store_id)?;
        let gone = Change::CustomerRemoved { id: customer_id.clone() };
        feed(tx, &store_scope(*store_id), &format!("customer:{customer_id}"), &gone)?;
    }
    Ok(due)
}

/// What [`end_stale_waits`] ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndedWaits {
    /// Orders whose check-in ran out of time.
    pub checkins: Vec<String>,
    /// Help requests that ran out of time.
    pub help: Vec<String>,
}

/// Check-ins made before `checkin_before` and help requests raised before `help_before`
/// that are still open end, each in a feed transaction of its own: nobody waits for them
/// any more at any device of the store.
pub fn end_stale_waits(tx: &mut dyn HubTx, checkin_before: i64, help_before: i64, now: i64) -> Stored<EndedWaits> {
    let mut ended = EndedWaits::default();
    for (order_id, store_id) in tx.stale_checkins(checkin_before)? {
        tx.new_feed_tx();
        if end_checkin(tx, &order_id, store_id, now)? {
            ended.checkins.push(order_id);
        }
    }
    for h in tx.help_requests(HelpFilter::OpenRaisedBefore(help_before))? {
        tx.new_feed_tx();
        save_help(tx, &HelpRow { done_by: None, done_at: Some(now), ..h.clone() })?;
        ended.help.push(h.id);
    }
    Ok(ended)
}

/// The feed key of a help request: one per request, as it now stands.
fn help_key(id: &str) -> String {
    format!("help:{id}")
}

/// Shares a help request with every device of its store: open (raised or taken), or ended.
fn publish_help(tx: &mut dyn HubTx, h: &HelpRow) -> Stored<()> {
    let change = match h.done_at {
        Some(_) => Change::HelpEnded { id: h.id.clone() },
        None => Change::Help(help_record(tx, h)?),
    };
    feed(tx, &store_scope(h.store_id), &help_key(&h.id), &change)
}

/// Stores a help request as it now stands and shares it with the store's devices.
pub fn save_help(tx: &mut dyn HubTx, h: &HelpRow) -> Stored<()> {
    tx.put_help_request(h)?;
    publish_help(tx, h)
}

/// Counts one PIN typed for a badge at a device of the store ([`pin_step`]) and shares the
/// count with every device of the store, so a lock holds at all of them.
pub fn count_pin(tx: &mut dyn HubTx, store_id: i64, staff_id: &str, right: bool, now: i64) -> Stored<PinState> {
    let state = pin_step(tx.pin_failures(store_id, staff_id)?.unwrap_or(PinState::CLEAR), right, now);
    tx.put_pin_failures(store_id, staff_id, &state)?;
    let record = PinFailuresRecord { store_id, staff_id: staff_id.to_string(), state };
    feed(tx, &store_scope(store_id), &format!("pin:{staff_id}"), &Change::PinFailures(record))?;
    Ok(state)
}

/// Shares an NPS answer with every device of the store (the manager's numbers).
pub fn publish_feedback(tx: &mut dyn HubTx, answer: FeedbackRecord) -> Stored<()> {
    let key = format!("feedback:{}", answer.op_id);
    feed(tx, &store_scope(answer.store_id), &key, &Change::Feedback(answer))
}

/// Shares the device as the hub now sees it with every device of its store (the
/// manager's device list), and notes when.
pub fn publish_device(tx: &mut dyn HubTx, device_id: &str, now: i64) -> Stored<()> {
    for d in tx.devices(Some(device_id))? {
        feed(tx, &store_scope(d.store_id), &format!("device:{device_id}"), &Change::Device(d))?;
    }
    tx.device_published(device_id, now)
}

/// What a push says of the device's outbox: recorded, and shared with the store.
pub fn report_outbox(tx: &mut dyn HubTx, device_id: &str, outbox_len: u64, oldest_unsent_at: Option<i64>, receipt_key: Option<&str>, now: i64) -> Stored<()> {
    tx.set_device_outbox(device_id, outbox_len as i64, oldest_unsent_at, receipt_key)?;
    publish_device(tx, device_id, now)
}

/// Staff PINs a release before Argon2id stored as bare SHA-256 become Argon2id over that
/// value (`protocol::pin`: no PIN needs to be known), and each upgraded badge holder is
/// published again so their store's kiosks take the new value. Returns how many were
/// upgraded; a database already upgraded costs one read of the staff table.
pub fn upgrade_legacy_pins(tx: &mut dyn HubTx) -> Result<usize, HubError> {
    let mut upgraded = 0;
    // A colleague who has not chosen a PIN yet has nothing to upgrade.
    for mut st in tx.all_staff()?.into_iter().filter(StaffRecord::has_pin) {
        match omnikiosk_protocol::pin::upgrade_record(&mut st) {
            Ok(true) => {
                tx.set_staff_pin(&st.id, &st.pin_hash)?;
                tx.new_feed_tx();
                publish_staff(tx, &st)?;
                upgraded += 1;
            }
            Ok(false) => {}
            // Such a badge cannot sign in anywhere; the rest must still be upgraded.
            Err(e) => tracing::warn!(staff = %st.id, error = %e, "stored PIN hash is unreadable; left as it is"),
        }
    }
    Ok(upgraded)
}

/// A badge holder as they stand now, to every device of their store.
pub fn publish_staff(tx: &mut dyn HubTx, st: &StaffRecord) -> Stored<()> {
    feed(tx, &store_scope(st.store_id), &format!("staff:{}", st.id), &Change::Staff(st.clone()))
}

/// A badge holder who left: their badge stops working at every device of their store at
/// its next pull.
pub fn remove_staff(tx: &mut dyn HubTx, st: &StaffRecord) -> Stored<()> {
    tx.delete_staff(&st.id)?;
    feed(tx, &store_scope(st.store_id), &format!("staff:{}", st.id), &Change::StaffRemoved { id: st.id.clone() })
}

/// A new device of `store_id`; returns its id. Only the token's hash is kept.
pub fn add_device(tx: &mut dyn HubTx, store_id: i64, label: &str, token_hash: &str, now: i64) -> Result<String, HubError> {
    if tx.store(store_id)?.is_none() {
        return Err(HubError::NotFound(format!("store {store_id} does not exist")));
    }
    let n = tx.next_counter("device")?;
    let id = format!("kiosk-{store_id}-{n}");
    tx.add_device(&id, store_id, label, token_hash, now)?;
    Ok(id)
}
