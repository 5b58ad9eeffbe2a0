//! The embedded SQLite backend: its connection policy. One writer connection behind a
//! mutex serialises every write, and SQLite commits one writer at a time, so feed
//! sequence numbers follow commit order: a reader can never see seq N+1 before seq N is
//! committed. Readers use their own connections (WAL) and never block the writer.

mod schema;
mod tx;

use std::any::Any;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

use super::{Backend, TxJob, TxKind};
use crate::error::{HubError, StorageError};

pub struct SqliteHubStore {
    /// The one writer: serialises every write so feed seqs follow commit order.
    writer: Mutex<Connection>,
    /// Idle reader connections; pulls and lookups take one and give it back.
    readers: Mutex<Vec<Connection>>,
    /// Database path, for opening more readers.
    path: PathBuf,
}

fn open_conn(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement the hub runs, prepared once: the default (16) is fewer than one
    // product's import runs, which then prepared each statement again and again.
    conn.set_prepared_statement_cache_capacity(256);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

impl SqliteHubStore {
    pub fn open(path: &Path) -> Result<SqliteHubStore, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StorageError(format!("{}: {e}", dir.display())))?;
        }
        // 0600 from the first byte: it holds the signing key and device token hashes.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| StorageError(format!("cannot open {}: {e}", path.display())))?;
        let mut writer = open_conn(path)?;
        schema::migrate(&mut writer)?;
        Ok(SqliteHubStore { writer: Mutex::new(writer), readers: Mutex::new(Vec::new()), path: path.to_path_buf() })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write takes the database's write lock at its start (IMMEDIATE): a write that began
    /// as a read could not wait for another connection's commit (SQLITE_BUSY at once).
    fn in_tx(conn: &mut Connection, behavior: TransactionBehavior, job: TxJob) -> Result<Box<dyn Any + Send>, HubError> {
        let t = conn.transaction_with_behavior(behavior).map_err(StorageError::from)?;
        let out = job(&mut tx::SqliteTx::new(&t))?;
        t.commit().map_err(StorageError::from)?;
        Ok(out)
    }
}

impl Backend for SqliteHubStore {
    fn run(&self, kind: TxKind, job: TxJob) -> Result<Box<dyn Any + Send>, HubError> {
        match kind {
            TxKind::Feed | TxKind::StoreFeed(_) | TxKind::Bookkeeping => Self::in_tx(&mut self.writer(), TransactionBehavior::Immediate, job),
            TxKind::Read => {
                let conn = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let mut conn = match conn {
                    Some(c) => c,
                    None => open_conn(&self.path)?,
                };
                let out = Self::in_tx(&mut conn, TransactionBehavior::Deferred, job);
                self.readers.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
                out
            }
        }
    }

    /// Old page images of erased rows may still sit in the WAL: fold it into the
    /// (secure_delete) database and truncate it.
    fn scrub(&self) -> Result<(), HubError> {
        self.writer().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").map_err(StorageError::from)?;
        Ok(())
    }
}
