//! The pickup desk on the touchscreen, headless: a shopper checks in with a pickup code,
//! a colleague signs in with badge and PIN, picks (short, with a reason), marks ready and
//! hands over only against the right pickup code; the manager sees it all; five wrong
//! PINs lock a badge; a new colleague chooses a PIN, and the manager resets it. The real Slint components on Slint's testing backend, found by
//! accessible label, over a real local store that a real hub filled.

mod support;
#[path = "support/touch.rs"]
mod touch;

use std::time::Duration;

use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk::ui::{KioskUi, ManagerAdapter, StaffAdapter, UiSettings};
use omnikiosk_hub::SeedOptions;
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::wire::{OrderStatus, Role, StaffPut};
use slint::{ComponentHandle, Model};
use support::{Kiosk, TestHub};
use touch::{has_label, keypad, labels, labels_containing, press};

/// Key events as a USB keyboard-wedge scanner sends them: Shift down and up around each
/// capital letter, Enter at the end.
fn type_into_window(ui: &KioskUi, code: &str) {
    use slint::platform::{Key, WindowEvent};
    let window = ui.window().window();
    let key = |text: slint::SharedString, pressed: bool| {
        window.dispatch_event(if pressed { WindowEvent::KeyPressed { text } } else { WindowEvent::KeyReleased { text } });
    };
    for c in code.chars() {
        let shift = c.is_ascii_uppercase();
        if shift {
            key(Key::Shift.into(), true);
        }
        key(c.to_string().into(), true);
        key(c.to_string().into(), false);
        if shift {
            key(Key::Shift.into(), false);
        }
    }
    key(Key::Return.into(), true);
    key(Key::Return.into(), false);
}

#[test]
fn a_pickup_goes_from_check_in_to_handover_and_the_manager_sees_it() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut hub, kiosk, staff_badge, manager_badge, other_store_badge, new_badge) = rt.block_on(async {
        let hub = TestHub::start(SeedOptions { stores: 2, customers: 200, products: 80, orders: 30, seed: 9 }).await;
        // A colleague HR just added: a badge, no PIN yet.
        let new = hub.hub.add_staff(1, &StaffPut { name: "Zofia".into(), role: Role::Staff }).unwrap();
        let kiosk = Kiosk::new();
        kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
        kiosk.json(&["sync", "--once", "--json"]).await;
        let badge = |id: &str| hub.hub.sign_code(CodeKind::Staff, id, 3600).unwrap();
        let codes = (badge("S1-STAFF"), badge("S1-MGR"), badge("S2-STAFF"));
        (hub, kiosk, codes.0, codes.1, codes.2, new.badge)
    });
    rt.block_on(hub.stop()); // the desk works offline

    let store = LocalStore::open(&kiosk.data_dir(), &StoreConfig::default()).unwrap();
    let ready = store.orders(Some(OrderStatus::Ready)).unwrap();
    let placed = store.orders(Some(OrderStatus::Placed)).unwrap();
    let (ready, placed) = (ready.first().expect("a ready order in the seed").clone(), placed.first().expect("a placed order").clone());
    // The seeded store speaks Polish; the labels pressed below are English: the config's
    // language is the screens'.
    let cfg = Config { ui: omnikiosk::config::UiConfig { language: Some("en".into()), ..Default::default() }, ..Config::default() };
    let ui = KioskUi::new(store.clone(), UiSettings::from_config(&cfg), None).unwrap();
    // What the receipt printer is told: every handover, with who made it.
    let handovers = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(String, String)>::new()));
    let seen = handovers.clone();
    ui.on_handover(move |order, staff| seen.borrow_mut().push((order.id.clone(), staff.to_string())));
    ui.window().show().unwrap();

    // --- The shopper: "Collect an order", a wrong code, then the right one.
    press(&ui, "Collect an order");
    keypad(&ui, "pickup code", "000000", "OK");
    assert!(has_label(&ui, "We could not find an order with that code here. Please check it and try again."));
    keypad(&ui, "pickup code", &ready.pickup_code, "OK");
    assert!(has_label(&ui, "Thank you! A colleague is on the way."), "{:?}", labels(&ui));
    assert!(has_label(&ui, "You are next."));
    assert!(store.pending_ops(100).unwrap().iter().any(|o| o.name == "visit.checkin" && o.body["order_id"] == ready.id.as_str()));
    assert_eq!(store.waiting().unwrap().len(), 1, "the desk knows someone is waiting");
    // An order still being prepared says when, and checks nobody in.
    press(&ui, "Back");
    press(&ui, "Collect an order");
    keypad(&ui, "pickup code", &placed.pickup_code, "OK");
    assert!(has_label(&ui, "Your order is still being prepared."));
    assert_eq!(store.waiting().unwrap().len(), 1);
    press(&ui, "Back");
    // "Call staff" without a card.
    press(&ui, "Call staff");
    assert!(has_label(&ui, "We have called a colleague. Please wait here."), "nobody has taken it yet");
    press(&ui, "Back");

    // --- A badge of another store is not a colleague here.
    ui.scan(&other_store_badge);
    assert!(has_label(&ui, "Scan your loyalty card or app QR code"), "a foreign badge opens nothing");

    // --- Staff: the badge, typed into the window the way a keyboard-wedge scanner does it
    // (Shift pressed around each capital), then a wrong PIN, then the right one.
    type_into_window(&ui, &staff_badge);
    assert!(!labels_containing(&ui, "Enter your PIN.").is_empty(), "{:?}", labels(&ui));
    keypad(&ui, "PIN", "1111", "OK");
    assert!(has_label(&ui, "Wrong PIN. Tries left: 4"), "{:?}", labels_containing(&ui, "PIN"));
    keypad(&ui, "PIN", "1234", "OK");
    assert!(!labels_containing(&ui, "Pickup queue").is_empty(), "{:?}", labels(&ui));
    assert!(has_label(&ui, "Help requests · 1"), "the call for staff is on the desk");

    // The waiting shopper is under "Customer waiting".
    press(&ui, "Customer waiting");
    assert!(has_label(&ui, &format!("Open order {}", ready.id)), "{:?}", labels_containing(&ui, "Open order"));

    // Help requests show who asked; closing one empties the list.
    press(&ui, "Help requests · 1");
    assert!(!labels_containing(&ui, "A shopper without a card").is_empty(), "{:?}", labels(&ui));
    let done = labels_containing(&ui, "Done with request").pop().unwrap();
    press(&ui, &done);
    assert!(has_label(&ui, "Nobody is asking for help."));
    press(&ui, "Back to queue");

    // --- Picking a new order: one line short, which needs a reason.
    press(&ui, "New");
    press(&ui, &format!("Open order {}", placed.id));
    for line in &placed.lines {
        press(&ui, &format!("Picked {}", line.name));
    }
    let short_line = &placed.lines[0];
    press(&ui, &format!("One less {}", short_line.name));
    press(&ui, "Ready");
    assert!(has_label(&ui, "Some items are short: choose why first."), "{:?}", labels(&ui));
    assert!(store.pending_ops(100).unwrap().iter().all(|o| o.body["order_id"] != placed.id.as_str()), "nothing half applied");
    press(&ui, "Out of stock");
    press(&ui, "Ready");
    assert!(has_label(&ui, &format!("Order {} is ready for pickup.", placed.id)), "{:?}", labels(&ui));
    let now_ready = store.order(&placed.id).unwrap().unwrap();
    assert_eq!(now_ready.status, OrderStatus::Ready);
    assert_eq!(now_ready.lines[0].picked, Some(short_line.qty - 1), "the short pick is recorded");

    // --- Handover of the waiting shopper's order: wrong code, then the right one.
    press(&ui, "Customer waiting");
    press(&ui, &format!("Open order {}", ready.id));
    press(&ui, "Hand over");
    let wrong = if ready.pickup_code == "999999" { "999998" } else { "999999" };
    keypad(&ui, "pickup code", wrong, "Check");
    assert!(has_label(&ui, &format!("That is not the pickup code of order {}. Nothing was handed over.", ready.id)));
    assert_eq!(store.order(&ready.id).unwrap().unwrap().status, OrderStatus::Ready);
    assert!(handovers.borrow().is_empty(), "no receipt for a refused handover");
    keypad(&ui, "pickup code", &ready.pickup_code, "Check");
    assert!(has_label(&ui, &format!("Order {} collected. Thank you!", ready.id)), "{:?}", labels(&ui));
    assert_eq!(store.order(&ready.id).unwrap().unwrap().status, OrderStatus::Collected);
    assert_eq!(*handovers.borrow(), [(ready.id.clone(), "S1-STAFF".to_string())], "one receipt, for this order");
    assert!(store.waiting().unwrap().is_empty(), "a collected order has nobody waiting");
    assert!(!has_label(&ui, "Manager"), "a colleague has no manager view");
    press(&ui, "Sign out");
    assert!(has_label(&ui, "Scan your loyalty card or app QR code"));
    assert_eq!(ui.window().global::<StaffAdapter>().get_queue().row_count(), 0, "signing out clears the queue");

    // --- The manager: counts, feedback and sync health.
    ui.scan(&manager_badge);
    keypad(&ui, "PIN", "9999", "OK");
    assert!(has_label(&ui, "Store manager"), "{:?}", labels(&ui));
    let m = ui.window().global::<ManagerAdapter>();
    let ready_now = store.orders(Some(OrderStatus::Ready)).unwrap().len();
    assert!(has_label(&ui, &format!("Ready: {ready_now}")), "{:?}", labels_containing(&ui, ":"));
    assert!(has_label(&ui, "Customer waiting: 0"));
    assert!(has_label(&ui, "Today's NPS: –"), "no answers yet today");
    assert_eq!(m.get_outbox() as u64, store.outbox_stats().unwrap().pending, "the ops made offline are waiting");
    assert!(!m.get_online() || store.sync_state().unwrap().last_error.is_none());
    press(&ui, "Orders queue");
    assert!(!labels_containing(&ui, "Pickup queue").is_empty());
    press(&ui, "Manager");
    assert!(has_label(&ui, "Store manager"));

    // --- Left alone, the manager is signed out and nothing of the view stays.
    for _ in 0..121 {
        i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(1));
    }
    assert!(has_label(&ui, "Scan your loyalty card or app QR code"));
    assert_eq!(ui.window().global::<StaffAdapter>().get_staff_name(), "");

    // --- Five wrong PINs lock the badge for five minutes, even for the right PIN.
    ui.scan(&staff_badge);
    for attempt in 1..=5 {
        keypad(&ui, "PIN", "0000", "OK");
        if attempt < 5 {
            assert!(has_label(&ui, &format!("Wrong PIN. Tries left: {}", 5 - attempt)));
        }
    }
    assert!(!labels_containing(&ui, "this badge is locked until").is_empty(), "{:?}", labels(&ui));
    assert!(!has_label(&ui, "PIN 1"), "no PIN pad while locked");
    // Scanning the badge again does not reset the lock.
    press(&ui, "Cancel");
    ui.scan(&staff_badge);
    assert!(!labels_containing(&ui, "this badge is locked until").is_empty());
    // The lock is in the store: the right PIN is refused until it runs out.
    let now = omnikiosk::clock::unix_now();
    assert!(matches!(store.verify_pin("S1-STAFF", "1234", now).unwrap(), omnikiosk::store::PinCheck::Locked { .. }));
    assert!(matches!(
        store.verify_pin("S1-STAFF", "1234", now + 5 * 60 + 1).unwrap(),
        omnikiosk::store::PinCheck::Accepted(_)
    ));

    // --- The new colleague chooses their PIN at the pad, offline: a trivial one is
    // refused, a second typing that differs starts again, then they are signed in.
    press(&ui, "Cancel");
    ui.scan(&new_badge);
    assert!(has_label(&ui, "Hello, Zofia. Choose your PIN: 4 to 6 digits."), "{:?}", labels_containing(&ui, "PIN"));
    keypad(&ui, "PIN", "1234", "OK");
    assert!(has_label(&ui, "That PIN is too easy to guess (like 0000 or 1234). Choose another."), "{:?}", labels(&ui));
    keypad(&ui, "PIN", "2580", "OK");
    assert!(has_label(&ui, "Type it again."));
    keypad(&ui, "PIN", "2581", "OK");
    assert!(has_label(&ui, "The two PINs were not the same. Choose your PIN again."));
    keypad(&ui, "PIN", "2580", "OK");
    keypad(&ui, "PIN", "2580", "OK");
    assert_eq!(ui.window().global::<StaffAdapter>().get_staff_name(), "Zofia");
    assert!(store.pending_ops(1000).unwrap().iter().any(|o| o.name == "staff.set_pin"));

    // --- Zofia forgot her PIN: the manager resets it (offline), after confirming. The
    // manager's own PIN is not offered; Zofia chooses a new one at her next scan.
    press(&ui, "Sign out");
    ui.scan(&manager_badge);
    keypad(&ui, "PIN", "9999", "OK");
    assert!(has_label(&ui, "Store manager"));
    assert!(has_label(&ui, "Zofia · Pickup desk · PIN set"), "{:?}", labels_containing(&ui, "Zofia"));
    assert!(!has_label(&ui, "Reset PIN of Marek"), "not the manager's own");
    press(&ui, "Reset PIN of Zofia");
    let question = "Reset the PIN of Zofia? They choose a new PIN at their next badge scan, at every device of the store.";
    assert!(has_label(&ui, question), "{:?}", labels_containing(&ui, "Reset"));
    press(&ui, "Keep PIN");
    assert!(!has_label(&ui, question));
    assert!(!store.pending_ops(1000).unwrap().iter().any(|o| o.name == "staff.reset_pin"), "kept: nothing recorded");
    press(&ui, "Reset PIN of Zofia");
    press(&ui, "Confirm PIN reset");
    assert!(has_label(&ui, "PIN reset: Zofia chooses a new PIN at the next badge scan."), "{:?}", labels_containing(&ui, "PIN"));
    assert!(has_label(&ui, "Zofia · Pickup desk · chooses a PIN at the next badge scan"));
    assert!(store.pending_ops(1000).unwrap().iter().any(|o| o.name == "staff.reset_pin" && o.body["staff_id"] == "S1-MGR"));
    press(&ui, "Sign out");
    ui.scan(&new_badge);
    assert!(has_label(&ui, "Hello, Zofia. Choose your PIN: 4 to 6 digits."), "{:?}", labels_containing(&ui, "PIN"));
}
