//! Offline actions that are never lost or doubled: the outbox, push, conflicts, the
//! loyalty ledger and erasure, end to end with a real hub, real kiosk processes and a
//! proxy that breaks the wire.

mod support;

use std::collections::HashMap;

use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::code::CodeKind;
use serde_json::{json, Value};
use support::{stderr, Fault, FaultProxy, Kiosk, TestHub};

fn seed() -> SeedOptions {
    SeedOptions { stores: 3, customers: 300, products: 120, orders: 90, seed: 21 }
}

/// A kiosk of `store` reaching the hub through a fault proxy, synced once.
/// `config` may add lines to `[sync]` first, then further tables.
async fn kiosk_behind_proxy(hub: &TestHub, store: i64, config: &str) -> (Kiosk, FaultProxy) {
    let proxy = FaultProxy::start(hub.addr).await;
    let kiosk = Kiosk::with_config(&format!("[sync]\nrequest_grace_secs = 1\nconnect_timeout_ms = 500\n{config}"));
    kiosk.enroll(&proxy.url(), &hub.device_token(store)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    (kiosk, proxy)
}

/// An order of `store` in status `status`, from the kiosk's local copy.
fn order_in(kiosk: &Kiosk, status: &str) -> (String, String) {
    let id = kiosk.query_strings(&format!("SELECT id FROM orders WHERE status = '{status}' ORDER BY id LIMIT 1")).remove(0);
    let code = kiosk.query_strings(&format!("SELECT pickup_code FROM orders WHERE id = '{id}'")).remove(0);
    (id, code)
}

async fn points(hub: &TestHub, customer: &str) -> i64 {
    hub.channel().get(&format!("/v1/customers/{customer}")).await["points"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_fulfil_an_order_offline_and_the_hub_confirms_it_once() {
    let hub = TestHub::start(seed()).await;
    let (kiosk, proxy) = kiosk_behind_proxy(&hub, 1, "").await;
    let (order, code) = order_in(&kiosk, "placed");
    proxy.set(Fault::Reset); // the network is gone

    kiosk.json(&["order", &order, "pick", "--staff", "S1-STAFF", "--json"]).await;
    kiosk.json(&["order", &order, "ready", "--staff", "S1-STAFF", "--json"]).await;
    // A wrong pickup code is refused on the spot and queues nothing.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let out = kiosk.run(&["order", &order, "collect", "--staff", "S1-STAFF", "--code", wrong]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    // A staff member cannot cancel; only a manager can.
    let out = kiosk.run(&["order", &order, "cancel", "--staff", "S1-STAFF", "--reason", "x"]).await;
    assert!(stderr(&out).contains("only a manager"), "{}", stderr(&out));
    kiosk.json(&["order", &order, "collect", "--staff", "S1-STAFF", "--code", &code, "--json"]).await;

    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!(status["outbox"], 3, "{status}");
    assert!(status["outbox_oldest_age_secs"].as_i64().is_some());
    // The screen shows what staff did, before the hub knows.
    let collected = kiosk.json(&["orders", "--status", "collected", "--json"]).await;
    assert!(collected.as_array().unwrap().iter().any(|o| o["id"] == order.as_str()));
    assert_eq!(hub.channel().get(&format!("/v1/orders/{order}")).await["status"], "placed");

    proxy.set(Fault::Pass);
    let synced = kiosk.json(&["sync", "--once", "--json"]).await;
    assert_eq!(synced["pushed"]["applied"], 3, "{synced}");
    let at_hub = hub.channel().get(&format!("/v1/orders/{order}")).await;
    assert_eq!(at_hub["status"], "collected");
    let steps: Vec<&str> = at_hub["history"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(&steps[steps.len() - 3..], ["picking", "ready", "collected"]);
    assert_eq!(kiosk.json(&["status", "--json"]).await["outbox"], 0);
    // Pushing again sends nothing and changes nothing.
    let again = kiosk.json(&["sync", "--once", "--json"]).await;
    assert_eq!(again["pushed"]["requests"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_offline_but_cancelled_online_is_a_conflict_at_kiosk_and_hub() {
    let hub = TestHub::start(seed()).await;
    let (kiosk, proxy) = kiosk_behind_proxy(&hub, 1, "").await;
    let (order, code) = order_in(&kiosk, "ready");
    proxy.set(Fault::Reset);
    kiosk.json(&["order", &order, "collect", "--staff", "S1-STAFF", "--code", &code, "--json"]).await;
    // Meanwhile the shopper cancels on the web.
    hub.channel().post(&format!("/v1/orders/{order}/cancel"), json!({"reason":"bought it elsewhere"})).await;
    // Something unrelated waits behind the doomed op and must not be blocked by it.
    let customer = kiosk.query_strings("SELECT id FROM customers ORDER BY id LIMIT 1").remove(0);
    let before = points(&hub, &customer).await;
    kiosk.json(&["loyalty", &customer, "earn", "40", "--json"]).await;

    proxy.set(Fault::Pass);
    let synced = kiosk.json(&["sync", "--once", "--json"]).await;
    assert_eq!(synced["pushed"]["rejected"], 1, "{synced}");
    assert_eq!(synced["pushed"]["applied"], 1, "{synced}");
    assert_eq!(points(&hub, &customer).await, before + 40);

    let conflicts = kiosk.json(&["conflicts", "--json"]).await;
    let c = &conflicts[0];
    assert_eq!(c["code"], "order_cancelled");
    assert!(c["message"].as_str().unwrap().contains("return the items to stock"), "{c}");
    assert!(c["message"].as_str().unwrap().contains("bought it elsewhere"), "{c}");
    assert_eq!(c["op"]["verification"]["method"], "pickup_code", "the kiosk's side: {c}");
    assert_eq!(c["hub_facts"]["status"], "cancelled", "the hub's side: {c}");

    let at_hub = hub.channel().get("/v1/conflicts").await;
    let h = at_hub.as_array().unwrap().iter().find(|x| x["op_id"] == c["op_id"]).expect("conflict at the hub");
    assert_eq!(h["hub_facts"]["changed_by"], "channel");
    assert_eq!(h["op"]["order_id"], order.as_str());
    // Never a silent overwrite: the hub keeps the order cancelled, and so does the kiosk.
    assert_eq!(hub.channel().get(&format!("/v1/orders/{order}")).await["status"], "cancelled");
    let cancelled = kiosk.json(&["orders", "--status", "cancelled", "--json"]).await;
    assert!(cancelled.as_array().unwrap().iter().any(|o| o["id"] == order.as_str()));
    assert_eq!(kiosk.json(&["status", "--json"]).await["conflicts"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_earnings_at_two_stores_all_count_once_and_double_spending_is_caught() {
    let hub = TestHub::start(seed()).await;
    let ch = hub.channel();
    ch.put("/v1/customers/C-TWO", json!({"first_name":"Ivy","last_name":"Moss","tier":"gold","home_store":1,"language":"en"})).await;
    let (k1, p1) = kiosk_behind_proxy(&hub, 1, "[loyalty]\noffline_redeem_allowance = 100000\n").await;
    let (k2, p2) = kiosk_behind_proxy(&hub, 2, "[loyalty]\noffline_redeem_allowance = 100000\n").await;
    // Store 2 meets her once online, so it caches her too.
    let qr = hub.hub.sign_code(CodeKind::Customer, "C-TWO", 3600).unwrap();
    k2.json(&["scan", &qr, "--json"]).await;
    k2.json(&["sync", "--once", "--json"]).await;
    let base = points(&hub, "C-TWO").await;

    p1.set(Fault::Reset);
    p2.set(Fault::Reset);
    k1.json(&["loyalty", "C-TWO", "earn", "100", "--json"]).await;
    k2.json(&["loyalty", "C-TWO", "earn", "250", "--json"]).await;
    k2.json(&["loyalty", "C-TWO", "earn", "5", "--json"]).await;
    // Offline, each kiosk shows its own pending earnings on top of the hub's balance.
    let v = k1.json(&["scan", &qr, "--offline", "--json"]).await;
    assert_eq!(v["customer"]["points"], base + 100);
    assert_eq!(v["points_pending"], 100);
    p1.set(Fault::Pass);
    p2.set(Fault::Pass);
    k1.json(&["sync", "--once", "--json"]).await;
    k2.json(&["sync", "--once", "--json"]).await;
    let total = base + 355;
    assert_eq!(points(&hub, "C-TWO").await, total);
    k1.json(&["sync", "--once", "--json"]).await;
    assert_eq!(k1.json(&["scan", &qr, "--offline", "--json"]).await["customer"]["points"], total);

    // Both kiosks, offline, let her spend most of the same points.
    p1.set(Fault::Reset);
    p2.set(Fault::Reset);
    let spend = (total * 4 / 5).to_string();
    k1.json(&["loyalty", "C-TWO", "redeem", &spend, "--json"]).await;
    k2.json(&["loyalty", "C-TWO", "redeem", &spend, "--json"]).await;
    p1.set(Fault::Pass);
    p2.set(Fault::Pass);
    let r1 = k1.json(&["sync", "--once", "--json"]).await;
    let r2 = k2.json(&["sync", "--once", "--json"]).await;
    assert_eq!(r1["pushed"]["applied"], 1);
    assert_eq!(r2["pushed"]["rejected"], 1, "the second redemption must be refused: {r2}");
    assert_eq!(points(&hub, "C-TWO").await, total - total * 4 / 5);
    let c = &k2.json(&["conflicts", "--json"]).await[0];
    assert_eq!(c["code"], "insufficient_points");
    assert_eq!(c["hub_facts"]["balance"], total - total * 4 / 5);
    assert!(hub.channel().get("/v1/conflicts").await.as_array().unwrap().iter().any(|x| x["code"] == "insufficient_points"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_redemption_is_bounded_by_the_allowance() {
    let hub = TestHub::start(seed()).await;
    let (kiosk, proxy) = kiosk_behind_proxy(&hub, 1, "[loyalty]\noffline_redeem_allowance = 300\n").await;
    let rich = kiosk.query_strings("SELECT id FROM customers WHERE points > 1000 ORDER BY id LIMIT 1").remove(0);
    proxy.set(Fault::Reset);
    kiosk.json(&["loyalty", &rich, "redeem", "200", "--json"]).await;
    let out = kiosk.run(&["loyalty", &rich, "redeem", "200", "--json"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("at most 300 points"), "{}", stderr(&out));
    assert_eq!(kiosk.json(&["status", "--json"]).await["outbox"], 1, "the refused redemption queued nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_push_sent_twice_at_once_applies_once() {
    let hub = TestHub::start(seed()).await;
    let token = hub.device_token(1);
    let customer = "C000002";
    let before = points(&hub, customer).await;
    let body = json!({
        "device_seq_from": 1,
        "ops": [{"op_id":"6f1c1b1e-0000-4000-8000-000000000001","seq":1,"name":"loyalty.earn","kiosk_time":0,
                 "body":{"customer_id":customer,"points":75,"reason":"purchase"}}]
    });
    let send = |token: String, body: Value, url: String| async move {
        reqwest::Client::new().post(format!("{url}/v1/sync/push")).bearer_auth(token).json(&body).send().await.unwrap().json::<Value>().await.unwrap()
    };
    let (a, b) = tokio::join!(send(token.clone(), body.clone(), hub.url()), send(token.clone(), body.clone(), hub.url()));
    assert!(a["results"].is_array() && b["results"].is_array(), "{a} {b}");
    let mut outcomes = vec![a["results"][0]["status"].as_str().unwrap().to_string(), b["results"][0]["status"].as_str().unwrap().to_string()];
    outcomes.sort();
    assert_eq!(outcomes, ["applied", "duplicate"]);
    assert_eq!(points(&hub, customer).await, before + 75);
    // A gap is answered with where to resume, and nothing is applied.
    let gap = json!({"device_seq_from": 5, "ops": [{"op_id":"x-5","seq":5,"name":"loyalty.earn","kiosk_time":0,"body":{"customer_id":customer,"points":1,"reason":"r"}}]});
    let r = send(token, gap, hub.url()).await;
    assert_eq!(r["results"][0]["status"], "expected_seq");
    assert_eq!(r["results"][0]["expected_seq"], 2);
    assert_eq!(points(&hub, customer).await, before + 75);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_wire_loses_and_doubles_nothing() {
    let hub = TestHub::start(seed()).await;
    let (kiosk, proxy) = kiosk_behind_proxy(&hub, 1, "push_batch = 4\n").await;
    let customers = kiosk.query_strings("SELECT id FROM customers ORDER BY id LIMIT 3");
    let mut expected: HashMap<String, i64> = HashMap::new();
    for c in &customers {
        expected.insert(c.clone(), points(&hub, c).await);
    }
    let faults = [Fault::LoseAnswer, Fault::Error500, Fault::Truncate, Fault::TooMany, Fault::Garbage, Fault::Reset, Fault::Delay, Fault::Hang];
    let mut made = 0;
    for (round, fault) in faults.iter().enumerate() {
        for (i, c) in customers.iter().enumerate() {
            let pts = 1 + (round * 3 + i) as i64;
            kiosk.json(&["loyalty", c, "earn", &pts.to_string(), "--json"]).await;
            *expected.get_mut(c).unwrap() += pts;
            made += 1;
        }
        proxy.set(*fault);
        let out = kiosk.run(&["sync", "--once"]).await;
        if *fault != Fault::Delay {
            assert!(!out.status.success(), "{fault:?} should have failed the round");
        }
    }
    proxy.set(Fault::Pass);
    for _ in 0..2 {
        kiosk.json(&["sync", "--once", "--json"]).await;
    }
    assert_eq!(kiosk.json(&["status", "--json"]).await["outbox"], 0);
    for c in &customers {
        assert_eq!(points(&hub, c).await, expected[c], "{c}: every op exactly once");
    }
    // The kiosk's and the hub's view of its sequence agree: all {made} ops arrived once.
    let devices = hub.channel().get("/v1/devices").await;
    assert!(devices.as_array().unwrap().iter().any(|d| d["outbox_len"].as_i64().is_some()));
    assert!(kiosk.json(&["conflicts", "--json"]).await.as_array().unwrap().is_empty(), "{made} ops, no conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_is_gone_from_the_kiosk_file_bytes() {
    let hub = TestHub::start(seed()).await;
    let ch = hub.channel();
    ch.put("/v1/customers/C-ERASE", json!({"first_name":"Zebediah","last_name":"Quuxworth","tier":"silver","home_store":1,"language":"en"})).await;
    ch.put("/v1/customers/C-ERASE/identifiers", json!({"loyalty_cards":["0429999999995"]})).await;
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let in_files = |dir: &std::path::Path, base: &str, needle: &str| -> bool {
        ["", "-wal"].iter().any(|suffix| {
            std::fs::read(dir.join(format!("{base}{suffix}")))
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
    };
    let on_disk = |k: &Kiosk, needle: &str| in_files(&k.data_dir(), "kiosk.db", needle);
    assert!(on_disk(&kiosk, "Zebediah"), "the test must see the name before erasure");
    // The hub's file bytes are checked on SQLite; PostgreSQL keeps old row versions until
    // vacuum (see ARCHITECTURE.md).
    let hub_file = !support::hub_on_postgres();
    assert!(!hub_file || in_files(hub.dir.path(), "hub.db", "Zebediah"), "the test must see the name at the hub before erasure");
    assert_eq!(kiosk.json(&["scan", "0429999999995", "--json"]).await["customer"]["first_name"], "Zebediah");

    let (st, _) = ch.send(reqwest::Method::DELETE, "/v1/customers/C-ERASE", None).await;
    assert_eq!(st, 204);
    kiosk.json(&["sync", "--once", "--json"]).await;
    assert!(!on_disk(&kiosk, "Zebediah"), "the first name can still be read from the kiosk's file");
    assert!(kiosk.query_strings("SELECT card FROM loyalty_cards WHERE card = '0429999999995'").is_empty());
    let out = kiosk.run(&["scan", "0429999999995", "--offline", "--json"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(!hub_file || !in_files(hub.dir.path(), "hub.db", "Zebediah"), "the hub's files still hold the name");
    assert!(!hub_file || !in_files(hub.dir.path(), "hub.db", "Quuxworth"), "the hub's files still hold the last name");
    assert_eq!(ch.send(reqwest::Method::GET, "/v1/customers/C-ERASE", None).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_page_never_hides_a_pending_action() {
    use omnikiosk::config::StoreConfig;
    use omnikiosk::store::LocalStore;
    use omnikiosk_protocol::wire::{Change, OrderStatus};

    let hub = TestHub::start(seed()).await;
    let (kiosk, proxy) = kiosk_behind_proxy(&hub, 1, "").await;
    let (order, _) = order_in(&kiosk, "placed");
    let customer = kiosk.query_strings("SELECT id FROM customers ORDER BY id LIMIT 1").remove(0);
    proxy.set(Fault::Reset);
    kiosk.json(&["order", &order, "pick", "--staff", "S1-STAFF", "--json"]).await;
    kiosk.json(&["loyalty", &customer, "earn", "30", "--json"]).await;

    // A page arrives with the hub's (older) view of both: the order still placed, the
    // customer with a new tier and the hub's balance.
    let store = LocalStore::open(&kiosk.data_dir(), &StoreConfig::default()).unwrap();
    let mut hub_order = store.order(&order).unwrap().unwrap();
    hub_order.status = OrderStatus::Placed;
    let mut hub_customer = store.shopper_view(&customer).unwrap().unwrap().customer;
    hub_customer.points -= 30;
    hub_customer.points += 1000;
    hub_customer.tier = "platinum".into();
    let cursor = store.sync_state().unwrap().cursor;
    store.apply_page(&[Change::Order(hub_order), Change::Customer(hub_customer.clone())], &cursor, 0).unwrap();

    assert_eq!(store.order(&order).unwrap().unwrap().status, OrderStatus::Picking, "the pick vanished");
    let view = store.shopper_view(&customer).unwrap().unwrap();
    assert_eq!(view.customer.tier, "platinum", "the page was applied");
    assert_eq!(view.customer.points, hub_customer.points + 30, "the pending earning vanished");
    assert_eq!(view.points_pending, 30);
}
