//! A pull round: ask for pages after the stored cursor and apply each page together with
//! its new cursor, until the hub says nothing more is waiting. While a page is applied the
//! next one is already on its way (its cursor is the page's own), so catching up costs the
//! slower of the network and the disk, not their sum. A round catching up from an empty
//! store asks for larger pages (`catch_up_page_size`).

use std::time::Duration;

use serde::Serialize;

use super::{blocking, HubClient, SyncError};
use crate::clock::unix_now;
use crate::config::SyncConfig;
use crate::store::LocalStore;

/// Progress of a round, for the terminal and the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PullProgress {
    /// Changes applied so far in this round.
    pub done: u64,
    /// Changes done plus those the hub says remain (best known total).
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullSummary {
    pub pages: u64,
    pub changes: u64,
    pub cursor: String,
}

/// Pulls until current, in pages of `cfg.page_size` (`cfg.catch_up_page_size` while
/// catching up). The first request may wait up to `first_wait` for news (long-poll); once
/// something arrives, the rest of the round does not wait.
pub async fn pull_until_current(
    store: &LocalStore,
    client: &HubClient,
    cfg: &SyncConfig,
    first_wait: Duration,
    mut progress: impl FnMut(PullProgress),
) -> Result<PullSummary, SyncError> {
    let mut summary = PullSummary { cursor: store.sync_state()?.cursor, ..PullSummary::default() };
    let mut reset = false;
    let mut total = 0;
    // A store holding nothing pulled yet (a first sync) is written the faster way.
    let mut catch_up = if summary.cursor.is_empty() { blocking(store, |s| s.start_catch_up()).await? } else { None };
    let page_size = |catch_up: &Option<_>| if catch_up.is_some() { cfg.catch_up_page_size } else { cfg.page_size };
    let mut fetched = client.pull(&summary.cursor, page_size(&catch_up), first_wait).await;
    loop {
        let page = match fetched {
            Err(SyncError::CursorReset(why)) if !reset => {
                // The hub's database was replaced: what this kiosk pulled before may not
                // exist any more. Start over from the hub's truth; pending ops stay queued.
                tracing::warn!(%why, "pulling this store again from the start");
                reset = true;
                catch_up = blocking(store, |s| {
                    s.forget_pulled_data()?;
                    s.start_catch_up()
                })
                .await?;
                summary.cursor.clear();
                fetched = client.pull("", page_size(&catch_up), first_wait).await;
                continue;
            }
            other => other?,
        };
        let n = page.changes.len() as u64;
        let cursor = page.cursor.clone();
        let has_more = page.has_more;
        let remaining = page.remaining.unwrap_or(0);
        let changed = n > 0 || cursor != summary.cursor;
        let next_size = page_size(&catch_up);
        let mut round = catch_up.take();
        let apply = async move {
            if changed {
                round = blocking(store, move |s| {
                    match &mut round {
                        Some(r) => s.apply_catch_up_page(r, &page.changes, &page.cursor, unix_now())?,
                        None => s.apply_page(&page.changes, &page.cursor, unix_now())?,
                    };
                    Ok(round)
                })
                .await?;
            }
            Ok::<_, SyncError>(round)
        };
        let next = if has_more && n > 0 {
            // The next page travels while this one is written; a failed apply drops it.
            let (applied, next) = tokio::join!(apply, client.pull(&cursor, next_size, Duration::ZERO));
            catch_up = applied?;
            Some(next)
        } else {
            catch_up = apply.await?;
            None
        };
        summary.pages += 1;
        summary.changes += n;
        summary.cursor = cursor;
        // The hub counts what remains only so far: the total is the largest it was told.
        total = if has_more { total.max(summary.changes + remaining) } else { summary.changes };
        progress(PullProgress { done: summary.changes, total });
        fetched = match next {
            Some(next) => next,
            None if has_more => return Err(SyncError::BadResponse("the hub said more changes wait but sent none".into())),
            None => return Ok(summary),
        };
    }
}
