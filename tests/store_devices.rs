//! One store, many devices, end to end on loopback: what a shopper does at one device of
//! a store is seen at its other devices, once, and at no device of another store.
//! (`OMNIKIOSK_TEST_HUB=postgres` runs it against a PostgreSQL hub.)

mod support;

use omnikiosk_hub::SeedOptions;
use serde_json::Value;
use support::{Kiosk, TestHub};

async fn enrolled_kiosk(hub: &TestHub, store: i64) -> Kiosk {
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(store)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk
}

/// The waiting list's entries for `order_id`.
async fn waiting_for(kiosk: &Kiosk, order_id: &str) -> Vec<Value> {
    let list = kiosk.json(&["waiting", "--json"]).await;
    list.as_array().expect("waiting --json is a list").iter().filter(|w| w["order_id"] == order_id).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_at_the_entrance_waits_at_the_desk_and_nowhere_else() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 200, products: 60, orders: 80, seed: 11 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let elsewhere = enrolled_kiosk(&hub, 2).await;
    let entrance_id = entrance.json(&["status", "--json"]).await["device_id"].as_str().unwrap().to_string();

    // A ready order of store 1 nobody is waiting for yet.
    let ready = entrance.json(&["orders", "--status", "ready", "--json"]).await;
    let order = ready
        .as_array()
        .unwrap()
        .iter()
        .find(|o| !o["customer_id"].as_str().unwrap_or("").is_empty())
        .expect("the seed has ready orders in store 1")
        .clone();
    let (order_id, code) = (order["id"].as_str().unwrap().to_string(), order["pickup_code"].as_str().unwrap().to_string());
    assert!(waiting_for(&desk, &order_id).await.is_empty());

    entrance.json(&["checkin", &order_id, "--json"]).await;
    // Where it was made, at once, offline or not.
    assert_eq!(waiting_for(&entrance, &order_id).await.len(), 1);
    entrance.json(&["sync", "--once", "--json"]).await;
    desk.json(&["sync", "--once", "--json"]).await;
    let at_desk = waiting_for(&desk, &order_id).await;
    assert_eq!(at_desk.len(), 1, "the desk sees the entrance's check-in: {at_desk:?}");
    assert_eq!(at_desk[0]["device"], entrance_id.as_str(), "and where it was made");
    assert!(!at_desk[0]["customer"].as_str().unwrap().is_empty(), "with the shopper's first name");

    // Another store's device hears nothing of it.
    elsewhere.json(&["sync", "--once", "--json"]).await;
    assert!(waiting_for(&elsewhere, &order_id).await.is_empty());
    assert!(elsewhere.query_strings("SELECT order_id FROM checkins").is_empty(), "store 2 keeps no check-in of store 1");

    // The entrance pulls its own check-in back: still one entry there.
    entrance.json(&["sync", "--once", "--json"]).await;
    assert_eq!(waiting_for(&entrance, &order_id).await.len(), 1);

    // Handed over at the desk: nobody waits for it any more, at either device.
    desk.json(&["order", &order_id, "collect", "--staff", "S1-STAFF", "--code", &code, "--json"]).await;
    desk.json(&["sync", "--once", "--json"]).await;
    entrance.json(&["sync", "--once", "--json"]).await;
    assert!(waiting_for(&desk, &order_id).await.is_empty());
    assert!(waiting_for(&entrance, &order_id).await.is_empty());
    assert!(entrance.query_strings(&format!("SELECT op_id FROM checkins WHERE order_id = '{order_id}'")).is_empty());

    // A device enrolled later starts without the ended check-in.
    let late = enrolled_kiosk(&hub, 1).await;
    assert!(late.query_strings(&format!("SELECT op_id FROM checkins WHERE order_id = '{order_id}'")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_for_an_unknown_or_unready_order_is_refused_and_queues_nothing() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 100, products: 40, orders: 60, seed: 12 }).await;
    let kiosk = enrolled_kiosk(&hub, 1).await;
    let before = kiosk.json(&["status", "--json"]).await["outbox"].clone();

    let unknown = kiosk.run(&["checkin", "O-1-999999"]).await;
    assert_eq!(unknown.status.code(), Some(3));
    assert!(support::stderr(&unknown).contains("not known at this store"), "{}", support::stderr(&unknown));

    let placed = kiosk.json(&["orders", "--status", "placed", "--json"]).await;
    let placed = placed[0]["id"].as_str().expect("the seed has placed orders").to_string();
    let refused = kiosk.run(&["checkin", &placed]).await;
    assert_eq!(refused.status.code(), Some(3));
    assert!(support::stderr(&refused).contains("not ready"), "{}", support::stderr(&refused));

    assert_eq!(kiosk.json(&["status", "--json"]).await["outbox"], before, "nothing was queued");
    assert!(kiosk.json(&["waiting", "--json"]).await.as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_shoppers_check_in_leaves_every_device_of_the_store() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 100, products: 40, orders: 60, seed: 13 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let ready = entrance.json(&["orders", "--status", "ready", "--json"]).await;
    let order = &ready.as_array().unwrap()[0];
    let (order_id, customer) = (order["id"].as_str().unwrap().to_string(), order["customer_id"].as_str().unwrap().to_string());
    entrance.json(&["checkin", &order_id, "--json"]).await;
    entrance.json(&["sync", "--once", "--json"]).await;
    desk.json(&["sync", "--once", "--json"]).await;
    assert_eq!(waiting_for(&desk, &order_id).await.len(), 1);

    let (status, _) = hub.channel().send(reqwest::Method::DELETE, &format!("/v1/customers/{customer}"), None).await;
    assert_eq!(status, 204);
    desk.json(&["sync", "--once", "--json"]).await;
    assert!(desk.query_strings("SELECT op_id FROM checkins").is_empty(), "the desk forgets who waited");
    let late = enrolled_kiosk(&hub, 1).await;
    assert!(late.query_strings("SELECT op_id FROM checkins").is_empty(), "and no new device learns it");
}
