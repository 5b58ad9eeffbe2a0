//! Colleagues from HR, end to end on loopback with the real hub and `omnikiosk` binaries:
//! added at the hub with a badge and no PIN, their PIN chosen at one kiosk of the store
//! (pushed as `staff.set_pin`), signed in at another, named by `--staff` on the kiosk's
//! command line within their role (with no PIN yet), their lost badge replaced (the
//! older one refused), and removed: refused at every device of the store after its next pull.
//! A manager resets a colleague's PIN at one kiosk, offline (`staff.reset_pin`): the
//! colleague chooses a new one there at once and at every device of the store after the
//! hub applied it; a reset by anyone but a manager of the store is refused at the hub.
//! (`OMNIKIOSK_TEST_HUB=postgres` runs it against a PostgreSQL hub.)

mod support;

use omnikiosk::config::{LoyaltyConfig, StoreConfig};
use omnikiosk::store::{LocalStore, PinCheck};
use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::wire::{Role, StaffPut, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::{json, Value};
use support::{stderr, Kiosk, TestHub};

async fn enrolled(hub: &TestHub) -> Kiosk {
    enrolled_with_token(hub).await.0
}

/// A kiosk of store 1, enrolled and synced, with its device token (to push as it would).
async fn enrolled_with_token(hub: &TestHub) -> (Kiosk, String) {
    let kiosk = Kiosk::new();
    let token = hub.device_token(1);
    kiosk.enroll(&hub.url(), &token).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    (kiosk, token)
}

/// A colleague HR adds to store 1: a badge, no PIN yet.
async fn hired(hub: &TestHub, name: &str, role: Role) -> omnikiosk_protocol::wire::Colleague {
    let (h, body) = (hub.hub.clone(), StaffPut { name: name.into(), role });
    tokio::task::spawn_blocking(move || h.add_staff(1, &body)).await.unwrap().unwrap()
}

/// Ops pushed as a device would push them; the hub's results.
async fn push(hub: &TestHub, token: &str, seq_from: i64, ops: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/v1/sync/push", hub.url()))
        .bearer_auth(token)
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .json(&json!({ "device_seq_from": seq_from, "ops": ops }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["results"]
        .clone()
}

/// Whether the hub has a PIN for the colleague (it never knows which).
async fn pin_set_at_hub(hub: &TestHub, staff_id: &str) -> bool {
    let h = hub.hub.clone();
    let listed = tokio::task::spawn_blocking(move || h.staff_of_store(1)).await.unwrap().unwrap();
    listed.iter().find(|c| c.id == staff_id).expect("a colleague of store 1").pin_set
}

/// Whether the kiosk asks the badge's holder to choose a PIN (`pin_set` false), as `scan` says.
async fn pin_set_at(kiosk: &Kiosk, badge: &str) -> bool {
    let scanned = kiosk.json(&["scan", badge, "--offline", "--json"]).await;
    scanned["pin_set"].as_bool().unwrap_or_else(|| panic!("{scanned}"))
}

async fn sync(kiosks: &[&Kiosk]) {
    for k in kiosks {
        k.json(&["sync", "--once", "--json"]).await;
    }
}

fn store_of(kiosk: &Kiosk) -> LocalStore {
    LocalStore::open(&kiosk.data_dir(), &StoreConfig::default()).unwrap()
}

fn try_pin(kiosk: &Kiosk, staff_id: &str, pin: &str) -> PinCheck {
    store_of(kiosk).verify_pin(staff_id, pin, omnikiosk::clock::unix_now()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_from_hr_chooses_a_pin_works_within_their_role_and_leaves() {
    let hub = TestHub::start(SeedOptions { stores: 1, customers: 60, products: 30, orders: 40, seed: 31 }).await;
    let (desk, tablet) = (enrolled(&hub).await, enrolled(&hub).await);
    let zofia = hired(&hub, "Zofia Wiśniewska", Role::Staff).await;
    sync(&[&desk, &tablet]).await;

    // The command line names her with --staff and asks no PIN (she has none yet): she
    // picks at the desk, and is refused the till, which her role does not include.
    let placed = desk.json(&["orders", "--status", "placed", "--json"]).await;
    let order = placed.as_array().unwrap()[0]["id"].as_str().unwrap().to_string();
    desk.json(&["order", &order, "pick", "--staff", &zofia.id, "--json"]).await;
    let sku = desk.query_strings("SELECT sku FROM products ORDER BY sku LIMIT 1").remove(0);
    let out = desk.run(&["sale", "--staff", &zofia.id, "--item", &sku, "--pay", "cash:1000000"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("staff {} may not work the till", zofia.id)), "{}", stderr(&out));

    // Her badge at the desk: a colleague of the store with no PIN yet — the PIN pad asks
    // her to choose one, and the kiosk keeps it as a staff.set_pin op.
    let scanned = desk.json(&["scan", &zofia.badge, "--json"]).await;
    assert_eq!((&scanned["kind"], &scanned["id"], &scanned["pin_set"]), (&"staff".into(), &zofia.id.as_str().into(), &false.into()), "{scanned}");
    let recorded = store_of(&desk).choose_pin(&zofia.id, "2580", &LoyaltyConfig::default(), omnikiosk::clock::unix_now()).unwrap();
    assert_eq!(recorded.name, "staff.set_pin");
    assert!(matches!(try_pin(&desk, &zofia.id, "2580"), PinCheck::Accepted(_)), "signed in at once, before any push");
    sync(&[&desk, &tablet]).await;
    assert!(matches!(try_pin(&tablet, &zofia.id, "2580"), PinCheck::Accepted(_)), "her PIN works at the store's other devices");
    let h = hub.hub.clone();
    let listed = tokio::task::spawn_blocking(move || h.staff_of_store(1)).await.unwrap().unwrap();
    assert!(listed.iter().any(|c| c.id == zofia.id && c.pin_set), "the hub knows she chose one, never which");

    // She lost her badge: the reissued one works, the older one is refused.
    let (h, id) = (hub.hub.clone(), zofia.id.clone());
    let reissued = tokio::task::spawn_blocking(move || h.reissue_badge(&id)).await.unwrap().unwrap();
    sync(&[&desk]).await;
    let out = desk.run(&["scan", &zofia.badge, "--json"]).await;
    assert!(!out.status.success() && stderr(&out).contains("replaced by a newer one"), "{}", stderr(&out));
    assert_eq!(desk.json(&["scan", &reissued.badge, "--json"]).await["id"], zofia.id.as_str());

    // She leaves: every device of the store refuses her badge after its next pull.
    let (h, id) = (hub.hub.clone(), zofia.id.clone());
    tokio::task::spawn_blocking(move || h.remove_staff(None, &id)).await.unwrap().unwrap();
    sync(&[&desk, &tablet]).await;
    for k in [&desk, &tablet] {
        let out = k.run(&["scan", &reissued.badge, "--json"]).await;
        assert!(!out.status.success(), "a removed colleague's badge is refused");
        assert_eq!(try_pin(k, &zofia.id, "2580"), PinCheck::UnknownBadge);
        let out = k.run(&["order", &order, "ready", "--staff", &zofia.id]).await;
        assert!(stderr(&out).contains("does not work at this store"), "{}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_resets_a_colleagues_pin_offline_and_every_device_of_the_store_asks_for_a_new_one() {
    let mut hub = TestHub::start(SeedOptions { stores: 2, customers: 60, products: 30, orders: 10, seed: 32 }).await;
    let ((desk, desk_token), tablet) = (enrolled_with_token(&hub).await, enrolled(&hub).await);
    let zofia = hired(&hub, "Zofia", Role::Till).await;
    sync(&[&desk, &tablet]).await;
    store_of(&desk).choose_pin(&zofia.id, "2580", &LoyaltyConfig::default(), omnikiosk::clock::unix_now()).unwrap();
    sync(&[&desk, &tablet]).await;
    assert!(matches!(try_pin(&tablet, &zofia.id, "2580"), PinCheck::Accepted(_)));

    // The store's colleagues as a manager sees them on the command line.
    let listed = desk.json(&["staff", "list", "--json"]).await;
    let row = listed.as_array().unwrap().iter().find(|c| c["id"] == zofia.id.as_str()).cloned().unwrap_or_else(|| panic!("{listed}"));
    assert_eq!((&row["name"], &row["role"], &row["pin_set"]), (&"Zofia".into(), &"till".into(), &true.into()), "{row}");
    assert!(listed.as_array().unwrap().iter().all(|c| c["id"].as_str().unwrap().starts_with("S1-")), "only this store's: {listed}");

    // Refused at the kiosk, nothing queued: a colleague who is not a manager, a manager's
    // own PIN, a colleague of another store, nobody at all.
    let outbox = store_of(&desk).outbox_stats().unwrap().pending;
    let cases = [
        (["staff", "reset-pin", zofia.id.as_str(), "--staff", "S1-STAFF"], "only a manager can reset a colleague's PIN"),
        (["staff", "reset-pin", "S1-MGR", "--staff", "S1-MGR"], "a manager's own PIN is reset by another manager"),
        (["staff", "reset-pin", "S2-STAFF", "--staff", "S1-MGR"], "staff S2-STAFF does not work at this store"),
        (["staff", "reset-pin", "S9-NOBODY", "--staff", "S1-MGR"], "staff S9-NOBODY does not work at this store"),
        (["staff", "reset-pin", zofia.id.as_str(), "--staff", "S2-MGR"], "staff S2-MGR does not work at this store"),
    ];
    for (args, says) in cases {
        let out = desk.run(&args).await;
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(store_of(&desk).outbox_stats().unwrap().pending, outbox, "nothing half applied");
    assert!(pin_set_at(&desk, &zofia.badge).await);

    // The network is down: the manager resets her PIN at the desk. There she must choose a
    // new one at once; the old one signs nobody in.
    hub.stop().await;
    let reset = desk.json(&["staff", "reset-pin", &zofia.id, "--staff", "S1-MGR", "--json"]).await;
    assert_eq!(reset["name"], "staff.reset_pin", "{reset}");
    assert!(!pin_set_at(&desk, &zofia.badge).await, "the desk asks her to choose a PIN");
    assert!(!matches!(try_pin(&desk, &zofia.id, "2580"), PinCheck::Accepted(_)), "her old PIN is refused at the desk");
    let listed = desk.json(&["staff", "list", "--json"]).await;
    assert!(listed.as_array().unwrap().iter().any(|c| c["id"] == zofia.id.as_str() && c["pin_set"] == false), "{listed}");
    let op = store_of(&desk).pending_ops(100).unwrap().into_iter().find(|o| o.name == "staff.reset_pin").expect("queued");
    assert_eq!((&op.body["staff_id"], &op.body["colleague_id"]), (&"S1-MGR".into(), &zofia.id.as_str().into()));
    assert!(pin_set_at_hub(&hub, &zofia.id).await, "the hub has not heard of it yet");

    // Back online: the desk pushes the reset, the hub applies it once, and the desk's pull
    // of her record keeps her without a PIN.
    hub.restart().await;
    let synced = desk.json(&["sync", "--once", "--json"]).await;
    assert_eq!(synced["pushed"]["rejected"], 0, "{synced}");
    assert!(!pin_set_at_hub(&hub, &zofia.id).await, "the hub cleared her PIN");
    assert!(!pin_set_at(&desk, &zofia.badge).await);
    let again = push(&hub, &desk_token, op.seq, json!([op])).await;
    assert_eq!(again[0]["status"], "duplicate", "a replay applies nothing: {again}");

    // The tablet, before and after its next pull.
    assert!(pin_set_at(&tablet, &zofia.badge).await, "not pulled yet");
    sync(&[&tablet]).await;
    assert!(!pin_set_at(&tablet, &zofia.badge).await, "the tablet asks her to choose a PIN");
    assert!(!matches!(try_pin(&tablet, &zofia.id, "2580"), PinCheck::Accepted(_)), "her old PIN is refused at the tablet");

    // She chooses a new one at the tablet: it works at the desk after its pull, the old one nowhere.
    store_of(&tablet).choose_pin(&zofia.id, "4711", &LoyaltyConfig::default(), omnikiosk::clock::unix_now()).unwrap();
    sync(&[&tablet, &desk]).await;
    assert!(pin_set_at_hub(&hub, &zofia.id).await);
    assert!(matches!(try_pin(&desk, &zofia.id, "4711"), PinCheck::Accepted(_)));
    assert!(!matches!(try_pin(&desk, &zofia.id, "2580"), PinCheck::Accepted(_)));

    // A reset forged past the kiosk's rules, by a colleague who is no manager, or of another
    // store's colleague: the hub refuses each (a conflict), and her PIN stays.
    let forger = hub.device_token(1);
    let forged = |seq: i64, by: &str, whose: &str| {
        json!({"op_id": format!("forged-reset-{seq}"), "seq": seq, "name": "staff.reset_pin", "kiosk_time": 0,
               "body": {"staff_id": by, "colleague_id": whose}})
    };
    let results = push(&hub, &forger, 1, json!([forged(1, "S1-STAFF", &zofia.id), forged(2, "S2-MGR", &zofia.id), forged(3, "S1-MGR", "S2-STAFF")])).await;
    let codes: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap_or("applied")).collect();
    assert_eq!(codes, ["manager_required", "unknown_staff", "unknown_staff"], "{results}");
    assert!(pin_set_at_hub(&hub, &zofia.id).await, "nothing changed");
    let h = hub.hub.clone();
    let conflicts = tokio::task::spawn_blocking(move || h.conflicts()).await.unwrap().unwrap();
    let refused: Vec<&str> = conflicts.iter().filter(|c| c.store_id == 1 && c.name == "staff.reset_pin").map(|c| c.code.as_str()).collect();
    assert_eq!(refused, ["manager_required", "unknown_staff", "unknown_staff"], "recorded as conflicts");
    sync(&[&desk]).await;
    assert!(matches!(try_pin(&desk, &zofia.id, "4711"), PinCheck::Accepted(_)), "her PIN still works");
}
