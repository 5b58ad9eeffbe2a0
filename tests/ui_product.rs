//! A product's description from the retailer's own feed, on the shopper's screen: the
//! Google product feed of `docs/examples/` imported into an empty hub, a real kiosk
//! synced from it, and the real Slint components on Slint's testing backend. On the Pi's
//! 800×480 screen a long description is wrapped and cut to two lines.

mod support;
#[path = "support/touch.rs"]
mod touch;

use std::path::PathBuf;

use i_slint_backend_testing::ElementHandle;
use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk::ui::{KioskUi, UiSettings};
use omnikiosk_protocol::gtin::LoyaltyCard;
use serde_json::json;
use slint::ComponentHandle;
use support::{Kiosk, TestHub};
use touch::{has_label, labels_containing};

const MUG: &str = "Kubek ceramiczny Żółć 330 ml";
const MUG_GTIN: &str = "5901234000017";
const ABOUT_MUG: &str = "Kubek z kamionki, ręcznie malowany. Można myć w zmywarce.";

#[test]
fn a_scanned_product_shows_its_description_from_the_feed_and_a_long_one_fits_the_screen() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let card = LoyaltyCard::generate("042", 990_077).as_str().to_string();
    let long = "Ręcznie malowany kubek z kamionki z Bolesławca, wypalany dwukrotnie. ".repeat(70);
    let (_hub, kiosk) = rt.block_on(async {
        let hub = TestHub::empty().await;
        let ch = hub.channel();
        ch.put(
            "/v1/stores/1",
            json!({"code": "KRK-01", "name": "Omni Kraków", "currency": "PLN", "language": "en", "timezone": "Europe/Warsaw", "vat": {"standard": 2300, "reduced": 500}}),
        )
        .await;
        let feed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/examples/products.tsv");
        assert_eq!(ch.upload("/v1/imports/products", &feed).await["created"], 9);
        // A description as long as the hub takes, through the channel API.
        let teapot = json!({"name": "Teapot", "description": long, "gtins": ["5909990000029"], "prices": {"PLN": {"price_cents": 9900}}});
        ch.put("/v1/products/OM-TEAPOT", teapot).await;
        ch.put("/v1/customers/C-ANNA", json!({"first_name":"Anna","last_name":"Kowalska","tier":"gold","home_store":1,"language":"en"})).await;
        ch.put("/v1/customers/C-ANNA/identifiers", json!({"loyalty_cards":[card]})).await;
        let kiosk = Kiosk::new();
        kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
        kiosk.json(&["sync", "--once", "--json"]).await;
        // The kiosk's product lookup says what the product is, as the screen will.
        let scanned = kiosk.json(&["scan", MUG_GTIN, "--offline", "--json"]).await;
        assert_eq!((&scanned["product"]["name"], &scanned["product"]["description"]), (&json!(MUG), &json!(ABOUT_MUG)), "{scanned}");
        (hub, kiosk)
    });

    let store = LocalStore::open(&kiosk.data_dir(), &StoreConfig::default()).unwrap();
    let ui = KioskUi::new(store, UiSettings::from_config(&Config::default()), None).unwrap();
    ui.window().window().set_size(slint::PhysicalSize::new(800, 480));
    ui.window().show().unwrap();
    ui.scan(&card);
    assert!(has_label(&ui, "Hello, Anna"), "{:?}", labels_containing(&ui, "Anna"));

    // The mug scanned on her screen: saved, and what it is.
    ui.scan(MUG_GTIN);
    assert!(has_label(&ui, &format!("Saved to your online cart: {MUG}")), "{:?}", labels_containing(&ui, "Saved"));
    assert!(has_label(&ui, &format!("About {MUG}: {ABOUT_MUG}")), "{:?}", labels_containing(&ui, "About"));

    // The longest description the hub takes: two lines on the 800×480 screen, inside it,
    // the rest elided; her cart and orders stay in view below.
    ui.scan("5909990000029");
    let about = ElementHandle::find_by_accessible_label(ui.window(), &format!("About Teapot: {}", long.trim_end()))
        .chain(ElementHandle::find_by_accessible_label(ui.window(), &format!("About Teapot: {long}")))
        .next()
        .unwrap_or_else(|| panic!("{:?}", labels_containing(&ui, "About Teapot").iter().map(|l| &l[..40]).collect::<Vec<_>>()));
    let (at, size) = (about.absolute_position(), about.size());
    assert!(size.height > 0.0 && size.height <= 2.0 * 1.3 * 16.0 + 0.5, "two lines at most: {size:?}");
    assert!(at.x >= 0.0 && at.x + size.width <= 800.0 && at.y + size.height <= 480.0, "inside the screen: {at:?} {size:?}");
    assert!(has_label(&ui, "Hello, Anna"), "her screen goes on");
}
