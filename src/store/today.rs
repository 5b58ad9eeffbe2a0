//! The manager's numbers for the store today, as `omnikiosk today` prints them and the
//! manager view shows them: the queue by status, what is late, who waits and for how long,
//! the store's NPS, and every device of the store with its sync health.

use omnikiosk_protocol::wire::DeviceHealth;
use serde::Serialize;

use super::{meta_get, LocalStore, NpsSummary, Result};
use crate::domain::desk::{self, DeskSummary};

/// `today --json` (contract: queue by status, overdue, waiting, nps, sales, devices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Today {
    /// The store's midnight, Unix seconds: "today" starts here.
    pub since: i64,
    pub queue: QueueCounts,
    /// Orders not ready although their promised time has passed, latest first.
    pub overdue: Vec<Late>,
    pub waiting: WaitingNow,
    pub nps: Nps,
    /// The store's receipts today, at every device: sales less returns.
    pub sales: Sales,
    /// Shifts closed today at any device of the store, newest first: their Z reports.
    pub z_reports: Vec<omnikiosk_protocol::shift::ZReport>,
    pub devices: Vec<StoreDevice>,
    /// The lists behind the counts, for the manager view (not printed).
    #[serde(skip)]
    pub summary: DeskSummary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub placed: usize,
    pub picking: usize,
    pub ready: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Late {
    pub order_id: String,
    pub late_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WaitingNow {
    pub count: usize,
    pub longest_wait_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sales {
    /// Sale receipts.
    pub count: i64,
    /// What they came to, returns taken off, in minor units of `currency`.
    pub total_cents: i64,
    /// Return (and exchange) receipts.
    pub returns: i64,
    /// What the returns came to: negative when money went back.
    pub returns_cents: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Nps {
    pub answers: i64,
    /// −100…100; `null` before the first answer of the day.
    pub score: Option<i64>,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
}

/// One device of the store: the hub's fleet data, and for this device its outbox now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreDevice {
    #[serde(flatten)]
    pub health: DeviceHealth,
    pub this_device: bool,
}

impl LocalStore {
    /// The store's receipts since `since` (kiosk time of each sale), from every device.
    pub fn sales_since(&self, since: i64) -> Result<Sales> {
        let conn = self.reader();
        // A return's total is already signed: negative when money went back.
        let (count, returns, total_cents, returns_cents) = conn.query_row(
            "SELECT count(*) FILTER (WHERE kind = 'sale'), count(*) FILTER (WHERE kind = 'return'),
                    coalesce(sum(total_cents), 0), coalesce(sum(total_cents) FILTER (WHERE kind = 'return'), 0)
             FROM store_sales WHERE at >= ?1",
            [since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let currency = super::orders::store_currency(&conn)?;
        Ok(Sales { count, total_cents, returns, returns_cents, currency })
    }

    /// The store's day so far: since its local midnight in `zone` (a day of 23 or 25 hours
    /// when the clocks change); `no_show_secs` is the hub's no-show rule, for the orders
    /// about to expire.
    pub fn today(&self, now: i64, zone: &jiff::tz::TimeZone, no_show_secs: i64) -> Result<Today> {
        let since = crate::clock::day_start(now, zone);
        let orders = self.open_orders()?;
        let waiting = self.waiting()?;
        let summary = desk::summary(&orders, &waiting, now, no_show_secs);
        let nps = self.nps_since(since)?;
        let (score, NpsSummary { answers, promoters, passives, detractors }) = (nps.score(), nps);
        let me = meta_get(&self.reader(), "device_id")?;
        let outbox = self.outbox_stats()?;
        let mut devices: Vec<StoreDevice> = self
            .store_devices()?
            .into_iter()
            .map(|health| StoreDevice { this_device: me.as_deref() == Some(health.device_id.as_str()), health })
            .collect();
        if let Some(mine) = devices.iter_mut().find(|d| d.this_device) {
            // This device knows its own outbox better than the hub's last report of it.
            mine.health.outbox_len = Some(outbox.pending);
            mine.health.oldest_unsent_at = outbox.oldest_at;
        }
        Ok(Today {
            since,
            queue: QueueCounts { placed: summary.placed, picking: summary.picking, ready: summary.ready },
            overdue: summary.overdue.iter().map(|(o, late)| Late { order_id: o.id.clone(), late_secs: *late }).collect(),
            waiting: WaitingNow { count: summary.waiting, longest_wait_secs: summary.waiting_now.iter().map(|(_, secs)| *secs).max() },
            nps: Nps { answers, score, promoters, passives, detractors },
            sales: self.sales_since(since)?,
            z_reports: self.store_z_reports(since)?,
            devices,
            summary,
        })
    }
}
