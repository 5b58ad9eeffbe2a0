//! The kiosk's durable local copy of what its store needs: one SQLite file in the data
//! directory, WAL mode, mode 0600. Only this module writes SQL.
//!
//! One connection policy: a writer connection (sync applies pages through it) and a
//! reader connection (scans and screens), each behind its own mutex, so a scan never
//! waits for a page being applied.

mod apply;
mod catch_up;
mod desk;
mod orders;
mod outbox;
mod read;
mod returns;
mod schema;
mod shift;
mod till;
mod today;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

pub use apply::ApplyStats;
pub use catch_up::CatchUp;
pub use desk::{HelpRequest, NpsSummary, PinCheck, PIN_ATTEMPTS, PIN_LOCK_SECS};
pub use outbox::{LocalConflict, OpError, OutboxStats, PushTally, RecordedOp};
pub use read::{Colleague, Counts, ProductView, StaffMember, StoreLocale};
pub use returns::{ReturnRequest, Returnable};
pub use shift::{CashMoveRequest, ShiftState};
pub use till::{Basket, BasketItem, ReceiptSummary, ScannedReceipt};
pub use today::{Sales, StoreDevice, Today};

use crate::config::StoreConfig;

/// File name of the local store inside the data directory.
pub const DB_FILE: &str = "kiosk.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the kiosk's disk is full (or the store reached its configured size): nothing was applied")]
    DiskFull,
    #[error("this kiosk is not enrolled: run `omnikiosk enroll --hub URL --token TOKEN` first")]
    NotEnrolled,
    #[error("this data directory is enrolled to store {enrolled}; the hub token is for store {offered}: use a fresh data directory")]
    OtherStore { enrolled: i64, offered: i64 },
    #[error("cannot prepare the data directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the local store could not be migrated: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("local store: {0}")]
    Sqlite(rusqlite::Error),
    #[error("local store holds an unreadable {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            _ => StoreError::Sqlite(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What enrolment taught the kiosk about its hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrolment {
    pub hub_url: String,
    #[serde(skip)]
    pub device_token: String,
    pub device_id: String,
    pub store_id: i64,
    pub store_name: String,
    /// base64url Ed25519 key: verifies signed codes offline.
    pub hub_public_key: String,
    /// Allow plain `http://` to a non-loopback hub (told so at enrolment).
    pub insecure: bool,
    /// The private CA the hub's certificate is signed by (PEM, `enroll --ca-file`), kept
    /// here so that every later command and the daemon trust it without a config.
    #[serde(skip)]
    pub hub_ca: Option<String>,
}

/// Sync bookkeeping kept beside the data, written in the same transaction as what it describes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    pub cursor: String,
    pub last_pull_at: Option<i64>,
    pub last_push_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// When the current run of failed rounds began.
    pub offline_since: Option<i64>,
}

#[derive(Clone)]
pub struct LocalStore {
    /// Sync's connection: pages and their cursor commit through it.
    writer: Arc<Mutex<Connection>>,
    /// Screens' and scans' connection: WAL lets it read while a page is applied.
    reader: Arc<Mutex<Connection>>,
    /// The database file, for status and tests.
    path: PathBuf,
    /// Told of every op recorded through this handle, so the push loop of the same
    /// process sends it at once instead of at its next round.
    recorded: Arc<tokio::sync::Notify>,
}

impl LocalStore {
    /// Opens (creating and migrating if needed) the store in `dir`.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<LocalStore> {
        let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
        DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        let path = dir.join(DB_FILE);
        // Create the file ourselves so it is 0600 from its first byte; SQLite gives its
        // -wal and -shm files the mode of the database file.
        OpenOptions::new().create(true).append(true).mode(0o600).open(&path).map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            }
        }

        let mut writer = Connection::open(&path)?;
        configure(&writer, cfg)?;
        // Every write of the kiosk goes through this connection, outbox ops among them:
        // they must survive a power cut the moment the shopper sees "done".
        writer.pragma_update(None, "synchronous", "FULL")?;
        // A catch-up page writes each table through statements of several sizes.
        writer.set_prepared_statement_cache_capacity(64);
        schema::migrations().to_latest(&mut writer)?;
        let reader = Connection::open(&path)?;
        configure(&reader, cfg)?;
        Ok(LocalStore { writer: Arc::new(Mutex::new(writer)), reader: Arc::new(Mutex::new(reader)), path, recorded: Arc::default() })
    }

    /// Resolves when an op is recorded through any clone of this handle (or was since the
    /// last time one resolved).
    pub async fn op_recorded(&self) {
        self.recorded.notified().await
    }

    pub(crate) fn tell_op_recorded(&self) {
        self.recorded.notify_one();
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (the
        // transaction rolls back on drop), so a poisoned lock is safe to reuse.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let conn = self.reader();
        let get = |k: &str| meta_get(&conn, k);
        let Some(hub_url) = get("hub_url")? else { return Ok(None) };
        let store_id = get("store_id")?.unwrap_or_default();
        Ok(Some(Enrolment {
            hub_url,
            device_token: get("device_token")?.unwrap_or_default(),
            device_id: get("device_id")?.unwrap_or_default(),
            store_id: store_id.parse().map_err(|_| StoreError::Corrupt { what: "store id", detail: store_id })?,
            store_name: get("store_name")?.unwrap_or_default(),
            hub_public_key: get("hub_public_key")?.unwrap_or_default(),
            insecure: get("insecure")?.as_deref() == Some("1"),
            hub_ca: get("hub_ca")?.filter(|pem| !pem.is_empty()),
        }))
    }

    pub fn require_enrolment(&self) -> Result<Enrolment> {
        self.enrolment()?.ok_or(StoreError::NotEnrolled)
    }

    /// Records enrolment. Re-enrolling to the same store (a new token) is fine; another
    /// store is refused, because this file holds the first store's customers and orders.
    pub fn save_enrolment(&self, e: &Enrolment) -> Result<()> {
        if let Some(old) = self.enrolment()? {
            if old.store_id != e.store_id {
                return Err(StoreError::OtherStore { enrolled: old.store_id, offered: e.store_id });
            }
        }
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        for (k, v) in [
            ("hub_url", e.hub_url.as_str()),
            ("device_token", &e.device_token),
            ("device_id", &e.device_id),
            ("store_id", &e.store_id.to_string()),
            ("store_name", &e.store_name),
            ("hub_public_key", &e.hub_public_key),
            ("insecure", if e.insecure { "1" } else { "0" }),
            ("hub_ca", e.hub_ca.as_deref().unwrap_or_default()),
        ] {
            meta_set(&tx, k, v)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn sync_state(&self) -> Result<SyncState> {
        let conn = self.reader();
        let int = |k: &str| -> Result<Option<i64>> { Ok(meta_get(&conn, k)?.and_then(|v| v.parse().ok())) };
        Ok(SyncState {
            cursor: meta_get(&conn, "cursor")?.unwrap_or_default(),
            last_pull_at: int("last_pull_at")?,
            last_push_at: int("last_push_at")?,
            last_error: meta_get(&conn, "last_error")?,
            last_error_at: int("last_error_at")?,
            offline_since: int("offline_since")?,
        })
    }

    /// Records why the last sync round failed, or clears it with `None`.
    pub fn record_sync_error(&self, error: Option<&str>, now: i64) -> Result<()> {
        let conn = self.writer();
        match error {
            Some(msg) => {
                meta_set(&conn, "last_error", msg)?;
                meta_set(&conn, "last_error_at", &now.to_string())?;
                // The first failure of a run of them: when the kiosk went offline.
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('offline_since', ?1)", [now.to_string()])?;
            }
            None => {
                conn.execute("DELETE FROM meta WHERE key IN ('last_error', 'last_error_at', 'offline_since')", [])?;
            }
        }
        Ok(())
    }
}

fn configure(conn: &Connection, cfg: &StoreConfig) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Deleted rows are overwritten, so an erased customer's name cannot be read back.
    conn.pragma_update(None, "secure_delete", "ON")?;
    if cfg.max_size_mb > 0 {
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = (cfg.max_size_mb as i64 * 1024 * 1024) / page_size.max(512);
        conn.pragma_update(None, "max_page_count", pages)?;
    }
    Ok(())
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
        .execute([key, value])?;
    Ok(())
}
