//! Long-polls of one store woken by one commit read one page between them, not one each:
//! the ten kiosks of a store, woken together, would otherwise send ten identical queries
//! to the database, and ten more when they come back to wait.
//!
//! A page is shared by the pulls asking for the same store, cursor and limit while the
//! store's wake-up signal stands at the same value ([`Hub::subscribe`]): each pull reads
//! that value before it reads the feed, and every commit to the store (or to `global`,
//! from this process or, on PostgreSQL, from another) moves it after it is visible. So a
//! shared page holds everything the database held when the value was read — perhaps more,
//! never less — and a pull that sees a newer value reads anew. Values come from one
//! counter of the whole process ([`Wakers`]), so a store's signal dropped and made again
//! never repeats an old value.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::store::FeedPage;

/// Pages with more changes than this (a kiosk far behind) are not kept for others: they
/// are one kiosk's catch-up, and large.
const MAX_SHARED_CHANGES: usize = 100;
/// Pages kept at most; past it every kept page is let go (the next pulls read anew).
const MAX_SLOTS: usize = 10_000;

/// The store, the cursor and the page size a pull asked for.
type Key = (i64, i64, u32);

struct Slot {
    /// The store's wake-up signal when the page was asked for.
    version: u64,
    page: Arc<OnceCell<Arc<FeedPage>>>,
}

#[derive(Default)]
pub struct SharedPages {
    slots: Mutex<HashMap<Key, Slot>>,
}

impl SharedPages {
    /// The page of `store_id` after `after`, read by `read` — or by another pull that asked
    /// for the same at the same `version` of the store's signal, and is reading it or has.
    pub async fn get<E, F, Fut>(&self, store_id: i64, after: i64, limit: u32, version: u64, read: F) -> Result<Arc<FeedPage>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<FeedPage, E>>,
    {
        let key = (store_id, after, limit);
        let page = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if slots.len() >= MAX_SLOTS {
                slots.clear();
            }
            match slots.get(&key) {
                Some(slot) if slot.version == version => slot.page.clone(),
                // Asked at an older signal than the kept page's: read alone, keep nothing.
                Some(slot) if slot.version > version => Arc::default(),
                _ => {
                    let page: Arc<OnceCell<Arc<FeedPage>>> = Arc::default();
                    slots.insert(key, Slot { version, page: page.clone() });
                    page
                }
            }
        };
        let got = page.get_or_try_init(|| async { read().await.map(Arc::new) }).await?.clone();
        if got.changes.len() > MAX_SHARED_CHANGES {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if slots.get(&key).is_some_and(|s| Arc::ptr_eq(&s.page, &page)) {
                slots.remove(&key);
            }
        }
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn page(n: usize) -> FeedPage {
        FeedPage { changes: vec!["{}".into(); n], last_seq: n as i64, has_more: false, remaining: None }
    }

    #[tokio::test]
    async fn pulls_at_one_signal_share_a_read_and_a_newer_signal_reads_anew() {
        let shared = SharedPages::default();
        let reads = AtomicUsize::new(0);
        let read = |n| {
            let reads = &reads;
            move || async move {
                reads.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok::<_, ()>(page(n))
            }
        };
        let (a, b, c) = tokio::join!(shared.get(1, 0, 10, 7, read(1)), shared.get(1, 0, 10, 7, read(1)), shared.get(1, 0, 10, 7, read(1)));
        assert_eq!((a.unwrap().changes.len(), b.unwrap().changes.len(), c.unwrap().changes.len()), (1, 1, 1));
        assert_eq!(reads.load(Ordering::SeqCst), 1, "three woken pulls, one read");
        assert_eq!(shared.get(1, 0, 10, 8, read(2)).await.unwrap().changes.len(), 2, "a commit since: read anew");
        assert_eq!(shared.get(2, 0, 10, 8, read(3)).await.unwrap().changes.len(), 3, "another store reads its own");
        assert_eq!(shared.get(1, 0, 10, 7, read(4)).await.unwrap().changes.len(), 4, "an older signal reads alone");
        assert_eq!(shared.get(1, 0, 10, 8, read(5)).await.unwrap().changes.len(), 2, "and leaves the newer page kept");
        assert_eq!(reads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_kept_and_a_large_page_is_not_shared() {
        let shared = SharedPages::default();
        assert!(shared.get(1, 0, 10, 1, || async { Err::<FeedPage, _>("down") }).await.is_err());
        assert_eq!(shared.get(1, 0, 10, 1, || async { Ok::<_, ()>(page(1)) }).await.unwrap().changes.len(), 1, "the next pull reads");
        let big = MAX_SHARED_CHANGES + 1;
        assert_eq!(shared.get(1, 5, 500, 1, || async { Ok::<_, ()>(page(big)) }).await.unwrap().changes.len(), big);
        assert_eq!(shared.get(1, 5, 500, 1, || async { Ok::<_, ()>(page(2)) }).await.unwrap().changes.len(), 2, "read anew");
    }
}
