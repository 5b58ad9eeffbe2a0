//! Omnikiosk hub: the central profile store that kiosks sync with, and the channel API
//! the online shop, ERP or CRM feeds it through.
//!
//! Layout:
//! - [`store`]: the storage trait ([`store::HubStore`]), its embedded SQLite backend and
//!   its PostgreSQL backend (several hub processes over one database);
//!   every write appends to the commit-ordered, compacted change feed in the same
//!   transaction.
//! - [`http`]: the HTTP API (device endpoints, channel endpoints) on axum.
//! - [`seed`]: a deterministic, realistic chain for the demo, tests and benchmarks.
//! - [`simulate`]: the simulated online channel (carts change, orders are placed and
//!   cancelled), for `omnikiosk-hub simulate` and the demo.
//! - [`cli`]: the `omnikiosk-hub` command line.
//! - [`error`]: the one error type, mapped to HTTP statuses.
//!
//! This crate knows nothing of the kiosk's local store or UI.

pub mod cli;
pub mod error;
pub mod http;
pub mod seed;
pub mod simulate;
pub mod store;

use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};
use omnikiosk_protocol::code::{self, CodeClaims, CodeKind};
use omnikiosk_protocol::gtin::{LoyaltyCard, DEFAULT_LOYALTY_PREFIX};
use omnikiosk_protocol::wire::{
    CartPut, ConflictRecord, CustomerProfile, CustomerUpsert, DeviceHealth, IdentifiersPut, OpOutcome, OpResult,
    OrderCreate, OrderDetail, PushRequest,
};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub use error::HubError;
pub use http::{router, serve, ServeConfig};
pub use seed::{SeedOptions, SeedSummary};
use store::{HubStore, PostgresHubStore, SqliteHubStore};

/// Languages the kiosk's screens are translated into.
pub const LANGUAGES: &[&str] = &["en", "pl", "ru", "uk", "zh"];
/// Most ops one push may carry.
pub const MAX_PUSH_OPS: usize = 1000;
/// Default no-show period: a ready order not collected this long after its promised time
/// expires.
pub const DEFAULT_NO_SHOW_SECS: i64 = 7 * 24 * 3600;

/// Loyalty tiers.
pub const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// The hub: storage plus a wake-up signal for long-polls. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    /// Where everything is kept.
    store: Arc<dyn HubStore>,
    /// Newest feed sequence number, bumped after every committed write so long-polls wake.
    head: Arc<watch::Sender<i64>>,
    /// Cached signing key (it never changes once created).
    key: Arc<SigningKey>,
    /// Names this database in feed cursors (derived from its signing key, which is
    /// created with the database), so a cursor of another hub database is recognised.
    epoch: Arc<str>,
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// SHA-256 of a bearer token: what the hub stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Hub {
    /// Opens `sqlite:PATH` (the embedded backend) or `postgres://…` / `postgresql://…` (a
    /// chain: several hub processes may share the database), creating and migrating it as
    /// needed.
    pub fn open(db_url: &str) -> anyhow::Result<Hub> {
        let store: Arc<dyn HubStore> = if let Some(path) = db_url.strip_prefix("sqlite:") {
            anyhow::ensure!(!path.is_empty(), "--db sqlite: needs a file path, e.g. sqlite:hub.db");
            Arc::new(SqliteHubStore::open(std::path::Path::new(path))?)
        } else if db_url.starts_with("postgres://") || db_url.starts_with("postgresql://") {
            Arc::new(PostgresHubStore::open(db_url)?)
        } else {
            anyhow::bail!("unknown database URL {db_url:?}: use sqlite:PATH or postgres://…")
        };
        let key = store.signing_key()?;
        let head = store.feed_head()?;
        let epoch = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..4]);
        let head = Arc::new(watch::channel(head).0);
        // Another hub process moved the feed: wake this one's long-polls too.
        let wake = head.clone();
        store.on_feed_change(Box::new(move |seq| {
            wake.send_if_modified(|current| {
                let moved = seq > *current;
                if moved {
                    *current = seq;
                }
                moved
            });
        }));
        Ok(Hub { store, head, key: Arc::new(key), epoch: epoch.into() })
    }

    pub fn store(&self) -> &dyn HubStore {
        &*self.store
    }

    /// Wakes long-polls after a committed write.
    fn committed(&self) -> anyhow::Result<()> {
        let head = self.store.feed_head()?;
        // Only a feed that moved wakes the long-polls; a write that added nothing to any
        // feed must not send every waiting kiosk back to the database.
        self.head.send_if_modified(|current| {
            let moved = *current != head;
            *current = head;
            moved
        });
        Ok(())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// The feed cursor a kiosk sends next: `<epoch>.<seq>`.
    pub fn cursor(&self, seq: i64) -> String {
        format!("{}.{seq}", self.epoch)
    }

    /// The sequence number in a kiosk's cursor; empty means from the start.
    pub fn parse_cursor(&self, cursor: &str) -> Result<i64, HubError> {
        let cursor = cursor.trim();
        if cursor.is_empty() {
            return Ok(0);
        }
        let bad = || HubError::BadRequest(format!("bad cursor {cursor:?}"));
        let (epoch, seq) = cursor.split_once('.').ok_or_else(bad)?;
        let seq: i64 = seq.parse().ok().filter(|v| *v >= 0).ok_or_else(bad)?;
        if epoch != &*self.epoch {
            return Err(HubError::CursorReset("this cursor belongs to another hub database: pull again from the start".into()));
        }
        if seq > *self.head.borrow() && seq > self.store.feed_head()? {
            return Err(HubError::CursorReset("this cursor is ahead of the hub's feed (restored from a backup?): pull again from the start".into()));
        }
        Ok(seq)
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn seed(&self, opts: &SeedOptions) -> anyhow::Result<SeedSummary> {
        anyhow::ensure!(opts.stores >= 1 && opts.stores <= 1000, "--stores must be 1..=1000");
        let (data, summary) = seed::generate(opts, now_secs());
        self.store.seed(&data)?;
        self.committed()?;
        Ok(summary)
    }

    /// A new device token for a kiosk of `store_id`; only its hash is kept.
    pub fn add_device(&self, store_id: i64, label: &str) -> anyhow::Result<String> {
        let token = format!("okd_{}", hex::encode(rand::random::<[u8; 24]>()));
        self.store.add_device(store_id, label, &token_hash(&token))?;
        Ok(token)
    }

    /// A signed code (the QR payload) for an existing customer, order or staff member.
    pub fn sign_code(&self, kind: CodeKind, id: &str, ttl_secs: i64) -> anyhow::Result<String> {
        let exists = match kind {
            CodeKind::Customer => self.store.customer_profile(id)?.is_some(),
            CodeKind::Order => self.store.order(id)?.is_some(),
            CodeKind::Staff => self.store.staff_exists(id)?,
        };
        anyhow::ensure!(exists, "{kind} {id} does not exist");
        anyhow::ensure!(ttl_secs > 0, "a code must live for a positive time");
        let now = now_secs();
        Ok(code::sign(&self.key, &CodeClaims { kind, id: id.to_string(), iat: now, exp: now + ttl_secs }))
    }

    pub fn upsert_customer(&self, id: &str, body: &CustomerUpsert) -> Result<(), HubError> {
        validate_id("customer id", id)?;
        validate_text("first_name", &body.first_name)?;
        validate_text("last_name", &body.last_name)?;
        if !LANGUAGES.contains(&body.language.as_str()) {
            return Err(HubError::BadRequest(format!("language must be one of {}", LANGUAGES.join(", "))));
        }
        if !TIERS.contains(&body.tier.as_str()) {
            return Err(HubError::BadRequest(format!("tier must be one of {}", TIERS.join(", "))));
        }
        self.store.upsert_customer(id, body, now_secs())?;
        self.wake()
    }

    pub fn put_identifiers(&self, id: &str, body: &IdentifiersPut) -> Result<(), HubError> {
        if body.loyalty_cards.len() > 10 {
            return Err(HubError::BadRequest("at most 10 loyalty cards per customer".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for card in &body.loyalty_cards {
            LoyaltyCard::parse(card, DEFAULT_LOYALTY_PREFIX)
                .map_err(|e| HubError::BadRequest(format!("loyalty card {card:?}: {e}")))?;
            if !seen.insert(card.as_str()) {
                return Err(HubError::BadRequest(format!("loyalty card {card} is listed twice")));
            }
        }
        self.store.put_identifiers(id, &body.loyalty_cards)?;
        self.wake()
    }

    pub fn put_cart(&self, id: &str, body: &CartPut) -> Result<(), HubError> {
        if body.lines.len() > 200 {
            return Err(HubError::BadRequest("at most 200 cart lines".into()));
        }
        for l in &body.lines {
            if !(1..=99).contains(&l.qty) {
                return Err(HubError::BadRequest(format!("qty of {} must be 1..=99", l.sku)));
            }
        }
        self.store.put_cart(id, &body.lines, now_secs())?;
        self.wake()
    }

    pub fn get_customer(&self, id: &str) -> Result<CustomerProfile, HubError> {
        self.store.customer_profile(id)?.ok_or_else(|| HubError::NotFound(format!("customer {id} not found")))
    }

    pub fn place_order(&self, body: &OrderCreate) -> Result<OrderDetail, HubError> {
        if body.lines.is_empty() || body.lines.len() > 100 {
            return Err(HubError::BadRequest("an order needs 1 to 100 lines".into()));
        }
        for l in &body.lines {
            if !(1..=99).contains(&l.qty) {
                return Err(HubError::BadRequest(format!("qty of {} must be 1..=99", l.sku)));
            }
        }
        let detail = self.store.place_order(body, now_secs())?;
        self.wake()?;
        Ok(detail)
    }

    pub fn cancel_order(&self, id: &str, reason: &str) -> Result<OrderDetail, HubError> {
        validate_text("reason", reason)?;
        let detail = self.store.cancel_order(id, reason, now_secs())?;
        self.wake()?;
        Ok(detail)
    }

    pub fn get_order(&self, id: &str) -> Result<OrderDetail, HubError> {
        self.store.order(id)?.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))
    }

    pub fn devices(&self) -> Result<Vec<DeviceHealth>, HubError> {
        self.store.devices()
    }

    /// Applies a kiosk's pushed ops in sequence order, each in its own transaction; stops
    /// at the first gap (`expected_seq`) so the kiosk resends from there.
    pub fn push(&self, device: &store::Device, req: &PushRequest) -> Result<Vec<OpResult>, HubError> {
        if req.ops.len() > MAX_PUSH_OPS {
            return Err(HubError::BadRequest(format!("at most {MAX_PUSH_OPS} ops per push")));
        }
        for (i, op) in req.ops.iter().enumerate() {
            if op.seq != req.device_seq_from + i as i64 {
                return Err(HubError::BadRequest("ops must carry consecutive sequence numbers from device_seq_from".into()));
            }
            if op.op_id.is_empty() || op.op_id.len() > 64 {
                return Err(HubError::BadRequest("every op needs an op_id of 1-64 characters".into()));
            }
        }
        let key = self.public_key();
        let mut results = Vec::with_capacity(req.ops.len());
        let mut failure = None;
        for op in &req.ops {
            let outcome = match self.store.push_op(device, op, req.outbox_len, now_secs(), &key) {
                Ok(outcome) => outcome,
                Err(e) => {
                    // Ops before this one are committed: still wake the long-polls for them.
                    failure = Some(e);
                    break;
                }
            };
            let stop = matches!(outcome, OpOutcome::ExpectedSeq { .. });
            results.push(OpResult { op_id: op.op_id.clone(), seq: op.seq, outcome });
            if stop {
                break;
            }
        }
        self.wake()?;
        match failure {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    pub fn conflicts(&self) -> Result<Vec<ConflictRecord>, HubError> {
        self.store.conflicts(None)
    }

    /// Erases a customer everywhere; every kiosk drops them at its next pull.
    pub fn erase_customer(&self, id: &str) -> Result<(), HubError> {
        self.store.erase_customer(id, now_secs())?;
        self.wake()
    }

    /// Ready orders not collected within `no_show_secs` of their promised time expire.
    pub fn expire_no_shows(&self, now: i64, no_show_secs: i64) -> Result<Vec<String>, HubError> {
        let expired = self.store.expire_no_shows(now - no_show_secs, now)?;
        if !expired.is_empty() {
            self.wake()?;
        }
        Ok(expired)
    }

    fn wake(&self) -> Result<(), HubError> {
        self.committed().map_err(|e| HubError::Internal(e.to_string()))
    }
}

fn validate_id(what: &str, id: &str) -> Result<(), HubError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(HubError::BadRequest(format!("{what} must be 1-64 letters, digits, '-', '_' or '.'")));
    }
    Ok(())
}

fn validate_text(what: &str, s: &str) -> Result<(), HubError> {
    if s.trim().is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(HubError::BadRequest(format!("{what} must be 1-100 printable characters")));
    }
    Ok(())
}
