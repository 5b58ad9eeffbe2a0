//! The online lookup's guards: how many lookups a device may make (a per-device rate
//! limit, kept in memory by each hub process), and the audit every lookup leaves (device,
//! store, kind of code, what came of it, when — never the code, and of the customer only
//! their id when found), read by the channel at `GET /v1/lookups`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default lookups a device may make per minute (`--lookups-per-minute`).
pub const DEFAULT_LOOKUPS_PER_MINUTE: u32 = 30;
/// Default time after which a customer attached to a store by lookup alone, and not seen
/// there since, leaves its cache (`--lookup-ttl-days`).
pub const DEFAULT_LOOKUP_TTL_SECS: i64 = 30 * 24 * 3600;

/// What came of one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LookupOutcome {
    /// A customer has the code: they are now relevant to the store.
    Found,
    /// Nobody has the code.
    NotFound,
    /// Past the device's rate limit: nothing was looked up.
    Refused,
}

impl LookupOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LookupOutcome::Found => "found",
            LookupOutcome::NotFound => "not_found",
            LookupOutcome::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<LookupOutcome> {
        [LookupOutcome::Found, LookupOutcome::NotFound, LookupOutcome::Refused].into_iter().find(|o| o.as_str() == text)
    }
}

/// One lookup as the audit keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LookupAudit {
    /// Hub time of the lookup (Unix seconds).
    pub at: i64,
    pub store_id: i64,
    pub device_id: String,
    /// The kind of code scanned, as the scan classifier names it: `customer` (an app code
    /// or wallet pass) or `loyalty_card`.
    pub kind: String,
    pub outcome: LookupOutcome,
    /// The customer found; `null` when nobody was, the lookup was refused, or the customer
    /// has been erased since.
    pub customer_id: Option<String>,
}

/// A page of `GET /v1/lookups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LookupsPage {
    /// In the order the hub recorded them.
    pub lookups: Vec<LookupAudit>,
    /// Pass as `after` for the next page: `<epoch>.<position>`.
    pub cursor: String,
    pub has_more: bool,
}

/// A per-device allowance: a device may make `per_minute` lookups at once, and one more
/// every `60 / per_minute` seconds after that (a token bucket, kept as the time its
/// allowance is whole again). In memory, per hub process: behind a load balancer of
/// several hubs a device may get up to that many times the limit.
pub struct LookupLimit {
    per_minute: std::sync::atomic::AtomicU32,
    /// Per device: when its allowance is whole again (absent: whole now).
    whole_at: Mutex<HashMap<String, Instant>>,
}

/// Past this many devices in memory, those whose allowance is whole again are forgotten.
const DEVICES_KEPT: usize = 10_000;

impl Default for LookupLimit {
    fn default() -> Self {
        LookupLimit { per_minute: DEFAULT_LOOKUPS_PER_MINUTE.into(), whole_at: Mutex::default() }
    }
}

impl LookupLimit {
    pub fn set_per_minute(&self, n: u32) {
        self.per_minute.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes one lookup of `device_id`'s allowance at `now`; when there is none left,
    /// answers the seconds after which there is one again (nothing is taken then).
    pub fn take(&self, device_id: &str, now: Instant) -> Result<(), u64> {
        let per_minute = self.per_minute.load(std::sync::atomic::Ordering::Relaxed).max(1);
        let each = Duration::from_secs(60) / per_minute;
        let allowance = each * per_minute;
        let mut whole_at = self.whole_at.lock().unwrap_or_else(|e| e.into_inner());
        if whole_at.len() > DEVICES_KEPT {
            whole_at.retain(|_, at| *at > now);
        }
        let spent_until = whole_at.get(device_id).map_or(now, |at| (*at).max(now)) + each;
        let owed = spent_until - now;
        if owed > allowance {
            let wait = owed - allowance;
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        whole_at.insert(device_id.to_string(), spent_until);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// N lookups pass at once, the next waits for the refill (and is told how long), and
    /// one device's lookups do not spend another's.
    #[test]
    fn a_device_gets_its_allowance_back_over_the_minute() {
        let limit = LookupLimit::default();
        limit.set_per_minute(6);
        let t0 = Instant::now();
        for _ in 0..6 {
            assert_eq!(limit.take("kiosk-1-1", t0), Ok(()));
        }
        assert_eq!(limit.take("kiosk-1-1", t0), Err(10), "one lookup comes back every 10 s");
        assert_eq!(limit.take("kiosk-1-2", t0), Ok(()), "another device has its own");
        assert_eq!(limit.take("kiosk-1-1", t0 + Duration::from_secs(4)), Err(6));
        assert_eq!(limit.take("kiosk-1-1", t0 + Duration::from_secs(10)), Ok(()));
        assert!(limit.take("kiosk-1-1", t0 + Duration::from_secs(10)).is_err());
        // A quiet minute gives the whole allowance back, and no more.
        let later = t0 + Duration::from_secs(600);
        assert_eq!((0..7).filter(|_| limit.take("kiosk-1-1", later).is_ok()).count(), 6);
    }
}
