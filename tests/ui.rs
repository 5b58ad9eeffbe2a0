//! The touchscreen, headless: the real Slint components on Slint's testing backend, found
//! by accessible label, driven by a real local store that a real hub filled.

mod support;
#[path = "support/touch.rs"]
mod touch;

use std::time::Duration;

use i_slint_backend_testing::ElementHandle;
use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk::ui::{KioskUi, UiSettings};
use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::gtin::LoyaltyCard;
use omnikiosk_protocol::ops::OpBody;
use serde_json::json;
use slint::ComponentHandle;
use support::{Kiosk, TestHub};
use touch::{has_label, labels, labels_containing};

#[test]
fn a_shopper_scans_checks_in_rates_and_leaves_nothing_behind() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let card = LoyaltyCard::generate("042", 990_042).as_str().to_string();
    let (mut hub, kiosk, order_id, (saved_sku, saved_name)) = rt.block_on(async {
        let hub = TestHub::start(SeedOptions { stores: 2, customers: 200, products: 80, orders: 20, seed: 4 }).await;
        let kiosk = Kiosk::new();
        kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
        kiosk.json(&["sync", "--once", "--json"]).await;
        let skus = kiosk.query_strings("SELECT sku FROM stock WHERE on_hand >= 3 ORDER BY sku LIMIT 3");
        let saved_name = kiosk.query_strings(&format!("SELECT name FROM products WHERE sku = '{}'", skus[2])).remove(0);
        let ch = hub.channel();
        ch.put("/v1/customers/C-ANNA", json!({"first_name":"Anna","last_name":"Kowalska","tier":"gold","home_store":1,"language":"pl"})).await;
        ch.put("/v1/customers/C-ANNA/identifiers", json!({"loyalty_cards":[card]})).await;
        ch.put("/v1/customers/C-ANNA/cart", json!({"lines":[{"sku":skus[0],"qty":2},{"sku":skus[1],"qty":1}]})).await;
        let order = ch.post("/v1/orders", json!({"customer_id":"C-ANNA","store_id":1,"lines":[{"sku":skus[0],"qty":1}]})).await;
        kiosk.json(&["sync", "--once", "--json"]).await;
        (hub, kiosk, order["id"].as_str().unwrap().to_string(), (skus[2].clone(), saved_name))
    });
    rt.block_on(hub.stop()); // the network is gone: everything below is offline

    // The seeded store speaks Polish; the labels pressed below are English: the config's
    // language is the screens'.
    let cfg = Config { ui: omnikiosk::config::UiConfig { language: Some("en".into()), ..Default::default() }, ..Config::default() };
    let store = LocalStore::open(&kiosk.data_dir(), &StoreConfig::default()).unwrap();
    // Staff picked the order and marked it ready, offline.
    for op in [
        OpBody::OrderPick {
            order_id: order_id.clone(),
            staff_id: "S1-STAFF".into(),
            lines: store.order(&order_id).unwrap().unwrap().lines.iter().map(|l| omnikiosk_protocol::ops::PickedLine { sku: l.sku.clone(), picked: l.qty }).collect(),
            short_reason: None,
        },
        OpBody::OrderReady { order_id: order_id.clone(), staff_id: "S1-STAFF".into() },
    ] {
        store.record_op(op, &cfg.loyalty, 0).unwrap();
    }
    let settings = UiSettings::from_config(&cfg);
    let ui = KioskUi::new(store.clone(), settings, None).unwrap();
    ui.window().show().unwrap();
    assert!(has_label(&ui, "Scan your loyalty card or app QR code"));

    // Garbage is turned away politely.
    ui.scan("' OR 1=1; --");
    assert!(has_label(&ui, "Code not recognised. Please scan again."));

    // Anna scans her card: her screen, in Polish.
    ui.scan(&card);
    assert!(has_label(&ui, "Dzień dobry, Anna"), "greeting: {:?}", labels_containing(&ui, "Anna"));
    assert!(!labels_containing(&ui, "Złoty").is_empty(), "tier in Polish");
    assert!(!labels_containing(&ui, "Koszyk").is_empty() || !labels_containing(&ui, "koszyk").is_empty());
    assert_eq!(labels_containing(&ui, "2 × ").len(), 1, "the two-piece cart line");
    assert_eq!(labels_containing(&ui, "1 × ").len(), 1, "the one-piece cart line");
    assert!(!labels_containing(&ui, "Dostępne · alejka").is_empty(), "stock and aisle, in Polish");
    assert!(!labels_containing(&ui, &format!("Zamówienie {order_id}")).is_empty(), "the ready order is listed");

    // "I'm here": a check-in op is queued and the screen says help is coming.
    let im_here = format!("Jestem na miejscu {order_id}");
    ElementHandle::find_by_accessible_label(ui.window(), &im_here).next().expect("I'm here button").invoke_accessible_default_action();
    let ops = store.pending_ops(100).unwrap();
    assert!(ops.iter().any(|o| o.name == "visit.checkin" && o.body["order_id"] == order_id.as_str()), "{ops:?}");
    assert!(has_label(&ui, "Pracownik już idzie · jesteś następny(-a)"), "{:?}", labels_containing(&ui, "Pracownik"));

    // Rating the visit queues an NPS answer.
    ElementHandle::find_by_accessible_label(ui.window(), "rate 9").next().unwrap().invoke_accessible_default_action();
    assert!(store.pending_ops(100).unwrap().iter().any(|o| o.name == "feedback.nps" && o.body["score"] == 9));
    assert!(has_label(&ui, "Dziękujemy za opinię!"));

    // Save for later: a product scanned on her screen goes into her online cart, at once.
    ui.scan(&saved_sku);
    assert!(has_label(&ui, &format!("Zapisano w Twoim koszyku online: {saved_name}")), "{:?}", labels_containing(&ui, "Zapisano"));
    assert!(store.pending_ops(100).unwrap().iter().any(|o| o.name == "cart.add" && o.body["sku"] == saved_sku.as_str() && o.body["customer_id"] == "C-ANNA"));
    assert_eq!(labels_containing(&ui, &format!("1 × {saved_name}")).len(), 1, "on her cart before the hub hears of it");
    // A product this store does not know is refused in words she reads, and saves nothing.
    let cart_adds = |store: &LocalStore| store.pending_ops(100).unwrap().iter().filter(|o| o.name == "cart.add").count();
    ui.scan("4000000000006");
    assert!(has_label(&ui, "Nie znamy tutaj tego produktu, więc nie został zapisany. Zapytaj pracownika."));
    assert_eq!(cart_adds(&store), 1);
    assert!(has_label(&ui, "Dzień dobry, Anna"), "her session goes on");

    // "Call staff" from her screen: the desk gets a help request that knows who asks; it
    // says who is coming only once somebody took it.
    ElementHandle::find_by_accessible_label(ui.window(), "Wezwij obsługę").next().unwrap().invoke_accessible_default_action();
    assert!(has_label(&ui, "Wezwaliśmy pracownika. Prosimy zaczekać tutaj."));
    let assists = store.open_help().unwrap();
    assert_eq!(assists.len(), 1);
    assert_eq!(assists[0].customer_id.as_deref(), Some("C-ANNA"), "the colleague sees who asked");

    // She walks away: after the idle timeout nothing of hers is left in the UI.
    for second in 0..46 {
        if second == 40 {
            assert!(!labels_containing(&ui, "Anna").is_empty(), "the session must last its 45 s");
            assert!(has_label(&ui, "Koniec za 5 s"), "the countdown is visible");
        }
        i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(1));
    }
    assert!(labels_containing(&ui, "Anna").is_empty(), "{:?}", labels_containing(&ui, "Anna"));
    assert!(labels_containing(&ui, &order_id).is_empty());
    assert_eq!(ui.window().global::<omnikiosk::ui::ShopperAdapter>().get_first_name(), "");
    assert!(has_label(&ui, "Scan your loyalty card or app QR code"), "back to English on the idle screen, as configured");

    // A kiosk whose config names no language speaks its store's: the seeded Kraków store's
    // Polish, on the idle screen and again when a session ends.
    let ui = KioskUi::new(store.clone(), UiSettings::from_config(&Config::default()), None).unwrap();
    ui.window().show().unwrap();
    assert!(has_label(&ui, "Zeskanuj kartę lojalnościową lub kod QR z aplikacji"), "{:?}", labels(&ui));
}
