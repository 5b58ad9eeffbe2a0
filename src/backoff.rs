//! Retry delays after a failure (a sync round, a scanner reopening): exponential with
//! jitter, so a hub that is down is never hammered and a fleet coming back online does
//! not stampede.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    /// Bound after the first failure.
    initial: Duration,
    /// Bound never exceeded however long the hub stays down.
    max: Duration,
    /// Bound for the next delay; doubles per failure.
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max: max.max(initial), current: initial }
    }

    /// The policy from `[sync]` in the kiosk's config.
    pub fn from_config(cfg: &crate::config::SyncConfig) -> Backoff {
        Backoff::new(Duration::from_millis(cfg.backoff_initial_ms), Duration::from_millis(cfg.backoff_max_ms))
    }

    /// The delay before the next try: uniformly in [bound/2, bound] ("equal jitter"),
    /// never zero, so a run of failures cannot turn into a busy loop.
    pub fn next_delay(&mut self) -> Duration {
        let bound = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = bound / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=bound - half)
    }

    /// After a success the next failure starts again from the initial bound.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_never_reach_zero() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let mut bounds = Vec::new();
        for _ in 0..10 {
            let d = b.next_delay();
            assert!(d >= Duration::from_millis(50), "{d:?}");
            assert!(d <= Duration::from_millis(1000), "{d:?}");
            bounds.push(d);
        }
        // After enough failures every delay is at least half the cap.
        assert!(bounds[5..].iter().all(|d| *d >= Duration::from_millis(500)), "{bounds:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
