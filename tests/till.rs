//! The till end to end: the real `omnikiosk` binary selling against a real hub on
//! loopback. A sale is one op and one receipt; receipt numbers are gapless per device and
//! chained by hash; a refused basket uses no number and leaves nothing behind.
//! (`OMNIKIOSK_TEST_HUB=postgres` runs it against a PostgreSQL hub.)

mod support;

use std::collections::HashMap;
use std::process::Stdio;

use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::till::{Receipt, GENESIS_HASH};
use serde_json::Value;
use support::{stderr, Fault, FaultProxy, Kiosk, TestHub};

/// Offline sales in the broken-wire test: small in CI, `OMNIKIOSK_TILL_SALES=1000` to measure.
fn offline_sales() -> usize {
    std::env::var("OMNIKIOSK_TILL_SALES").ok().and_then(|v| v.parse().ok()).unwrap_or(30)
}

/// Sell-and-sync cycles of the kill -9 soak (`OMNIKIOSK_SOAK_CYCLES=50` to soak).
fn cycles() -> usize {
    std::env::var("OMNIKIOSK_SOAK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(4)
}

const STAFF: &str = "S1-STAFF";

async fn enrolled(hub: &TestHub, store: i64) -> Kiosk {
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(store)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk
}

/// Products of the store with their prices, cheapest first.
fn products(kiosk: &Kiosk, n: usize) -> Vec<String> {
    kiosk.query_strings(&format!("SELECT sku FROM products ORDER BY price_cents, sku LIMIT {n}"))
}

/// A shopper of the store with at least `points`, and their loyalty card.
fn shopper_with_points(kiosk: &Kiosk, points: i64) -> (String, String) {
    let rows = kiosk.query_strings(&format!(
        "SELECT c.id || ' ' || l.card FROM customers c JOIN loyalty_cards l ON l.customer_id = c.id WHERE c.points >= {points} ORDER BY c.id LIMIT 1"
    ));
    let (id, card) = rows.first().expect("a seeded shopper with points").split_once(' ').unwrap();
    (id.to_string(), card.to_string())
}

async fn sell(kiosk: &Kiosk, args: &[&str]) -> Receipt {
    let mut all = vec!["sale", "--staff", STAFF, "--json"];
    all.extend_from_slice(args);
    serde_json::from_value(kiosk.json(&all).await).expect("sale --json prints the receipt")
}

/// A sale that must be refused: exit code and reason.
async fn refused(kiosk: &Kiosk, args: &[&str]) -> (i32, String) {
    let mut all = vec!["sale"];
    all.extend_from_slice(args);
    let out = kiosk.run(&all).await;
    assert!(!out.status.success(), "sale {args:?} must be refused");
    (out.status.code().unwrap_or(-1), stderr(&out))
}

fn outbox_len(kiosk: &Kiosk) -> usize {
    kiosk.query_strings("SELECT op_id FROM outbox").len()
}

/// The offline allowance (1,000 points by default) bounds what is redeemed before the hub
/// confirms: a sale that earns more than it redeems still spends its share of it, and a
/// return's points taken back spend none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_allowance_counts_redemptions_not_net_moves() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 40, orders: 10, seed: 21 }).await;
    let kiosk = enrolled(&hub, 1).await;
    let (_, card) = shopper_with_points(&kiosk, 700);
    let dear = kiosk.query_strings("SELECT sku || ' ' || price_cents FROM products ORDER BY price_cents DESC LIMIT 1").remove(0);
    let (sku, price) = dear.split_once(' ').unwrap();
    // A basket worth some 2,000 points: each sale earns more than it redeems.
    let qty = 200_000 / price.parse::<i64>().unwrap() + 1;
    let item = format!("{sku}x{qty}");
    let big = |redeem: &'static str| ["--customer", card.as_str(), "--item", item.as_str(), "--redeem", redeem, "--pay", "cash:1000000000"];
    let first = sell(&kiosk, &big("600")).await;
    assert!(first.points_earned > first.points_redeemed, "{first:?}");
    let (code, said) = refused(&kiosk, &[&["--staff", STAFF][..], &big("600")[..]].concat()).await;
    assert_eq!(code, 3, "{said}");
    assert!(said.contains("at most 1000 points"), "600 waiting and 600 more: {said}");
    // Half of the first basket comes back: the points its lines earned are taken back.
    let back = format!("{sku}x{}", qty / 2);
    let out = kiosk.json(&["return", &first.number, "--staff", STAFF, "--json", "--item", &back, "--refund", "cash", "--reason", "damaged"]).await;
    assert!(out["points_earned"].as_i64().unwrap() < 0, "{out}");
    // 600 of the allowance is spent; the return spent none of it.
    let second = sell(&kiosk, &big("400")).await;
    assert_eq!(second.points_redeemed, 400);
    assert_eq!(outbox_len(&kiosk), 3, "the refused sale queued nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_number_their_receipts_gaplessly_and_chain_them() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 40, orders: 10, seed: 21 }).await;
    let kiosk = enrolled(&hub, 1).await;
    let skus = products(&kiosk, 3);
    let (customer, card) = shopper_with_points(&kiosk, 50);

    let first = sell(&kiosk, &["--item", &format!("{}x2", skus[0]), "--item", &skus[1], "--pay", "cash:100000"]).await;
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    assert_eq!(first.validate(), Ok(()), "the printed receipt is the one its hash seals");
    assert_eq!(first.lines.len(), 2);
    assert_eq!(first.lines[0].qty, 2);
    assert_eq!(first.change_cents, 100000 - first.total_cents);
    assert_eq!(first.tax.iter().map(|t| t.gross_cents).sum::<i64>(), first.total_cents, "tax breakdown covers the total");
    assert_eq!((first.customer_id.as_deref(), first.points_earned), (None, 0));

    // Loyalty card attached, points redeemed, split tender.
    let basket = sell(&kiosk, &["--customer", &card, "--item", &skus[2], "--redeem", "10", "--pay", "card:1:T-4471", "--pay", "cash:100000"]).await;
    assert_eq!(basket.seq, 2);
    assert_eq!(basket.prev_hash, first.hash, "each receipt carries the one before");
    assert_eq!(basket.customer_id.as_deref(), Some(customer.as_str()));
    assert_eq!(basket.points_redeemed, 10);
    assert_eq!(basket.discount_cents, 10);
    assert_eq!(basket.tenders.len(), 2);

    // The JSON contract.
    let v: Value = kiosk.json(&["receipt", &basket.number, "--json"]).await;
    for field in ["number", "kind", "lines", "total_cents", "tax", "tenders", "change_cents", "points_earned", "points_redeemed", "customer_id", "prev_hash", "hash"] {
        assert!(v.get(field).is_some(), "receipt --json has {field}");
    }
    assert_eq!(v["kind"], "sale");
    // The seeded store 1 is in Kraków: the receipt's time on the terminal and the store's
    // day are Warsaw's, summer time or not.
    let warsaw = jiff::tz::TimeZone::get("Europe/Warsaw").unwrap();
    let local = |at: i64| jiff::Timestamp::from_second(at).unwrap().to_zoned(warsaw.clone());
    let text = String::from_utf8(kiosk.run(&["receipt", &basket.number]).await.stdout).unwrap();
    assert!(text.contains(&local(basket.at).strftime("%Y-%m-%d %H:%M").to_string()), "{text}");
    let midnight = || jiff::Zoned::now().with_time_zone(warsaw.clone()).start_of_day().unwrap().timestamp().as_second();
    let before = midnight();
    let since = kiosk.json(&["today", "--json"]).await["since"].as_i64().unwrap();
    assert!(since == before || since == midnight(), "today starts at Warsaw's midnight: {since}");
    for field in ["sku", "qty", "price_cents"] {
        assert!(v["lines"][0].get(field).is_some(), "a line has {field}");
    }
    let list = kiosk.json(&["receipts", "--json"]).await;
    let numbers: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, [basket.number.as_str(), first.number.as_str()], "newest first");
    assert_eq!(outbox_len(&kiosk), 2, "one op per sale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_basket_records_nothing_and_uses_no_number() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 40, orders: 10, seed: 22 }).await;
    let kiosk = enrolled(&hub, 1).await;
    let sku = products(&kiosk, 1).remove(0);
    let (_, card) = shopper_with_points(&kiosk, 1100);
    let balance: i64 = kiosk.query_strings(&format!(
        "SELECT CAST(c.points AS TEXT) FROM customers c JOIN loyalty_cards l ON l.customer_id = c.id WHERE l.card = '{card}'"
    ))[0]
        .parse()
        .unwrap();
    let before = outbox_len(&kiosk);
    let wrong_digit = format!("{}{}", &sku[..12], (sku.as_bytes()[12] - b'0' + 1) % 10);
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["--item".into(), "5901234123457".into(), "--pay".into(), "cash:100000".into()], 3, "not in the catalogue"),
        (vec!["--item".into(), wrong_digit, "--pay".into(), "cash:100000".into()], 2, "check digit"),
        (vec!["--item".into(), format!("{sku}x0"), "--pay".into(), "cash:100000".into()], 3, "quantity"),
        (vec!["--item".into(), format!("{sku}x10000"), "--pay".into(), "cash:100000000".into()], 3, "quantity"),
        (vec!["--item".into(), sku.clone(), "--pay".into(), "cash:1".into()], 3, "short"),
        (vec!["--item".into(), sku.clone(), "--pay".into(), "card:100000".into()], 3, "reference"),
        (vec!["--item".into(), format!("{sku}x999"), "--pay".into(), "cash:100000000".into(), "--customer".into(), card.clone(), "--redeem".into(), (balance + 1).to_string()], 3, "cannot be redeemed"),
        (vec!["--item".into(), format!("{sku}x999"), "--pay".into(), "cash:100000000".into(), "--customer".into(), card.clone(), "--redeem".into(), "1001".into()], 3, "at most 1000"),
        (vec!["--pay".into(), "cash:100".into()], 3, "empty"),
    ];
    for (args, code, words) in cases {
        let mut all: Vec<&str> = vec!["--staff", STAFF];
        all.extend(args.iter().map(String::as_str));
        let (exit, reason) = refused(&kiosk, &all).await;
        assert_eq!(exit, code, "{args:?}: {reason}");
        assert!(reason.contains(words), "{args:?} says {words:?}: {reason}");
    }
    let (exit, reason) = refused(&kiosk, &["--staff", "S9-NOBODY", "--item", &sku, "--pay", "cash:100000"]).await;
    assert_eq!(exit, 3, "{reason}");
    assert!(reason.contains("does not work at this store"), "{reason}");
    assert_eq!(outbox_len(&kiosk), before, "no op queued");
    assert!(kiosk.query_strings("SELECT number FROM receipts").is_empty(), "no receipt written");
    // The next good sale is number 1.
    let r = sell(&kiosk, &["--item", &sku, "--pay", "cash:100000"]).await;
    assert_eq!(r.seq, 1, "no number was used by the refusals");
}

/// Every receipt the hub holds of `device`, in its order, read page by page as the ERP would.
async fn hub_receipts(hub: &TestHub, store: i64, device: &str) -> Vec<Receipt> {
    let all: Vec<Receipt> = hub.channel().pages(&format!("/v1/sales?store_id={store}&limit=50"), "sales").await;
    all.into_iter().filter(|r| r.device_id == device).collect()
}

/// Receipts 1..=n, each once, each naming the one before: what a fiscal auditor checks.
fn assert_chain(receipts: &[Receipt], what: &str) {
    let mut prev = GENESIS_HASH.to_string();
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1, "{what}: receipt {} is number {}", r.number, i + 1);
        assert_eq!(r.prev_hash, prev, "{what}: the chain is unbroken at {}", r.number);
        assert_eq!(r.validate(), Ok(()), "{what}: {} matches its hash", r.number);
        prev = r.hash.clone();
    }
}

/// The kiosk's stock of each product, as the hub last told it.
fn stock(kiosk: &Kiosk) -> HashMap<String, i64> {
    kiosk
        .query_strings("SELECT sku || ' ' || on_hand FROM stock")
        .into_iter()
        .map(|row| {
            let (sku, n) = row.split_once(' ').unwrap();
            (sku.to_string(), n.parse().unwrap())
        })
        .collect()
}

async fn hub_points(hub: &TestHub, customer: &str) -> i64 {
    hub.channel().get(&format!("/v1/customers/{customer}")).await["points"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sales_reach_the_hub_once_through_a_broken_wire() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 80, products: 40, orders: 10, seed: 23 }).await;
    let proxy = FaultProxy::start(hub.addr).await;
    let kiosk = Kiosk::with_config("[sync]\nrequest_grace_secs = 1\nconnect_timeout_ms = 500\npush_batch = 7\n");
    kiosk.enroll(&proxy.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let device = kiosk.json(&["status", "--json"]).await["device_id"].as_str().unwrap().to_string();
    let skus = products(&kiosk, 4);
    let (customer, card) = shopper_with_points(&kiosk, 0);
    let (stock_before, points_before) = (stock(&kiosk), hub_points(&hub, &customer).await);

    // The uplink is down: the till keeps selling.
    proxy.set(Fault::Reset);
    let n = offline_sales();
    let mut sold: HashMap<String, i64> = HashMap::new();
    let mut points_moved = 0;
    for i in 0..n {
        let (sku, qty) = (&skus[i % skus.len()], 1 + (i % 3) as i64);
        let mut args = vec!["--item".to_string(), format!("{sku}x{qty}"), "--pay".into(), "cash:10000000".into()];
        if i % 2 == 0 {
            args.extend(["--customer".into(), card.clone()]);
        }
        let r = sell(&kiosk, &args.iter().map(String::as_str).collect::<Vec<_>>()).await;
        *sold.entry(sku.clone()).or_default() += qty;
        points_moved += r.points_earned - r.points_redeemed;
    }
    assert!(!kiosk.run(&["sync", "--once"]).await.status.success(), "offline");
    // The wire comes back broken every way, then whole.
    for fault in [Fault::LoseAnswer, Fault::Truncate, Fault::Error500, Fault::LoseAnswer] {
        proxy.set(fault);
        let _ = kiosk.run(&["sync", "--once"]).await;
    }
    proxy.set(Fault::Pass);
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!((status["outbox"].as_i64(), status["conflicts"].as_i64()), (Some(0), Some(0)), "{status}");

    let at_hub = hub_receipts(&hub, 1, &device).await;
    assert_eq!(at_hub.len(), n, "every sale once at the hub");
    assert_chain(&at_hub, "hub");
    let stock_after = stock(&kiosk);
    for (sku, qty) in &sold {
        let (before, after) = (stock_before.get(sku).copied().unwrap_or(0), stock_after.get(sku).copied());
        assert_eq!(after.map(|a| before - a), Some(*qty), "{sku}: stock moved once per sale");
    }
    assert_eq!(hub_points(&hub, &customer).await - points_before, points_moved, "points moved once per sale");
    // The store's sales, counted at the device from the store's feed.
    let today = kiosk.json(&["today", "--json"]).await;
    assert_eq!(today["sales"]["count"], n as i64, "{}", today["sales"]);
}

/// kill -9 at random points of selling and syncing: a sale is either whole (its receipt and
/// its op) or absent, numbers stay gapless, and the hub ends with each receipt once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_selling_and_syncing_loses_doubles_and_renumbers_nothing() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 30, orders: 10, seed: 24 }).await;
    let kiosk = Kiosk::with_config("[sync]\npush_batch = 2\n");
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let device = kiosk.json(&["status", "--json"]).await["device_id"].as_str().unwrap().to_string();
    let sku = products(&kiosk, 1).remove(0);
    let (customer, card) = shopper_with_points(&kiosk, 0);
    let points_before = hub_points(&hub, &customer).await;
    let (mut confirmed, mut killed) = (0usize, 0usize);
    for cycle in 0..cycles() {
        for k in 0..3 {
            let mut cmd = kiosk.command();
            cmd.args(["sale", "--staff", STAFF, "--customer", &card, "--item", &format!("{sku}x2"), "--pay", "cash:1000000"]);
            let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            if k == 1 {
                std::thread::sleep(std::time::Duration::from_millis((cycle as u64 * 11) % 50));
                let _ = child.kill();
                child.wait().unwrap();
                killed += 1;
            } else if child.wait().unwrap().success() {
                confirmed += 1;
            }
        }
        let mut cmd = kiosk.command();
        let mut child = cmd.args(["sync", "--once"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis((cycle as u64 * 17) % 80));
        let _ = child.kill();
        child.wait().unwrap();
    }
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!((status["outbox"].as_i64(), status["conflicts"].as_i64()), (Some(0), Some(0)), "{status}");

    let mut local: Vec<Receipt> =
        kiosk.query_strings("SELECT body FROM receipts ORDER BY seq").iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    assert_chain(&local, "kiosk");
    assert!(local.len() >= confirmed && local.len() <= confirmed + killed, "{confirmed} confirmed, {killed} killed, {} receipts", local.len());
    let at_hub = hub_receipts(&hub, 1, &device).await;
    assert_chain(&at_hub, "hub");
    assert_eq!(at_hub.len(), local.len(), "every receipt of the kiosk once at the hub");
    local.sort_by_key(|r| r.seq);
    assert_eq!(at_hub, local, "the hub holds exactly the kiosk's receipts");
    let earned: i64 = local.iter().map(|r| r.points_earned).sum();
    assert_eq!(hub_points(&hub, &customer).await - points_before, earned, "points once per sale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_here_takes_the_online_cart_and_the_lines_leave_it_at_the_hub() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 80, products: 40, orders: 10, seed: 25 }).await;
    let kiosk = enrolled(&hub, 1).await;
    let skus = products(&kiosk, 3);
    let (customer, card) = shopper_with_points(&kiosk, 0);
    let cart = serde_json::json!({ "lines": [{ "sku": skus[0], "qty": 2 }, { "sku": skus[1], "qty": 1 }] });
    hub.channel().put(&format!("/v1/customers/{customer}/cart"), cart).await;
    kiosk.json(&["sync", "--once", "--json"]).await;

    let r = sell(&kiosk, &["--customer", &card, "--cart", "--item", &skus[2], "--pay", "cash:10000000"]).await;
    let from_cart: Vec<(&str, i64)> = r.lines.iter().filter(|l| l.from_cart).map(|l| (l.sku.as_str(), l.qty)).collect();
    assert_eq!(from_cart, [(skus[0].as_str(), 2), (skus[1].as_str(), 1)]);
    assert!(r.points_earned > 0, "the shopper earns by the chain's rule");
    // At once, offline: the shopper's cart here no longer holds what was bought.
    let seen = kiosk.json(&["scan", &card, "--offline", "--json"]).await;
    assert_eq!(seen["cart"]["lines"].as_array().map(Vec::len), Some(0), "{}", seen["cart"]);
    assert_eq!(seen["points_pending"], r.points_earned);
    kiosk.json(&["sync", "--once", "--json"]).await;
    let profile = hub.channel().get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(profile["cart"].as_array().map(Vec::len), Some(0), "the online cart at the hub: {profile}");
    let timeline = hub.channel().get(&format!("/v1/customers/{customer}/timeline")).await;
    assert!(timeline["entries"].as_array().unwrap().iter().any(|e| e["kind"] == "sale" && e["receipt"] == r.number.as_str()), "{timeline}");
    // An empty cart is said plainly and sells nothing.
    let (exit, reason) = refused(&kiosk, &["--staff", STAFF, "--customer", &card, "--cart", "--pay", "cash:100"]).await;
    assert_eq!(exit, 3);
    assert!(reason.contains("online cart is empty"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_prints_and_reprints_as_a_copy() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 40, products: 30, orders: 5, seed: 26 }).await;
    let paper = tempfile::NamedTempFile::new().unwrap();
    let kiosk = Kiosk::with_config(&format!("[printer]\nenabled = true\ndevice = {:?}\nheader = \"Omni Market\"\n", paper.path()));
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let sku = products(&kiosk, 1).remove(0);
    let r = sell(&kiosk, &["--item", &format!("{sku}x3"), "--pay", "card:1:T-1", "--pay", "cash:1000000"]).await;
    let printed = String::from_utf8_lossy(&std::fs::read(paper.path()).unwrap()).to_string();
    assert!(printed.contains(&format!("Receipt {}", r.number)), "{printed}");
    assert!(printed.contains("TOTAL") && printed.contains("Card T-1") && printed.contains("Change"), "{printed}");
    let qr = kiosk.json(&["receipt", &r.number, "--json"]).await["qr"].as_str().unwrap().to_string();
    assert!(qr.starts_with("K1.") && printed.contains(&qr), "the e-receipt QR is on the paper");
    assert!(!printed.contains("COPY"), "the original is not a copy");
    let again = kiosk.json(&["receipt", &r.seq.to_string(), "--print", "--json"]).await;
    assert_eq!(again["hash"], r.hash.as_str(), "a reprint is the same receipt");
    let printed = String::from_utf8_lossy(&std::fs::read(paper.path()).unwrap()).to_string();
    assert!(printed.contains("COPY 1"), "{printed}");
    assert_eq!(kiosk.query_strings("SELECT number FROM receipts").len(), 1, "a reprint is not a sale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinstalled_till_numbers_on_from_the_hubs_last_receipt() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 40, products: 30, orders: 5, seed: 27 }).await;
    let token = hub.device_token(1);
    let old = Kiosk::new();
    old.enroll(&hub.url(), &token).await;
    old.json(&["sync", "--once", "--json"]).await;
    let sku = products(&old, 1).remove(0);
    sell(&old, &["--item", &sku, "--pay", "cash:1000000"]).await;
    let last = sell(&old, &["--item", &sku, "--pay", "cash:1000000"]).await;
    let old_qr = old.json(&["receipt", &last.number, "--json"]).await["qr"].as_str().unwrap().to_string();
    old.json(&["sync", "--once", "--json"]).await;
    // The SD card dies; a fresh install enrols with the same device token.
    let new = Kiosk::new();
    new.enroll(&hub.url(), &token).await;
    new.json(&["sync", "--once", "--json"]).await;
    let next = sell(&new, &["--item", &sku, "--pay", "cash:1000000"]).await;
    assert_eq!((next.seq, next.prev_hash.as_str()), (3, last.hash.as_str()), "numbers go on and the chain holds");
    new.json(&["sync", "--once", "--json"]).await;
    let status = new.json(&["status", "--json"]).await;
    assert_eq!((status["outbox"].as_i64(), status["conflicts"].as_i64()), (Some(0), Some(0)), "{status}");
    let device = status["device_id"].as_str().unwrap().to_string();
    assert_chain(&hub_receipts(&hub, 1, &device).await, "hub after a reinstall");
    // The new install signs with a key of its own; receipts printed before still open.
    let new_qr = new.json(&["receipt", &next.number, "--json"]).await["qr"].as_str().unwrap().to_string();
    assert_ne!(old_qr.rsplit('.').next(), new_qr.rsplit('.').next());
    let http = reqwest::Client::new();
    for (qr, number) in [(&old_qr, &last.number), (&new_qr, &next.number)] {
        let e = http.get(format!("{}/v1/e-receipts/{qr}", hub.url())).send().await.unwrap();
        assert_eq!(e.status(), 200, "{number} opens after the reinstall");
        assert_eq!(&e.json::<Receipt>().await.unwrap().number, number);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipts_qr_is_signed_by_its_till_and_opens_the_e_receipt() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 40, products: 30, orders: 5, seed: 28 }).await;
    let till = enrolled(&hub, 1).await;
    let other = enrolled(&hub, 1).await;
    let sku = products(&till, 1).remove(0);
    let (_, card) = shopper_with_points(&till, 0);
    let sold: Value = till.json(&["sale", "--staff", STAFF, "--customer", &card, "--item", &sku, "--pay", "card:1:T-9", "--pay", "cash:1000000", "--json"]).await;
    let (number, qr) = (sold["number"].as_str().unwrap().to_string(), sold["qr"].as_str().unwrap().to_string());
    // Offline, at the till that printed it: the receipt itself.
    let scanned = till.json(&["scan", &qr, "--offline", "--json"]).await;
    assert_eq!((scanned["code_kind"].as_str(), scanned["number"].as_str()), (Some("receipt"), Some(number.as_str())), "{scanned}");
    // A code altered by one character is not this store's receipt.
    let mut forged = qr.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let out = till.run(&["scan", &forged, "--offline", "--json"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // After a sync the other device of the store knows the till's key and the receipt.
    till.json(&["sync", "--once", "--json"]).await;
    other.json(&["sync", "--once", "--json"]).await;
    let out = other.run(&["scan", &qr, "--offline", "--json"]).await;
    assert!(stderr(&out).contains(&format!("receipt {number} was printed at")), "{}", stderr(&out));
    // The shopper's phone opens the e-receipt with the code alone, no token.
    let http = reqwest::Client::new();
    let e = http.get(format!("{}/v1/e-receipts/{qr}", hub.url())).send().await.unwrap();
    assert_eq!(e.status(), 200);
    let e: Receipt = e.json().await.unwrap();
    assert_eq!(e.number, number);
    // What was bought and paid, not who sold it or to whom.
    assert_eq!((e.staff_id.as_str(), e.customer_id.as_deref()), ("", None), "the public e-receipt names people");
    assert!(e.tenders.iter().all(|t| t.reference.is_none()) && !e.lines.is_empty());
    let e = http.get(format!("{}/v1/e-receipts/{forged}", hub.url())).send().await.unwrap();
    assert_eq!(e.status(), 404, "a forged code opens nothing");
}
