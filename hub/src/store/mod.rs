//! Storage behind the hub: one trait, so the embedded SQLite backend (demo, tests, a
//! single shop) and a PostgreSQL backend (a chain) serve the same HTTP layer. Methods are
//! blocking; the HTTP layer calls them on tokio's blocking pool.
//!
//! Every write is one transaction that also appends to the change feed, so the feed can
//! never disagree with the data it describes.

mod postgres;
mod sqlite;

pub use postgres::PostgresHubStore;
pub use sqlite::SqliteHubStore;

use ed25519_dalek::{SigningKey, VerifyingKey};
use omnikiosk_protocol::wire::{
    ConflictRecord, Op, OpOutcome, CartLine, CustomerProfile, CustomerUpsert, DeviceHealth, LookupResponse, OrderCreate, OrderDetail, StoreRecord,
};

use crate::error::Result;
use crate::seed::SeedData;

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
    pub fn as_str(self) -> &'static str {
        match self {
            Relevance::HomeStore => "home_store",
            Relevance::Order => "order",
            Relevance::Lookup => "lookup",
            Relevance::Seen => "seen",
        }
    }
}

pub trait HubStore: Send + Sync + 'static {
    /// The hub's Ed25519 key, created on first use.
    fn signing_key(&self) -> Result<SigningKey>;
    /// Registers `f`, called with the new feed head whenever another process sharing the
    /// database (another hub behind the load balancer) moved the feed, so this process's
    /// long-polls wake too. A backend only one process uses has nothing to report.
    fn on_feed_change(&self, f: Box<dyn Fn(i64) + Send + Sync>) {
        let _ = f;
    }
    /// Fills an empty hub; refuses one that already has stores.
    fn seed(&self, data: &SeedData) -> Result<()>;

    fn store(&self, store_id: i64) -> Result<Option<StoreRecord>>;
    /// Returns the new device's id; the token is stored only as its hash.
    fn add_device(&self, store_id: i64, label: &str, token_hash: &str) -> Result<String>;
    /// Revokes a device's token for good (a stolen or retired kiosk).
    fn revoke_device(&self, device_id: &str) -> Result<()>;
    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>>;
    fn record_device_seen(&self, device_id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Result<()>;
    fn devices(&self) -> Result<Vec<DeviceHealth>>;

    /// Changes after `after` in scopes `global` and `store:<store_id>`, at most about
    /// `limit` (a page is extended to hold its last transaction whole).
    fn pull(&self, store_id: i64, after: i64, limit: u32) -> Result<FeedPage>;
    /// The newest sequence number of the whole feed.
    fn feed_head(&self) -> Result<i64>;

    fn upsert_customer(&self, id: &str, body: &CustomerUpsert, now: i64) -> Result<()>;
    fn put_identifiers(&self, id: &str, loyalty_cards: &[String]) -> Result<()>;
    fn put_cart(&self, id: &str, lines: &[CartLine], now: i64) -> Result<()>;
    fn customer_profile(&self, id: &str) -> Result<Option<CustomerProfile>>;
    fn customer_by_card(&self, card: &str) -> Result<Option<String>>;
    /// Makes the customer relevant to the store (appending their state to its feed) and
    /// returns what a kiosk there shows of them.
    fn attach_customer(&self, customer_id: &str, store_id: i64, why: Relevance, now: i64) -> Result<LookupResponse>;

    fn place_order(&self, body: &OrderCreate, now: i64) -> Result<OrderDetail>;
    fn cancel_order(&self, id: &str, reason: &str, now: i64) -> Result<OrderDetail>;
    fn order(&self, id: &str) -> Result<Option<OrderDetail>>;
    fn staff_exists(&self, id: &str) -> Result<bool>;

    /// The last op sequence number applied for the device.
    fn device_last_seq(&self, device_id: &str) -> Result<i64>;
    /// Applies one pushed op in its own transaction, with a compare-and-set on the
    /// device's last sequence: `duplicate` for an op already seen, `expected_seq` for a
    /// gap, `rejected` (recorded as a conflict, the queue moves on) when a rule says no.
    /// `hub_key` checks an order QR shown at handover.
    fn push_op(&self, device: &Device, op: &Op, outbox_len: u64, now: i64, hub_key: &VerifyingKey) -> Result<OpOutcome>;
    fn conflicts(&self, store_id: Option<i64>) -> Result<Vec<ConflictRecord>>;
    /// Erases a customer everywhere: profile, identifiers, cart, points, links from
    /// orders, visits and feedback; their stores' feeds get a tombstone.
    fn erase_customer(&self, id: &str, now: i64) -> Result<()>;
    /// Ready orders promised before `ready_before` become `expired` (no-shows).
    fn expire_no_shows(&self, ready_before: i64, now: i64) -> Result<Vec<String>>;
}
