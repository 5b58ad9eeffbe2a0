//! End to end on loopback: a real hub, the real `omnikiosk` binary, real SQLite files.
//! Seed → enrol → sync → take the hub away → the kiosk still answers scans.

mod support;

use std::time::{Duration, Instant};

use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::gtin::LoyaltyCard;
use serde_json::{json, Value};
use support::{stderr, Fault, FaultProxy, Kiosk, TestHub};

fn small_seed() -> SeedOptions {
    SeedOptions { stores: 3, customers: 300, products: 120, orders: 60, seed: 7 }
}

/// Creates "Anna Kowalska" at store 1 through the channel API, with a loyalty card, a
/// two-line cart of products store 1 stocks, and an order that is ready for pickup.
struct Anna {
    id: String,
    card: String,
    skus: Vec<String>,
    order_id: String,
    pickup_code: String,
}

async fn make_anna(hub: &TestHub, kiosk: &Kiosk) -> Anna {
    let ch = hub.channel();
    let id = "C-ANNA-1".to_string();
    ch.put(
        &format!("/v1/customers/{id}"),
        json!({"first_name":"Anna","last_name":"Kowalska","tier":"gold","home_store":1,"language":"pl","email":"anna@example.com"}),
    )
    .await;
    let card = LoyaltyCard::generate("042", 990_001).as_str().to_string();
    ch.put(&format!("/v1/customers/{id}/identifiers"), json!({"loyalty_cards":[card]})).await;
    let skus = kiosk.query_strings("SELECT sku FROM stock WHERE on_hand >= 3 ORDER BY sku LIMIT 2");
    assert_eq!(skus.len(), 2, "the seeded store 1 should stock products");
    ch.put(
        &format!("/v1/customers/{id}/cart"),
        json!({"lines":[{"sku":skus[0],"qty":2},{"sku":skus[1],"qty":1}]}),
    )
    .await;
    let order = ch.post("/v1/orders", json!({"customer_id":id,"store_id":1,"lines":[{"sku":skus[0],"qty":1}]})).await;
    Anna {
        id,
        card,
        skus,
        order_id: order["id"].as_str().unwrap().to_string(),
        pickup_code: order["pickup_code"].as_str().unwrap().to_string(),
    }
}

async fn enrolled_kiosk(hub: &TestHub, store: i64) -> Kiosk {
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(store)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_answers_from_the_local_store_after_the_hub_goes_away() {
    let mut hub = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    let anna = make_anna(&hub, &kiosk).await;
    let qr = hub.hub.sign_code(CodeKind::Customer, &anna.id, 3600).unwrap();
    kiosk.json(&["sync", "--once", "--json"]).await;

    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!(status["online"], true);
    assert_eq!(status["store_id"], 1);

    hub.stop().await;

    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!(status["online"], false, "{status}");
    assert!(status["counts"]["customers"].as_i64().unwrap() > 0);

    for code in [qr.as_str(), anna.card.as_str()] {
        let v = kiosk.json(&["scan", code, "--json"]).await;
        assert_eq!(v["kind"], "shopper");
        assert_eq!(v["source"], "local");
        let c = &v["customer"];
        assert_eq!(c["first_name"], "Anna");
        assert_eq!(c["last_initial"], "K");
        assert_eq!(c["language"], "pl");
        assert!(c.get("email").is_none(), "the kiosk must not cache e-mail: {c}");
        let lines = v["cart"]["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["sku"], anna.skus[0].as_str());
        assert_eq!(lines[0]["qty"], 2);
        assert!(lines[0]["aisle"].as_str().is_some_and(|a| !a.is_empty()), "{v}");
        assert_eq!(lines[0]["availability"], "in_stock");
        let preparing = v["in_preparation"].as_array().unwrap();
        assert_eq!(preparing.len(), 1, "{v}");
        assert_eq!(preparing[0]["id"], anna.order_id.as_str());
    }

    // The pickup code finds the order offline too.
    let v = kiosk.json(&["scan", &anna.pickup_code, "--json"]).await;
    assert_eq!(v["kind"], "order");
    assert_eq!(v["id"], anna.order_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_customer_comes_from_the_hub_online_and_is_clearly_missing_offline() {
    let mut hub = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    // Boris belongs to store 2: store 1 has never seen him.
    let ch = hub.channel();
    ch.put("/v1/customers/C-BORIS", json!({"first_name":"Борис","last_name":"Петров","tier":"silver","home_store":2,"language":"ru"})).await;
    let qr = hub.hub.sign_code(CodeKind::Customer, "C-BORIS", 3600).unwrap();
    kiosk.json(&["sync", "--once", "--json"]).await;
    assert!(kiosk.query_strings("SELECT id FROM customers WHERE id = 'C-BORIS'").is_empty());

    let v = kiosk.json(&["scan", &qr, "--json"]).await;
    assert_eq!(v["source"], "hub");
    assert_eq!(v["customer"]["first_name"], "Борис");

    // Looked up here, he is now relevant to store 1 and flows into its feed.
    kiosk.json(&["sync", "--once", "--json"]).await;
    assert_eq!(kiosk.query_strings("SELECT id FROM customers WHERE id = 'C-BORIS'"), vec!["C-BORIS"]);

    ch.put("/v1/customers/C-OLGA", json!({"first_name":"Ольга","last_name":"Шевченко","tier":"bronze","home_store":3,"language":"uk"})).await;
    let olga = hub.hub.sign_code(CodeKind::Customer, "C-OLGA", 3600).unwrap();
    hub.stop().await;
    let out = kiosk.run(&["scan", &olga, "--json"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("offline, and this customer is not cached here"), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "offline_not_cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_placed_online_shows_after_the_next_pull() {
    let hub = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    let anna = make_anna(&hub, &kiosk).await;
    let before = kiosk.json(&["orders", "--json"]).await;
    assert!(!before.as_array().unwrap().iter().any(|o| o["id"] == anna.order_id.as_str()));

    kiosk.json(&["sync", "--once", "--json"]).await;
    let placed = kiosk.json(&["orders", "--status", "placed", "--json"]).await;
    let order = placed.as_array().unwrap().iter().find(|o| o["id"] == anna.order_id.as_str()).expect("order in queue");
    assert_eq!(order["pickup_code"], anna.pickup_code.as_str());
    assert_eq!(order["customer_id"], anna.id.as_str());

    // Cancelled online → the queue says so after the next pull.
    hub.channel().post(&format!("/v1/orders/{}/cancel", anna.order_id), json!({"reason":"customer changed mind"})).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let cancelled = kiosk.json(&["orders", "--status", "cancelled", "--json"]).await;
    assert!(cancelled.as_array().unwrap().iter().any(|o| o["id"] == anna.order_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_online_channel_reaches_the_store_queue() {
    use omnikiosk_hub::simulate::{self, Action, SimulateOptions};
    let hub = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = SimulateOptions { rate_per_min: 60_000.0, seed: 3, count: Some(40) };
    let mut sim = simulate::spawn(hub.hub.clone(), opts, move |a: &Action| tx.send(a.clone()).unwrap()).unwrap();
    sim.ended().await;
    let summary = sim.stop().unwrap();
    assert_eq!(summary.actions(), 40);
    let actions: Vec<Action> = rx.try_iter().collect();

    kiosk.json(&["sync", "--once", "--json"]).await;
    let queue = kiosk.json(&["orders", "--json"]).await;
    let status_of = |id: &str| queue.as_array().unwrap().iter().find(|o| o["id"] == id).map(|o| o["status"].clone());
    let mut checked = 0;
    for a in &actions {
        if let Action::OrderPlaced { store_id, order_id, pickup_code, .. } = a {
            let cancelled =
                actions.iter().any(|c| matches!(c, Action::OrderCancelled { order_id: o, .. } if o == order_id));
            if *store_id == 1 {
                assert_eq!(status_of(order_id), Some(json!(if cancelled { "cancelled" } else { "placed" })), "{order_id}");
                let order = queue.as_array().unwrap().iter().find(|o| o["id"] == order_id.as_str()).unwrap();
                assert_eq!(order["pickup_code"], pickup_code.as_str());
                checked += 1;
            } else {
                assert_eq!(status_of(order_id), None, "{order_id} of store {store_id} reached store 1's kiosk");
            }
        }
    }
    assert!(checked > 0, "no order was placed at store 1: {actions:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_kiosk_sees_a_new_order_well_before_its_poll_times_out() {
    let hub = TestHub::start(small_seed()).await;
    // A 25 s long-poll: if the hub did not wake it, the order would take up to 25 s.
    let kiosk = Kiosk::with_config("[sync]\nlong_poll_secs = 25\n");
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let skus = kiosk.query_strings("SELECT sku FROM stock WHERE on_hand > 0 ORDER BY sku LIMIT 1");
    let customer = kiosk.query_strings("SELECT id FROM customers ORDER BY id LIMIT 1").remove(0);

    let mut daemon = kiosk.command();
    daemon.arg("sync").stderr(std::process::Stdio::null());
    let mut daemon = daemon.spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await; // let it park in its long-poll

    let order = hub.channel().post("/v1/orders", json!({"customer_id":customer,"store_id":1,"lines":[{"sku":skus[0],"qty":1}]})).await;
    let id = order["id"].as_str().unwrap().to_string();
    let placed_at = Instant::now();
    let seen = loop {
        if !kiosk.query_strings(&format!("SELECT id FROM orders WHERE id = '{id}'")).is_empty() {
            break Some(placed_at.elapsed());
        }
        if placed_at.elapsed() > Duration::from_secs(10) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let seen = seen.expect("the order never reached the long-polling kiosk");
    eprintln!("order visible at the kiosk after {seen:?}");
    assert!(seen < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_1_kiosk_holds_nothing_of_other_stores() {
    let hub = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    let ch = hub.channel();
    let orders = kiosk.query_strings("SELECT id FROM orders");
    assert!(!orders.is_empty());
    for id in orders {
        let o = ch.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(o["store_id"], 1, "order {id} of another store reached store 1");
    }
    let customers = kiosk.query_strings("SELECT id FROM customers");
    assert!(!customers.is_empty());
    for id in customers {
        let home: Vec<String> = kiosk.query_strings(&format!(
            "SELECT id FROM customers WHERE id = '{id}' AND (home_store = 1 OR id IN (SELECT customer_id FROM orders))"
        ));
        assert_eq!(home.len(), 1, "customer {id} is not relevant to store 1 but was cached there");
    }
    let staff = kiosk.query_strings("SELECT id FROM staff");
    assert!(!staff.is_empty());
    for id in staff {
        let s = kiosk.json(&["scan", &hub.hub.sign_code(CodeKind::Staff, &id, 3600).unwrap(), "--json"]).await;
        assert_eq!(s["kind"], "staff");
    }
    // A store-2 staff badge is not known at store 1.
    let other = kiosk.json(&["status", "--json"]).await;
    assert_eq!(other["store_id"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_codes_are_not_recognised_and_change_nothing() {
    let hub = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    let before = kiosk.json(&["status", "--json"]).await;
    let genuine = hub.hub.sign_code(CodeKind::Customer, "C000001", 3600).unwrap();
    // One changed character inside the signature: still well-formed, no longer genuine.
    let i = genuine.len() - 10;
    let swapped = if &genuine[i..i + 1] == "A" { "B" } else { "A" };
    let forged = format!("{}{swapped}{}", &genuine[..i], &genuine[i + 1..]);
    let noise: String = (0..4096).map(|i| char::from(b'!' + (i * 7 % 90) as u8)).collect();
    let cases: [(&str, &str); 6] = [
        (&forged, "bad_signature"),
        (&genuine[..genuine.len() / 2], ""),
        ("4006381333932", "bad_check_digit"),
        ("' OR 1=1; DROP TABLE customers; --", "unknown_format"),
        (&noise, "too_long"),
        ("", "empty"),
    ];
    for (code, reason) in cases {
        let out = kiosk.run(&["scan", code, "--json"]).await;
        assert_eq!(out.status.code(), Some(3), "{code:.40}: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if !reason.is_empty() {
            assert_eq!(v["error"], reason, "{code:.40}");
        }
        assert!(!stderr(&out).is_empty() && !stderr(&out).contains('\n'), "one line on stderr");
    }
    let after = kiosk.json(&["status", "--json"]).await;
    assert_eq!(before["counts"], after["counts"]);
    assert_eq!(before["cursor"], after["cursor"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_foreign_token_enrols_nothing() {
    let hub = TestHub::start(small_seed()).await;
    let kiosk = Kiosk::new();
    let out = kiosk.run(&["enroll", "--hub", &hub.url(), "--token", "not-a-token"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("token"), "{}", stderr(&out));
    let out = kiosk.run(&["status", "--json"]).await;
    assert!(stderr(&out).contains("not enrolled"), "{}", stderr(&out));

    // Enrolled to store 1, a store-2 token cannot repoint this kiosk's data.
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    let out = kiosk.run(&["enroll", "--hub", &hub.url(), "--token", &hub.device_token(2)]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("store 1"), "{}", stderr(&out));
    assert_eq!(kiosk.json(&["status", "--json"]).await["store_id"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_hub_stops_the_round_with_a_clear_status_and_nothing_half_applied() {
    let hub = TestHub::start(small_seed()).await;
    let proxy = FaultProxy::start(hub.addr).await;
    let kiosk = Kiosk::with_config("[sync]\nrequest_grace_secs = 1\nconnect_timeout_ms = 500\n");
    kiosk.enroll(&proxy.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    // Something new waits at the hub while the wire breaks.
    hub.channel().put("/v1/customers/C-NEW", json!({"first_name":"Mei","last_name":"Wang","tier":"silver","home_store":1,"language":"zh"})).await;
    let before = kiosk.json(&["status", "--json"]).await;

    for (fault, expect) in [
        (Fault::Error500, "500"),
        (Fault::Garbage, "unreadable"),
        (Fault::Hang, "no answer in time"),
        (Fault::Reset, "unreachable"),
    ] {
        proxy.set(fault);
        let out = kiosk.run(&["sync", "--once"]).await;
        assert!(!out.status.success(), "{fault:?} should fail the round");
        assert!(stderr(&out).contains(expect), "{fault:?}: {}", stderr(&out));
        let now = kiosk.run(&["status", "--json"]).await;
        let now: Value = serde_json::from_slice(&now.stdout).unwrap();
        assert_eq!(now["cursor"], before["cursor"], "{fault:?} moved the cursor");
        assert_eq!(now["counts"], before["counts"], "{fault:?} changed the data");
        assert!(now["last_error"].as_str().unwrap().contains(expect), "{fault:?}: {now}");
    }
    proxy.set(Fault::Pass);
    kiosk.json(&["sync", "--once", "--json"]).await;
    let healed = kiosk.json(&["status", "--json"]).await;
    assert!(healed["last_error"].is_null());
    assert_eq!(kiosk.query_strings("SELECT first_name FROM customers WHERE id = 'C-NEW'"), vec!["Mei"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_sync_with_a_clear_status_and_resumes_when_there_is_room() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 16_000, products: 400, orders: 100, seed: 3 }).await;
    let cramped = Kiosk::with_config("[store]\nmax_size_mb = 1\n[sync]\npage_size = 200\ncatch_up_page_size = 200\n");
    cramped.enroll(&hub.url(), &hub.device_token(1)).await;
    let out = cramped.run(&["sync", "--once"]).await;
    assert!(!out.status.success(), "1 MiB cannot hold the store");
    assert!(stderr(&out).contains("disk is full"), "{}", stderr(&out));
    let status = cramped.json(&["status", "--json"]).await;
    assert!(status["last_error"].as_str().unwrap().contains("disk is full"));

    // What is there is whole pages: room again, and the kiosk ends exactly like one that
    // never ran out.
    std::fs::write(cramped.config.as_ref().unwrap(), "[sync]\npage_size = 200\ncatch_up_page_size = 200\n").unwrap();
    cramped.json(&["sync", "--once", "--json"]).await;
    let reference = enrolled_kiosk(&hub, 1).await;
    assert_eq!(
        cramped.json(&["status", "--json"]).await["counts"],
        reference.json(&["status", "--json"]).await["counts"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_moved_to_a_new_hub_database_starts_over_and_keeps_its_queued_ops() {
    let old = TestHub::start(small_seed()).await;
    let kiosk = enrolled_kiosk(&old, 1).await;
    let customer = kiosk.query_strings("SELECT id FROM customers ORDER BY id LIMIT 1").remove(0);
    // A different chain behind the same store number: the old rows must not survive.
    let new = TestHub::start(SeedOptions { seed: 99, ..small_seed() }).await;
    kiosk.enroll(&new.url(), &new.device_token(1)).await;
    kiosk.json(&["loyalty", &customer, "earn", "5", "--json"]).await;
    let reference = enrolled_kiosk(&new, 1).await;
    let out = kiosk.run(&["sync", "--once", "--json"]).await;
    let after = kiosk.json(&["status", "--json"]).await;
    assert_eq!(after["counts"], reference.json(&["status", "--json"]).await["counts"], "{}", stderr(&out));
    assert_eq!(after["cursor"], new.feed_end(1).await.as_str());
    // The op made before the move was not thrown away: it went to the new hub, which
    // either applied it or said why not.
    assert_eq!(after["outbox"], 0);
    let conflicts = kiosk.json(&["conflicts", "--json"]).await;
    let applied = new.channel().send(reqwest::Method::GET, &format!("/v1/customers/{customer}"), None).await.0 == 200;
    assert!(applied || conflicts.as_array().unwrap().len() == 1, "{conflicts}");
}
