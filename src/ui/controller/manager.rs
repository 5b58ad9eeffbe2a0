//! The store manager's view: the queue by status, orders past their promised time,
//! shoppers waiting and for how long, no-shows about to expire, today's NPS, the
//! kiosk's sync health with the conflicts to resolve, and the store's colleagues, whose
//! PINs a manager may reset (`staff.reset_pin`, offline too).

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::Role;

use super::context::{Ctx, STAFF_LANGUAGE};

/// One line of the overdue, waiting or expiring lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRow {
    pub title: String,
    pub minutes: i64,
}

/// An op the hub refused, in the words the manager needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConflictRow {
    pub what: String,
    pub reason: String,
    pub code: String,
}

/// What the manager view shows; empty when nobody is signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerScreen {
    pub placed: usize,
    pub picking: usize,
    pub ready: usize,
    pub waiting: usize,
    pub overdue: Vec<ListRow>,
    pub waiting_now: Vec<ListRow>,
    pub expiring: Vec<ListRow>,
    /// Today's score ("+40", "–" without answers), in the store's time zone.
    pub nps: String,
    pub nps_answers: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
    pub online: bool,
    pub last_pull: String,
    pub outbox: u64,
    pub oldest_op: String,
    pub conflicts: Vec<ConflictRow>,
    /// The store's sale receipts today at every device, and what they came to (returns
    /// taken off), in the store's currency.
    pub sales_count: i64,
    pub sales_total: String,
    /// What the store's returns today took off it.
    pub returns_total: String,
    /// The store's shifts closed today, newest first.
    pub z_reports: Vec<ZRow>,
    /// Every device of the store, this one first.
    pub devices: Vec<DeviceRow>,
    /// The store's colleagues, by name.
    pub colleagues: Vec<ColleagueRow>,
    /// A PIN reset asked for, and what came of the last one.
    pub pin_reset: PinReset,
}

/// A colleague of the store in the manager's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColleagueRow {
    pub id: String,
    pub name: String,
    /// "Manager", "Till", "Pickup desk" (the staff screens' language).
    pub role: String,
    /// false: they choose a PIN at their next badge scan.
    pub pin_set: bool,
    /// Whether "Reset PIN" is offered: a PIN is set, and it is not the manager's own.
    pub resettable: bool,
}

/// What came of the last PIN reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PinResetNotice {
    #[default]
    None,
    /// Done here (the hub hears of it at the next push): `PinReset::detail` is their name.
    Reset,
    /// The rules refused it: `PinReset::detail` says why.
    Refused,
}

/// A PIN reset asked for and what came of the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinReset {
    /// The colleague whose reset waits for the manager's confirmation.
    pub confirming: Option<ColleagueRow>,
    pub notice: PinResetNotice,
    pub detail: String,
}

/// One device of the store as the hub last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRow {
    pub label: String,
    /// `kiosk-1-2`: what tells two devices with the same label apart.
    pub id: String,
    /// "14:05", or "–" if never seen.
    pub last_seen: String,
    pub outbox: u64,
    /// When its oldest unsent op was made, "" if none.
    pub oldest_op: String,
    pub this_device: bool,
    /// Not heard from for more than two minutes.
    pub stale: bool,
}

/// One shift closed today at a device of the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZRow {
    pub device: String,
    /// "1-2-Z0003".
    pub number: String,
    pub sales: String,
    pub returns: String,
    pub difference: String,
}

/// A device not heard from for this long is shown as silent.
const SILENT_SECS: i64 = 120;

#[derive(Default)]
pub struct ManagerPart {
    screen: ManagerScreen,
}

impl ManagerPart {
    pub fn screen(&self) -> &ManagerScreen {
        &self.screen
    }

    /// Reads the view from the local store, now, for the manager `me`.
    pub fn load(&mut self, ctx: &Ctx, me: &str) {
        let now = ctx.now();
        // Today, in the store's time zone, over every device of the store.
        let Ok(today) = ctx.store.today(now, &ctx.zone, ctx.settings.no_show_secs) else {
            tracing::warn!("the manager view could not be read");
            return;
        };
        let sum = &today.summary;
        let money = |cents| omnikiosk_protocol::money::format(cents, &today.sales.currency, STAFF_LANGUAGE);
        let nps = today.nps;
        let row = |title: String, secs: i64| ListRow { title, minutes: secs.div_euclid(60) };
        let mut devices: Vec<DeviceRow> = today
            .devices
            .iter()
            .map(|d| DeviceRow {
                label: if d.health.label.is_empty() { d.health.device_id.clone() } else { d.health.label.clone() },
                id: d.health.device_id.clone(),
                last_seen: d.health.last_seen_at.map(|t| ctx.clock(t)).unwrap_or_else(|| "–".into()),
                outbox: d.health.outbox_len.unwrap_or(0),
                oldest_op: d.health.oldest_unsent_at.map(|t| ctx.clock(t)).unwrap_or_default(),
                this_device: d.this_device,
                stale: !d.this_device && d.health.last_seen_at.is_none_or(|t| now - t > SILENT_SECS),
            })
            .collect();
        devices.sort_by_key(|d| !d.this_device);
        let sync = ctx.store.sync_state().ok();
        let outbox = ctx.store.outbox_stats().unwrap_or_default();
        let conflicts = ctx.store.conflicts().unwrap_or_default();
        let colleagues = ctx
            .store
            .colleagues()
            .unwrap_or_default()
            .into_iter()
            .map(|c| ColleagueRow {
                resettable: c.pin_set && c.id != me,
                role: match c.role {
                    Role::Manager => "Manager",
                    Role::Till => "Till",
                    Role::Staff => "Pickup desk",
                }
                .into(),
                id: c.id,
                name: c.name,
                pin_set: c.pin_set,
            })
            .collect();
        let pin_reset = std::mem::take(&mut self.screen.pin_reset);
        self.screen = ManagerScreen {
            placed: sum.placed,
            picking: sum.picking,
            ready: sum.ready,
            waiting: sum.waiting,
            overdue: sum.overdue.iter().map(|(o, late)| row(o.id.clone(), *late)).collect(),
            waiting_now: sum.waiting_now.iter().map(|(w, secs)| row(format!("{} · {}", w.order.id, w.first_name), *secs)).collect(),
            expiring: sum.expiring.iter().map(|(o, left)| row(o.id.clone(), *left)).collect(),
            nps: nps.score.map(|s| format!("{s:+}")).unwrap_or_else(|| "–".into()),
            nps_answers: nps.answers,
            promoters: nps.promoters,
            passives: nps.passives,
            detractors: nps.detractors,
            online: sync.as_ref().is_some_and(|s| s.last_error.is_none()),
            last_pull: sync.and_then(|s| s.last_pull_at).map(|t| ctx.clock(t)).unwrap_or_else(|| "–".into()),
            outbox: outbox.pending,
            oldest_op: outbox.oldest_at.map(|t| ctx.clock(t)).unwrap_or_default(),
            conflicts: conflicts
                .into_iter()
                .map(|c| c.conflict)
                .map(|c| {
                    let subject = c.op.get("order_id").or_else(|| c.op.get("customer_id")).and_then(|v| v.as_str()).unwrap_or("");
                    ConflictRow { what: format!("{} {} · {}", c.name, subject, ctx.clock(c.kiosk_time)), reason: c.message, code: c.code }
                })
                .collect(),
            sales_count: today.sales.count,
            sales_total: money(today.sales.total_cents),
            returns_total: money(today.sales.returns_cents),
            z_reports: today
                .z_reports
                .iter()
                .map(|z| ZRow {
                    device: z.device_id.clone(),
                    number: z.number(),
                    sales: money(z.sales.total_cents),
                    returns: money(z.returns.total_cents),
                    difference: money(z.difference_cents),
                })
                .collect(),
            devices,
            colleagues,
            pin_reset,
        };
    }

    /// "Reset PIN" beside a colleague: asks the manager to confirm.
    pub fn ask_pin_reset(&mut self, colleague_id: &str) {
        let asked = self.screen.colleagues.iter().find(|c| c.id == colleague_id && c.resettable).cloned();
        self.screen.pin_reset = PinReset { confirming: asked, ..PinReset::default() };
    }

    /// "Keep PIN": nothing is reset.
    pub fn cancel_pin_reset(&mut self) {
        self.screen.pin_reset.confirming = None;
    }

    /// "Reset PIN" confirmed by the manager `me`: the colleague chooses a new PIN at their
    /// next badge scan here at once, and at the store's other devices once the hub has it.
    pub fn confirm_pin_reset(&mut self, ctx: &Ctx, me: &str) {
        let Some(colleague) = self.screen.pin_reset.confirming.take() else { return };
        let op = OpBody::ResetPin { staff_id: me.to_string(), colleague_id: colleague.id.clone() };
        self.screen.pin_reset = match ctx.record(op) {
            Ok(_) => PinReset { confirming: None, notice: PinResetNotice::Reset, detail: colleague.name },
            Err(e) => PinReset { confirming: None, notice: PinResetNotice::Refused, detail: e.to_string() },
        };
        self.load(ctx, me);
    }

    /// The manager signed out: nothing of the view stays.
    pub fn clear(&mut self) {
        self.screen = ManagerScreen::default();
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    #[test]
    fn the_view_counts_the_queue_and_lists_who_waits() {
        let (_f, ctx) = Fixture::start();
        ctx.record(omnikiosk_protocol::ops::OpBody::VisitCheckin { order_id: "O-1-1".into(), customer_id: "C-ANNA".into() }).unwrap();
        let mut m = ManagerPart::default();
        m.load(&ctx, "S1-MGR");
        let s = m.screen();
        assert_eq!((s.placed, s.ready, s.waiting), (1, 1, 1));
        assert_eq!(s.waiting_now, [ListRow { title: "O-1-1 · Anna".into(), minutes: 0 }]);
        assert_eq!(s.outbox, 1, "the check-in waits for the hub");
        assert_eq!((s.sales_count, s.sales_total.as_str()), (0, "zł\u{a0}0.00"), "no sales yet");
        m.clear();
        assert_eq!(*m.screen(), ManagerScreen::default());
    }

    /// A manager resets a colleague's PIN after confirming; their own PIN and a colleague
    /// with none are not offered; a pull of the hub's record, with the old PIN, before the
    /// reset is pushed leaves her without one.
    #[test]
    fn a_manager_resets_a_colleagues_pin_and_a_pull_before_the_push_keeps_it_reset() {
        use omnikiosk_protocol::wire::StaffRole;
        let (f, ctx) = Fixture::start();
        let mut m = ManagerPart::default();
        m.load(&ctx, "S1-MGR");
        let row = |m: &ManagerPart, id: &str| m.screen().colleagues.iter().find(|c| c.id == id).cloned().unwrap();
        let names: Vec<&str> = m.screen().colleagues.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Kasia", "Marek", "Ola", "Zofia"], "by name");
        assert_eq!((row(&m, "S1-STAFF").role.as_str(), row(&m, "S1-HELPER").role.as_str(), row(&m, "S1-MGR").role.as_str()), ("Till", "Pickup desk", "Manager"));
        assert!(row(&m, "S1-STAFF").resettable);
        assert!(!row(&m, "S1-MGR").resettable, "not the manager's own PIN");
        assert!(!row(&m, "S1-NEW").resettable && !row(&m, "S1-NEW").pin_set, "Zofia has none to reset");
        m.ask_pin_reset("S1-MGR");
        assert_eq!(m.screen().pin_reset.confirming, None);
        m.ask_pin_reset("S1-STAFF");
        assert_eq!(m.screen().pin_reset.confirming.as_ref().map(|c| c.name.as_str()), Some("Kasia"), "asks first");
        m.cancel_pin_reset();
        m.confirm_pin_reset(&ctx, "S1-MGR");
        assert!(ctx.store.pending_ops(10).unwrap().is_empty(), "kept: nothing recorded");

        m.ask_pin_reset("S1-STAFF");
        m.load(&ctx, "S1-MGR");
        assert!(m.screen().pin_reset.confirming.is_some(), "the two-second refresh keeps the question");
        m.confirm_pin_reset(&ctx, "S1-MGR");
        assert_eq!((m.screen().pin_reset.notice, m.screen().pin_reset.detail.as_str()), (PinResetNotice::Reset, "Kasia"));
        assert!(!row(&m, "S1-STAFF").pin_set && !row(&m, "S1-STAFF").resettable);
        let ops = ctx.store.pending_ops(10).unwrap();
        assert_eq!((ops.len(), ops[0].name.as_str(), &ops[0].body["colleague_id"]), (1, "staff.reset_pin", &"S1-STAFF".into()));
        assert!(!matches!(ctx.store.verify_pin("S1-STAFF", "1234", super::super::fixture::NOW).unwrap(), crate::store::PinCheck::Accepted(_)));

        // The hub's record of Kasia, with her old PIN, pulled before the push.
        f.store.apply_page(&[super::super::fixture::staff("S1-STAFF", "Kasia", StaffRole::Staff, "1234", true)], "1.9", super::super::fixture::NOW).unwrap();
        assert_eq!(ctx.store.staff_member("S1-STAFF").unwrap().map(|s| s.pin_set), Some(false), "still reset");

        // The rules refuse a colleague who is no manager, whatever the screen offered.
        let refused = ctx.record(OpBody::ResetPin { staff_id: "S1-HELPER".into(), colleague_id: "S1-MGR".into() }).unwrap_err();
        assert_eq!(refused.to_string(), "only a manager can reset a colleague's PIN");
        m.clear();
        assert_eq!(*m.screen(), ManagerScreen::default());
    }

    /// The manager's "today" begins at the store's own midnight and the times on screen
    /// are its local time, on both sides of the EU's clock changes (2026-03-29 and
    /// 2026-10-25, 01:00 UTC): a sale half an hour before local midnight is yesterday's,
    /// half an hour after is today's, whatever the offset was the day before.
    #[test]
    fn today_and_the_clock_follow_the_stores_time_zone_across_summer_time() {
        use omnikiosk_protocol::till::ReceiptKind;
        use omnikiosk_protocol::wire::{Change, SaleRecord};
        const SPRING: i64 = 1_774_746_000;
        const AUTUMN: i64 = 1_792_890_000;
        let utc = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_second();
        // (zone, the time now, local midnight of today in UTC, the clock shown now)
        type Clock = fn() -> i64;
        let cases: [(&str, Clock, &str, &str); 8] = [
            ("Europe/Warsaw", || SPRING - 3600, "2026-03-28T23:00:00Z", "01:00"),
            ("Europe/Warsaw", || SPRING + 3600, "2026-03-28T23:00:00Z", "04:00"),
            ("Europe/Warsaw", || SPRING + 22 * 3600, "2026-03-29T22:00:00Z", "01:00"),
            ("Europe/Warsaw", || AUTUMN + 22 * 3600 + 60, "2026-10-25T23:00:00Z", "00:01"),
            ("Europe/London", || SPRING - 1800, "2026-03-29T00:00:00Z", "00:30"),
            ("Europe/London", || SPRING + 22 * 3600 + 60, "2026-03-29T23:00:00Z", "00:01"),
            ("Europe/London", || AUTUMN - 1800, "2026-10-24T23:00:00Z", "01:30"),
            ("Europe/London", || AUTUMN + 23 * 3600 + 60, "2026-10-26T00:00:00Z", "00:01"),
        ];
        for (zone, now, midnight, shown) in cases {
            let f = Fixture::new();
            f.store_in(zone, "en");
            let midnight = utc(midnight);
            let sale = |number: &str, at: i64| {
                Change::Sale(SaleRecord { number: number.into(), store_id: 1, device_id: "kiosk-1-2".into(), kind: ReceiptKind::Sale, total_cents: 1000, at, receipt: None })
            };
            f.store.apply_page(&[sale("yesterday", midnight - 1800), sale("today", midnight + 1800)], "1.9", now()).unwrap();
            let mut ctx = f.ctx();
            ctx.settings.clock = now;
            let mut m = ManagerPart::default();
            m.load(&ctx, "S1-MGR");
            let s = m.screen();
            let label = format!("{zone} at {}", jiff::Timestamp::from_second(now()).unwrap());
            assert_eq!(s.sales_count, 1, "{label}: only the sale after local midnight is today's");
            assert_eq!(s.last_pull, shown, "{label}: the last pull on the store's clock");
        }
    }
}
