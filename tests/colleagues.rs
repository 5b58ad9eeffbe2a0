//! Colleagues from HR, end to end on loopback with the real hub and `omnikiosk` binaries:
//! added at the hub with a badge and no PIN, their PIN chosen at one kiosk of the store
//! (pushed as `staff.set_pin`), signed in at another, named by `--staff` on the kiosk's
//! command line within their role (with no PIN yet), their lost badge replaced (the
//! older one refused), and removed: refused at every device of the store after its next pull.

mod support;

use omnikiosk::config::{LoyaltyConfig, StoreConfig};
use omnikiosk::store::{LocalStore, PinCheck};
use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::wire::{Role, StaffPut};
use support::{stderr, Kiosk, TestHub};

async fn enrolled(hub: &TestHub) -> Kiosk {
    let kiosk = Kiosk::new();
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk
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
    let h = hub.hub.clone();
    let zofia = tokio::task::spawn_blocking(move || h.add_staff(1, &StaffPut { name: "Zofia Wiśniewska".into(), role: Role::Staff }))
        .await
        .unwrap()
        .unwrap();
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
