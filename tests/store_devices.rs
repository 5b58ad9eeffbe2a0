//! One store, many devices, end to end on loopback: what a shopper does at one device of
//! a store is seen at its other devices, once, and at no device of another store.
//! (`OMNIKIOSK_TEST_HUB=postgres` runs it against a PostgreSQL hub.)

mod support;

use omnikiosk::config::StoreConfig;
use omnikiosk::store::{LocalStore, PinCheck};
use omnikiosk_hub::SeedOptions;
use serde_json::{json, Value};
use support::{stderr, Kiosk, TestHub};

async fn enrolled_kiosk(hub: &TestHub, store: i64) -> Kiosk {
    enrolled_with_token(hub, store).await.0
}

/// A kiosk of `store`, enrolled and synced, with its device token (to push as it would).
async fn enrolled_with_token(hub: &TestHub, store: i64) -> (Kiosk, String) {
    let kiosk = Kiosk::new();
    let token = hub.device_token(store);
    kiosk.enroll(&hub.url(), &token).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    (kiosk, token)
}

async fn sync(kiosks: &[&Kiosk]) {
    for k in kiosks {
        k.json(&["sync", "--once", "--json"]).await;
    }
}

async fn device_id(kiosk: &Kiosk) -> String {
    kiosk.json(&["status", "--json"]).await["device_id"].as_str().unwrap().to_string()
}

/// A command that must be refused: exit 3 and the reason on stderr, which is returned.
async fn refused(kiosk: &Kiosk, args: &[&str]) -> String {
    let out = kiosk.run(args).await;
    assert_eq!(out.status.code(), Some(3), "omnikiosk {args:?} must be refused: {}", stderr(&out));
    stderr(&out)
}

/// A ready order of the kiosk's store and its shopper.
async fn ready_order(kiosk: &Kiosk, nth: usize) -> (String, String, String) {
    let ready = kiosk.json(&["orders", "--status", "ready", "--json"]).await;
    let o = &ready.as_array().unwrap()[nth];
    (o["id"].as_str().unwrap().into(), o["customer_id"].as_str().unwrap().into(), o["pickup_code"].as_str().unwrap().into())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_for_help_at_the_entrance_is_answered_once_from_the_desk() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 120, products: 40, orders: 60, seed: 21 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let tablet = enrolled_kiosk(&hub, 1).await;
    let elsewhere = enrolled_kiosk(&hub, 2).await;
    let (_, customer, _) = ready_order(&entrance, 0).await;

    let raised = entrance.json(&["help", "request", "--customer", &customer, "--json"]).await;
    let id = raised["op_id"].as_str().unwrap().to_string();
    assert_eq!(entrance.json(&["help", "list", "--json"]).await.as_array().unwrap().len(), 1, "listed where raised, at once");
    sync(&[&entrance, &desk, &tablet, &elsewhere]).await;

    let at_desk = desk.json(&["help", "list", "--json"]).await;
    assert_eq!(at_desk.as_array().unwrap().len(), 1, "{at_desk}");
    assert_eq!(at_desk[0]["id"], id.as_str());
    assert_eq!(at_desk[0]["device"], device_id(&entrance).await.as_str(), "the desk sees where the shopper waits");
    let shopper = at_desk[0]["shopper"].as_str().expect("the shopper by first name and initial");
    assert!(shopper.ends_with('.') && shopper.split(' ').count() == 2, "first name and initial only: {shopper}");
    assert!(elsewhere.json(&["help", "list", "--json"]).await.as_array().unwrap().is_empty(), "store 2 hears nothing");

    // Kasia takes it at the desk: the entrance shows who is coming.
    desk.json(&["help", "take", &id[..8], "--staff", "S1-STAFF", "--json"]).await;
    sync(&[&desk, &entrance]).await;
    let at_entrance = entrance.json(&["help", "list", "--json"]).await;
    assert_eq!(at_entrance[0]["taken_by"], "S1-STAFF", "{at_entrance}");
    assert!(at_entrance[0]["taken_by_name"].as_str().unwrap().starts_with("Kasia"), "{at_entrance}");

    // Marek, at the tablet that had not heard, takes it too: answered once, his is a conflict.
    tablet.json(&["help", "take", &id, "--staff", "S1-MGR", "--json"]).await;
    sync(&[&tablet]).await;
    let conflicts = tablet.json(&["conflicts", "--json"]).await;
    assert_eq!(conflicts[0]["code"], "help_taken", "{conflicts}");
    assert!(conflicts[0]["message"].as_str().unwrap().contains("Kasia"), "{conflicts}");

    // A badge of another store cannot close it; Kasia can, once.
    assert!(refused(&desk, &["help", "done", &id, "--staff", "S2-STAFF"]).await.contains("does not work at this store"));
    desk.json(&["help", "done", &id, "--staff", "S1-STAFF", "--json"]).await;
    assert!(desk.json(&["help", "list", "--json"]).await.as_array().unwrap().is_empty(), "closed here at once");
    assert!(refused(&desk, &["help", "done", &id, "--staff", "S1-STAFF"]).await.contains("already closed by Kasia"), "closed twice");
    sync(&[&desk, &entrance, &tablet]).await;
    for k in [&entrance, &desk, &tablet] {
        assert!(k.json(&["help", "list", "--json"]).await.as_array().unwrap().is_empty(), "the request left every screen");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_closed_offline_at_two_devices_is_closed_once() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 80, products: 30, orders: 40, seed: 22 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let id = entrance.json(&["help", "request", "--json"]).await["op_id"].as_str().unwrap().to_string();
    sync(&[&entrance, &desk]).await;
    // Both close it before hearing of the other.
    entrance.json(&["help", "done", &id, "--staff", "S1-MGR", "--json"]).await;
    desk.json(&["help", "done", &id, "--staff", "S1-STAFF", "--json"]).await;
    sync(&[&entrance, &desk]).await;
    let conflicts = desk.json(&["conflicts", "--json"]).await;
    assert_eq!(conflicts[0]["code"], "help_closed", "{conflicts}");
    assert!(conflicts[0]["message"].as_str().unwrap().contains("Marek"), "says who closed it: {conflicts}");
    assert!(entrance.json(&["conflicts", "--json"]).await.as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nps_answers_at_two_devices_count_at_a_third() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 80, products: 30, orders: 40, seed: 23 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let manager = enrolled_kiosk(&hub, 1).await;
    let elsewhere = enrolled_kiosk(&hub, 2).await;

    entrance.json(&["feedback", "9", "--json"]).await;
    desk.json(&["feedback", "3", "--csat", "slow", "--json"]).await;
    let outbox = desk.json(&["status", "--json"]).await["outbox"].clone();
    assert!(refused(&desk, &["feedback", "11"]).await.contains("0 to 10"));
    assert_eq!(desk.json(&["status", "--json"]).await["outbox"], outbox, "nothing queued for a bad score");

    sync(&[&entrance, &desk, &manager, &elsewhere]).await;
    let today = manager.json(&["today", "--json"]).await;
    assert_eq!(today["nps"]["answers"], 2, "{today}");
    assert_eq!((today["nps"]["promoters"].clone(), today["nps"]["detractors"].clone(), today["nps"]["score"].clone()), (json!(1), json!(1), json!(0)));
    assert_eq!(elsewhere.json(&["today", "--json"]).await["nps"]["answers"], 0, "store 2 has its own numbers");
    // Pulled back where they were given: still counted once.
    sync(&[&entrance, &desk]).await;
    assert_eq!(desk.json(&["today", "--json"]).await["nps"]["answers"], 2);

    // The manager sees the store's devices, and which one is theirs.
    let devices = today["devices"].as_array().unwrap();
    let ids: Vec<&str> = devices.iter().map(|d| d["device_id"].as_str().unwrap()).collect();
    for k in [&entrance, &desk] {
        assert!(ids.contains(&device_id(k).await.as_str()), "{devices:?}");
    }
    assert!(devices.iter().all(|d| d["store_id"] == 1), "{devices:?}");
    assert_eq!(devices.iter().filter(|d| d["this_device"] == true).count(), 1, "{devices:?}");
}

fn try_pin(kiosk: &Kiosk, staff_id: &str, pin: &str) -> PinCheck {
    let store = LocalStore::open(&kiosk.data_dir(), &StoreConfig::default()).unwrap();
    store.verify_pin(staff_id, pin, omnikiosk::clock::unix_now()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_over_two_devices_lock_the_badge_at_a_third() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 30, orders: 30, seed: 24 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let tablet = enrolled_kiosk(&hub, 1).await;
    for _ in 0..3 {
        assert!(matches!(try_pin(&entrance, "S1-MGR", "0000"), PinCheck::Wrong { .. }));
    }
    sync(&[&entrance, &desk]).await;
    assert_eq!(try_pin(&desk, "S1-MGR", "0001"), PinCheck::Wrong { attempts_left: 1 }, "the desk counts the entrance's tries");
    assert!(matches!(try_pin(&desk, "S1-MGR", "0002"), PinCheck::Locked { .. }), "the fifth of the store locks");
    sync(&[&desk, &tablet, &entrance]).await;
    for k in [&tablet, &entrance] {
        assert!(matches!(try_pin(k, "S1-MGR", "9999"), PinCheck::Locked { .. }), "no five more tries at the next device");
    }
    // Another badge is not affected.
    assert!(matches!(try_pin(&tablet, "S1-STAFF", "1234"), PinCheck::Accepted(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_a_device_locks_after_five_of_its_own_and_its_check_in_arrives_once() {
    let mut hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 30, orders: 40, seed: 25 }).await;
    let entrance = enrolled_kiosk(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let (order_id, _, _) = ready_order(&entrance, 0).await;
    hub.stop().await;
    for _ in 0..4 {
        assert!(matches!(try_pin(&entrance, "S1-STAFF", "0000"), PinCheck::Wrong { .. }));
    }
    assert!(matches!(try_pin(&entrance, "S1-STAFF", "0000"), PinCheck::Locked { .. }), "offline, its own five lock");
    entrance.json(&["checkin", &order_id, "--json"]).await;
    assert!(!entrance.run(&["sync", "--once"]).await.status.success(), "the hub is away");
    hub.restart().await;
    sync(&[&entrance, &desk, &entrance, &desk]).await;
    assert_eq!(waiting_for(&desk, &order_id).await.len(), 1, "the offline check-in arrived, once");
    assert_eq!(entrance.json(&["status", "--json"]).await["outbox"], 0);
    assert!(matches!(try_pin(&desk, "S1-STAFF", "1234"), PinCheck::Locked { .. }), "and the lock with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_saved_for_later_is_in_the_online_cart_once_and_the_visit_is_on_the_timeline() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 30, orders: 40, seed: 26 }).await;
    let (entrance, token) = enrolled_with_token(&hub, 1).await;
    let desk = enrolled_kiosk(&hub, 1).await;
    let (order_id, customer, code) = ready_order(&entrance, 0).await;
    let channel = hub.channel();
    let cart_qty = |profile: &Value, sku: &str| -> i64 {
        profile["cart"].as_array().unwrap().iter().filter(|l| l["sku"] == sku).map(|l| l["qty"].as_i64().unwrap()).sum()
    };
    let sku = entrance.query_strings("SELECT sku FROM products ORDER BY sku LIMIT 1").remove(0);
    let before = cart_qty(&channel.get(&format!("/v1/customers/{customer}")).await, &sku);

    // In store: checked in, helped, saved a product for later, rated the visit, collected.
    entrance.json(&["checkin", &order_id, "--json"]).await;
    entrance.json(&["help", "request", "--customer", &customer, "--json"]).await;
    entrance.json(&["cart", "add", &customer, &sku, "--json"]).await;
    assert!(refused(&entrance, &["cart", "add", &customer, "4006381333932"]).await.contains("not a product code"));
    assert!(refused(&entrance, &["cart", "add", &customer, "0000000000000"]).await.contains("not in the catalogue"));
    let pending = LocalStore::open(&entrance.data_dir(), &StoreConfig::default()).unwrap().pending_ops(100).unwrap();
    let saved = pending.iter().find(|o| o.name == "cart.add").expect("the op waits in the outbox").clone();
    let checkin = pending.iter().find(|o| o.name == "visit.checkin").expect("the check-in waits too").clone();
    entrance.json(&["feedback", "9", "--customer", &customer, "--json"]).await;
    sync(&[&entrance, &desk]).await;
    desk.json(&["order", &order_id, "collect", "--staff", "S1-STAFF", "--code", &code, "--json"]).await;
    sync(&[&desk]).await;

    let profile = channel.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(cart_qty(&profile, &sku), before + 1, "in the online cart: {profile}");
    // The same op again (a lost answer, a restored backup): still once.
    let replay = reqwest::Client::new()
        .post(format!("{}/v1/sync/push", hub.url()))
        .bearer_auth(&token)
        .header(omnikiosk_protocol::wire::PROTOCOL_HEADER, omnikiosk_protocol::wire::PROTOCOL_VERSION.to_string())
        .json(&json!({ "device_seq_from": saved.seq, "ops": [saved], "outbox_len": 0 }))
        .send()
        .await
        .unwrap();
    let answer: Value = replay.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], "duplicate", "{answer}");
    // And the check-in replayed: one check-in, at the desk and on the timeline.
    let replay = reqwest::Client::new()
        .post(format!("{}/v1/sync/push", hub.url()))
        .bearer_auth(&token)
        .header(omnikiosk_protocol::wire::PROTOCOL_HEADER, omnikiosk_protocol::wire::PROTOCOL_VERSION.to_string())
        .json(&json!({ "device_seq_from": checkin.seq, "ops": [checkin], "outbox_len": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.json::<Value>().await.unwrap()["results"][0]["status"], "duplicate");
    assert_eq!(cart_qty(&channel.get(&format!("/v1/customers/{customer}")).await, &sku), before + 1);

    // The chain's profile knows the visit, newest first.
    let timeline = channel.get(&format!("/v1/customers/{customer}/timeline")).await;
    let kinds: Vec<&str> = timeline["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["checkin", "help", "cart_add", "feedback", "pickup"] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kind} once in {timeline}");
    }
    let ats: Vec<i64> = timeline["entries"].as_array().unwrap().iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] >= w[1]), "{ats:?}");

    // Erased: nothing of the visit is left to read.
    let (status, _) = channel.send(reqwest::Method::DELETE, &format!("/v1/customers/{customer}"), None).await;
    assert_eq!(status, 204);
    let (status, after) = channel.send(reqwest::Method::GET, &format!("/v1/customers/{customer}/timeline"), None).await;
    assert!(status == 404 || after["entries"].as_array().is_some_and(|e| e.is_empty()), "{status} {after}");
}
