//! The till end to end: the real `omnikiosk` binary selling against a real hub on
//! loopback. A sale is one op and one receipt; receipt numbers are gapless per device and
//! chained by hash; a refused basket uses no number and leaves nothing behind.
//! (`OMNIKIOSK_TEST_HUB=postgres` runs it against a PostgreSQL hub.)

mod support;

use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::till::{Receipt, GENESIS_HASH};
use serde_json::Value;
use support::{stderr, Kiosk, TestHub};

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
