//! One store, two devices, on the touchscreen: what a shopper does at the entrance kiosk
//! (A) shows on the pickup desk's screens (B) once both synced, and the answer made at B
//! comes back to A's screen. Two real windows on Slint's testing backend, each over its
//! own local store, a real hub between them, sync through the real `omnikiosk` binary.

mod support;
#[path = "support/touch.rs"]
mod touch;

use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk::ui::{KioskUi, ManagerAdapter, UiSettings};
use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::OrderStatus;
use slint::{ComponentHandle, Model};
use support::{Kiosk, TestHub};
use touch::{has_label, keypad, labels, press};

/// Both devices push and pull, A first (what A did reaches the hub before B pulls).
fn sync(rt: &tokio::runtime::Runtime, devices: &[&Kiosk]) {
    for k in devices {
        rt.block_on(k.json(&["sync", "--once", "--json"]));
    }
}

#[test]
fn what_the_entrance_kiosk_does_shows_at_the_desk_and_the_desks_answer_comes_back() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (_hub, a, b, staff_badge, manager_badge) = rt.block_on(async {
        let hub = TestHub::start(SeedOptions { stores: 1, customers: 200, products: 60, orders: 60, seed: 21 }).await;
        let (a, b) = (Kiosk::new(), Kiosk::new());
        for k in [&a, &b] {
            k.enroll(&hub.url(), &hub.device_token(1)).await;
            k.json(&["sync", "--once", "--json"]).await;
        }
        let badge = |id: &str| hub.hub.sign_code(CodeKind::Staff, id, 3600).unwrap();
        let badges = (badge("S1-STAFF"), badge("S1-MGR"));
        (hub, a, b, badges.0, badges.1)
    });
    // The seeded store speaks Polish; the labels pressed below are English: the config's
    // language is the screens'.
    let cfg = Config { ui: omnikiosk::config::UiConfig { language: Some("en".into()), ..Default::default() }, ..Config::default() };
    let store_a = LocalStore::open(&a.data_dir(), &StoreConfig::default()).unwrap();
    let store_b = LocalStore::open(&b.data_dir(), &StoreConfig::default()).unwrap();
    let device = |s: &LocalStore| s.require_enrolment().unwrap().device_id;
    let (id_a, id_b) = (device(&store_a), device(&store_b));
    let ui_a = KioskUi::new(store_a.clone(), UiSettings::from_config(&cfg), None).unwrap();
    let ui_b = KioskUi::new(store_b.clone(), UiSettings::from_config(&cfg), None).unwrap();
    ui_a.window().show().unwrap();
    ui_b.window().show().unwrap();

    // --- At A: one shopper checks in, another calls staff, a third rates the visit 9.
    let ready = store_a.orders(Some(OrderStatus::Ready)).unwrap();
    let with_customer: Vec<_> = ready.iter().filter(|o| !o.customer_id.is_empty()).collect();
    let (first, second) = (with_customer[0].clone(), with_customer[1].clone());
    rt.block_on(a.json(&["checkin", &first.id, "--json"]));
    press(&ui_a, "Call staff");
    assert!(has_label(&ui_a, "We have called a colleague. Please wait here."), "{:?}", labels(&ui_a));
    store_a.record_op(OpBody::FeedbackNps { score: 9, csat: None, customer_id: None }, &cfg.loyalty, omnikiosk::clock::unix_now()).unwrap();

    sync(&rt, &[&a, &b]);
    ui_b.refresh();

    // --- At B: the second shopper checks in behind the one who did at A.
    press(&ui_b, "Collect an order");
    keypad(&ui_b, "pickup code", &second.pickup_code, "OK");
    assert!(has_label(&ui_b, "You are number 2 in line."), "A's check-in counts at B: {:?}", labels(&ui_b));
    press(&ui_b, "Back");

    // --- B's staff screen: A's waiting shopper, and A's call for staff.
    ui_b.scan(&staff_badge);
    keypad(&ui_b, "PIN", "1234", "OK");
    press(&ui_b, "Customer waiting");
    assert!(has_label(&ui_b, &format!("Open order {}", first.id)), "{:?}", labels(&ui_b));
    assert!(has_label(&ui_b, "Help requests · 1"), "{:?}", labels(&ui_b));
    press(&ui_b, "Help requests · 1");
    let request = store_b.open_help().unwrap().pop().expect("A's request at B");
    assert_eq!(request.device, id_a, "raised at A");
    press(&ui_b, &format!("On my way to request {}", request.id));
    let take = store_b.pending_ops(100).unwrap().into_iter().find(|o| o.name == "help.take").expect("help.take recorded at B");
    assert_eq!((take.body["request_id"].as_str(), take.body["staff_id"].as_str()), (Some(request.id.as_str()), Some("S1-STAFF")));
    press(&ui_b, "Back to queue");
    press(&ui_b, "Sign out");

    // --- Back at A, after both synced: who is coming, by name.
    sync(&rt, &[&b, &a]);
    ui_a.refresh();
    let name = store_a.open_help().unwrap().pop().and_then(|h| h.taken_by_name).expect("A knows who took it");
    assert!(store_a.staff_member("S1-STAFF").unwrap().unwrap().name.starts_with(&name));
    assert!(has_label(&ui_a, &format!("{name} is on the way.")), "{:?}", labels(&ui_a));

    // --- B's manager view: A's NPS answer, and both devices of the store.
    ui_b.refresh();
    ui_b.scan(&manager_badge);
    keypad(&ui_b, "PIN", "9999", "OK");
    assert!(has_label(&ui_b, "Store manager"), "{:?}", labels(&ui_b));
    assert!(has_label(&ui_b, "Today's NPS: +100"), "A's 9 is the store's: {:?}", labels(&ui_b));
    assert!(has_label(&ui_b, "Customer waiting: 2"));
    let devices: Vec<(String, bool)> =
        ui_b.window().global::<ManagerAdapter>().get_devices().iter().map(|d| (d.id.to_string(), d.this_device)).collect();
    assert_eq!(devices, [(id_b.clone(), true), (id_a.clone(), false)], "this device first, then A");
    assert!(has_label(&ui_b, &format!("Device {id_a}")) && has_label(&ui_b, &format!("Device {id_b}")));
}
