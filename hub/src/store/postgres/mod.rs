//! The PostgreSQL backend, for a chain: several stateless hub processes over one
//! database. Behaviour is that of the embedded SQLite backend (`sqlite.rs`), which is the
//! reference; only the way writers are serialised and woken differs.
//!
//! - **Commit order per scope, across processes.** A write transaction holds its feed
//!   rows back until commit. Then it takes the whole-feed advisory lock *shared*, locks
//!   the head row of each scope it wrote (`feed_heads`, in scope name order, so two
//!   writers never wait on each other in a cycle), numbers its rows from the `feed_seq`
//!   SEQUENCE and commits. Writers of one scope thus number one at a time, each only once
//!   every earlier one has committed (PostgreSQL makes a commit visible before it releases
//!   its locks): within a scope, a reader can never see seq N+1 without seq N. Writers of
//!   different stores do not wait for each other. A writer of `global` (every kiosk reads
//!   it beside its store's scope, under one cursor) takes the whole-feed lock *alone*, as
//!   does a transaction that drops rows of every scope (erasure) or writes more rows than
//!   it should hold back (the seed): then no store writer numbers meanwhile, so the seqs
//!   of `global` and of any one store, read together, also follow commit order. (A
//!   SEQUENCE alone hands out numbers in start order, not commit order: it is safe only
//!   under those locks.)
//! - **Wake-ups across processes.** A write that moved scopes sends
//!   `NOTIFY omnikiosk_feed, '<scope> <seq>'` for each, with its new head, in its
//!   transaction; every hub process listens on its own connection and wakes its
//!   long-polls of that scope.
//! - **Threads.** The sync `postgres::Client` must not run inside a tokio runtime, so each
//!   connection lives on its own OS thread and takes jobs from its pool's queue: a pool
//!   of writers and one of readers (reads run in a read-only REPEATABLE READ snapshot),
//!   sized by the URL's `readers` and `writers` parameters ([`PoolSize`]). Each
//!   connection prepares a statement once, at its first use, and keeps it.

mod ahead;
mod schema;
mod tx;

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel, NoTls};

use super::{Backend, FeedListener, TxJob, TxKind};
use crate::error::{HubError, StorageError};

type Result<T, E = HubError> = std::result::Result<T, E>;

/// The channel feed changes are announced on.
const FEED_CHANNEL: &str = "omnikiosk_feed";

type Job = Box<dyn FnOnce(&mut Conn) + Send + 'static>;

fn connect(url: &str) -> Result<Client, StorageError> {
    Ok(Client::connect(url, NoTls)?)
}

/// How many connections one hub process keeps open, set by the database URL's query
/// parameters `readers` and `writers` (`postgres://hub@db/omnikiosk?readers=8&writers=4`);
/// both are taken out of the URL before connecting (PostgreSQL knows neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Connections serving read snapshots (pulls, lookups, the channel's reads).
    pub readers: usize,
    /// Connections running write transactions: writers of different stores commit side
    /// by side, so more than one pays off even on 2 cores (a commit waits on the disk).
    pub writers: usize,
}

impl Default for PoolSize {
    /// Sized for a 2-core database server shared by two hub processes.
    fn default() -> Self {
        PoolSize { readers: 4, writers: 4 }
    }
}

/// Most connections of one kind a hub process may ask for.
const MAX_POOL: usize = 64;

impl PoolSize {
    /// Splits the pool parameters off `url`: the URL to connect with, and the pool size.
    pub fn from_url(url: &str) -> Result<(String, PoolSize)> {
        let mut size = PoolSize::default();
        let Some((base, query)) = url.split_once('?') else { return Ok((url.to_string(), size)) };
        let mut kept = Vec::new();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let slot = match name {
                "readers" => &mut size.readers,
                "writers" => &mut size.writers,
                _ => {
                    kept.push(param);
                    continue;
                }
            };
            *slot = value.parse().ok().filter(|n| (1..=MAX_POOL).contains(n)).ok_or_else(|| {
                HubError::BadRequest(format!("database URL: {name}={value:?} must be a number of connections, 1..={MAX_POOL}"))
            })?;
        }
        let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        Ok((url, size))
    }
}

/// A connection and the statements prepared on it, kept as long as it lives.
pub struct Conn {
    client: Client,
    prepared: tx::Prepared,
}

impl Conn {
    fn open(url: &str) -> Result<Conn, StorageError> {
        Ok(Conn { client: connect(url)?, prepared: tx::Prepared::default() })
    }
}

/// Connections of one kind, each on its own OS thread, taking jobs from one shared queue:
/// a job waits only until some connection of the pool is free.
struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Pool {
    fn start(url: &str, name: &str, size: usize) -> Result<Pool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        for i in 0..size {
            let (url, queue, ready) = (url.to_string(), queue.clone(), ready_tx.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || serve_jobs(&url, &queue, ready))
                .map_err(|e| HubError::Internal(format!("cannot start a database thread: {e}")))?;
        }
        for _ in 0..size {
            ready_rx.recv().map_err(|_| HubError::Internal("database thread died while connecting".into()))??;
        }
        Ok(Pool { jobs: Mutex::new(jobs) })
    }

    fn run<T: Send + 'static>(&self, f: impl FnOnce(&mut Conn) -> Result<T> + Send + 'static) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |c| {
            let _ = reply.send(f(c));
        });
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| HubError::Internal("database thread is gone".into()))?;
        answer.recv().map_err(|_| HubError::Internal("database connection lost".into()))?
    }
}

/// One connection's thread: runs jobs from the pool's queue until the pool is dropped.
fn serve_jobs(url: &str, queue: &Mutex<mpsc::Receiver<Job>>, ready: mpsc::Sender<Result<()>>) {
    let mut conn = match Conn::open(url) {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    loop {
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        // Ends when the store (the only sender) is dropped.
        let Ok(job) = job else { return };
        if conn.client.is_closed() {
            match Conn::open(url) {
                Ok(c) => conn = c,
                Err(e) => {
                    // The job is dropped unrun: its caller gets an error.
                    tracing::warn!(error = %e, "PostgreSQL connection lost");
                    continue;
                }
            }
        }
        // A panicking job must not take the connection thread with it.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
    }
}

pub struct PostgresHubStore {
    /// Write transactions (feed and bookkeeping).
    writers: Pool,
    /// Read snapshots.
    readers: Pool,
    /// Called with a scope and its new head whenever any hub process moved that scope.
    listeners: Arc<Mutex<Vec<FeedListener>>>,
    /// Tells the listener thread to stop.
    stop: Arc<AtomicBool>,
}

impl Drop for PostgresHubStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Listens for feed changes of every hub process on its own connection.
fn listen(url: String, listeners: Arc<Mutex<Vec<FeedListener>>>, stop: Arc<AtomicBool>, ready: mpsc::Sender<Result<()>>) {
    let fire = |scope: &str, seq: i64| {
        for f in listeners.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f(scope, seq);
        }
    };
    let mut ready = Some(ready);
    while !stop.load(Ordering::Relaxed) {
        let connected = connect(&url).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {FEED_CHANNEL}"))?;
            Ok(c)
        });
        let mut client = match (connected, ready.take()) {
            (Ok(c), Some(r)) => {
                let _ = r.send(Ok(()));
                c
            }
            (Ok(mut c), None) => {
                // Back after a lost connection: notifications may have been missed.
                if let Ok(rows) = c.query("SELECT scope, seq FROM feed_heads", &[]) {
                    for row in rows {
                        fire(row.get(0), row.get(1));
                    }
                }
                c
            }
            (Err(e), Some(r)) => {
                let _ = r.send(Err(e.into()));
                return;
            }
            (Err(e), None) => {
                tracing::warn!(error = %e, "PostgreSQL feed listener cannot reconnect");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        'connected: while !stop.load(Ordering::Relaxed) {
            {
                let mut notifications = client.notifications();
                let mut iter = notifications.timeout_iter(Duration::from_millis(500));
                loop {
                    match iter.next() {
                        Ok(Some(n)) => match n.payload().rsplit_once(' ').and_then(|(scope, seq)| Some((scope, seq.parse().ok()?))) {
                            Some((scope, seq)) => fire(scope, seq),
                            None => tracing::warn!(payload = n.payload(), "a feed announcement that is not `<scope> <seq>`"),
                        },
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "PostgreSQL feed listener lost its connection");
                            break 'connected;
                        }
                    }
                }
            }
            if client.is_closed() {
                break;
            }
        }
    }
}

impl PostgresHubStore {
    /// Connects to `postgres://…` (its `readers` and `writers` parameters size the
    /// pools: [`PoolSize`]), creating or migrating the schema as needed.
    pub fn open(url: &str) -> Result<PostgresHubStore> {
        let (url, size) = PoolSize::from_url(url)?;
        let url = url.as_str();
        let writers = Pool::start(url, "omnikiosk-pg-writer", size.writers)?;
        writers.run(|c| Ok(schema::migrate(&mut c.client)?))?;
        let readers = Pool::start(url, "omnikiosk-pg-reader", size.readers)?;
        let listeners: Arc<Mutex<Vec<FeedListener>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        {
            let (url, listeners, stop) = (url.to_string(), listeners.clone(), stop.clone());
            std::thread::Builder::new()
                .name("omnikiosk-pg-listen".into())
                .spawn(move || listen(url, listeners, stop, ready_tx))
                .map_err(|e| HubError::Internal(format!("cannot start the feed listener: {e}")))?;
        }
        ready_rx.recv().map_err(|_| HubError::Internal("feed listener died while connecting".into()))??;
        Ok(PostgresHubStore { writers, readers, listeners, stop })
    }

}

/// Key of the advisory lock every feed writer takes at begin: shared by the writers of a
/// store ([`TxKind::StoreFeed`]), alone by a writer of anything else ([`TxKind::Feed`]).
const WRITERS_LOCK: i64 = 0x4f4b_5752_4954; // "OKWRIT"
/// First key of the two-key advisory locks a store's writer takes on its store (the
/// second is the store's id).
const STORE_LOCK: i32 = 0x4f4b_5354; // "OKST"

impl Backend for PostgresHubStore {
    fn run(&self, kind: TxKind, job: TxJob) -> Result<Box<dyn Any + Send>, HubError> {
        let pool = match kind {
            TxKind::Read => &self.readers,
            TxKind::Feed | TxKind::StoreFeed(_) | TxKind::Bookkeeping => &self.writers,
        };
        pool.run(move |c| {
            let Conn { client, prepared } = c;
            let t = match kind {
                // Reads see one snapshot.
                TxKind::Read => client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start(),
                TxKind::Feed | TxKind::StoreFeed(_) | TxKind::Bookkeeping => client.transaction(),
            }
            .map_err(StorageError::from)?;
            let mut t = t;
            // What an op may do is judged on rows it then changes (an order's state, a
            // balance, a cart, a badge's PIN count, the device's sequence): the writer
            // holds them from before its first read to its commit. A store's writer holds
            // its store (every row of the store: orders, stock, devices, receipts, help,
            // PIN counts) and, from their first read, the customers it touches
            // (`PgTx::hold_customer`); any other writer holds everything.
            match kind {
                TxKind::Feed => t.batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITERS_LOCK})")),
                TxKind::StoreFeed(store) => t.batch_execute(&format!(
                    "SELECT pg_advisory_xact_lock_shared({WRITERS_LOCK}); SELECT pg_advisory_xact_lock({STORE_LOCK}, {})",
                    store as i32
                )),
                TxKind::Read | TxKind::Bookkeeping => Ok(()),
            }
            .map_err(StorageError::from)?;
            let mut tx = tx::PgTx::begin(t, prepared, kind != TxKind::Read && kind != TxKind::Bookkeeping, matches!(kind, TxKind::StoreFeed(_)));
            let out = job(&mut tx);
            if tx.must_retry() {
                // Two stores' writers each held a customer the other wanted: PostgreSQL
                // rolled one back. Nothing was written; the caller asks again shortly.
                return Err(HubError::Overloaded(1));
            }
            let out = out?;
            tx.commit(FEED_CHANNEL)?;
            Ok(out)
        })
    }

    fn on_feed_change(&self, f: FeedListener) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::PoolSize;

    #[test]
    fn pool_parameters_are_taken_out_of_the_database_url() {
        let cases = [
            ("postgres://h/db", "postgres://h/db", PoolSize::default()),
            ("postgres://h/db?readers=8", "postgres://h/db", PoolSize { readers: 8, ..PoolSize::default() }),
            ("postgresql://u@/db?host=/s&writers=2&port=5432&readers=1", "postgresql://u@/db?host=/s&port=5432", PoolSize { readers: 1, writers: 2 }),
        ];
        for (url, connect, size) in cases {
            assert_eq!(PoolSize::from_url(url).unwrap(), (connect.to_string(), size), "{url}");
        }
        for bad in ["postgres://h/db?readers=0", "postgres://h/db?writers=many", "postgres://h/db?readers=65", "postgres://h/db?readers"] {
            assert!(PoolSize::from_url(bad).is_err(), "{bad}");
        }
    }
}
