//! Keeping the local store in step with the hub: the HTTP client, pull rounds (a page
//! and its cursor commit together) and the background daemon with long-poll and backoff.
//! Only this module (and the hub crate) speaks HTTP.

mod client;
mod daemon;
mod enroll;
mod pull;
mod push;

pub use crate::backoff::Backoff;
pub use client::{certificates, read_ca, HubClient, SyncError};
pub use daemon::{run_daemon, DaemonEvent};
pub use enroll::{enroll, Trust};
pub use pull::{pull_until_current, PullProgress, PullSummary};
pub use push::{push_pending, PushSummary};

use crate::store::{Enrolment, LocalStore, StoreError};

/// Moves blocking SQLite work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &LocalStore,
    f: impl FnOnce(&LocalStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| SyncError::Internal(format!("local store task failed: {e}")))?
        .map_err(SyncError::Store)
}

/// A client for the hub this kiosk is enrolled with.
pub fn client_for(enrolment: &Enrolment, cfg: &crate::config::SyncConfig) -> Result<HubClient, SyncError> {
    HubClient::trusting(&enrolment.hub_url, &enrolment.device_token, enrolment.insecure, enrolment.hub_ca.as_deref(), cfg)
}
