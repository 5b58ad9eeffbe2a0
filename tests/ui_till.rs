//! The till on the touchscreen, headless: a colleague signs in, scans two products, takes a
//! shopper's online cart into the basket with "buy here", redeems points, pays by card and
//! cash and gets the receipt on screen and on the printer; a short payment cannot be paid;
//! a void sells nothing and uses no receipt number; the manager and the shopper see the
//! sale; one line comes back against the receipt's typed number, refunded in cash, and a
//! return against its scanned QR that the rules refuse uses no number; a shift opens with
//! its float and closes into its Z report, a close with no shift open is refused, and the
//! manager sees the returns and the Z report. The real Slint components, found by accessible label, over a real local store
//! that a real hub filled; pictures of the till at the three sizes the project shoots.
//!
//! Slint allows one platform per process, and the pictures need the software renderer:
//! everything runs under one `#[test]` on `support/headless.rs`, one step after another,
//! each over its own copy of the kiosk's data.

#[path = "support/enrol.rs"]
mod enrol;
#[path = "support/headless.rs"]
mod headless;
#[path = "support/touch.rs"]
mod touch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use omnikiosk::clock::unix_now;
use omnikiosk::config::{Config, PrinterConfig, StoreConfig};
use omnikiosk::store::{LocalStore, ReturnRequest};
use omnikiosk::ui::{KioskUi, TillAdapter, UiSettings};
use omnikiosk_hub::seed::{generate, SeedCustomer};
use omnikiosk_hub::{Hub, SeedOptions};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::money;
use omnikiosk_protocol::till::{Tender, TenderMethod};
use slint::{ComponentHandle, Model};
use touch::labels;

/// Lays the window out before looking: without a display nothing else instantiates the
/// rows of a list that just changed.
fn drawn(ui: &KioskUi) -> &KioskUi {
    let _ = ui.window().window().take_snapshot();
    ui
}

#[track_caller]
fn press(ui: &KioskUi, label: &str) {
    touch::press(drawn(ui), label);
}

#[track_caller]
fn keypad(ui: &KioskUi, what: &str, digits: &str, submit: &str) {
    touch::keypad(drawn(ui), what, digits, submit);
}

fn has_label(ui: &KioskUi, label: &str) -> bool {
    touch::has_label(drawn(ui), label)
}

fn labels_containing(ui: &KioskUi, needle: &str) -> Vec<String> {
    touch::labels_containing(drawn(ui), needle)
}

/// A kiosk of store 1, enrolled and synced, and what the steps need of the seeded chain.
struct Shop {
    kiosk: tempfile::TempDir,
    staff_badge: String,
    manager_badge: String,
    /// A shopper of store 1 with points and an online cart of products this store sells.
    shopper: SeedCustomer,
    /// Two products of this store's catalogue, in stock.
    products: [(String, String, i64); 2],
    currency: String,
}

impl Shop {
    fn build() -> Shop {
        let hub_dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&format!("sqlite:{}", hub_dir.path().join("hub.db").display())).unwrap();
        let (data, _) = generate(&SeedOptions { stores: 1, customers: 300, products: 60, orders: 20, seed: 12 }, unix_now());
        hub.seed_data(data.clone()).unwrap();
        let token = hub.add_device(1, "till").unwrap();
        let badge = |id: &str| hub.sign_code(CodeKind::Staff, id, 3600).unwrap();
        let (staff_badge, manager_badge) = (badge("S1-STAFF"), badge("S1-MGR"));
        let kiosk = tempfile::tempdir().unwrap();
        enrol::synced_store(hub, &token, kiosk.path());
        let store = LocalStore::open(kiosk.path(), &StoreConfig::default()).unwrap();
        let sells = |sku: &str| store.product(sku).unwrap().is_some();
        let shopper = data
            .customers
            .iter()
            .find(|c| c.home_store == 1 && c.points >= 20 && !c.cart.is_empty() && c.cart.iter().all(|l| sells(&l.sku)))
            .expect("a shopper of store 1 with points and a cart of this store's products")
            .clone();
        let in_stock = store.products_in_stock(20).unwrap();
        let mut others = in_stock.iter().filter(|p| !shopper.cart.iter().any(|l| l.sku == p.product.sku));
        let mut product = || {
            let p = &others.next().expect("two products in stock").product;
            (p.sku.clone(), p.name.clone(), p.price_cents)
        };
        let products = [product(), product()];
        let currency = store.today(unix_now(), &store.time_zone().unwrap(), 7 * 86_400).unwrap().sales.currency;
        drop(store);
        Shop { kiosk, staff_badge, manager_badge, shopper, products, currency }
    }

    /// A private copy of the kiosk's data directory: each step starts from the synced kiosk.
    fn copy(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(self.kiosk.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
            }
        }
        copy
    }

    fn money(&self, cents: i64) -> String {
        money::format(cents, &self.currency, "en")
    }
}

/// A window over its own copy of the kiosk; `printer` is where receipts print, if anywhere.
fn window(shop: &Shop, data: &Path, printer: Option<PathBuf>) -> (KioskUi, LocalStore) {
    let store = LocalStore::open(data, &StoreConfig::default()).unwrap();
    let mut settings = UiSettings::from_config(&Config::default());
    // The seeded store speaks Polish; the labels pressed are English (the config's choice).
    settings.language = Some("en".into());
    if let Some(device) = printer {
        settings.printer = PrinterConfig { enabled: true, device, ..PrinterConfig::default() };
    }
    let ui = KioskUi::new(store.clone(), settings, None).unwrap();
    slint::select_bundled_translation("en").unwrap();
    ui.window().window().set_size(slint::PhysicalSize::new(1280, 800));
    ui.window().show().unwrap();
    let _ = shop;
    (ui, store)
}

/// Badge, PIN, "Till".
fn open_till(ui: &KioskUi, badge: &str, pin: &str) {
    ui.scan(badge);
    keypad(ui, "PIN", pin, "OK");
    press(ui, "Till");
    assert!(has_label(ui, "Scan a product or type its code."), "{:?}", labels(ui));
}

fn can_pay(ui: &KioskUi) -> bool {
    ui.window().global::<TillAdapter>().get_can_pay()
}

fn a_whole_sale_with_a_shopper_points_and_a_split_payment(shop: &Shop) {
    let data = shop.copy();
    // A printer's device file (it is there before anything prints, as /dev/usb/lp0 is).
    let printed = data.path().join("printer.out");
    std::fs::write(&printed, b"").unwrap();
    let (ui, store) = window(shop, data.path(), Some(printed.clone()));
    let sold = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = sold.clone();
    ui.on_sale(move |r| seen.borrow_mut().push(r.number.clone()));
    open_till(&ui, &shop.staff_badge, "1234");

    // Two products: one scanned, one typed on the till's keypad; then one more of the first.
    let [(sku1, name1, price1), (sku2, name2, price2)] = &shop.products;
    ui.scan(sku1);
    keypad(&ui, "code", sku2, "Add");
    press(&ui, &format!("One more {name1}"));
    assert!(has_label(&ui, &format!("2 × {name1}: {}", shop.money(2 * price1))), "{:?}", labels_containing(&ui, "×"));
    assert!(has_label(&ui, &format!("1 × {name2}: {}", shop.money(*price2))));
    assert!(!can_pay(&ui), "nothing paid yet");

    // The shopper's card attaches them; "buy here" takes their online cart in.
    let s = &shop.shopper;
    ui.scan(&s.card);
    let short = format!("{} {}.", s.first_name, s.last_name.chars().next().unwrap());
    assert!(has_label(&ui, &format!("Shopper {short} · {} points", s.points)), "{:?}", labels_containing(&ui, "Shopper"));
    press(&ui, &format!("Buy here · {}", s.cart.len()));
    let cart_cents: i64 = s.cart.iter().map(|l| l.qty * store.product(&l.sku).unwrap().unwrap().product.price_cents).sum();
    let subtotal = 2 * price1 + price2 + cart_cents;
    assert_eq!(ui.window().global::<TillAdapter>().get_lines().row_count(), 2 + s.cart.len());

    // Some points off, then a card for part and cash for the rest, with change.
    let redeem = 10;
    press(&ui, "Points");
    keypad(&ui, "points", &redeem.to_string(), "OK");
    let total = subtotal - redeem * Config::default().loyalty.point_value_cents;
    assert!(has_label(&ui, &format!("Total {}", shop.money(total))), "{:?}", labels_containing(&ui, "Total"));
    press(&ui, "Card");
    keypad(&ui, "amount", "500", "OK");
    keypad(&ui, "reference", "4711", "OK");
    assert!(!can_pay(&ui), "a card for part of it");
    assert!(has_label(&ui, &format!("Still to pay {}", shop.money(total - 500))));
    let cash = (total - 500) / 100 * 100 + 1000;
    press(&ui, "Cash");
    keypad(&ui, "amount", &cash.to_string(), "OK");
    let change = 500 + cash - total;
    assert!(can_pay(&ui));
    assert!(has_label(&ui, &format!("Change {}", shop.money(change))), "{:?}", labels_containing(&ui, "Change"));
    press(&ui, "Pay");

    // The receipt: on screen, in the store, to the printer; then a fresh basket.
    let receipts = store.receipts(10).unwrap();
    let [r] = &receipts[..] else { panic!("one receipt: {receipts:?}") };
    assert!(r.number.ends_with("-000001"), "the device's first receipt: {}", r.number);
    let receipt = store.receipt(&r.number).unwrap().unwrap();
    assert_eq!((receipt.total_cents, receipt.change_cents, receipt.points_redeemed), (total, change, redeem));
    assert_eq!(receipt.tenders.iter().map(|t| (t.cents, t.reference.as_deref())).collect::<Vec<_>>(), [(500, Some("4711")), (cash, None)]);
    assert_eq!(receipt.customer_id.as_deref(), Some(s.id.as_str()));
    assert!(receipt.lines.iter().filter(|l| l.from_cart).count() == s.cart.len(), "buy-here lines are marked");
    assert!(has_label(&ui, &format!("Receipt {}", r.number)), "{:?}", labels(&ui));
    assert!(has_label(&ui, &format!("Change {}", shop.money(change))));
    assert!(has_label(&ui, &format!("+{} points earned", receipt.points_earned)));
    assert_eq!(*sold.borrow(), std::slice::from_ref(&r.number));
    let bytes = wait_for_file(&printed);
    assert!(String::from_utf8_lossy(&bytes).contains(&r.number), "the receipt printed with its number");
    let warsaw = jiff::tz::TimeZone::get("Europe/Warsaw").unwrap();
    let at = jiff::Timestamp::from_second(receipt.at).unwrap().to_zoned(warsaw).strftime("%Y-%m-%d %H:%M").to_string();
    assert!(String::from_utf8_lossy(&bytes).contains(&at), "and its time on the Kraków store's clock, {at}");
    press(&ui, "Next sale");
    assert!(has_label(&ui, "Scan a product or type its code."));

    // The manager sees the day's sales; the shopper their points from it.
    press(&ui, "Sign out");
    ui.scan(&shop.manager_badge);
    keypad(&ui, "PIN", "9999", "OK");
    let today = store.today(unix_now(), &store.time_zone().unwrap(), 7 * 86_400).unwrap().sales;
    assert!(today.count >= 1);
    assert!(has_label(&ui, &format!("{} sales · {}", today.count, shop.money(today.total_cents))), "{:?}", labels_containing(&ui, "sales"));
    press(&ui, "Sign out");
    ui.scan(&s.card);
    let view = store.shopper_view(&s.id).unwrap().unwrap();
    let cart_total = money::format(view.cart.total_cents, &shop.currency, &s.language);
    assert!(!labels_containing(&ui, &cart_total).is_empty(), "the cart total as {} writes it: {:?}", s.language, labels(&ui));
    assert!(
        !labels_containing(&ui, &format!("+{}", receipt.points_earned)).is_empty(),
        "today's purchase's points: {:?}",
        labels(&ui)
    );
    slint::select_bundled_translation("en").unwrap();
    ui.window().hide().unwrap();
}

fn wait_for_file(path: &Path) -> Vec<u8> {
    for _ in 0..100 {
        if let Ok(bytes) = std::fs::read(path) {
            if !bytes.is_empty() {
                return bytes;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing printed to {}", path.display());
}

fn a_short_payment_keeps_pay_disabled_and_a_void_uses_no_number(shop: &Shop) {
    let data = shop.copy();
    let (ui, store) = window(shop, data.path(), None);
    open_till(&ui, &shop.staff_badge, "1234");
    let [(sku1, name1, price1), _] = &shop.products;
    ui.scan(sku1);
    press(&ui, "Cash");
    keypad(&ui, "amount", "1", "OK");
    assert!(!can_pay(&ui));
    assert!(has_label(&ui, &format!("Still to pay {}", shop.money(price1 - 1))), "{:?}", labels_containing(&ui, "pay"));
    press(&ui, "Pay");
    assert!(store.receipts(10).unwrap().is_empty(), "a short payment sells nothing");

    // Void: asked first, then the basket is empty and no number was taken.
    press(&ui, "Void");
    press(&ui, "Keep the basket");
    assert!(has_label(&ui, &format!("1 × {name1}: {}", shop.money(*price1))));
    press(&ui, "Void");
    press(&ui, "Yes, void");
    assert!(has_label(&ui, "Basket voided. Nothing was sold."));
    assert_eq!(ui.window().global::<TillAdapter>().get_lines().row_count(), 0);
    assert!(store.receipts(10).unwrap().is_empty());
    // The next sale takes the first number: the void used none.
    ui.scan(sku1);
    press(&ui, "Cash");
    press(&ui, "Exact cash");
    press(&ui, "Pay");
    let receipts = store.receipts(10).unwrap();
    assert_eq!(receipts.iter().map(|r| r.number.ends_with("-000001")).collect::<Vec<_>>(), [true], "{receipts:?}");
    ui.window().hide().unwrap();
}

fn a_return_refunds_one_line_and_a_refused_one_uses_no_number(shop: &Shop) {
    let data = shop.copy();
    let (ui, store) = window(shop, data.path(), None);
    open_till(&ui, &shop.staff_badge, "1234");
    let [(sku1, name1, price1), (sku2, name2, _)] = &shop.products;
    ui.scan(sku1);
    ui.scan(sku2);
    press(&ui, "Cash");
    press(&ui, "Exact cash");
    press(&ui, "Pay");
    let sale = store.receipts(10).unwrap()[0].number.clone();
    press(&ui, "Next sale");

    // The receipt's number typed (its sequence: the keypad has no dashes), one line back.
    press(&ui, "Return");
    keypad(&ui, "receipt", sale.rsplit('-').next().unwrap().trim_start_matches('0'), "OK");
    assert!(has_label(&ui, &format!("Return against {sale}")), "{:?}", labels(&ui));
    press(&ui, &format!("One more {name1} back"));
    press(&ui, &format!("One more {name1} back"));
    assert!(has_label(&ui, &format!("1 × {name1} back")), "no more than was bought: {:?}", labels_containing(&ui, "back"));
    assert!(has_label(&ui, &format!("Refund {}", shop.money(*price1))), "{:?}", labels_containing(&ui, "Refund"));
    press(&ui, "damaged");
    press(&ui, "Refund in cash");
    press(&ui, "Complete return");
    let receipts = store.receipts(10).unwrap();
    assert_eq!(receipts.len(), 2, "the return is a receipt of its own: {receipts:?}");
    let back = receipts.iter().find(|r| r.number != sale).unwrap();
    assert!(has_label(&ui, &format!("Return receipt {}", back.number)), "{:?}", labels(&ui));
    assert!(has_label(&ui, &format!("Total {}", shop.money(-price1))), "{:?}", labels_containing(&ui, "Total"));
    press(&ui, "Next sale");

    // The receipt's QR scanned, the other line chosen, but it came back elsewhere
    // meanwhile: refused, no number used.
    ui.scan(&store.receipt_code(&store.receipt(&sale).unwrap().unwrap()).unwrap());
    assert!(has_label(&ui, &format!("Return against {sale}")), "{:?}", labels(&ui));
    press(&ui, &format!("One more {name2} back"));
    press(&ui, "faulty");
    press(&ui, "Refund in cash");
    let elsewhere = ReturnRequest {
        staff_id: "S1-STAFF".into(),
        origin: sale.clone(),
        items: vec![(sku2.clone(), 1)],
        sold: vec![],
        reason: "faulty".into(),
        tenders: vec![Tender { method: TenderMethod::Cash, cents: 0, reference: None }],
    };
    store.complete_return(&elsewhere, &Config::default().loyalty, unix_now()).unwrap();
    press(&ui, "Complete return");
    assert_eq!(labels_containing(&ui, "Not returned: ").len(), 1, "the rules' words: {:?}", labels(&ui));
    assert_eq!(store.receipts(10).unwrap().len(), 3, "the refused return took no number");

    // The manager sees what the returns took off the day's sales.
    press(&ui, "Sign out");
    ui.scan(&shop.manager_badge);
    keypad(&ui, "PIN", "9999", "OK");
    let today = store.today(unix_now(), &store.time_zone().unwrap(), 7 * 86_400).unwrap().sales;
    assert!(today.returns_cents < 0);
    assert!(has_label(&ui, &format!("of which returns {}", shop.money(today.returns_cents))), "{:?}", labels_containing(&ui, "returns"));
    ui.window().hide().unwrap();
}

fn a_shift_opens_with_its_float_and_closes_into_its_z_report(shop: &Shop) {
    let data = shop.copy();
    let (ui, store) = window(shop, data.path(), None);
    open_till(&ui, &shop.staff_badge, "1234");
    press(&ui, "Open shift");
    keypad(&ui, "amount", "10000", "OK");
    assert!(has_label(&ui, &format!("Shift Z1 · float {}", shop.money(10_000))), "{:?}", labels_containing(&ui, "hift"));
    let [(sku1, _, price1), _] = &shop.products;
    ui.scan(sku1);
    press(&ui, "Cash");
    press(&ui, "Exact cash");
    press(&ui, "Pay");
    press(&ui, "Next sale");

    // Counted a little short: the report says so, and that the kiosk closed offline.
    press(&ui, &format!("Shift Z1 · float {}", shop.money(10_000)));
    press(&ui, "Close shift");
    keypad(&ui, "amount", &(10_000 + price1 - 100).to_string(), "OK");
    let z = store.z_report(1).unwrap().expect("the Z report recorded");
    assert!(has_label(&ui, &format!("Z report {}", z.number())), "{:?}", labels(&ui));
    for (label, cents) in [("Expected cash", 10_000 + price1), ("Counted cash", 10_000 + price1 - 100), ("Difference", -100)] {
        assert!(has_label(&ui, &format!("{label} {}", shop.money(cents))), "{label}: {:?}", labels(&ui));
    }
    assert!(z.unsent_ops > 0);
    assert!(has_label(&ui, &format!("Closed offline: {} operations not at the hub yet", z.unsent_ops)));
    press(&ui, "Done");
    assert!(has_label(&ui, "Open shift"), "none open now");

    // A shift closed elsewhere (the command line) while the till still offered "Close shift".
    press(&ui, "Open shift");
    keypad(&ui, "amount", "5000", "OK");
    press(&ui, &format!("Shift Z2 · float {}", shop.money(5000)));
    store.close_shift("S1-STAFF", 5000, &Config::default().loyalty, unix_now()).unwrap();
    press(&ui, "Close shift");
    keypad(&ui, "amount", "5000", "OK");
    assert!(has_label(&ui, "Not done: no shift is open at this till: open one with the float first"), "{:?}", labels(&ui));
    assert!(store.z_report(3).unwrap().is_none(), "nothing closed");

    // The manager sees the shift's Z report among the store's today.
    press(&ui, "Cancel");
    press(&ui, "Sign out");
    ui.scan(&shop.manager_badge);
    keypad(&ui, "PIN", "9999", "OK");
    let row = format!("{}: sales {} · returns {} · difference {}", z.number(), shop.money(*price1), shop.money(0), shop.money(-100));
    assert_eq!(labels_containing(&ui, &row).len(), 1, "{:?}", labels_containing(&ui, "difference"));
    ui.window().hide().unwrap();
}

/// The till with a basket, a shopper and part paid, at each size: `target/screens/till-*.png`.
fn pictures(platform: &headless::Headless, shop: &Shop) {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("screens");
    std::fs::create_dir_all(&out).unwrap();
    for (width, height) in [(800, 480), (1280, 800), (480, 800)] {
        let data = shop.copy();
        let store = LocalStore::open(data.path(), &StoreConfig::default()).unwrap();
        let settings = UiSettings { language: Some("en".into()), ..UiSettings::from_config(&Config::default()) };
        let ui = KioskUi::new(store, settings, None).unwrap();
        slint::select_bundled_translation("en").unwrap();
        ui.window().window().set_size(slint::PhysicalSize::new(width, height));
        ui.window().show().unwrap();
        open_till(&ui, &shop.staff_badge, "1234");
        ui.scan(&shop.products[0].0);
        ui.scan(&shop.products[1].0);
        ui.scan(&shop.products[0].0);
        ui.scan(&shop.shopper.card);
        press(&ui, "Card");
        keypad(&ui, "amount", "500", "OK");
        keypad(&ui, "reference", "4711", "OK");
        press(&ui, "Cash");
        platform.advance(Duration::ZERO);
        let shot = ui.window().window().take_snapshot().unwrap();
        let image = image::RgbaImage::from_raw(shot.width(), shot.height(), shot.as_bytes().to_vec()).unwrap();
        image.save(out.join(format!("till-{width}x{height}.png"))).unwrap();
        ui.window().hide().unwrap();
    }
}

#[test]
fn the_till_sells_voids_refuses_a_short_payment_takes_returns_closes_a_shift_and_shows_at_every_size() {
    let platform = headless::Headless::install();
    let shop = Shop::build();
    a_whole_sale_with_a_shopper_points_and_a_split_payment(&shop);
    a_short_payment_keeps_pay_disabled_and_a_void_uses_no_number(&shop);
    a_return_refunds_one_line_and_a_refused_one_uses_no_number(&shop);
    a_shift_opens_with_its_float_and_closes_into_its_z_report(&shop);
    pictures(&platform, &shop);
}
