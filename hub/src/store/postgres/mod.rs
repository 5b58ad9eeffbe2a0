//! The PostgreSQL backend, for a chain: several stateless hub processes over one
//! database. Behaviour is that of the embedded SQLite backend (`sqlite.rs`), which is the
//! reference; only the way writers are serialised and woken differs.
//!
//! - **Commit order across processes.** Every write transaction first locks the feed's
//!   counter row (`SELECT … FROM counters WHERE name = 'feed' FOR UPDATE`), numbers its
//!   feed rows itself from that counter and writes it back before commit. Writers of
//!   every hub process thus run one at a time, and a transaction's feed seqs are only
//!   taken once every earlier writer has committed (PostgreSQL makes a commit visible
//!   before it releases the row lock): a reader can never see seq N+1 without seq N.
//!   (A SEQUENCE or BIGSERIAL would hand out numbers in start order, not commit order.)
//! - **Wake-ups across processes.** A write that moved the feed sends
//!   `NOTIFY omnikiosk_feed` with the new head in its transaction; every hub process
//!   listens on its own connection and wakes its long-polls.
//! - **Threads.** The sync `postgres::Client` must not run inside a tokio runtime, so each
//!   connection lives on its own OS thread and is handed jobs over a channel: one writer
//!   and a few readers (reads run in a read-only REPEATABLE READ snapshot).

mod schema;
mod tx;

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel, NoTls};

use super::{Backend, TxJob, TxKind};
use crate::error::{HubError, StorageError};

type Result<T, E = HubError> = std::result::Result<T, E>;

/// Reader connections per hub process.
const READERS: usize = 4;
/// The channel feed changes are announced on.
const FEED_CHANNEL: &str = "omnikiosk_feed";

type Job = Box<dyn FnOnce(&mut Client) + Send + 'static>;
type FeedListener = Box<dyn Fn(i64) + Send + Sync>;

fn connect(url: &str) -> Result<Client, StorageError> {
    Ok(Client::connect(url, NoTls)?)
}

/// One connection on its own OS thread, running the jobs it is sent in order.
struct Actor {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Actor {
    fn start(url: &str, name: &str) -> Result<Actor> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut client = match connect(&url) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                // Ends when the store (the only sender) is dropped.
                for job in queue {
                    if client.is_closed() {
                        match connect(&url) {
                            Ok(c) => client = c,
                            Err(e) => {
                                // The job is dropped unrun: its caller gets an error.
                                tracing::warn!(error = %e, "PostgreSQL connection lost");
                                continue;
                            }
                        }
                    }
                    // A panicking job must not take the connection thread with it.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut client)));
                }
            })
            .map_err(|e| HubError::Internal(format!("cannot start a database thread: {e}")))?;
        ready_rx.recv().map_err(|_| HubError::Internal("database thread died while connecting".into()))??;
        Ok(Actor { jobs: Mutex::new(jobs) })
    }

    fn run<T: Send + 'static>(&self, f: impl FnOnce(&mut Client) -> Result<T> + Send + 'static) -> Result<T> {
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

pub struct PostgresHubStore {
    /// The one writer connection of this process (writers of all processes are
    /// serialised by the feed counter's row lock).
    writer: Actor,
    readers: Vec<Actor>,
    next_reader: AtomicUsize,
    /// Called with the new feed head whenever any hub process moved the feed.
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
    let fire = |seq: i64| {
        for f in listeners.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f(seq);
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
                if let Ok(row) = c.query_one("SELECT value FROM counters WHERE name = 'feed'", &[]) {
                    fire(row.get(0));
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
                        Ok(Some(n)) => fire(n.payload().parse().unwrap_or(0)),
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
    /// Connects to `postgres://…`, creating or migrating the schema as needed.
    pub fn open(url: &str) -> Result<PostgresHubStore> {
        let writer = Actor::start(url, "omnikiosk-pg-writer")?;
        writer.run(|c| Ok(schema::migrate(c)?))?;
        let readers = (0..READERS)
            .map(|i| Actor::start(url, &format!("omnikiosk-pg-reader-{i}")))
            .collect::<Result<Vec<_>>>()?;
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
        Ok(PostgresHubStore { writer, readers, next_reader: AtomicUsize::new(0), listeners, stop })
    }

}

impl Backend for PostgresHubStore {
    fn run(&self, kind: TxKind, job: TxJob) -> Result<Box<dyn Any + Send>, HubError> {
        let actor = match kind {
            TxKind::Read => &self.readers[self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len()],
            TxKind::Feed | TxKind::Bookkeeping => &self.writer,
        };
        actor.run(move |c| {
            let t = match kind {
                // Reads see one snapshot.
                TxKind::Read => c.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start(),
                TxKind::Feed | TxKind::Bookkeeping => c.transaction(),
            }
            .map_err(StorageError::from)?;
            let mut tx = tx::PgTx::begin(t, kind == TxKind::Feed)?;
            let out = job(&mut tx)?;
            tx.commit(FEED_CHANNEL)?;
            Ok(out)
        })
    }

    fn on_feed_change(&self, f: Box<dyn Fn(i64) + Send + Sync>) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }
}
