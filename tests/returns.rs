//! Returns and the day's close end to end: real `omnikiosk` binaries (several devices of
//! one store) against a real hub on loopback. Goods come back at any device, never more
//! than was bought less what came back (counted on the device offline, at the hub across
//! every device), and shifts close into Z reports whose totals are the receipts'.
//! (`OMNIKIOSK_TEST_HUB=postgres` runs it against a PostgreSQL hub.)

mod support;

use std::collections::HashMap;
use std::process::Stdio;

use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::shift::ZReport;
use omnikiosk_protocol::till::{Receipt, ReceiptKind, TenderMethod};
use serde_json::Value;
use support::{stderr, Fault, FaultProxy, Kiosk, TestHub};

const STAFF: &str = "S1-STAFF";

/// Sell-and-sync cycles of the kill -9 soak (`OMNIKIOSK_SOAK_CYCLES=50` to soak).
fn cycles() -> usize {
    std::env::var("OMNIKIOSK_SOAK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(4)
}

async fn enrolled(hub_url: &str, token: &str) -> Kiosk {
    let kiosk = Kiosk::with_config("[sync]\nrequest_grace_secs = 1\nconnect_timeout_ms = 500\n");
    kiosk.enroll(hub_url, token).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk
}

async fn sync(kiosk: &Kiosk) -> Value {
    kiosk.json(&["sync", "--once", "--json"]).await
}

fn device_of(kiosk: &Kiosk) -> String {
    kiosk.query_strings("SELECT value FROM meta WHERE key = 'device_id'").remove(0)
}

fn cheapest(kiosk: &Kiosk, n: usize) -> Vec<String> {
    kiosk.query_strings(&format!("SELECT sku FROM products ORDER BY price_cents, sku LIMIT {n}"))
}

fn shopper(kiosk: &Kiosk) -> (String, String) {
    let row = kiosk.query_strings(
        "SELECT c.id || ' ' || l.card FROM customers c JOIN loyalty_cards l ON l.customer_id = c.id ORDER BY c.id LIMIT 1",
    );
    let (id, card) = row[0].split_once(' ').unwrap();
    (id.to_string(), card.to_string())
}

fn stock(kiosk: &Kiosk, sku: &str) -> i64 {
    // A product the store never stocked has no row until a sale makes one.
    kiosk.query_strings(&format!("SELECT CAST(coalesce(max(on_hand), 0) AS TEXT) FROM stock WHERE sku = '{sku}'"))[0].parse().unwrap()
}

fn receipt_count(kiosk: &Kiosk) -> usize {
    kiosk.query_strings("SELECT number FROM receipts").len()
}

async fn hub_points(hub: &TestHub, customer: &str) -> i64 {
    hub.channel().get(&format!("/v1/customers/{customer}")).await["points"].as_i64().unwrap()
}

async fn sell(kiosk: &Kiosk, args: &[&str]) -> Value {
    let mut all = vec!["sale", "--staff", STAFF, "--json"];
    all.extend_from_slice(args);
    kiosk.json(&all).await
}

async fn take_back(kiosk: &Kiosk, args: &[&str]) -> Receipt {
    let mut all = vec!["return", "--staff", STAFF, "--json"];
    all.extend_from_slice(args);
    serde_json::from_value(kiosk.json(&all).await).expect("return --json prints the receipt")
}

/// A command that must be refused: its exit code and what it said.
async fn refused(kiosk: &Kiosk, args: &[&str]) -> (i32, String) {
    let out = kiosk.run(args).await;
    assert!(!out.status.success(), "{args:?} must be refused");
    (out.status.code().unwrap_or(-1), stderr(&out))
}

/// Every receipt the hub holds of the store, in commit order.
async fn hub_sales(hub: &TestHub, store: i64) -> Vec<Receipt> {
    hub.channel().pages(&format!("/v1/sales?store_id={store}&limit=50"), "sales").await
}

/// Every Z report the hub holds of the store, two a page.
async fn hub_shifts(hub: &TestHub, store: i64) -> Vec<ZReport> {
    hub.channel().pages(&format!("/v1/shifts?store_id={store}&limit=2"), "shifts").await
}

/// Sell at one device, return part at a second, the rest at the first while it is offline,
/// then once more: the device refuses what it knows is gone, the hub refuses what only it
/// can know is gone (a conflict for the manager, with the refund already given), and the
/// hub holds exactly what was bought less what came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_at_any_device_never_take_back_more_than_was_bought() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 60, products: 30, orders: 10, seed: 41 }).await;
    let proxy = FaultProxy::start(hub.addr).await;
    let till = enrolled(&proxy.url(), &hub.device_token(1)).await;
    let desk = enrolled(&hub.url(), &hub.device_token(1)).await;
    let tablet = enrolled(&hub.url(), &hub.device_token(1)).await;
    let skus = cheapest(&till, 2);
    let (x, y) = (skus[0].as_str(), skus[1].as_str());
    let (customer, card) = shopper(&till);
    let (stock_x, stock_y, points) = (stock(&till, x), stock(&till, y), hub_points(&hub, &customer).await);

    let sale: Receipt = serde_json::from_value(sell(&till, &["--customer", &card, "--item", &format!("{x}x3"), "--item", y, "--pay", "cash:1000000"]).await).unwrap();
    sync(&till).await;
    sync(&desk).await;
    sync(&tablet).await;

    // One X comes back at the desk, refunded in cash; its share of the points goes.
    let first = take_back(&desk, &[&sale.number, "--item", &format!("{x}x1"), "--refund", "cash", "--reason", "damaged"]).await;
    assert_eq!((first.kind, first.seq, first.lines.len()), (ReceiptKind::Return, 1, 1));
    assert_eq!(first.lines[0].qty, -1);
    assert_eq!(first.total_cents, -first.lines[0].price_cents, "refunded what one cost");
    assert_eq!(first.tenders[0].cents, -first.total_cents);
    assert!(first.points_earned <= 0, "the returned line's points are taken back: {}", first.points_earned);
    let v = desk.json(&["receipt", &first.number, "--json"]).await;
    for field in ["number", "kind", "lines", "total_cents", "tax", "tenders", "change_cents", "points_earned", "points_redeemed", "customer_id", "prev_hash", "hash"] {
        assert!(v.get(field).is_some(), "return --json has {field}");
    }
    assert_eq!(v["kind"], "return");
    sync(&desk).await;
    sync(&till).await;

    // The till goes offline and takes back everything left: the two X and the Y.
    proxy.set(Fault::Reset);
    let rest = take_back(&till, &[&sale.number, "--refund", "card", "--reference", "T-9001", "--reason", "changed mind"]).await;
    let back: HashMap<&str, i64> = rest.lines.iter().map(|l| (l.sku.as_str(), -l.qty)).collect();
    assert_eq!(back, HashMap::from([(x, 2), (y, 1)]), "what was left, as the till knew it");
    assert_eq!(rest.prev_hash, sale.hash, "returns are in the sales' chain");
    // Once more, at the same till: nothing is left, nothing recorded, no number used.
    let receipts = receipt_count(&till);
    let (code, said) = refused(&till, &["return", &sale.number, "--staff", STAFF, "--item", &format!("{x}x1"), "--refund", "cash", "--reason", "damaged"]).await;
    assert_eq!(code, 3, "{said}");
    assert!(said.contains("already returned"), "{said}");
    assert_eq!(receipt_count(&till), receipts);

    // The tablet has not synced since the sale: it takes back one more X, believing all
    // three are there to return. Only the hub can know the desk and the till took them.
    let late = take_back(&tablet, &[&sale.number, "--item", &format!("{x}x1"), "--refund", "cash", "--reason", "faulty"]).await;
    proxy.set(Fault::Pass);
    sync(&till).await;
    let s = sync(&tablet).await;
    let conflicts = tablet.json(&["conflicts", "--json"]).await;
    let c = conflicts.as_array().unwrap().iter().find(|c| c["code"] == "over_return").unwrap_or_else(|| panic!("an over-return conflict: {conflicts} {s}"));
    assert!(c["message"].as_str().unwrap().contains("already returned"), "{c}");
    assert!(c["hub_facts"].to_string().contains(&rest.number), "the conflict names the refund already given: {c}");

    let at_hub = hub_sales(&hub, 1).await;
    let numbers: Vec<&str> = at_hub.iter().map(|r| r.number.as_str()).collect();
    assert!(numbers.contains(&first.number.as_str()) && numbers.contains(&rest.number.as_str()), "{numbers:?}");
    assert!(!numbers.contains(&late.number.as_str()), "the over-return is not recorded: {numbers:?}");
    let net: HashMap<&str, i64> = at_hub.iter().flat_map(|r| &r.lines).fold(HashMap::new(), |mut m, l| {
        *m.entry(l.sku.as_str()).or_default() += l.qty;
        m
    });
    assert_eq!((net[x], net[y]), (0, 0), "the hub holds what was bought less what came back");
    sync(&desk).await;
    assert_eq!((stock(&desk, x), stock(&desk, y)), (stock_x, stock_y), "stock back where it was, at every device");
    let moved: i64 = [&sale, &first, &rest].iter().map(|r| r.points_earned - r.points_redeemed + r.points_refunded).sum();
    assert_eq!(hub_points(&hub, &customer).await, points + moved, "points moved by the sale and the two good returns");
    // Each returned line takes back its share of the points rounded down: at most a
    // point per line stays with the shopper, never one more than was earned goes.
    assert!((0..rest.lines.len() as i64 + 1).contains(&moved), "{moved} points left after a whole return");

    // Another store's receipt, a forged QR, a card refund without its reference: refused,
    // nothing recorded.
    let other = enrolled(&hub.url(), &hub.device_token(2)).await;
    let theirs = other.json(&["sale", "--staff", "S2-STAFF", "--item", &cheapest(&other, 1)[0], "--pay", "cash:1000000", "--json"]).await;
    let (_, said) = refused(&desk, &["return", theirs["number"].as_str().unwrap(), "--staff", STAFF, "--refund", "cash", "--reason", "damaged"]).await;
    assert!(said.contains("store 2"), "{said}");
    let again = sell(&desk, &["--item", x, "--pay", "cash:1000000"]).await;
    let qr = again["qr"].as_str().unwrap();
    let forged = format!("{}{}", &qr[..qr.len() - 2], if qr.ends_with("AA") { "BB" } else { "AA" });
    let (_, said) = refused(&desk, &["return", &forged, "--staff", STAFF, "--refund", "cash", "--reason", "damaged"]).await;
    assert!(said.contains("did not sign"), "{said}");
    let number = again["number"].as_str().unwrap();
    let (_, said) = refused(&desk, &["return", number, "--staff", STAFF, "--refund", "card", "--reason", "damaged"]).await;
    assert!(said.contains("reference"), "{said}");
    let (_, said) = refused(&desk, &["return", number, "--staff", STAFF, "--refund", "cash", "--reason", "bored"]).await;
    assert!(said.contains("not a return reason"), "{said}");
    let (_, said) = refused(&desk, &["return", "9-9-000001", "--staff", STAFF, "--refund", "cash", "--reason", "damaged"]).await;
    assert!(said.contains("store 9"), "{said}");
    assert_eq!(receipt_count(&desk), 2, "the desk's return and its sale, nothing more");
    // The whole receipt back by its QR (the till signed it), as points to nobody: refused;
    // in cash: done.
    let (_, said) = refused(&desk, &["return", qr, "--staff", STAFF, "--refund", "points", "--reason", "damaged"]).await;
    assert!(said.contains("shopper"), "{said}");
    let by_qr = take_back(&desk, &[qr, "--refund", "cash", "--reason", "damaged"]).await;
    assert_eq!(by_qr.lines[0].origin.as_deref(), Some(number));
}

/// A collected click-and-collect order brought back to the store: bought online, returned
/// at the till, offline too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collected_online_order_comes_back_at_the_till() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 40, products: 30, orders: 12, seed: 42 }).await;
    let kiosk = enrolled(&hub.url(), &hub.device_token(1)).await;
    // A ready order, handed over against its pickup code.
    let ready = kiosk.json(&["orders", "--status", "ready", "--json"]).await;
    let order = match ready.as_array().and_then(|a| a.first()) {
        Some(o) => o.clone(),
        None => {
            let placed = kiosk.json(&["orders", "--status", "placed", "--json"]).await;
            let o = placed.as_array().unwrap()[0].clone();
            let id = o["id"].as_str().unwrap();
            kiosk.json(&["order", id, "pick", "--staff", STAFF, "--json"]).await;
            kiosk.json(&["order", id, "ready", "--staff", STAFF, "--json"]).await;
            o
        }
    };
    let id = order["id"].as_str().unwrap();
    let code = kiosk.query_strings(&format!("SELECT pickup_code FROM orders WHERE id = '{id}'")).remove(0);
    kiosk.json(&["order", id, "collect", "--staff", STAFF, "--code", &code, "--json"]).await;
    let sku = order["lines"][0]["sku"].as_str().unwrap();
    let bought = order["lines"][0]["qty"].as_i64().unwrap();

    let r = take_back(&kiosk, &[id, "--item", &format!("{sku}x1"), "--refund", "card", "--reference", "T-77", "--reason", "wrong size"]).await;
    assert_eq!((r.lines[0].origin.as_deref(), r.lines[0].qty), (Some(id), -1));
    assert_eq!(r.tenders[0].method, TenderMethod::Card);
    let (_, said) = refused(&kiosk, &["return", id, "--staff", STAFF, "--item", &format!("{sku}x{bought}"), "--refund", "cash", "--reason", "damaged"]).await;
    assert!(said.contains("already returned"), "{said}");
    let s = sync(&kiosk).await;
    assert_eq!(kiosk.json(&["status", "--json"]).await["conflicts"], 0, "{s}");
    assert!(hub_sales(&hub, 1).await.iter().any(|h| h.number == r.number), "the hub recorded the order's return");
}

/// A day at one till under kill -9: the shift opens, sales and returns are made while the
/// kiosk is killed at random points, the shift closes (offline, and says so), and the Z
/// report's totals equal the receipts the hub holds; every device of the store sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_at_the_till_closes_into_a_z_report_that_adds_up() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 40, products: 30, orders: 6, seed: 43 }).await;
    let proxy = FaultProxy::start(hub.addr).await;
    let till = enrolled(&proxy.url(), &hub.device_token(1)).await;
    let manager = enrolled(&hub.url(), &hub.device_token(1)).await;
    let device = device_of(&till);
    let sku = cheapest(&till, 1).remove(0);

    // Closing a shift that is not open, opening with a float that is not an amount.
    let (code, said) = refused(&till, &["shift", "close", "--staff", STAFF, "--counted", "100"]).await;
    assert_eq!(code, 3, "{said}");
    assert!(said.contains("no shift is open"), "{said}");
    let (code, said) = refused(&till, &["shift", "open", "--staff", STAFF, "--float", "lots"]).await;
    assert_eq!(code, 2, "{said}");
    let opened = till.json(&["shift", "open", "--staff", STAFF, "--float", "20000", "--json"]).await;
    assert_eq!(opened["z_number"], 1);
    let (_, said) = refused(&till, &["shift", "open", "--staff", STAFF, "--float", "20000"]).await;
    assert!(said.contains("already open"), "{said}");
    till.json(&["shift", "cash", "--staff", STAFF, "--cents", "-5000", "--reason", "to the safe", "--json"]).await;

    let mut killed = 0;
    for cycle in 0..cycles() {
        for k in 0..3 {
            let mut cmd = till.command();
            cmd.args(["sale", "--staff", STAFF, "--item", &format!("{sku}x2"), "--pay", "cash:1000000"]);
            let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            if k == 1 {
                std::thread::sleep(std::time::Duration::from_millis((cycle as u64 * 13) % 50));
                let _ = child.kill();
                killed += 1;
            }
            child.wait().unwrap();
        }
        let mut cmd = till.command();
        let mut child = cmd.args(["sync", "--once"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis((cycle as u64 * 17) % 80));
        let _ = child.kill();
        child.wait().unwrap();
    }
    let last = till.query_strings("SELECT number FROM receipts WHERE kind = 'sale' ORDER BY seq DESC LIMIT 1").remove(0);
    take_back(&till, &[&last, "--item", &format!("{sku}x1"), "--refund", "cash", "--reason", "damaged"]).await;

    // The uplink drops; the close is allowed and says what has not reached the hub.
    proxy.set(Fault::Reset);
    let (code, said) = refused(&till, &["shift", "close", "--staff", STAFF, "--counted", "12.50"]).await;
    assert_eq!(code, 2, "a count that is not a whole number of minor units: {said}");
    let z: ZReport = serde_json::from_value(till.json(&["shift", "close", "--staff", STAFF, "--counted", "1000", "--json"]).await).unwrap();
    let v = serde_json::to_value(&z).unwrap();
    for field in ["z_number", "expected_cash_cents", "counted_cash_cents", "sales", "returns", "unsent_ops"] {
        assert!(v.get(field).is_some(), "shift close --json has {field}");
    }
    assert_eq!(z.z_number, 1);
    assert!(z.unsent_ops > 0, "closed offline, and it says so");
    proxy.set(Fault::Pass);
    sync(&till).await;
    sync(&till).await;
    assert_eq!(till.json(&["status", "--json"]).await["outbox"], 0);

    let local: Vec<Receipt> = till.query_strings("SELECT body FROM receipts ORDER BY seq").iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    let at_hub: Vec<Receipt> = hub_sales(&hub, 1).await.into_iter().filter(|r| r.device_id == device).collect();
    assert_eq!(at_hub, local, "{killed} kills: the hub holds exactly the till's receipts");
    let sum = |kind| at_hub.iter().filter(|r| r.kind == kind).map(|r| r.total_cents).sum::<i64>();
    let count = |kind| at_hub.iter().filter(|r| r.kind == kind).count() as i64;
    assert_eq!((z.sales.count, z.sales.total_cents), (count(ReceiptKind::Sale), sum(ReceiptKind::Sale)));
    assert_eq!((z.returns.count, z.returns.total_cents), (count(ReceiptKind::Return), sum(ReceiptKind::Return)));
    let change: i64 = at_hub.iter().map(|r| r.change_cents).sum();
    let cash_in: i64 = at_hub.iter().filter(|r| r.total_cents >= 0).flat_map(|r| &r.tenders).map(|t| t.cents).sum();
    let cash_out: i64 = at_hub.iter().filter(|r| r.total_cents < 0).flat_map(|r| &r.tenders).map(|t| t.cents).sum();
    assert_eq!(z.expected_cash_cents, 20000 - 5000 + cash_in - change - cash_out);
    assert_eq!(z.difference_cents, 1000 - z.expected_cash_cents);

    // At the hub for the ERP, and in the manager view of the store's other device.
    let shifts = hub_shifts(&hub, 1).await;
    assert_eq!(shifts, vec![z.clone()], "the Z report once at the hub");
    sync(&manager).await;
    let today = manager.json(&["today", "--json"]).await;
    assert_eq!(today["z_reports"][0]["z_number"], 1, "{}", today["z_reports"]);
    assert_eq!(today["z_reports"][0]["device_id"], device.as_str());
    assert_eq!(today["sales"]["returns"], 1, "{}", today["sales"]);
    // The next shift is Z 2.
    let next = till.json(&["shift", "open", "--staff", STAFF, "--float", "0", "--json"]).await;
    assert_eq!(next["z_number"], 2);
}

/// An exchange: a return and a sale in one basket, one receipt, one balance — the shopper
/// pays the difference for something dearer, or is refunded it for something cheaper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_is_one_receipt_with_one_balance() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 30, products: 30, orders: 4, seed: 44 }).await;
    let kiosk = enrolled(&hub.url(), &hub.device_token(1)).await;
    let rows = kiosk.query_strings("SELECT sku || ' ' || price_cents FROM products ORDER BY price_cents, sku");
    let priced: Vec<(String, i64)> = rows.iter().map(|r| r.split_once(' ').map(|(s, p)| (s.to_string(), p.parse().unwrap())).unwrap()).collect();
    let (cheap, dear) = (&priced[0], priced.iter().rev().find(|p| p.1 > priced[1].1).unwrap());
    let middle = &priced[1];
    let sale: Receipt = serde_json::from_value(sell(&kiosk, &["--item", &format!("{}x2", middle.0), "--pay", "cash:10000000"]).await).unwrap();

    // One back, something dearer taken: the shopper pays the difference (cash, change given).
    let up = take_back(&kiosk, &[&sale.number, "--item", &format!("{}x1", middle.0), "--take", &dear.0, "--refund", "cash", "--reason", "wrong size"]).await;
    assert_eq!(up.kind, ReceiptKind::Return);
    assert_eq!(up.total_cents, dear.1 - middle.1, "one balance");
    assert_eq!((up.lines.len(), up.lines[0].qty, up.lines[1].qty), (2, -1, 1));
    assert_eq!(up.seq, sale.seq + 1, "the same numbers as the sales");
    // The other back, something cheaper taken: the store refunds the difference.
    let down = take_back(&kiosk, &[&sale.number, "--item", &format!("{}x1", middle.0), "--take", &cheap.0, "--refund", "cash", "--reason", "wrong size"]).await;
    assert_eq!(down.total_cents, cheap.1 - middle.1);
    assert!(down.total_cents <= 0);
    sync(&kiosk).await;
    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!((status["outbox"].as_i64(), status["conflicts"].as_i64()), (Some(0), Some(0)), "{status}");
    let at_hub = hub_sales(&hub, 1).await;
    let held: i64 = at_hub.iter().flat_map(|r| &r.lines).filter(|l| l.sku == middle.0).map(|l| l.qty).sum();
    assert_eq!(held, 0, "both of the first product came back");
    let sold: i64 = at_hub.iter().flat_map(|r| &r.lines).filter(|l| l.sku == dear.0 || l.sku == cheap.0).map(|l| l.qty).sum();
    assert_eq!(sold, 2, "and the two taken instead were sold");
}
