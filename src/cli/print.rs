//! Human-readable text for the terminal; `--json` prints the same values as JSON.

use std::fmt::Write;

use omnikiosk_protocol::wire::OrderRecord;

use super::StatusReport;
use crate::clock::unix_now;
use crate::domain::shopper::{Availability, ShopperView};
use crate::resolve::{Resolution, ScanOutcome, Source};

pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// "3 min ago", "in 2 h", for times on a store's clock.
pub fn relative(at: i64, now: i64) -> String {
    let d = at - now;
    let (n, unit) = match d.abs() {
        s if s < 90 => (s, "s"),
        s if s < 90 * 60 => (s / 60, "min"),
        s if s < 48 * 3600 => (s / 3600, "h"),
        s => (s / 86400, "days"),
    };
    if d == 0 {
        "just now".to_string()
    } else if d < 0 {
        format!("{n} {unit} ago")
    } else {
        format!("in {n} {unit}")
    }
}

pub fn status(r: &StatusReport) -> String {
    let now = unix_now();
    let mut s = String::new();
    let _ = writeln!(s, "store      {} ({}), device {}", r.store_id, r.store_name, r.device_id);
    let _ = writeln!(
        s,
        "hub        {} — {}",
        r.hub,
        if r.online { "online".to_string() } else { format!("OFFLINE: {}", r.offline_reason.as_deref().unwrap_or("?")) }
    );
    let when = |t: Option<i64>| t.map(|t| relative(t, now)).unwrap_or_else(|| "never".into());
    let _ = writeln!(s, "last pull  {}   last push {}", when(r.last_pull_at), when(r.last_push_at));
    let oldest = r.outbox_oldest_age_secs.map(|a| format!(", oldest {a} s")).unwrap_or_default();
    let _ = writeln!(s, "outbox     {} waiting{oldest}, {} conflicts", r.outbox, r.conflicts);
    if let Some(err) = &r.last_error {
        let _ = writeln!(s, "last error {} ({})", err, when(r.last_error_at));
    }
    let c = &r.counts;
    let _ = write!(
        s,
        "cached     {} customers, {} orders, {} products, {} carts",
        c.customers, c.orders, c.products, c.carts
    );
    if let Some(p) = &r.peripherals {
        let scanner = match &p.scanner {
            None => "none".to_string(),
            Some(v) => {
                let since = v["since"].as_i64().map(|t| relative(t, now)).unwrap_or_default();
                match v["state"].as_str() {
                    Some("connected") => format!("{} connected since {since}", v["device"].as_str().unwrap_or("?")),
                    Some("disconnected") => format!(
                        "{} DISCONNECTED since {since}: {}",
                        v["device"].as_str().unwrap_or("?"),
                        v["reason"].as_str().unwrap_or("?")
                    ),
                    _ => format!("{} starting", v["device"].as_str().unwrap_or("?")),
                }
            }
        };
        let _ = write!(s, "\nscanner    {scanner}\nlight      {}", p.indicator.replace('_', " "));
    }
    s
}

pub fn conflicts(list: &[crate::store::LocalConflict]) -> String {
    if list.is_empty() {
        return "no conflicts".into();
    }
    let now = unix_now();
    let mut s = String::new();
    for c in list.iter().map(|c| &c.conflict) {
        let _ = writeln!(s, "{} ({}, made {}): {} [{}]", c.name, c.op_id, relative(c.kiosk_time, now), c.message, c.code);
    }
    s.pop();
    s
}

/// `waiting`: (order, first name, since) of each shopper waiting, longest first.
pub fn waiting(list: &[(&str, &str, i64)], now: i64) -> String {
    if list.is_empty() {
        return "nobody waiting".into();
    }
    let mut s = String::new();
    for (order, name, since) in list {
        let _ = writeln!(s, "{order:<14} {name}, waiting since {}", relative(*since, now));
    }
    s.pop();
    s
}

pub fn orders(orders: &[OrderRecord], now: i64) -> String {
    if orders.is_empty() {
        return "no orders".into();
    }
    let mut s = String::new();
    for o in orders {
        let items: i64 = o.lines.iter().map(|l| l.qty).sum();
        let _ = writeln!(
            s,
            "{:<14} {:<10} code {}  {:>3} items  customer {}  promised {}",
            o.id,
            o.status.as_str(),
            o.pickup_code,
            items,
            o.customer_id,
            relative(o.promised_ready_at, now)
        );
    }
    s.pop();
    s
}

pub fn shopper(v: &ShopperView) -> String {
    let now = unix_now();
    let c = &v.customer;
    let mut s = String::new();
    let _ = writeln!(s, "Hello, {} {}.  ({} tier, {} points, language {})", c.first_name, c.last_initial, c.tier, c.points, c.language);
    for o in &v.ready_for_pickup {
        let _ = writeln!(s, "  READY for pickup: order {} (code {}) — \"I'm here\"", o.id, o.pickup_code);
    }
    for o in &v.in_preparation {
        let _ = writeln!(s, "  being prepared: order {} ({}), promised {}", o.id, o.status, relative(o.promised_ready_at, now));
    }
    if v.cart.lines.is_empty() {
        let _ = writeln!(s, "  online cart: empty");
    } else {
        let _ = writeln!(s, "  online cart: {} items, {}", v.cart.items, money(v.cart.total_cents));
        for l in &v.cart.lines {
            let shelf = match (l.availability, &l.aisle) {
                (Availability::InStock, Some(a)) => format!("in stock, aisle {a}"),
                (Availability::Partial, Some(a)) => format!("only {} here, aisle {a}", l.on_hand.unwrap_or(0)),
                (Availability::OutOfStock, _) => "out of stock here".into(),
                _ => "not sold in this store".into(),
            };
            let _ = writeln!(s, "    {} × {}  — {}", l.qty, l.name.as_deref().unwrap_or(&l.sku), shelf);
        }
    }
    s.pop();
    s
}

pub fn scan(o: &ScanOutcome) -> String {
    let from = match o.source {
        Source::Local => "",
        Source::Hub => " (from the hub; not cached here before)",
    };
    match &o.resolution {
        Resolution::Shopper(v) => format!("{}{from}", shopper(v)),
        Resolution::Order(order) => orders(std::slice::from_ref(order), unix_now()),
        Resolution::Staff(st) => format!("staff badge: {} ({:?}) — enter PIN", st.name, st.role),
        Resolution::Receipt(r) => format!("receipt {} of {}: {} lines, total {}", r.number, r.device_id, r.lines.len(), money(r.total_cents)),
        Resolution::Product(p) => format!(
            "{} — {} {}{}",
            p.product.name,
            money(p.product.price_cents),
            match &p.stock {
                Some(s) => format!("({} on hand, aisle {})", s.on_hand, s.aisle),
                None => "(not stocked here)".into(),
            },
            if p.product.description.is_empty() { String::new() } else { format!("\n{}", p.product.description) }
        ),
    }
}

pub fn colleagues(list: &[crate::store::Colleague]) -> String {
    let mut s = String::new();
    for c in list {
        let pin = if c.pin_set { "" } else { "  (chooses a PIN at the next badge scan)" };
        let _ = writeln!(s, "{:<12} {:<8} {}{pin}", c.id, c.role.as_str(), c.name);
    }
    if list.is_empty() {
        s.push_str("no colleagues known here yet: sync first\n");
    }
    s
}

pub fn help(list: &[crate::store::HelpRequest], now: i64) -> String {
    if list.is_empty() {
        return "nobody is asking for help".into();
    }
    let mut s = String::new();
    for h in list {
        let who = h.shopper.as_deref().unwrap_or("a shopper without a card");
        let answer = match &h.taken_by_name {
            Some(name) => format!("{name} is on the way"),
            None => "nobody has taken it yet".into(),
        };
        let _ = writeln!(s, "{}  {who} at {}, {}; {answer}", h.id, h.device, relative(h.raised_at, now));
    }
    s.pop();
    s
}

pub fn today(t: &crate::store::Today, now: i64) -> String {
    let mut s = String::new();
    let q = t.queue;
    let _ = writeln!(s, "queue: {} placed, {} picking, {} ready; {} overdue", q.placed, q.picking, q.ready, t.overdue.len());
    let longest = t.waiting.longest_wait_secs.map(|secs| format!(", longest since {}", relative(now - secs, now))).unwrap_or_default();
    let _ = writeln!(s, "waiting: {}{longest}", t.waiting.count);
    let score = t.nps.score.map(|v| format!("{v:+}")).unwrap_or_else(|| "–".into());
    let _ = writeln!(s, "NPS today: {score} from {} answers", t.nps.answers);
    let sales = &t.sales;
    let total = omnikiosk_protocol::money::format(sales.total_cents, &sales.currency, "en");
    let _ = writeln!(s, "sales today: {} receipts, {total}{}", sales.count, if sales.returns > 0 { format!(" ({} returns)", sales.returns) } else { String::new() });
    for d in &t.devices {
        let h = &d.health;
        let seen = h.last_seen_at.map(|at| relative(at, now)).unwrap_or_else(|| "never".into());
        let oldest = h.oldest_unsent_at.map(|at| format!(", oldest {}", relative(at, now))).unwrap_or_default();
        let me = if d.this_device { " (this device)" } else { "" };
        let _ = writeln!(s, "device {}{me}: seen {seen}, outbox {}{oldest}", h.device_id, h.outbox_len.unwrap_or(0));
    }
    s.pop();
    s
}
