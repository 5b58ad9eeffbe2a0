//! The background sync loop: long-poll the hub, apply what arrives, and back off with
//! jitter while the hub is unreachable. Shutdown is explicit: the loop stops between
//! rounds or aborts a pending request (a page being applied always finishes, atomically).

use std::time::Duration;

use tokio::sync::watch;

use super::{pull_until_current, push_pending, Backoff, HubClient, PullSummary, PushSummary, SyncError};
use crate::clock::unix_now;
use crate::config::SyncConfig;
use crate::store::LocalStore;

/// What the daemon tells its observer (the screen, the terminal, tests).
#[derive(Debug, Clone)]
pub enum DaemonEvent {
    Synced(PullSummary),
    Pushed(PushSummary),
    Failed { error: String, retry_in: Duration },
}

/// Runs the pull loop and the push loop side by side until `shutdown` turns true.
pub async fn run_daemon(
    store: LocalStore,
    client: HubClient,
    cfg: SyncConfig,
    shutdown: watch::Receiver<bool>,
    on_event: impl FnMut(DaemonEvent) + Send,
) {
    let on_event = std::sync::Mutex::new(on_event);
    let emit = |e: DaemonEvent| (on_event.lock().unwrap_or_else(|p| p.into_inner()))(e);
    let puller = Worker { store: store.clone(), client: client.clone(), cfg: cfg.clone(), shutdown: shutdown.clone() };
    tokio::join!(pull_loop(puller, &emit), push_loop(Worker { store, client, cfg, shutdown }, &emit));
}

/// What each of the daemon's loops works with.
struct Worker {
    store: LocalStore,
    client: HubClient,
    cfg: SyncConfig,
    /// Flips to true when the daemon is told to stop.
    shutdown: watch::Receiver<bool>,
}

/// Pushes whatever waits in the outbox as soon as an op is recorded in this process, and
/// every `push_interval_ms` anyway (ops may come from another process, such as the
/// `omnikiosk order` command).
async fn push_loop(w: Worker, on_event: &(impl Fn(DaemonEvent) + Sync)) {
    let Worker { store, client, cfg, mut shutdown } = w;
    let mut backoff = Backoff::from_config(&cfg);
    let interval = Duration::from_millis(cfg.push_interval_ms);
    while !*shutdown.borrow() {
        let Some(result) = until_stopped(push_pending(&store, &client, cfg.push_batch), &mut shutdown).await else { break };
        let pause = match result {
            Ok(summary) => {
                backoff.reset();
                if summary.requests > 0 {
                    on_event(DaemonEvent::Pushed(summary));
                }
                interval
            }
            Err(e) => {
                let retry_in = backoff.next_delay().max(interval).max(e.retry_after().unwrap_or_default());
                tracing::warn!(error = %e, ?retry_in, "push failed");
                on_event(DaemonEvent::Failed { error: e.to_string(), retry_in });
                retry_in
            }
        };
        let wait = async {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                // Not while backing off: a failing hub is not asked again sooner.
                _ = store.op_recorded(), if pause == interval => {}
            }
        };
        if until_stopped(wait, &mut shutdown).await.is_none() {
            break;
        }
    }
}

async fn pull_loop(w: Worker, on_event: &(impl Fn(DaemonEvent) + Sync)) {
    let Worker { store, client, cfg, mut shutdown } = w;
    let mut backoff = Backoff::from_config(&cfg);
    let wait = Duration::from_secs(cfg.long_poll_secs.into());
    let mut failing = false;
    while !*shutdown.borrow() {
        let round = pull_until_current(&store, &client, &cfg, wait, |_| {});
        let Some(result) = until_stopped(round, &mut shutdown).await else { break };
        match result {
            Ok(summary) => {
                backoff.reset();
                if failing {
                    failing = false;
                    let _ = record(&store, None).await;
                }
                on_event(DaemonEvent::Synced(summary));
            }
            Err(e) => {
                failing = true;
                // Never sooner than a busy hub asked.
                let retry_in = backoff.next_delay().max(e.retry_after().unwrap_or_default());
                let error = e.to_string();
                tracing::warn!(%error, ?retry_in, "sync round failed");
                let _ = record(&store, Some(error.clone())).await;
                on_event(DaemonEvent::Failed { error, retry_in });
                if matches!(e, SyncError::UpdateNeeded) {
                    tracing::error!("this kiosk must be updated before it can sync again");
                }
                if until_stopped(tokio::time::sleep(retry_in), &mut shutdown).await.is_none() {
                    break;
                }
            }
        }
    }
}

/// Runs `work` unless shutdown comes first (then `None`; a page being applied still
/// finishes on the blocking pool, atomically).
async fn until_stopped<T>(work: impl std::future::Future<Output = T>, shutdown: &mut watch::Receiver<bool>) -> Option<T> {
    tokio::select! {
        r = work => Some(r),
        _ = shutdown.changed() => None,
    }
}

async fn record(store: &LocalStore, error: Option<String>) -> Result<(), SyncError> {
    super::blocking(store, move |s| s.record_sync_error(error.as_deref(), unix_now())).await
}
