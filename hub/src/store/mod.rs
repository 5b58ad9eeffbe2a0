//! Storage behind the hub, in two layers:
//!
//! - **What the hub does** is written once, backend-neutral: [`reads`] (what a query
//!   answers), [`writes`] (channel writes, the seed, erasure, no-shows — each keeping the
//!   change feed in step), and [`push`] (a kiosk's ops: the device-sequence
//!   compare-and-set, the savepoint around a refused op, duplicates, gaps and conflict
//!   records; what an op may do is `omnikiosk_protocol::rules`).
//! - **How it is stored** is a [`Backend`]: it runs a job in a read snapshot or a write
//!   transaction and hands it a [`HubTx`], the narrow set of statements a transaction may
//!   run. The embedded SQLite backend ([`sqlite`]: demo, tests, a single shop) and the
//!   PostgreSQL backend ([`postgres`]: a chain, several hub processes) hold only their SQL
//!   and their connection policy.
//!
//! Every write that changes what a kiosk shows appends to the change feed in the same
//! transaction, so the feed can never disagree with the data it describes.

pub mod catalogue;
pub mod push;
pub mod reads;
mod sql;
pub mod writes;

mod postgres;
mod sqlite;

pub use postgres::PostgresHubStore;
pub use sqlite::SqliteHubStore;

use std::any::Any;

use omnikiosk_protocol::wire::{
    ConflictRecord, LoyaltyRules, DeviceHealth, OrderRecord, OrderStatus, PinState, ProductRecord, StaffRecord, StockRecord, StoreRecord,
};

use crate::error::{HubError, StorageError};

/// What one statement answers: a value or the database's failure.
pub type Stored<T> = std::result::Result<T, StorageError>;

/// A kiosk as the hub knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub store_id: i64,
    pub revoked: bool,
}

/// One page of a store's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    /// Bodies (JSON of `wire::Change`) in sequence order.
    pub changes: Vec<String>,
    /// Sequence number of the last change in the page, or the cursor asked with.
    pub last_seq: i64,
    pub has_more: bool,
    /// Changes after the page, counted when `has_more`.
    pub remaining: Option<u64>,
}

/// Why a customer became relevant to a store (and so entered its feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relevance {
    HomeStore,
    Order,
    Lookup,
    /// Identified at one of the store's kiosks.
    Seen,
}

impl Relevance {
    /// What a customer relevant to a store by lookup alone is when attached there again for
    /// `self`: a visit (seen, a sale) or another lookup keeps them by lookup, renewed from
    /// then; an order or their home store keeps them for good.
    pub fn after_lookup(self) -> Relevance {
        match self {
            Relevance::Lookup | Relevance::Seen => Relevance::Lookup,
            Relevance::HomeStore | Relevance::Order => self,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relevance::HomeStore => "home_store",
            Relevance::Order => "order",
            Relevance::Lookup => "lookup",
            Relevance::Seen => "seen",
        }
    }
}

/// A customer's stored profile fields are what the channel puts (the kiosk sees only
/// some of them).
pub use omnikiosk_protocol::wire::CustomerUpsert as CustomerRow;

/// An order's columns as stored: id, store, customer, status, pickup code, lines (JSON),
/// placed, promised ready, updated, version. Read back by [`reads::order_record`].
pub type OrderRow = (String, i64, String, String, String, String, i64, i64, i64, i64);

/// An order event's columns as stored: when, status, by whom, note.
pub type EventRow = (i64, String, String, Option<String>);

/// A conflict's columns as stored: op id, device, store, op name, op body (JSON), kiosk
/// time, code, message, the hub's facts (JSON), when. Read back by [`reads::conflict`].
pub type ConflictRow = (String, String, i64, String, String, i64, String, String, Option<String>, i64);

/// Which orders to read.
#[derive(Debug, Clone, Copy)]
pub enum OrderFilter<'a> {
    Id(&'a str),
    /// A customer's orders for pickup at one store.
    CustomerAtStore(&'a str, i64),
    /// Every order of a customer, at any store.
    Customer(&'a str),
    /// Ready orders promised before this time (no-show candidates).
    ReadyBefore(i64),
}

/// One feed row: its sequence number, the server transaction it belongs to, its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    pub seq: i64,
    pub txid: i64,
    pub body: String,
}

/// One line of a customer's points ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry<'a> {
    /// The op (or seed) that made it: a ledger entry exists once per op.
    pub op_id: &'a str,
    pub customer_id: &'a str,
    pub delta: i64,
    pub reason: &'a str,
    pub at: i64,
    pub device_id: Option<&'a str>,
}

/// Something a shopper did in a store, recorded once per op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touchpoint<'a> {
    pub op_id: &'a str,
    pub store_id: i64,
    pub customer_id: Option<&'a str>,
    pub at: i64,
    pub kind: TouchpointKind<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TouchpointKind<'a> {
    /// "I'm here" for a pickup order.
    Checkin { order_id: &'a str },
    /// Identified at one of the store's kiosks.
    Seen,
    /// An NPS answer, with an optional satisfaction answer.
    Feedback { score: i64, csat: Option<&'a str> },
    /// The order handed over at the desk.
    Pickup { order_id: &'a str },
    /// "Call staff" pressed.
    Help,
    /// A product saved for later into the online cart.
    CartAdd { sku: &'a str },
    /// A sale at the till.
    Sale { receipt: &'a str, total_cents: i64 },
    /// A return or exchange at the till (its total negative when money went back).
    Return { receipt: &'a str, total_cents: i64 },
}

/// A `visits` row's own columns: kind, order, product, receipt.
pub struct VisitColumns<'a> {
    pub kind: &'static str,
    pub order_id: Option<&'a str>,
    pub sku: Option<&'a str>,
    /// A sale's receipt number and total.
    pub receipt: Option<(&'a str, i64)>,
}

impl<'a> TouchpointKind<'a> {
    /// How a touchpoint is kept in `visits`; `None` for an answer (kept in `feedback`).
    pub fn visit(&self) -> Option<VisitColumns<'a>> {
        let (kind, order_id, sku, receipt) = match *self {
            TouchpointKind::Checkin { order_id } => ("checkin", Some(order_id), None, None),
            TouchpointKind::Seen => ("seen", None, None, None),
            TouchpointKind::Pickup { order_id } => ("pickup", Some(order_id), None, None),
            TouchpointKind::Help => ("help", None, None, None),
            TouchpointKind::CartAdd { sku } => ("cart_add", None, Some(sku), None),
            TouchpointKind::Sale { receipt, total_cents } => ("sale", None, None, Some((receipt, total_cents))),
            TouchpointKind::Return { receipt, total_cents } => ("return", None, None, Some((receipt, total_cents))),
            TouchpointKind::Feedback { .. } => return None,
        };
        Some(VisitColumns { kind, order_id, sku, receipt })
    }
}

/// One touchpoint of a customer's timeline as stored: a `visits` row (kind as
/// [`TouchpointKind::visit`] names it) or a `feedback` row (kind `feedback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    pub op_id: String,
    pub at: i64,
    pub store_id: i64,
    pub kind: String,
    pub order_id: Option<String>,
    pub sku: Option<String>,
    pub score: Option<i64>,
    pub csat: Option<String>,
    /// A sale's receipt number and total.
    pub receipt: Option<String>,
    pub total_cents: Option<i64>,
}

/// A receipt as the hub records it: the columns it is found and listed by, and the
/// receipt itself (JSON of `till::Receipt`, as pushed: its hash covers it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRow {
    /// Where it stands in the order receipts were committed (the `/v1/sales` cursor).
    pub position: i64,
    pub number: String,
    pub store_id: i64,
    pub device_id: String,
    pub seq: i64,
    /// The `sale.complete` op that brought it.
    pub op_id: String,
    /// `sale` or `return`.
    pub kind: String,
    /// `None` once the shopper is erased.
    pub customer_id: Option<String>,
    pub total_cents: i64,
    /// Kiosk time of the sale.
    pub at: i64,
    pub hash: String,
    pub body: String,
    /// A return's receipt number or order id it takes back from (`returns::origin_of`).
    pub origin: Option<String>,
}

/// Which receipts to read.
#[derive(Debug, Clone, Copy)]
pub enum ReceiptFilter<'a> {
    Number(&'a str),
    /// A device's receipt by its sequence.
    DeviceSeq(&'a str, i64),
    /// A device's receipt of the highest sequence.
    LastOfDevice(&'a str),
    /// Every receipt of a shopper.
    Customer(&'a str),
    /// Every return naming this receipt number or order id as its origin.
    Origin(&'a str),
    /// After a position, in commit order, of one store or all, at most `limit`.
    After { store_id: Option<i64>, position: i64, limit: i64 },
}

/// A Z report as the hub records it: the columns it is found and listed by, and the
/// report itself (JSON of `shift::ZReport`, as pushed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftRow {
    /// Where it stands in the order reports were committed (the `/v1/shifts` cursor).
    pub position: i64,
    pub store_id: i64,
    pub device_id: String,
    /// Unique per device.
    pub z_number: i64,
    /// The `shift.close` op that brought it.
    pub op_id: String,
    /// Kiosk time of the close.
    pub closed_at: i64,
    pub body: String,
}

/// Which Z reports to read.
#[derive(Debug, Clone, Copy)]
pub enum ShiftFilter<'a> {
    /// A device's report by its Z number.
    DeviceZ(&'a str, i64),
    /// After a position, in commit order, of one store or all, at most `limit`.
    After { store_id: Option<i64>, position: i64, limit: i64 },
}

/// One lookup as the audit keeps it (`writes::record_lookup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRow {
    /// Where it stands in the order lookups were committed (the `/v1/lookups` cursor).
    pub position: i64,
    /// Hub time.
    pub at: i64,
    pub store_id: i64,
    pub device_id: String,
    /// `Scan::kind_name` of the code: never the code itself.
    pub kind: String,
    /// `LookupOutcome::as_str`.
    pub outcome: String,
    /// The customer found; `None` otherwise, and once they are erased.
    pub customer_id: Option<String>,
}

/// A "call staff" request as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    /// The `help.request` op that raised it.
    pub id: String,
    pub store_id: i64,
    /// The device it was raised at.
    pub device_id: String,
    pub customer_id: Option<String>,
    /// Hub time when it arrived.
    pub raised_at: i64,
    /// Staff id of the colleague on the way.
    pub taken_by: Option<String>,
    pub taken_at: Option<i64>,
    /// Staff id of who closed it; `None` with `done_at` set: it ran out of time.
    pub done_by: Option<String>,
    /// Set once it is closed.
    pub done_at: Option<i64>,
}

/// Which help requests to read.
#[derive(Debug, Clone, Copy)]
pub enum HelpFilter<'a> {
    Id(&'a str),
    /// Every request a customer raised, open or closed.
    Customer(&'a str),
    /// Open requests raised before this time (expiry candidates).
    OpenRaisedBefore(i64),
}

/// A pushed op as the op log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOp<'a> {
    pub device_id: &'a str,
    pub seq: i64,
    pub op_id: &'a str,
    pub name: &'a str,
    pub body: &'a str,
    pub kiosk_time: i64,
    pub received_at: i64,
    /// `applied` or `rejected`.
    pub outcome: &'static str,
}

/// The statements one hub transaction may run: the only way the neutral code reaches the
/// database. Methods read or write rows and nothing else; every rule lives above them.
/// Text keys that a backend cannot store (PostgreSQL text cannot hold NUL) find nothing.
pub trait HubTx {
    // ---- the change feed and counters
    /// Appends `body` for `(scope, key)`, replacing that entity's older row, numbered in
    /// commit order and stamped with the current feed transaction.
    fn feed(&mut self, scope: &str, key: &str, body: &str) -> Stored<()>;
    /// Starts a new feed transaction inside the same database transaction (the seed
    /// stamps each entity on its own so pages stay small).
    fn new_feed_tx(&mut self);
    fn next_counter(&mut self, name: &str) -> Stored<i64>;
    fn set_counter(&mut self, name: &str, value: i64) -> Stored<()>;
    fn feed_after(&mut self, scope: &str, after: i64, limit: i64) -> Stored<Vec<FeedRow>>;
    /// The rest of server transaction `txid` after `seq`, in `global` and `scope`.
    fn feed_tx_rest(&mut self, scope: &str, txid: i64, seq: i64) -> Stored<Vec<FeedRow>>;
    /// How many changes follow `after` in `global` and `scope`, counted up to `cap`.
    fn feed_count_after(&mut self, scope: &str, after: i64, cap: i64) -> Stored<i64>;
    fn feed_head(&mut self) -> Stored<i64>;
    /// The hub's signing key; `fresh` becomes it when there is none yet.
    fn signing_secret(&mut self, fresh: &[u8; 32]) -> Stored<Vec<u8>>;

    // ---- stores, catalogue, staff
    fn store(&mut self, id: i64) -> Stored<Option<StoreRecord>>;
    fn store_count(&mut self) -> Stored<i64>;
    /// Inserts the store, or replaces the one with its id.
    fn insert_store(&mut self, s: &StoreRecord) -> Stored<()>;
    fn insert_product(&mut self, p: &ProductRecord) -> Stored<()>;
    fn product_name(&mut self, sku: &str) -> Stored<Option<String>>;
    fn insert_stock(&mut self, s: &StockRecord) -> Stored<()>;
    /// The product's stock at the store.
    fn stock(&mut self, store_id: i64, sku: &str) -> Stored<Option<StockRecord>>;
    /// Adds `delta` to the product's stock at the store (a row with no aisle when there
    /// is none yet); `on_hand` may go below zero.
    fn add_stock(&mut self, store_id: i64, sku: &str, delta: i64) -> Stored<()>;
    fn insert_staff(&mut self, s: &StaffRecord) -> Stored<()>;
    /// Every badge holder of every store.
    fn all_staff(&mut self) -> Stored<Vec<StaffRecord>>;
    fn set_staff_pin(&mut self, staff_id: &str, pin_hash: &str) -> Stored<()>;
    /// The staff member's name as stored ("Kasia Nowak").
    fn staff_name(&mut self, staff_id: &str) -> Stored<Option<String>>;
    /// The staff member's stored role at `store_id` and whether they may sell at the till,
    /// if they work there.
    fn staff_role(&mut self, staff_id: &str, store_id: i64) -> Stored<Option<(String, bool)>>;
    fn staff_exists(&mut self, staff_id: &str) -> Stored<bool>;
    // ---- colleagues as HR manages them (`staff add|list|remove|reset-pin`, `/v1/stores/{id}/staff`)
    fn staff_member(&mut self, staff_id: &str) -> Stored<Option<StaffRecord>>;
    /// A store's badge holders, by id.
    fn staff_of_store(&mut self, store_id: i64) -> Stored<Vec<StaffRecord>>;
    /// Replaces the stored record of `s.id` (name, role, till, PIN, badge version).
    fn update_staff(&mut self, s: &StaffRecord) -> Stored<()>;
    /// Deletes the badge holder and their wrong-PIN count.
    fn delete_staff(&mut self, staff_id: &str) -> Stored<()>;

    // ---- customers
    fn customer(&mut self, id: &str) -> Stored<Option<CustomerRow>>;
    fn put_customer(&mut self, id: &str, c: &CustomerRow, updated_at: i64) -> Stored<()>;
    fn points(&mut self, id: &str) -> Stored<i64>;
    fn add_ledger(&mut self, e: &LedgerEntry<'_>) -> Stored<()>;
    /// Points the device gave (ledger rows above zero) since `since`.
    fn points_given_since(&mut self, device_id: &str, since: i64) -> Stored<i64>;
    fn cards(&mut self, id: &str) -> Stored<Vec<String>>;
    fn card_owner(&mut self, card: &str) -> Stored<Option<String>>;
    /// Replaces the customer's loyalty cards.
    fn set_cards(&mut self, id: &str, cards: &[String]) -> Stored<()>;
    /// The cart's lines (JSON) and when they changed.
    fn cart(&mut self, id: &str) -> Stored<Option<(String, i64)>>;
    fn put_cart(&mut self, id: &str, lines_json: &str, updated_at: i64) -> Stored<()>;
    fn stores_of_customer(&mut self, id: &str) -> Stored<Vec<i64>>;
    /// Records that the customer is relevant to the store; false when they already were.
    fn attach(&mut self, customer_id: &str, store_id: i64, why: Relevance, since: i64) -> Stored<bool>;
    /// A relevance of the customer to the store by lookup alone becomes `why` as of `since`;
    /// any other relevance stays as it is.
    fn renew_lookup(&mut self, customer_id: &str, store_id: i64, why: Relevance, since: i64) -> Stored<()>;
    /// Customers relevant to a store by lookup alone since before `before`: (customer,
    /// store), by store then customer.
    fn stale_lookups(&mut self, before: i64) -> Stored<Vec<(String, i64)>>;
    /// The customer is no longer relevant to the store.
    fn detach(&mut self, customer_id: &str, store_id: i64) -> Stored<()>;
    /// Deletes the rows of `table` whose `column` is `key` (see [`writes::ERASED`]).
    fn delete_rows(&mut self, table: &str, column: &str, key: &str) -> Stored<()>;
    /// Sets `column` to `to` (NULL for `None`) where it is `key` (see [`writes::UNLINKED`]);
    /// a `versioned` row moves to its next version.
    fn unlink_rows(&mut self, table: &str, column: &str, key: &str, to: Option<&str>, versioned: bool) -> Stored<()>;
    /// Drops the feed rows of these entities, in every scope.
    fn drop_feed_entities(&mut self, keys: &[String]) -> Stored<()>;

    // ---- orders
    fn orders(&mut self, filter: OrderFilter<'_>) -> Stored<Vec<OrderRow>>;
    /// The order's events, oldest first: (at, status, by, note).
    fn order_events(&mut self, id: &str) -> Stored<Vec<EventRow>>;
    fn insert_order(&mut self, o: &OrderRecord) -> Stored<()>;
    /// Sets status and lines (JSON) and moves the order to its next version.
    fn update_order(&mut self, id: &str, status: OrderStatus, lines_json: &str, now: i64) -> Stored<()>;
    fn add_order_event(&mut self, order_id: &str, at: i64, status: OrderStatus, by: &str, note: Option<&str>) -> Stored<()>;
    /// Ends the order's open check-ins; true when there was one.
    fn end_checkins(&mut self, order_id: &str, at: i64) -> Stored<bool>;
    /// Open orders whose newest open check-in is older than `before`: (order id, store).
    fn stale_checkins(&mut self, before: i64) -> Stored<Vec<(String, i64)>>;
    /// Whether an open order of the store holds this pickup code.
    fn pickup_code_taken(&mut self, store_id: i64, code: &str) -> Stored<bool>;

    // ---- devices and their ops
    fn add_device(&mut self, id: &str, store_id: i64, label: &str, token_hash: &str, now: i64) -> Stored<()>;
    /// False when there is no such device.
    fn revoke_device(&mut self, id: &str) -> Stored<bool>;
    fn device_by_token_hash(&mut self, token_hash: &str) -> Stored<Option<Device>>;
    /// Returns when the device's health was last published to its store's feed.
    fn device_seen(&mut self, id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Stored<Option<i64>>;
    /// Every device, or the one named.
    fn devices(&mut self, id: Option<&str>) -> Stored<Vec<DeviceHealth>>;
    /// Notes when the device's health was published to its store's feed.
    fn device_published(&mut self, id: &str, at: i64) -> Stored<()>;
    /// The last op sequence number applied for the device.
    fn device_last_seq(&mut self, id: &str) -> Stored<Option<i64>>;
    fn set_device_last_seq(&mut self, id: &str, seq: i64) -> Stored<()>;
    /// What the device said of its outbox at its last push.
    /// What a push reported: the outbox, and the device's receipt key when it sent one.
    fn set_device_outbox(&mut self, id: &str, outbox_len: i64, oldest_unsent_at: Option<i64>, receipt_key: Option<&str>) -> Stored<()>;
    fn op_known(&mut self, op_id: &str) -> Stored<bool>;
    fn log_op(&mut self, op: &LoggedOp<'_>) -> Stored<()>;
    /// Records a rejected op once (a replay finds it already there).
    fn add_conflict(&mut self, c: &ConflictRecord) -> Stored<()>;
    fn conflicts(&mut self, store_id: Option<i64>) -> Stored<Vec<ConflictRow>>;
    /// Visits go to `visits`, answers to `feedback`; a replayed op finds its row there.
    fn add_touchpoint(&mut self, t: &Touchpoint<'_>) -> Stored<()>;
    /// A customer's touchpoints, newest first (by time, then op id), strictly before
    /// `before` when given, at most `limit`.
    fn timeline(&mut self, customer_id: &str, before: Option<(i64, &str)>, limit: i64) -> Stored<Vec<TimelineRow>>;

    // ---- what the store's devices share
    fn help_requests(&mut self, filter: HelpFilter<'_>) -> Stored<Vec<HelpRow>>;
    /// Inserts the request or replaces the one with its id.
    fn put_help_request(&mut self, h: &HelpRow) -> Stored<()>;
    /// A badge's count of wrong PINs at the store; `None`: none counted yet.
    fn pin_failures(&mut self, store_id: i64, staff_id: &str) -> Stored<Option<PinState>>;
    fn put_pin_failures(&mut self, store_id: i64, staff_id: &str, state: &PinState) -> Stored<()>;

    // ---- the till
    fn insert_receipt(&mut self, r: &ReceiptRow) -> Stored<()>;
    /// The receipts `filter` selects, in commit order (by position).
    fn receipts(&mut self, filter: ReceiptFilter<'_>) -> Stored<Vec<ReceiptRow>>;
    /// Replaces a receipt's stored JSON (erasure takes the shopper out of it).
    fn set_receipt_body(&mut self, number: &str, body: &str) -> Stored<()>;
    fn insert_shift(&mut self, s: &ShiftRow) -> Stored<()>;
    /// The Z reports `filter` selects, in commit order (by position).
    fn shifts(&mut self, filter: ShiftFilter<'_>) -> Stored<Vec<ShiftRow>>;

    // ---- the lookups' audit
    fn insert_lookup(&mut self, l: &LookupRow) -> Stored<()>;
    /// Lookups after `position`, in commit order, of one store or all, at most `limit`.
    fn lookups(&mut self, store_id: Option<i64>, position: i64, limit: i64) -> Stored<Vec<LookupRow>>;

    // ---- the chain's loyalty rule
    /// Every currency's points rule, by currency.
    fn loyalty_rules(&mut self) -> Stored<LoyaltyRules>;
    /// Replaces every currency's rule with `rules`.
    fn set_loyalty_rules(&mut self, rules: &LoyaltyRules) -> Stored<()>;

    /// A refused op leaves nothing behind: its writes sit in a savepoint.
    fn savepoint(&mut self, step: Savepoint) -> Stored<()>;

    /// Holds these customers to commit, in their order, before any of them is read — in a
    /// transaction beside other stores' writers ([`TxKind::StoreFeed`]), which otherwise
    /// holds each at its first read. A backend whose writers run one at a time has
    /// nothing to do.
    fn hold_customers(&mut self, ids: &std::collections::BTreeSet<String>) -> Stored<()> {
        let _ = ids;
        Ok(())
    }

    // ---- the retailer's master data ([`catalogue`])
    /// Every store, by id.
    fn stores(&mut self) -> Stored<Vec<StoreRecord>>;
    /// The id of the store with this code.
    fn store_by_code(&mut self, code: &str) -> Stored<Option<i64>>;
    /// The product's catalogue entry (JSON), when the retailer's systems put one.
    fn catalogue_entry(&mut self, sku: &str) -> Stored<Option<String>>;
    /// Inserts or replaces a catalogue entry; `name` and `category` fill the older columns.
    fn put_catalogue_entry(&mut self, sku: &str, name: &str, category: &str, entry_json: &str) -> Stored<()>;
    /// Every SKU with a catalogue entry, withdrawn ones too.
    fn catalogue_skus(&mut self) -> Stored<Vec<String>>;
    /// The SKU a GTIN belongs to.
    fn gtin_owner(&mut self, gtin: &str) -> Stored<Option<String>>;
    /// Replaces the product's GTINs.
    fn set_gtins(&mut self, sku: &str, gtins: &[String]) -> Stored<()>;
    /// The store's own price of a product (JSON of a `catalogue::Price`).
    fn store_price(&mut self, store_id: i64, sku: &str) -> Stored<Option<String>>;
    fn put_store_price(&mut self, store_id: i64, sku: &str, price_json: &str) -> Stored<()>;
    /// A price list's price of a product (JSON of a `catalogue::StorePricePut`).
    fn list_price(&mut self, list: &str, sku: &str) -> Stored<Option<String>>;
    fn put_list_price(&mut self, list: &str, sku: &str, price_json: &str) -> Stored<()>;
    /// The body of an entity's current feed row in a scope (this transaction's included).
    fn feed_body(&mut self, scope: &str, key: &str) -> Stored<Option<String>>;
    /// Sets the product's count and aisle at the store.
    fn put_stock(&mut self, store_id: i64, sku: &str, on_hand: i64, aisle: &str) -> Stored<()>;
    /// The adjustment recorded under an idempotency key: (store, sku, delta).
    fn stock_adjustment(&mut self, key: &str) -> Stored<Option<(i64, String, i64)>>;
    fn record_stock_adjustment(&mut self, key: &str, store_id: i64, sku: &str, delta: i64, at: i64) -> Stored<()>;
    /// Notes that the product's price at `store_id` (0: every store) changes at `at`.
    fn add_price_change(&mut self, at: i64, sku: &str, store_id: i64) -> Stored<()>;
    /// Takes the price changes due by `now`: (sku, store id or 0), each once.
    fn take_price_changes(&mut self, now: i64) -> Stored<Vec<(String, i64)>>;
    /// Reads at once what a batch of catalogue writes is about to read row by row
    /// ([`catalogue::read_ahead_products`]), and may hold the batch's writes of those rows back
    /// until the next statement that needs them: a backend whose every statement is a
    /// network round trip answers the batch from memory. The answers do not change: a
    /// row read ahead reads as the transaction last wrote it. A backend in the same
    /// process has nothing to gain and reads nothing ahead.
    fn read_ahead(&mut self, ahead: &ReadAhead) -> Stored<()> {
        let _ = ahead;
        Ok(())
    }
}

/// What a batch of catalogue writes will read ([`HubTx::read_ahead`]).
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// Products: their catalogue entries and names.
    pub skus: Vec<String>,
    /// Whose product each GTIN is.
    pub gtins: Vec<String>,
    /// A store's own price of a product.
    pub store_prices: Vec<(i64, String)>,
    /// A store's stock of a product.
    pub stock: Vec<(i64, String)>,
    /// A price list's price of a product.
    pub list_skus: Vec<(String, String)>,
    /// Current feed rows, by (scope, entity key).
    pub feed: Vec<(String, String)>,
    /// Feed rows the caller knows are not there: answered as absent, not read.
    pub no_feed: Vec<(String, String)>,
    /// How many feed transactions the batch starts ([`HubTx::new_feed_tx`]).
    pub feed_txs: usize,
    /// Adds to what was read ahead for this batch; otherwise a new batch starts and what
    /// an earlier one read is forgotten (memory follows the batch).
    pub more: bool,
}

/// The steps of the savepoint around one op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Savepoint {
    Begin,
    /// Undo the op's writes.
    RollBack,
    /// Keep them.
    Release,
}

/// A job run inside one transaction; its answer comes back boxed through the backend.
pub type TxJob = Box<dyn FnOnce(&mut dyn HubTx) -> Result<Box<dyn Any + Send>, HubError> + Send>;

/// What kind of transaction a job needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// A consistent read snapshot; nothing is written.
    Read,
    /// A write that may append to the change feed, alone: while it runs no other feed
    /// writer does (the channel's writes, the catalogue, erasure, the hub's timed jobs).
    Feed,
    /// A feed write that changes one store's rows (a device's push, an order placed for
    /// the store, a lookup's attachment) and the customers it touches: it runs beside the
    /// writers of other stores. Every row its rules judge is held to its commit — the
    /// store's at its start, each customer's at its first read ([`HubTx`] backends do
    /// this, the rules do not) — so two writers can never both pass the same check.
    StoreFeed(i64),
    /// A write of bookkeeping that never touches the feed (devices, the signing key).
    Bookkeeping,
}

/// Called with a scope and its new head when a process sharing the database moved it.
pub type FeedListener = Box<dyn Fn(&str, i64) + Send + Sync>;

/// A database the hub can run on: it runs jobs in transactions, nothing more.
pub trait Backend: Send + Sync + 'static {
    /// Runs `job` in a transaction of `kind`: committed when it answers `Ok`, rolled back
    /// when it answers `Err`.
    fn run(&self, kind: TxKind, job: TxJob) -> Result<Box<dyn Any + Send>, HubError>;
    /// Registers `f`, called with a scope (`global`, `store:<id>`) and its new head
    /// whenever a process sharing the database (another hub behind the load balancer, or
    /// this one) moved that scope's feed, so this process's long-polls of the scope wake
    /// too. Heads of different scopes may be announced out of seq order. A backend only
    /// one process uses has nothing to report.
    fn on_feed_change(&self, f: FeedListener) {
        let _ = f;
    }
    /// After an erasure: makes sure no old copy of the erased rows stays readable in the
    /// database's files.
    fn scrub(&self) -> Result<(), HubError> {
        Ok(())
    }
}

impl dyn Backend {
    /// Runs `f` in a transaction of `kind` and returns its answer.
    pub fn tx<T: Send + 'static>(
        &self,
        kind: TxKind,
        f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static,
    ) -> Result<T, HubError> {
        let answer = self.run(kind, Box::new(move |tx| f(tx).map(|v| Box::new(v) as Box<dyn Any + Send>)))?;
        Ok(*answer.downcast::<T>().expect("a job answers with its own type"))
    }
}

/// Receipt signing keys kept per device (one per install of its till): a device's
/// receipts open as e-receipts under any of them. A device that has reinstalled more often
/// than this signs later receipts with a key the hub does not keep: a stolen token cannot
/// fill the devices table with keys.
pub const MAX_RECEIPT_KEYS: i64 = 8;

/// The feed scope every device reads: the catalogue, the stores, the chain's config.
pub const GLOBAL_SCOPE: &str = "global";

/// A store as stored: its whole `record` (JSON) when the retailer's systems wrote it,
/// else what an older release's columns (`older`) say.
pub(crate) fn store_record(older: StoreRecord, record: Option<&str>) -> Stored<StoreRecord> {
    match record {
        Some(json) => Ok(serde_json::from_str(json).map_err(StorageError::from)?),
        None => Ok(older),
    }
}

/// The feed scope of a store.
pub fn store_scope(store_id: i64) -> String {
    format!("store:{store_id}")
}

/// A product's feed entity key (in `global` for the seed's chain-wide products, in a
/// store's scope as the store sells it).
pub fn product_key(sku: &str) -> String {
    format!("product:{sku}")
}

/// A product's stock entity key, in its store's scope.
pub fn stock_key(sku: &str) -> String {
    format!("stock:{sku}")
}
