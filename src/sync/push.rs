//! Pushing the outbox: oldest ops first, in sequence order, each answered on its own;
//! acknowledged ops leave the outbox, rejected ones become conflicts and never block the
//! ops behind them.

use omnikiosk_protocol::wire::PushRequest;
use serde::Serialize;

use super::{blocking, HubClient, SyncError};
use crate::clock::unix_now;
use crate::store::{LocalStore, PushTally};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    pub requests: u64,
    pub applied: u64,
    pub duplicate: u64,
    pub rejected: u64,
    pub already_at_hub: u64,
}

/// Pushes until the outbox is empty (or the hub stops taking ops).
pub async fn push_pending(store: &LocalStore, client: &HubClient, batch: u32) -> Result<PushSummary, SyncError> {
    let mut summary = PushSummary::default();
    loop {
        let ops = blocking(store, move |s| s.pending_ops(batch as usize)).await?;
        let Some(first) = ops.first() else { return Ok(summary) };
        let (outbox, receipt_key) = blocking(store, |s| Ok::<_, crate::store::StoreError>((s.outbox_stats()?, s.receipt_public_key()?))).await?;
        let req = PushRequest {
            device_seq_from: first.seq,
            ops,
            outbox_len: outbox.pending,
            oldest_unsent_at: outbox.oldest_at,
            receipt_key: Some(receipt_key),
        };
        let resp = client.push(&req).await?;
        let results = resp.results;
        let tally: PushTally = blocking(store, move |s| s.apply_push_results(&results, unix_now())).await?;
        summary.requests += 1;
        summary.applied += tally.applied;
        summary.duplicate += tally.duplicate;
        summary.rejected += tally.rejected;
        summary.already_at_hub += tally.already_at_hub;
        if tally.acknowledged() == 0 {
            return Err(SyncError::BadResponse("the hub acknowledged none of the pushed ops".into()));
        }
    }
}
