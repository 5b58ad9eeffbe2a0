//! Omnikiosk hub: the central profile store that kiosks sync with, and the channel API
//! the online shop, ERP or CRM feeds it through.
//!
//! Layout:
//! - [`store`]: what the hub stores, written once over a narrow transaction trait
//!   ([`store::HubTx`]), and the two [`store::Backend`]s that hold only SQL: embedded
//!   SQLite and PostgreSQL (several hub processes over one database). Every write
//!   appends to the commit-ordered, compacted change feed in the same transaction.
//! - [`http`]: the HTTP API (device endpoints, channel endpoints) on axum.
//! - [`seed`]: a deterministic, realistic chain for the demo, tests and benchmarks.
//! - [`simulate`]: the simulated online channel (carts change, orders are placed and
//!   cancelled), for `omnikiosk-hub simulate` and the demo.
//! - [`cli`]: the `omnikiosk-hub` command line.
//! - [`error`]: the answer's error type, mapped to HTTP statuses, and the storage
//!   failure as a type of its own.
//!
//! [`Hub`] is the one door: the HTTP layer and the command line call its methods; only
//! `Hub` reaches the storage.
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
use omnikiosk_protocol::scan::Scan;
use omnikiosk_protocol::wire::{
    CartPut, ConflictRecord, CustomerProfile, CustomerUpsert, DeviceHealth, IdentifiersPut, LookupResponse, OpOutcome, OpResult,
    OrderCreate, OrderDetail, PushRequest, StoreRecord, Timeline,
};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub use error::{HubError, StorageError};
pub use http::{router, serve, ServeConfig, ServeError};
pub use seed::{SeedOptions, SeedSummary};
use store::{reads, writes, Backend, Device, FeedPage, HubTx, PostgresHubStore, Relevance, SqliteHubStore, TxKind};

/// Languages the kiosk's screens are translated into.
pub const LANGUAGES: &[&str] = &["en", "pl", "ru", "uk", "zh"];
/// Most ops one push may carry.
pub const MAX_PUSH_OPS: usize = 1000;
/// Default no-show period: a ready order not collected this long after its promised time
/// expires.
pub const DEFAULT_NO_SHOW_SECS: i64 = 7 * 24 * 3600;
/// Default time after which a shopper's "I'm here" ends when their order has not.
pub const DEFAULT_CHECKIN_TTL_SECS: i64 = 120 * 60;
/// Default time after which a "call staff" request nobody closed ends.
pub const DEFAULT_HELP_TTL_SECS: i64 = 30 * 60;
/// A device heard from (a pull) is shared with its store's devices at most this often; a
/// push always shares it. The pull's own feed write wakes every long-poll of the store,
/// the puller's too, so without this bound each pull would cause the next one.
pub const DEVICE_HEALTH_EVERY_SECS: i64 = 60;
/// Timeline entries a page holds by default, and at most.
pub const TIMELINE_PAGE: u32 = 50;
pub const MAX_TIMELINE_PAGE: u32 = 500;

pub use store::writes::EndedWaits;

/// Loyalty tiers.
pub const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// The hub: storage plus a wake-up signal for long-polls. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    /// Where everything is kept; reached only through `Hub`'s methods.
    store: Arc<dyn Backend>,
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
    pub fn open(db_url: &str) -> Result<Hub, HubError> {
        let store: Arc<dyn Backend> = if let Some(path) = db_url.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(HubError::BadRequest("--db sqlite: needs a file path, e.g. sqlite:hub.db".into()));
            }
            Arc::new(SqliteHubStore::open(std::path::Path::new(path))?)
        } else if db_url.starts_with("postgres://") || db_url.starts_with("postgresql://") {
            Arc::new(PostgresHubStore::open(db_url)?)
        } else {
            return Err(HubError::BadRequest(format!("unknown database URL {db_url:?}: use sqlite:PATH or postgres://…")));
        };
        let fresh: [u8; 32] = rand::random();
        let secret = store.tx(TxKind::Bookkeeping, move |tx| Ok(tx.signing_secret(&fresh)?))?;
        let bytes: [u8; 32] =
            secret.try_into().map_err(|_| StorageError("stored signing key is not 32 bytes".into()))?;
        let key = SigningKey::from_bytes(&bytes);
        let head = store.tx(TxKind::Read, |tx| Ok(tx.feed_head()?))?;
        let epoch = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..4]);
        let head = Arc::new(watch::channel(head).0);
        // A hub process moved a scope: wake this one's long-polls too. Heads of different
        // scopes come in any order (a smaller seq may commit later), so every one wakes.
        let wake = head.clone();
        store.on_feed_change(Box::new(move |_scope, seq| {
            wake.send_modify(|current| *current = (*current).max(seq));
        }));
        let hub = Hub { store, head, key: Arc::new(key), epoch: epoch.into() };
        let upgraded = hub.write(writes::upgrade_legacy_pins)?;
        if upgraded > 0 {
            tracing::info!(upgraded, "staff PINs moved from SHA-256 to Argon2id");
        }
        Ok(hub)
    }

    fn read<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        self.store.tx(TxKind::Read, f)
    }

    /// A write that may append to the feed; long-polls wake when it moved the feed.
    fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        let out = self.store.tx(TxKind::Feed, f)?;
        self.committed()?;
        Ok(out)
    }

    fn bookkeeping<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        self.store.tx(TxKind::Bookkeeping, f)
    }

    /// Wakes long-polls after a committed write.
    fn committed(&self) -> Result<(), HubError> {
        let head = self.feed_head()?;
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
        if seq > *self.head.borrow() && seq > self.feed_head()? {
            return Err(HubError::CursorReset("this cursor is ahead of the hub's feed (restored from a backup?): pull again from the start".into()));
        }
        Ok(seq)
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn seed(&self, opts: &SeedOptions) -> Result<SeedSummary, HubError> {
        if !(1..=1000).contains(&opts.stores) {
            return Err(HubError::BadRequest("--stores must be 1..=1000".into()));
        }
        let (data, summary) = seed::generate(opts, now_secs());
        self.seed_data(data)?;
        Ok(summary)
    }

    /// Fills an empty hub with `data`; refuses one that already has stores.
    pub fn seed_data(&self, data: seed::SeedData) -> Result<(), HubError> {
        self.write(move |tx| writes::seed(tx, &data))
    }

    pub fn store(&self, store_id: i64) -> Result<Option<StoreRecord>, HubError> {
        self.read(move |tx| Ok(tx.store(store_id)?))
    }

    /// A new device token for a kiosk of `store_id`; only its hash is kept.
    pub fn add_device(&self, store_id: i64, label: &str) -> Result<String, HubError> {
        let token = format!("okd_{}", hex::encode(rand::random::<[u8; 24]>()));
        let (label, hash) = (label.to_string(), token_hash(&token));
        self.bookkeeping(move |tx| writes::add_device(tx, store_id, &label, &hash, now_secs()))?;
        Ok(token)
    }

    /// Revokes a device's token for good (a stolen or retired kiosk).
    pub fn revoke_device(&self, device_id: &str) -> Result<(), HubError> {
        let id = device_id.to_string();
        let revoked = self.bookkeeping(move |tx| Ok(tx.revoke_device(&id)?))?;
        if !revoked {
            return Err(HubError::NotFound(format!("device {device_id} does not exist")));
        }
        Ok(())
    }

    /// The device a bearer token belongs to, revoked or not.
    pub fn device_by_token(&self, token: &str) -> Result<Option<Device>, HubError> {
        let hash = token_hash(token);
        self.read(move |tx| Ok(tx.device_by_token_hash(&hash)?))
    }

    /// Notes that a device was heard from (and, after a pull, where its cursor stands).
    pub fn device_seen(&self, device_id: &str, protocol: u32, cursor: Option<i64>) -> Result<(), HubError> {
        let id = device_id.to_string();
        self.bookkeeping(move |tx| Ok(tx.device_seen(&id, now_secs(), protocol, cursor).map(|_| ())?))
    }

    /// A device starts a pull: it is noted as seen and, when it was last shared with its
    /// store's devices [`DEVICE_HEALTH_EVERY_SECS`] ago or more, shared again — before the
    /// pull reads the feed, so the device's own record comes in this pull's page instead of
    /// waking its next one.
    pub fn device_pulling(&self, device_id: &str, protocol: u32) -> Result<(), HubError> {
        let (id, now) = (device_id.to_string(), now_secs());
        let published = self.bookkeeping(move |tx| Ok(tx.device_seen(&id, now, protocol, None)?))?;
        if published.is_some_and(|at| now - at < DEVICE_HEALTH_EVERY_SECS) {
            return Ok(());
        }
        // Only then the feed lock (on PostgreSQL): most pulls are bookkeeping alone.
        let id = device_id.to_string();
        self.write(move |tx| Ok(writes::publish_device(tx, &id, now)?))
    }

    /// The last op sequence number applied for the device.
    pub fn device_last_seq(&self, device_id: &str) -> Result<i64, HubError> {
        let id = device_id.to_string();
        self.read(move |tx| Ok(tx.device_last_seq(&id)?.unwrap_or(0)))
    }

    /// Changes after `after` for the store's kiosks (`global` and `store:<id>`).
    pub fn pull(&self, store_id: i64, after: i64, limit: u32) -> Result<FeedPage, HubError> {
        self.read(move |tx| Ok(reads::feed_page(tx, &store::store_scope(store_id), after, limit)?))
    }

    /// The newest sequence number of the whole feed.
    pub fn feed_head(&self) -> Result<i64, HubError> {
        self.read(|tx| Ok(tx.feed_head()?))
    }

    /// A signed code (the QR payload) for an existing customer, order or staff member.
    pub fn sign_code(&self, kind: CodeKind, id: &str, ttl_secs: i64) -> Result<String, HubError> {
        let key = id.to_string();
        let exists = self.read(move |tx| {
            Ok(match kind {
                CodeKind::Customer => tx.customer(&key)?.is_some(),
                CodeKind::Order => !tx.orders(store::OrderFilter::Id(&key))?.is_empty(),
                CodeKind::Staff => tx.staff_exists(&key)?,
            })
        })?;
        if !exists {
            return Err(HubError::NotFound(format!("{kind} {id} does not exist")));
        }
        if ttl_secs <= 0 {
            return Err(HubError::BadRequest("a code must live for a positive time".into()));
        }
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
        let (id, body) = (id.to_string(), body.clone());
        self.write(move |tx| writes::upsert_customer(tx, &id, &body, now_secs()))
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
        let (id, cards) = (id.to_string(), body.loyalty_cards.clone());
        self.write(move |tx| writes::put_identifiers(tx, &id, &cards))
    }

    pub fn put_cart(&self, id: &str, body: &CartPut) -> Result<(), HubError> {
        if body.lines.len() > 200 {
            return Err(HubError::BadRequest("at most 200 cart lines".into()));
        }
        validate_quantities(&body.lines)?;
        let (id, lines) = (id.to_string(), body.lines.clone());
        self.write(move |tx| writes::put_cart(tx, &id, &lines, now_secs()))
    }

    /// The customer's whole profile.
    pub fn get_customer(&self, id: &str) -> Result<CustomerProfile, HubError> {
        let key = id.to_string();
        let profile = self.read(move |tx| Ok(reads::customer_profile(tx, &key)?))?;
        profile.ok_or_else(|| HubError::NotFound(format!("customer {id} not found")))
    }

    pub fn place_order(&self, body: &OrderCreate) -> Result<OrderDetail, HubError> {
        if body.lines.is_empty() || body.lines.len() > 100 {
            return Err(HubError::BadRequest("an order needs 1 to 100 lines".into()));
        }
        validate_quantities(&body.lines)?;
        let body = body.clone();
        self.write(move |tx| writes::place_order(tx, &body, now_secs()))
    }

    pub fn cancel_order(&self, id: &str, reason: &str) -> Result<OrderDetail, HubError> {
        validate_text("reason", reason)?;
        let (id, reason) = (id.to_string(), reason.to_string());
        self.write(move |tx| writes::cancel_order(tx, &id, &reason, now_secs()))
    }

    /// The order with its history.
    pub fn get_order(&self, id: &str) -> Result<OrderDetail, HubError> {
        let key = id.to_string();
        let detail = self.read(move |tx| Ok(reads::order_detail(tx, &key)?))?;
        detail.ok_or_else(|| HubError::NotFound(format!("order {id} not found")))
    }

    pub fn devices(&self) -> Result<Vec<DeviceHealth>, HubError> {
        self.read(|tx| Ok(tx.devices(None)?))
    }

    /// The customer's in-store touchpoints, newest first: `after` is the `next` of the
    /// page before, `limit` defaults to [`TIMELINE_PAGE`] and is at most
    /// [`MAX_TIMELINE_PAGE`].
    pub fn timeline(&self, customer_id: &str, after: Option<&str>, limit: Option<u32>) -> Result<Timeline, HubError> {
        let after = match after.filter(|a| !a.trim().is_empty()) {
            Some(text) => Some(reads::TimelineCursor::parse(text).ok_or_else(|| {
                HubError::BadRequest(format!("bad timeline cursor {text:?}: pass the `next` of the page before, or nothing for the newest"))
            })?),
            None => None,
        };
        let limit = limit.unwrap_or(TIMELINE_PAGE).clamp(1, MAX_TIMELINE_PAGE);
        let key = customer_id.to_string();
        let found = self.read(move |tx| Ok(reads::timeline(tx, &key, after.as_ref(), limit)?))?;
        found.ok_or_else(|| HubError::NotFound(format!("customer {customer_id} not found")))
    }

    /// The online fallback for a customer the store has not cached: the customer of a
    /// scanned app code or loyalty card becomes relevant to the store (and flows into its
    /// feed from then on); `None` when nobody has this code.
    pub fn lookup(&self, store_id: i64, scan: Scan) -> Result<Option<LookupResponse>, HubError> {
        // A miss is answered from a read snapshot: only a found customer takes a write
        // (and, on PostgreSQL, the feed lock).
        let found = self.read(move |tx| {
            let id = match scan {
                Scan::Customer(c) => Some(c.id),
                Scan::LoyaltyCard(card) => tx.card_owner(card.as_str())?,
                _ => return Err(HubError::BadRequest("only customer codes and loyalty cards can be looked up".into())),
            };
            Ok(match id {
                Some(id) if tx.customer(&id)?.is_some() => Some(id),
                _ => None,
            })
        })?;
        let Some(id) = found else { return Ok(None) };
        self.write(move |tx| writes::attach_customer(tx, &id, store_id, Relevance::Lookup, now_secs()).map(Some))
    }

    /// Applies a kiosk's pushed ops in sequence order, each in its own transaction; stops
    /// at the first gap (`expected_seq`) so the kiosk resends from there.
    pub fn push(&self, device: &Device, req: &PushRequest) -> Result<Vec<OpResult>, HubError> {
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
        let mut results = Vec::with_capacity(req.ops.len());
        let mut failure = None;
        for op in &req.ops {
            let (key, device, op_) = (self.public_key(), device.clone(), op.clone());
            let applied = self.store.tx(TxKind::Feed, move |tx| {
                let now = now_secs();
                let qr_order_id = |qr: &str| code::verify(&key, qr, now).ok().filter(|c| c.kind == CodeKind::Order).map(|c| c.id);
                store::push::push_op(tx, &device, &op_, now, &qr_order_id)
            });
            let outcome = match applied {
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
        if failure.is_none() {
            // What the device said of its outbox, for the manager's device list.
            let (id, outbox_len, oldest) = (device.id.clone(), req.outbox_len, req.oldest_unsent_at);
            if let Err(e) = self.store.tx(TxKind::Feed, move |tx| Ok(writes::report_outbox(tx, &id, outbox_len, oldest, now_secs())?)) {
                failure = Some(e);
            }
        }
        self.committed()?;
        match failure {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    pub fn conflicts(&self) -> Result<Vec<ConflictRecord>, HubError> {
        self.read(|tx| Ok(reads::conflicts(tx, None)?))
    }

    /// Erases a customer everywhere; every kiosk drops them at its next pull.
    pub fn erase_customer(&self, id: &str) -> Result<(), HubError> {
        let id = id.to_string();
        self.write(move |tx| writes::erase_customer(tx, &id))?;
        self.store.scrub()
    }

    /// Ready orders not collected within `no_show_secs` of their promised time expire.
    pub fn expire_no_shows(&self, now: i64, no_show_secs: i64) -> Result<Vec<String>, HubError> {
        self.write(move |tx| writes::expire_no_shows(tx, now - no_show_secs, now))
    }

    /// Check-ins older than `checkin_ttl_secs` (their order still open) and help requests
    /// open longer than `help_ttl_secs` end at every device of their store.
    pub fn end_stale_waits(&self, now: i64, checkin_ttl_secs: i64, help_ttl_secs: i64) -> Result<EndedWaits, HubError> {
        self.write(move |tx| Ok(writes::end_stale_waits(tx, now - checkin_ttl_secs, now - help_ttl_secs, now)?))
    }
}

fn validate_quantities(lines: &[omnikiosk_protocol::wire::CartLine]) -> Result<(), HubError> {
    match lines.iter().find(|l| !(1..=99).contains(&l.qty)) {
        Some(l) => Err(HubError::BadRequest(format!("qty of {} must be 1..=99", l.sku))),
        None => Ok(()),
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
