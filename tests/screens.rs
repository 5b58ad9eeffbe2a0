//! Screenshots of every screen, compared with the references in `docs/screens/` (which the
//! README shows). Each screen is rendered by Slint's software renderer at each size below,
//! from a real kiosk store that a real hub filled with a seeded chain at a fixed time, so
//! the pixels are the same on every run and every machine with the same fonts.
//!
//! The fresh renders go to `target/screens/`. After a deliberate change to a screen, take
//! them as the new references:
//!
//!     OMNIKIOSK_UPDATE_SCREENS=1 cargo test -p omnikiosk --test screens
//!
//! Adding a screen is one entry in `SCREENS`: a name and how to get there from a fresh
//! kiosk window.

#[path = "support/enrol.rs"]
mod enrol;
#[path = "support/headless.rs"]
mod headless;

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::RgbaImage;
use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk::ui::{KioskUi, UiSettings};
use omnikiosk_hub::seed::{generate, SeedCustomer};
use omnikiosk_hub::{Hub, SeedOptions};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::wire::OrderStatus;
use slint::ComponentHandle;

/// One screen: its file name, and how a fresh kiosk window gets there (public controller
/// calls such as `ui.scan`, or clicks by accessible label with
/// `i_slint_backend_testing::ElementHandle::find_by_accessible_label(ui.window(), "…")
/// …invoke_accessible_default_action()`).
struct Screen {
    name: &'static str,
    setup: fn(&KioskUi, &Fixture),
}

const SCREENS: &[Screen] = &[
    Screen { name: "attract", setup: |_, _| {} },
    Screen { name: "shopper-pl", setup: |ui, f| ui.scan(&f.polish_shopper.card) },
    Screen {
        name: "pickup-checkin",
        setup: |ui, f| {
            press(ui, "Collect an order");
            for d in f.ready_pickup_code.chars() {
                press(ui, &format!("pickup code {d}"));
            }
            press(ui, "pickup code OK");
        },
    },
    Screen { name: "call-staff", setup: |ui, _| press(ui, "Call staff") },
    Screen { name: "staff-pin", setup: |ui, f| ui.scan(&f.staff_badge) },
    Screen { name: "staff-queue", setup: |ui, f| sign_in(ui, &f.staff_badge, "1234") },
    Screen {
        name: "staff-order",
        setup: |ui, f| {
            sign_in(ui, &f.staff_badge, "1234");
            press(ui, &format!("Open order {}", f.new_order));
            press(ui, &format!("Picked {}", f.new_order_first_line));
        },
    },
    Screen { name: "manager", setup: |ui, f| sign_in(ui, &f.manager_badge, "9999") },
];

/// Presses the control with this accessible label, as a finger would.
fn press(ui: &KioskUi, label: &str) {
    i_slint_backend_testing::ElementHandle::find_by_accessible_label(ui.window(), label)
        .next()
        .unwrap_or_else(|| panic!("no control labelled {label:?}"))
        .invoke_accessible_default_action();
}

/// Scans a badge and types its PIN on the pad.
fn sign_in(ui: &KioskUi, badge: &str, pin: &str) {
    ui.scan(badge);
    for d in pin.chars() {
        press(ui, &format!("PIN {d}"));
    }
    press(ui, "PIN OK");
}

/// The official Pi touch display (landscape and portrait) and a 10" tablet.
const SIZES: &[(u32, u32)] = &[(800, 480), (1280, 800), (480, 800)];

/// The seeded chain's clock: every time on screen (promised-ready times) follows from it.
const SEEDED_AT: i64 = 1_800_000_000;

/// A pixel differs when one of its channels is off by more than this…
const CHANNEL_TOLERANCE: u8 = 32;
/// …and a screen matches its reference while under this share of its pixels differ
/// (room for anti-aliasing, not for a moved word).
const MAX_DIFFERING: f64 = 0.005;

/// What every screen is rendered from.
struct Fixture {
    /// Store 1's kiosk, enrolled and synced, closed: each render opens its own copy, so
    /// no screen sees what another one did (queued ops, check-ins).
    kiosk: tempfile::TempDir,
    /// A Polish shopper of store 1 with a cart, an order ready for pickup and one being
    /// prepared.
    polish_shopper: SeedCustomer,
    /// The pickup code of that shopper's ready order.
    ready_pickup_code: String,
    /// Store 1's staff and manager badges (signed codes).
    staff_badge: String,
    manager_badge: String,
    /// The first order under the queue's "New" tab, and the name of its first line.
    new_order: String,
    new_order_first_line: String,
}

impl Fixture {
    fn build() -> Fixture {
        let hub_dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&format!("sqlite:{}", hub_dir.path().join("hub.db").display())).unwrap();
        // More orders per customer than the demo, so a shopper has one of each kind.
        let (data, _) = generate(&SeedOptions { customers: 500, orders: 500, ..SeedOptions::default() }, SEEDED_AT);
        hub.seed_data(data.clone()).unwrap();
        let token = hub.add_device(1, "screens").unwrap();
        // Valid at the fixed clock the screens run on, whenever the test runs.
        let badge = |id: &str| hub.sign_code(CodeKind::Staff, id, 3650 * 86_400).unwrap();
        let (staff_badge, manager_badge) = (badge("S1-STAFF"), badge("S1-MGR"));

        let kiosk = tempfile::tempdir().unwrap();
        enrol::synced_store(hub, &token, kiosk.path());

        let orders_of = |c: &SeedCustomer, wanted: &[OrderStatus]| {
            data.orders.iter().filter(|(o, _)| o.customer_id == c.id && o.store_id == 1 && wanted.contains(&o.status)).count()
        };
        let polish_shopper = data
            .customers
            .iter()
            .find(|c| {
                c.language == "pl"
                    && c.home_store == 1
                    && c.cart.len() >= 2
                    && orders_of(c, &[OrderStatus::Ready]) > 0
                    && orders_of(c, &[OrderStatus::Placed, OrderStatus::Picking]) > 0
            })
            .expect("the seeded chain has a Polish shopper of store 1 with a cart, a ready and an open order")
            .clone();
        let ready_pickup_code = data
            .orders
            .iter()
            .find(|(o, _)| o.customer_id == polish_shopper.id && o.store_id == 1 && o.status == OrderStatus::Ready)
            .map(|(o, _)| o.pickup_code.clone())
            .unwrap();
        // The last pull happened at the chain's moment too (the manager screen shows it).
        let db = rusqlite::Connection::open(kiosk.path().join(omnikiosk::store::DB_FILE)).unwrap();
        db.execute("UPDATE meta SET value = ?1 WHERE key = 'last_pull_at'", [SEEDED_AT.to_string()]).unwrap();
        drop(db);
        let store = LocalStore::open(kiosk.path(), &StoreConfig::default()).unwrap();
        let first_new = store.orders(Some(OrderStatus::Placed)).unwrap().into_iter().next().expect("a new order in store 1");
        drop(store);
        Fixture {
            kiosk,
            polish_shopper,
            ready_pickup_code,
            staff_badge,
            manager_badge,
            new_order: first_new.id.clone(),
            new_order_first_line: first_new.lines[0].name.clone(),
        }
    }

    /// A private copy of the kiosk's data directory.
    fn kiosk_copy(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(self.kiosk.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
            }
        }
        copy
    }
}

fn render(platform: &headless::Headless, fixture: &Fixture, screen: &Screen, (width, height): (u32, u32)) -> RgbaImage {
    let data = fixture.kiosk_copy();
    let store = LocalStore::open(data.path(), &StoreConfig::default()).unwrap();
    // The seeded chain's moment: lateness, waiting times and "today" do not drift.
    // The references are English (the config's language), the seeded store's times local
    // in its zone (Europe/Warsaw).
    let settings = UiSettings { clock: || SEEDED_AT, language: Some("en".into()), ..UiSettings::from_config(&Config::default()) };
    let ui = KioskUi::new(store, settings, None).unwrap();
    // A shopper's session switches the language for the whole process; every screen
    // starts from the idle screen's English (selectable once a window has bundled them).
    slint::select_bundled_translation("en").unwrap();
    ui.window().window().set_size(slint::PhysicalSize::new(width, height));
    ui.window().show().unwrap();
    (screen.setup)(&ui, fixture);
    // Let timers that are already due fire (none are: the clock stands still, so the
    // shopper's countdown shows its full 45 s).
    platform.advance(Duration::ZERO);
    let shot = ui.window().window().take_snapshot().unwrap();
    ui.window().hide().unwrap();
    RgbaImage::from_raw(shot.width(), shot.height(), shot.as_bytes().to_vec()).unwrap()
}

/// How a render differs from its reference: the pixels over the tolerance, and a picture
/// of where (the reference faded, differing pixels in red).
fn compare(fresh: &RgbaImage, reference: &RgbaImage) -> (usize, RgbaImage) {
    let mut diff = RgbaImage::new(fresh.width(), fresh.height());
    let mut differing = 0;
    for ((a, b), d) in fresh.pixels().zip(reference.pixels()).zip(diff.pixels_mut()) {
        let off = a.0.iter().zip(b.0.iter()).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        *d = if off > CHANNEL_TOLERANCE {
            differing += 1;
            image::Rgba([255, 0, 0, 255])
        } else {
            let grey = b.0[..3].iter().map(|&c| u32::from(c)).sum::<u32>() / 3;
            let faded = (255 - (255 - grey) / 4) as u8;
            image::Rgba([faded, faded, faded, 255])
        };
    }
    (differing, diff)
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens")
}

fn output_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp; the renders go beside it.
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("screens")
}

#[test]
fn every_screen_matches_its_reference_at_every_size() {
    let platform = headless::Headless::install();
    let fixture = Fixture::build();
    let update = std::env::var_os("OMNIKIOSK_UPDATE_SCREENS").is_some_and(|v| v == "1");
    let (out, refs) = (output_dir(), reference_dir());
    std::fs::create_dir_all(&out).unwrap();
    let mut failures = Vec::new();
    for screen in SCREENS {
        for &(width, height) in SIZES {
            let file = format!("{}-{width}x{height}.png", screen.name);
            let diff_file = out.join(format!("{}-{width}x{height}-diff.png", screen.name));
            let _ = std::fs::remove_file(&diff_file); // from an earlier failure
            let fresh = render(&platform, &fixture, screen, (width, height));
            fresh.save(out.join(&file)).unwrap();
            if update {
                std::fs::create_dir_all(&refs).unwrap();
                fresh.save(refs.join(&file)).unwrap();
                println!("{file}: reference updated");
                continue;
            }
            let reference = match image::open(refs.join(&file)) {
                Ok(r) => r.to_rgba8(),
                Err(e) => {
                    failures.push(format!("{file}: no reference in docs/screens ({e})"));
                    continue;
                }
            };
            if reference.dimensions() != fresh.dimensions() {
                failures.push(format!("{file}: the reference is {:?}, the render {:?}", reference.dimensions(), fresh.dimensions()));
                continue;
            }
            let (differing, diff) = compare(&fresh, &reference);
            let share = differing as f64 / f64::from(width * height);
            println!("{file}: {differing} pixels differ ({:.3} %)", share * 100.0);
            if share >= MAX_DIFFERING {
                diff.save(&diff_file).unwrap();
                failures.push(format!(
                    "{file}: {:.2} % of pixels differ (at most {:.2} % may); render {}, differences in red: {}",
                    share * 100.0,
                    MAX_DIFFERING * 100.0,
                    out.join(&file).display(),
                    diff_file.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "screens differ from docs/screens:\n  {}\nIf the change is meant, take the renders as references: \
         OMNIKIOSK_UPDATE_SCREENS=1 cargo test -p omnikiosk --test screens",
        failures.join("\n  ")
    );
}
