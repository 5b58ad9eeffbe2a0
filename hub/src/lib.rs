//! Omnikiosk hub: the central profile store that kiosks sync with, and the channel API
//! the online shop, ERP or CRM feeds it through.
//!
//! Layout:
//! - [`store`]: what the hub stores, written once over a narrow transaction trait
//!   ([`store::HubTx`]), and the two [`store::Backend`]s that hold only SQL: embedded
//!   SQLite and PostgreSQL (several hub processes over one database). Every write
//!   appends to the commit-ordered, compacted change feed in the same transaction.
//! - [`http`]: the HTTP API (device endpoints, channel endpoints) on axum.
//! - [`openapi`]: the API's OpenAPI 3.1 document, generated from the handlers' types.
//! - [`params`]: the query's whole numbers, each range checked and documented from one place.
//! - [`metrics`]: the Prometheus figures of `GET /metrics` and the middleware that counts requests.
//! - [`master_data`]: the retailer's stores, catalogue, prices and stock, checked and
//!   written (the writes themselves: `store::catalogue`).
//! - [`import`]: `import products|inventory` (and the bulk uploads): Google's feeds,
//!   read by [`feeds`], applied row by row through the master data's checks.
//! - [`seed`]: a deterministic, realistic chain for the demo, tests and benchmarks.
//! - [`simulate`]: the simulated online channel (carts change, orders are placed and
//!   cancelled), for `omnikiosk-hub simulate` and the demo.
//! - [`lookups`]: the online lookup's per-device rate limit and its audit's types.
//! - [`feeds`]: the reader of the retailer's Google Merchant Center files (products,
//!   local inventory) that `omnikiosk-hub import` loads; pure, no storage.
//! - [`staff`]: colleagues as HR manages them (add, list, remove, PIN reset, reissue) and their printable badge.
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
pub mod feeds;
pub mod http;
pub mod import;
pub mod lookups;
pub mod master_data;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod seed;
pub mod shared_pages;
pub mod simulate;
pub mod staff;
pub mod store;
pub mod tls;

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};
use omnikiosk_protocol::code::{self, CodeClaims, CodeKind};
use omnikiosk_protocol::gtin::{LoyaltyCard, DEFAULT_LOYALTY_PREFIX};
use omnikiosk_protocol::scan::Scan;
use omnikiosk_protocol::wire::{
    CartPut, ConflictRecord, CustomerProfile, CustomerUpsert, DeviceHealth, IdentifiersPut, LookupResponse, OpOutcome, OpResult,
    OrderCreate, OrderDetail, PushRequest, ReceiptLink, SalesPage, ShiftsPage, StoreRecord, Timeline,
};
use omnikiosk_protocol::till::Receipt;
use omnikiosk_protocol::wire::LoyaltyRules;
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
/// Receipts a `/v1/sales` page and Z reports a `/v1/shifts` page hold by default, and at most.
pub const SALES_PAGE: u32 = 100;
pub const MAX_SALES_PAGE: u32 = 1000;

pub use store::writes::EndedWaits;
use lookups::{LookupOutcome, LookupsPage};

/// Loyalty tiers.
pub const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// The hub: storage plus a wake-up signal for long-polls. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    /// Where everything is kept; reached only through `Hub`'s methods.
    store: Arc<dyn Backend>,
    /// Newest feed sequence number known here (a cursor beyond it is checked against the
    /// database).
    head: Arc<std::sync::atomic::AtomicI64>,
    /// What long-polls wait on: a commit wakes only the scopes it wrote.
    wakers: Arc<Wakers>,
    /// Per-pull bookkeeping, kept in memory and written in batches.
    seen: Arc<SeenBook>,
    /// Database jobs running or waiting now, and how many the hub takes before it
    /// answers 429.
    load: Arc<Load>,
    /// How many lookups each device may still make (in memory, per process).
    lookup_limit: Arc<lookups::LookupLimit>,
    /// Points one device may give per hour ([`Hub::set_points_per_device_hour`]).
    points_per_hour: Arc<std::sync::atomic::AtomicI64>,
    /// Cached signing key (it never changes once created).
    key: Arc<SigningKey>,
    /// Devices that showed their token lately (see [`Hub::device_by_token`]).
    known_devices: Arc<KnownDevices>,
    /// Names this database in feed cursors (derived from its signing key, which is
    /// created with the database), so a cursor of another hub database is recognised.
    epoch: Arc<str>,
}

/// A wake-up signal per feed scope. A long-poll of a store subscribes to `store:<id>`; a
/// commit to that scope wakes its long-polls and nobody else's, a commit to `global` wakes
/// every one. So an order placed for one store sends one store's kiosks to the database,
/// not the chain's.
///
/// A signal's value is the number of wake-ups of the whole process at its last wake-up (or
/// when it was made): it only grows, even for a scope dropped and made again, so a value
/// names one state of the scope's feed ([`shared_pages`] relies on it).
#[derive(Default)]
struct Wakers {
    scopes: std::sync::Mutex<Signals>,
}

#[derive(Default)]
struct Signals {
    by_scope: HashMap<String, watch::Sender<u64>>,
    /// Wake-ups so far, of any scope.
    woken: u64,
}

impl Wakers {
    fn subscribe(&self, scope: &str) -> watch::Receiver<u64> {
        let mut signals = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let now = signals.woken;
        signals.by_scope.entry(scope.to_string()).or_insert_with(|| watch::channel(now).0).subscribe()
    }

    fn wake(&self, scope: &str) {
        let mut signals = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        signals.woken += 1;
        let now = signals.woken;
        if scope == store::GLOBAL_SCOPE {
            // Scopes nobody waits on any more are dropped on the way.
            signals.by_scope.retain(|_, s| s.receiver_count() > 0);
            signals.by_scope.values().for_each(|s| {
                s.send_replace(now);
            });
        } else if let Some(s) = signals.by_scope.get(scope) {
            s.send_replace(now);
        }
    }
}

/// How long a device that showed a good token is believed without the database.
pub const KNOWN_DEVICE_SECS: u64 = 5;
/// Devices kept at most; past it all are let go (the next pulls read the database).
const MAX_KNOWN_DEVICES: usize = 100_000;

/// Devices in good standing by the hash of their token, and when that was read.
#[derive(Default)]
struct KnownDevices {
    by_token_hash: std::sync::Mutex<HashMap<String, (Device, std::time::Instant)>>,
    /// Revocations so far: a device read before one is not kept after it.
    revocations: std::sync::atomic::AtomicU64,
}

impl KnownDevices {
    fn get(&self, token_hash: &str) -> Option<Device> {
        let known = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        known.get(token_hash).filter(|(_, at)| at.elapsed().as_secs() < KNOWN_DEVICE_SECS).map(|(d, _)| d.clone())
    }

    fn revocations(&self) -> u64 {
        self.revocations.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps `device`, read when [`KnownDevices::revocations`] was `read_at`, unless a
    /// revocation came since (it may be this device's).
    fn keep(&self, token_hash: String, device: Device, read_at: u64) {
        let mut known = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        if self.revocations() != read_at {
            return;
        }
        if known.len() >= MAX_KNOWN_DEVICES {
            known.clear();
        }
        known.insert(token_hash, (device, std::time::Instant::now()));
    }

    fn forget(&self, device_id: &str) {
        let mut known = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        self.revocations.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        known.retain(|_, (d, _)| d.id != device_id);
    }
}

/// Database jobs the hub runs or queues at once before it answers 429 (`ServeConfig`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;
/// Points one device may give in an hour (earned by hand or at the till) before the hub
/// refuses more (`serve --points-per-device-hour`): a stolen or tampered device cannot mint
/// a fortune.
pub const DEFAULT_POINTS_PER_DEVICE_HOUR: i64 = 20_000;

/// What an overloaded hub asks callers to wait, in seconds (`Retry-After`).
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Load shedding: a request past the limit is answered at once instead of queueing behind
/// the others (the SQLite hub has one writer) until everybody's request times out.
struct Load {
    in_flight: std::sync::atomic::AtomicUsize,
    limit: std::sync::atomic::AtomicUsize,
}

/// One database job counted in [`Load`] while it lives.
struct Admitted<'a>(&'a Load);

impl Load {
    fn admit(&self) -> Result<Admitted<'_>, HubError> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.in_flight.fetch_add(1, SeqCst) >= self.limit.load(SeqCst) {
            self.in_flight.fetch_sub(1, SeqCst);
            return Err(HubError::Overloaded(BUSY_RETRY_AFTER_SECS));
        }
        Ok(Admitted(self))
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// How often `serve` writes the pull bookkeeping kept in memory.
pub const SEEN_FLUSH_SECS: u64 = 2;

/// One device as its pulls left it, not yet written.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: i64,
    protocol: u32,
    cursor: Option<i64>,
    /// When its record was last shared with its store (known once read or written).
    published_at: Option<i64>,
    dirty: bool,
}

/// What each pull notes of its device (last seen, protocol, cursor): a thousand kiosks
/// long-polling would otherwise be a thousand writes per change.
#[derive(Default)]
struct SeenBook {
    devices: std::sync::Mutex<HashMap<String, Seen>>,
}

impl SeenBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.devices.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, id: &str, at: i64, protocol: u32, cursor: Option<i64>) -> Seen {
        let mut devices = self.lock();
        let e = devices.entry(id.to_string()).or_insert(Seen { at, protocol, cursor: None, published_at: None, dirty: true });
        e.at = at;
        e.protocol = protocol;
        e.cursor = cursor.or(e.cursor);
        e.dirty = true;
        *e
    }

    fn get(&self, id: &str) -> Option<Seen> {
        self.lock().get(id).copied()
    }

    fn published(&self, id: &str, at: i64) {
        if let Some(e) = self.lock().get_mut(id) {
            e.published_at = Some(at);
        }
    }

    fn take_dirty(&self) -> Vec<(String, Seen)> {
        let mut devices = self.lock();
        devices
            .iter_mut()
            .filter(|(_, s)| s.dirty)
            .map(|(id, s)| {
                s.dirty = false;
                (id.clone(), *s)
            })
            .collect()
    }

    /// Notes a failed flush did not write, unless the device was heard from since.
    fn restore(&self, rows: Vec<(String, Seen)>) {
        let mut devices = self.lock();
        for (id, s) in rows {
            if let Some(e) = devices.get_mut(&id) {
                if !e.dirty {
                    e.dirty = true;
                    e.cursor = e.cursor.or(s.cursor);
                }
            }
        }
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A database URL fit to print: a password in it is replaced by `***`.
pub fn redact(db_url: &str) -> String {
    match url::Url::parse(db_url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => db_url.to_string(),
    }
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
        let head = Arc::new(std::sync::atomic::AtomicI64::new(head));
        let wakers = Arc::new(Wakers::default());
        // A hub process (another one, or this one: its own commits are announced too)
        // moved a scope: wake the long-polls of that scope here.
        let (wake, known) = (wakers.clone(), head.clone());
        store.on_feed_change(Box::new(move |scope, seq| {
            known.fetch_max(seq, std::sync::atomic::Ordering::Relaxed);
            wake.wake(scope);
        }));
        let load = Arc::new(Load { in_flight: Default::default(), limit: DEFAULT_MAX_IN_FLIGHT.into() });
        let hub = Hub {
            store,
            head,
            wakers,
            seen: Arc::default(),
            load,
            lookup_limit: Arc::default(),
            points_per_hour: Arc::new(std::sync::atomic::AtomicI64::new(DEFAULT_POINTS_PER_DEVICE_HOUR)),
            key: Arc::new(key),
            known_devices: Arc::default(),
            epoch: epoch.into(),
        };
        let upgraded = hub.write(writes::upgrade_legacy_pins)?;
        if upgraded > 0 {
            tracing::info!(upgraded, "staff PINs moved from SHA-256 to Argon2id");
        }
        Ok(hub)
    }

    /// How many database jobs may run or wait at once before callers are told 429.
    pub fn set_max_in_flight(&self, limit: usize) {
        self.load.limit.store(limit.max(1), std::sync::atomic::Ordering::SeqCst);
    }

    /// How many lookups a device may make per minute before it is answered 429
    /// `lookup_rate_limited`.
    pub fn set_lookups_per_minute(&self, n: u32) {
        self.lookup_limit.set_per_minute(n);
    }

    /// Points one device may give in any hour; past it a `loyalty.earn` is refused
    /// (`points_limit`) and a sale credits only what is left, as a conflict.
    pub fn set_points_per_device_hour(&self, n: i64) {
        self.points_per_hour.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every database job of the hub, counted against the in-flight limit.
    fn tx<T: Send + 'static>(&self, kind: TxKind, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        let _admitted = self.load.admit()?;
        self.store.tx(kind, f)
    }

    fn read<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        self.tx(TxKind::Read, f)
    }

    /// A write that may append to the feed, alone; the long-polls of the scopes it wrote wake.
    fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        self.write_as(TxKind::Feed, f)
    }

    /// A write of one store's rows and the customers it touches, beside other stores'
    /// writers ([`TxKind::StoreFeed`]).
    fn store_write<T: Send + 'static>(&self, store_id: i64, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        self.write_as(TxKind::StoreFeed(store_id), f)
    }

    fn write_as<T: Send + 'static>(&self, kind: TxKind, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        let (out, scopes) = self.feed_tx(kind, f)?;
        self.committed(&scopes);
        Ok(out)
    }

    /// A feed transaction, answering also the scopes it appended to (once committed).
    fn feed_tx<T: Send + 'static>(
        &self,
        kind: TxKind,
        f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static,
    ) -> Result<(T, Vec<String>), HubError> {
        self.tx(kind, move |tx| {
            let (out, scopes) = writes::recording_scopes(|| f(tx));
            out.map(|out| (out, scopes))
        })
    }

    fn bookkeeping<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn HubTx) -> Result<T, HubError> + Send + 'static) -> Result<T, HubError> {
        self.tx(TxKind::Bookkeeping, f)
    }

    /// Wakes the long-polls of the scopes a committed write appended to; a write that
    /// added nothing to any feed sends no waiting kiosk back to the database.
    fn committed(&self, scopes: &[String]) {
        for scope in scopes {
            self.wakers.wake(scope);
        }
    }

    /// What a long-poll of `store_id`'s kiosks waits on: a commit to its store or `global`.
    pub(crate) fn subscribe(&self, store_id: i64) -> watch::Receiver<u64> {
        self.wakers.subscribe(&store::store_scope(store_id))
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
        if seq > self.head.load(std::sync::atomic::Ordering::Relaxed) && seq > self.remember_head()? {
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
        // Forgotten before and after: a read meanwhile is not kept either way.
        self.known_devices.forget(device_id);
        let revoked = self.bookkeeping(move |tx| Ok(tx.revoke_device(&id)?));
        self.known_devices.forget(device_id);
        let revoked = revoked?;
        if !revoked {
            return Err(HubError::NotFound(format!("device {device_id} does not exist")));
        }
        Ok(())
    }

    /// The device a bearer token belongs to, revoked or not. A device in good standing is
    /// kept in memory for [`KNOWN_DEVICE_SECS`]: a kiosk's long-polls (one at each change
    /// of its store) do not each read the devices table. A revocation through this process
    /// takes effect at once; one through another hub process within that time.
    pub fn device_by_token(&self, token: &str) -> Result<Option<Device>, HubError> {
        let hash = token_hash(token);
        if let Some(device) = self.known_devices.get(&hash) {
            return Ok(Some(device));
        }
        let (key, read_at) = (hash.clone(), self.known_devices.revocations());
        let device = self.read(move |tx| Ok(tx.device_by_token_hash(&key)?))?;
        if let Some(d) = device.as_ref().filter(|d| !d.revoked) {
            self.known_devices.keep(hash, d.clone(), read_at);
        }
        Ok(device)
    }

    /// [`Hub::device_by_token`] from memory alone: `None` when it would read the database.
    pub fn known_device(&self, token: &str) -> Option<Device> {
        self.known_devices.get(&token_hash(token))
    }

    /// Notes that a device was heard from (and, after a pull, where its cursor stands) —
    /// in memory: [`Hub::flush_seen`] writes what changed in one transaction.
    pub fn device_seen(&self, device_id: &str, protocol: u32, cursor: Option<i64>) -> Result<(), HubError> {
        self.seen.note(device_id, now_secs(), protocol, cursor);
        Ok(())
    }

    /// A device starts a pull: it is noted as seen and, when it was last shared with its
    /// store's devices [`DEVICE_HEALTH_EVERY_SECS`] ago or more, shared again — before the
    /// pull reads the feed, so the device's own record comes in this pull's page instead of
    /// waking its next one. Only the first pull of a device since this process started
    /// reads the database; the others are bookkeeping in memory.
    pub fn device_pulling(&self, device: &Device, protocol: u32) -> Result<(), HubError> {
        let (device_id, store_id) = (device.id.as_str(), device.store_id);
        let now = now_secs();
        let entry = self.seen.note(device_id, now, protocol, None);
        let published = match entry.published_at {
            Some(at) => at,
            None => {
                let id = device_id.to_string();
                let at = self.bookkeeping(move |tx| Ok(tx.device_seen(&id, now, protocol, None)?))?;
                self.seen.published(device_id, at.unwrap_or(0));
                at.unwrap_or(0)
            }
        };
        if now - published < DEVICE_HEALTH_EVERY_SECS {
            return Ok(());
        }
        // Only then a feed write (on PostgreSQL, its store's lock): most pulls are
        // bookkeeping alone.
        let id = device_id.to_string();
        self.store_write(store_id, move |tx| {
            tx.device_seen(&id, entry.at, entry.protocol, entry.cursor)?;
            Ok(writes::publish_device(tx, &id, now)?)
        })?;
        self.seen.published(device_id, now);
        Ok(())
    }

    /// Writes the pull bookkeeping noted since the last flush (last seen, protocol, cursor)
    /// in one transaction. `serve` runs it every [`SEEN_FLUSH_SECS`] and when it stops;
    /// `GET /v1/devices` first.
    pub fn flush_seen(&self) -> Result<usize, HubError> {
        let dirty = self.seen.take_dirty();
        if dirty.is_empty() {
            return Ok(0);
        }
        let n = dirty.len();
        let rows = dirty.clone();
        let written = self.bookkeeping(move |tx| {
            for (id, s) in &rows {
                tx.device_seen(id, s.at, s.protocol, s.cursor)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            // Kept for the next flush (newer notes of the same device win).
            self.seen.restore(dirty);
            return Err(e);
        }
        Ok(n)
    }

    /// The last op sequence number applied for the device.
    pub fn device_last_seq(&self, device_id: &str) -> Result<i64, HubError> {
        let id = device_id.to_string();
        self.read(move |tx| Ok(tx.device_last_seq(&id)?.unwrap_or(0)))
    }

    /// Changes after `after` for the store's kiosks (`global` and `store:<id>`).
    pub fn pull(&self, store_id: i64, after: i64, limit: u32) -> Result<FeedPage, HubError> {
        let page = self.read(move |tx| Ok(reads::feed_page(tx, &store::store_scope(store_id), after, limit)?))?;
        if !page.has_more {
            // Where the store's feed (with `global`) stands, as its kiosks last read it.
            metrics::feed_head(&store::store_scope(store_id), page.last_seq);
        }
        Ok(page)
    }

    /// The newest sequence number of the whole feed.
    pub fn feed_head(&self) -> Result<i64, HubError> {
        self.read(|tx| Ok(tx.feed_head()?))
    }

    /// The feed head read from the database and kept as the newest known.
    fn remember_head(&self) -> Result<i64, HubError> {
        let head = self.feed_head()?;
        self.head.fetch_max(head, std::sync::atomic::Ordering::Relaxed);
        Ok(head)
    }

    /// A signed code (the QR payload) for an existing customer, order or staff member.
    pub fn sign_code(&self, kind: CodeKind, id: &str, ttl_secs: i64) -> Result<String, HubError> {
        if kind == CodeKind::Receipt {
            return Err(HubError::BadRequest("receipt codes are signed by the till that prints them, not the hub".into()));
        }
        let key = id.to_string();
        // A badge carries its record's version: an older one is refused at the kiosk.
        let found = self.read(move |tx| {
            Ok(match kind {
                CodeKind::Customer => tx.customer(&key)?.map(|_| 0),
                CodeKind::Order => tx.orders(store::OrderFilter::Id(&key))?.first().map(|_| 0),
                CodeKind::Staff => tx.staff_member(&key)?.map(|st| st.badge_version),
                CodeKind::Receipt => None,
            })
        })?;
        let Some(version) = found else {
            return Err(HubError::NotFound(format!("{kind} {id} does not exist")));
        };
        if ttl_secs <= 0 {
            return Err(HubError::BadRequest("a code must live for a positive time".into()));
        }
        let now = now_secs();
        Ok(code::sign(&self.key, &CodeClaims { kind, id: id.to_string(), iat: now, exp: now + ttl_secs, version }))
    }

    pub fn upsert_customer(&self, id: &str, body: &CustomerUpsert) -> Result<(), HubError> {
        params::check_customer_id(id)?;
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
        self.store_write(body.store_id, move |tx| writes::place_order(tx, &body, now_secs()))
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

    /// Replaces the chain's loyalty rule (every currency's) and sends it to every kiosk;
    /// a rule out of its ranges is refused with nothing changed.
    pub fn set_loyalty_rules(&self, rules: &LoyaltyRules) -> Result<(), HubError> {
        rules.validate().map_err(HubError::BadRequest)?;
        let rules = rules.clone();
        self.write(move |tx| Ok(writes::set_loyalty_rules(tx, &rules)?))
    }

    /// The chain's loyalty rule; `NotFound` until one is set (each till uses its config).
    pub fn loyalty_rules(&self) -> Result<LoyaltyRules, HubError> {
        let rules = self.read(|tx| Ok(tx.loyalty_rules()?))?;
        if rules.rules.is_empty() {
            return Err(HubError::NotFound("the chain has no loyalty rule yet: each till earns by its own config".into()));
        }
        Ok(rules)
    }

    pub fn devices(&self) -> Result<Vec<DeviceHealth>, HubError> {
        self.flush_seen()?;
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

    /// Receipts recorded after `after` (the `cursor` of the page before; nothing for the
    /// first), in the order the hub committed them, of one store or of all; `limit`
    /// defaults to [`SALES_PAGE`] and is at most [`MAX_SALES_PAGE`]. The cursor is
    /// `<epoch>.<position>` like the feed's: one of another hub database answers
    /// `cursor_reset`.
    pub fn sales(&self, store_id: Option<i64>, after: Option<&str>, limit: Option<u32>) -> Result<SalesPage, HubError> {
        let after = self.position_after("sales", after)?;
        let limit = limit.unwrap_or(SALES_PAGE).clamp(1, MAX_SALES_PAGE);
        let page = self.read(move |tx| Ok(reads::sales(tx, store_id, after, limit)?))?;
        Ok(SalesPage { sales: page.items, cursor: self.cursor(page.last), has_more: page.has_more })
    }

    /// Z reports recorded after `after` (the `cursor` of the page before; nothing for the
    /// first), in the order the hub committed them, of one store or of all; `limit`
    /// defaults to [`SALES_PAGE`] and is at most [`MAX_SALES_PAGE`]. The cursor is
    /// `<epoch>.<position>`, as the sales' is.
    pub fn shifts(&self, store_id: Option<i64>, after: Option<&str>, limit: Option<u32>) -> Result<ShiftsPage, HubError> {
        let after = self.position_after("shifts", after)?;
        let limit = limit.unwrap_or(SALES_PAGE).clamp(1, MAX_SALES_PAGE);
        let page = self.read(move |tx| Ok(reads::shifts(tx, store_id, after, limit)?))?;
        Ok(ShiftsPage { shifts: page.items, cursor: self.cursor(page.last), has_more: page.has_more })
    }

    /// The position in a channel list's cursor (`<epoch>.<position>`, of the list named
    /// `what`); 0 when there is none.
    fn position_after(&self, what: &str, after: Option<&str>) -> Result<i64, HubError> {
        let Some(text) = after.map(str::trim).filter(|a| !a.is_empty()) else { return Ok(0) };
        let bad = || HubError::BadRequest(format!("bad {what} cursor {text:?}: pass the `cursor` of the page before, or nothing for the first"));
        let (epoch, position) = text.split_once('.').ok_or_else(bad)?;
        let position: i64 = position.parse().ok().filter(|p| *p >= 0).ok_or_else(bad)?;
        if epoch != &*self.epoch {
            return Err(HubError::CursorReset(format!("this {what} cursor belongs to another hub database: read again from the start")));
        }
        Ok(position)
    }

    /// One recorded receipt, by its number.
    pub fn receipt(&self, number: &str) -> Result<Receipt, HubError> {
        let key = number.to_string();
        let found = self.read(move |tx| Ok(reads::receipt_by_number(tx, &key)?))?;
        found.ok_or_else(|| HubError::NotFound(format!("receipt {number} not found")))
    }

    /// The e-receipt behind a paper receipt's QR: the code must be signed with the receipt
    /// key of the device that printed it. A forged or unknown code is "not found" alike.
    pub fn e_receipt(&self, code: &str) -> Result<Receipt, HubError> {
        let not_found = || HubError::NotFound("no receipt has this code".into());
        let number = omnikiosk_protocol::code::receipt_kind_of(code).ok_or_else(not_found)?;
        let receipt = self.receipt(&number).map_err(|_| not_found())?;
        let device = receipt.device_id.clone();
        let found = self.read(move |tx| Ok(tx.devices(Some(&device))?.into_iter().next()))?.ok_or_else(not_found)?;
        // Any key the device signed with (it may have been reinstalled since); the code's
        // own time anchors its expiry (`at`).
        let signed = found.receipt_keys().filter_map(|k| omnikiosk_protocol::code::decode_public_key(k).ok()).any(|key| {
            omnikiosk_protocol::code::verify(&key, code, receipt.at)
                .is_ok_and(|c| c.kind == omnikiosk_protocol::code::CodeKind::Receipt && c.id == receipt.number)
        });
        if !signed {
            return Err(not_found());
        }
        Ok(receipt.for_the_shopper())
    }

    /// Where the device's receipt chain stands at the hub: a reinstalled kiosk numbers its
    /// receipts after it and chains onto it.
    pub fn last_receipt(&self, device_id: &str) -> Result<Option<ReceiptLink>, HubError> {
        let id = device_id.to_string();
        self.read(move |tx| Ok(reads::last_receipt(tx, &id)?))
    }

    /// The online fallback for a customer the store has not cached: the customer of a
    /// scanned app code or loyalty card becomes relevant to the device's store (and flows
    /// into its feed from then on); `None` when nobody has this code. Past the device's
    /// allowance ([`Hub::set_lookups_per_minute`]) nothing is looked up. Every lookup is
    /// audited, refused ones too ([`Hub::lookups`]).
    pub fn lookup(&self, device: &Device, scan: Scan) -> Result<Option<LookupResponse>, HubError> {
        if !matches!(scan, Scan::Customer(_) | Scan::LoyaltyCard(_)) {
            return Err(HubError::BadRequest("only customer codes and loyalty cards can be looked up".into()));
        }
        let (store_id, device_id, kind) = (device.store_id, device.id.clone(), scan.kind_name());
        if let Err(retry_after) = self.lookup_limit.take(&device.id, std::time::Instant::now()) {
            self.bookkeeping(move |tx| Ok(writes::record_lookup(tx, store_id, &device_id, kind, LookupOutcome::Refused, None, now_secs())?))?;
            return Err(HubError::LookupRateLimited(retry_after));
        }
        // A miss is only audited: only a found customer takes a feed write (and, on
        // PostgreSQL, the feed lock).
        let audit_id = device_id.clone();
        let found = self.bookkeeping(move |tx| {
            let id = match scan {
                Scan::Customer(c) => Some(c.id),
                Scan::LoyaltyCard(card) => tx.card_owner(card.as_str())?,
                _ => None,
            };
            let found = match id {
                Some(id) if tx.customer(&id)?.is_some() => Some(id),
                _ => None,
            };
            if found.is_none() {
                writes::record_lookup(tx, store_id, &audit_id, kind, LookupOutcome::NotFound, None, now_secs())?;
            }
            Ok(found)
        })?;
        let Some(id) = found else { return Ok(None) };
        self.store_write(store_id, move |tx| {
            let now = now_secs();
            let answer = writes::attach_customer(tx, &id, store_id, Relevance::Lookup, now)?;
            writes::record_lookup(tx, store_id, &device_id, kind, LookupOutcome::Found, Some(&id), now)?;
            Ok(Some(answer))
        })
    }

    /// The lookups' audit after `after` (the `cursor` of the page before; nothing for the
    /// first), in the order the hub committed them, of one store or of all; `limit`
    /// defaults to [`SALES_PAGE`] and is at most [`MAX_SALES_PAGE`], as the sales' list.
    pub fn lookups(&self, store_id: Option<i64>, after: Option<&str>, limit: Option<u32>) -> Result<LookupsPage, HubError> {
        let after = self.position_after("lookups", after)?;
        let limit = limit.unwrap_or(SALES_PAGE).clamp(1, MAX_SALES_PAGE);
        let page = self.read(move |tx| Ok(reads::lookups(tx, store_id, after, limit)?))?;
        Ok(LookupsPage { lookups: page.items, cursor: self.cursor(page.last), has_more: page.has_more })
    }

    /// Applies a kiosk's pushed ops in sequence order, in one transaction with the device's
    /// outbox report (one commit, one lock, one wake-up per push, not per op; a refused op
    /// is rolled back to its own savepoint); stops at the first gap (`expected_seq`) so the
    /// kiosk resends from there. A storage failure commits nothing: the kiosk sends the
    /// whole push again, and what it had sent before is `duplicate`.
    pub fn push(&self, device: &Device, req: &PushRequest) -> Result<Vec<OpResult>, HubError> {
        if req.ops.len() > MAX_PUSH_OPS {
            return Err(HubError::BadRequest(format!("at most {MAX_PUSH_OPS} ops per push")));
        }
        if let Some(key) = &req.receipt_key {
            omnikiosk_protocol::code::decode_public_key(key)
                .map_err(|e| HubError::BadRequest(format!("receipt_key: {e}")))?;
        }
        for (i, op) in req.ops.iter().enumerate() {
            if op.seq != req.device_seq_from + i as i64 {
                return Err(HubError::BadRequest("ops must carry consecutive sequence numbers from device_seq_from".into()));
            }
            if op.op_id.is_empty() || op.op_id.len() > 64 {
                return Err(HubError::BadRequest("every op needs an op_id of 1-64 characters".into()));
            }
        }
        let (key, device, ops) = (self.public_key(), device.clone(), req.ops.clone());
        let (outbox_len, oldest, receipt_key) = (req.outbox_len, req.oldest_unsent_at, req.receipt_key.clone());
        // Shared with the store as it was last heard from, which may be in memory yet.
        let seen = self.seen.get(&device.id);
        let points_per_hour = self.points_per_hour.load(std::sync::atomic::Ordering::Relaxed);
        let (results, scopes) = self.feed_tx(TxKind::StoreFeed(device.store_id), move |tx| {
            let now = now_secs();
            // The customers the ops name, held in one order before any is read: two
            // stores' pushes naming the same shoppers then wait for each other instead of
            // each holding one the other wants.
            tx.hold_customers(&store::push::customers_named(&ops))?;
            let qr_order_id = |qr: &str| code::verify(&key, qr, now).ok().filter(|c| c.kind == CodeKind::Order).map(|c| c.id);
            let mut results = Vec::with_capacity(ops.len());
            for op in &ops {
                let outcome = store::push::push_op(tx, &device, op, now, points_per_hour, &qr_order_id)?;
                let stop = matches!(outcome, OpOutcome::ExpectedSeq { .. });
                results.push(OpResult { op_id: op.op_id.clone(), seq: op.seq, outcome });
                if stop {
                    break;
                }
            }
            // What the device said of its outbox, for the manager's device list.
            if let Some(s) = seen {
                tx.device_seen(&device.id, s.at, s.protocol, s.cursor)?;
            }
            writes::report_outbox(tx, &device.id, outbox_len, oldest, receipt_key.as_deref(), now)?;
            Ok(results)
        })?;
        self.committed(&scopes);
        Ok(results)
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

    /// Customers relevant to a store by lookup alone and not there for `lookup_ttl_secs`
    /// leave its cache: the store's feed gets their tombstone. Answers (customer, store).
    pub fn detach_stale_lookups(&self, now: i64, lookup_ttl_secs: i64) -> Result<Vec<(String, i64)>, HubError> {
        self.write(move |tx| Ok(writes::detach_stale_lookups(tx, now - lookup_ttl_secs)?))
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

pub(crate) fn validate_text(what: &str, s: &str) -> Result<(), HubError> {
    if s.trim().is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(HubError::BadRequest(format!("{what} must be 1-100 printable characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shopper(home: i64) -> CustomerUpsert {
        CustomerUpsert {
            first_name: "Anna".into(),
            last_name: "Kowalska".into(),
            tier: "gold".into(),
            home_store: Some(home),
            language: "pl".into(),
            email: None,
        }
    }

    /// A commit wakes the long-polls of the stores it wrote to and nobody else's; a write
    /// to `global` wakes every store's.
    #[test]
    fn a_database_password_is_never_printed() {
        assert_eq!(redact("postgres://hub:s3cret@db.example/chain"), "postgres://hub:***@db.example/chain");
        assert_eq!(redact("postgres://hub@db.example/chain"), "postgres://hub@db.example/chain");
        assert_eq!(redact("sqlite:hub.db"), "sqlite:hub.db");
    }

    #[test]
    fn a_commit_wakes_only_the_stores_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&format!("sqlite:{}", dir.path().join("hub.db").display())).unwrap();
        hub.seed(&SeedOptions { stores: 2, customers: 10, products: 5, orders: 0, seed: 1 }).unwrap();
        let (one, two) = (hub.subscribe(1), hub.subscribe(2));
        hub.upsert_customer("C-NEW", &shopper(2)).unwrap();
        assert!(two.has_changed().unwrap(), "store 2's kiosks learn of their new customer");
        assert!(!one.has_changed().unwrap(), "store 1's kiosks are left waiting");
        // A store's record is the chain's (`global`): every store's kiosks wake.
        let wakers = Wakers::default();
        let (a, mut b) = (wakers.subscribe("store:1"), wakers.subscribe("store:2"));
        wakers.wake("store:2");
        assert!(!a.has_changed().unwrap() && b.has_changed().unwrap());
        b.borrow_and_update();
        wakers.wake(store::GLOBAL_SCOPE);
        assert!(a.has_changed().unwrap() && b.has_changed().unwrap());
        drop((a, b));
        wakers.wake(store::GLOBAL_SCOPE);
        assert!(wakers.scopes.lock().unwrap().by_scope.is_empty(), "scopes nobody waits on are dropped");
        // Made again, a scope's signal starts where the process's wake-ups stand: no value
        // it had before (a page kept under it may be older) comes back.
        assert_eq!(*wakers.subscribe("store:1").borrow(), 3);
    }
}
