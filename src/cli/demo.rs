//! The demo (`cargo run --release` with nothing set up): an embedded hub on loopback with
//! a seeded chain, this kiosk enrolled to store 1, and the online channel doing what a web
//! shop does. With a display the kiosk window opens, with a panel of sample shoppers and
//! badges instead of a scanner, while the simulated online shop changes carts and places
//! and cancels orders; without one (or with OMNIKIOSK_HEADLESS=1) it runs in the terminal,
//! takes the network away and shows the kiosk answering from its local store.
//!
//! `demo --devices N` (up to 3) enrols more kiosks of store 1 — the entrance, the pickup
//! desk, a staff tablet — each with its own data dir and window, all syncing through the
//! same hub, so a check-in, a call for staff and an NPS answer can be seen travelling
//! between them; headless, a short script shows the same.

use std::path::Path;
use std::time::{Duration, Instant};

use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::gtin::LoyaltyCard;
use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::{CartLine, CartPut, CustomerUpsert, IdentifiersPut, OrderCreate};
use tokio::sync::{oneshot, watch};

use super::{print, sync_once, CmdResult, Failure};
use crate::clock::unix_now;
use crate::config::Config;
use crate::resolve::resolve_scan;
use crate::store::LocalStore;
use crate::sync;

/// Online-shop actions per minute while the demo window is open.
const DEMO_CHANNEL_RATE: f64 = 12.0;

/// Marks a folder as the demo's own, so a rerun may wipe it and nothing else.
const MARKER: &str = ".omnikiosk-demo";

/// Where the demo's kiosks of store 1 stand, in the order `--devices` adds them.
const DEVICE_LABELS: [&str; 3] = ["entrance", "pickup desk", "staff tablet"];

/// One of the demo's kiosks: its store, its link to the hub, its sync daemon.
struct DemoKiosk {
    label: &'static str,
    store: LocalStore,
    client: sync::HubClient,
    daemon: tokio::task::JoinHandle<()>,
}

pub async fn run(data_dir: &Path, cfg: &Config, devices: u8) -> CmdResult {
    let root = data_dir.with_file_name(format!(
        "{}-demo",
        data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "omnikiosk".into())
    ));
    if root.exists() {
        if !root.join(MARKER).exists() {
            return Err(Failure { message: format!("{} exists and is not a demo folder; not touching it", root.display()), code: 1 });
        }
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join(MARKER), "Omnikiosk demo data; rebuilt by every demo run.\n")?;

    say("Omnikiosk demo: a hub with a living store, and this kiosk enrolled to store 1.");
    let hub = Hub::open(&format!("sqlite:{}", root.join("hub.db").display()))?;
    let h = hub.clone();
    let t = Instant::now();
    let seeded = tokio::task::spawn_blocking(move || h.seed(&SeedOptions::default())).await??;
    say(&format!(
        "hub: seeded a chain in {} ms — {}",
        t.elapsed().as_millis(),
        serde_json::to_string(&seeded.counts)?
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_hub, hub_stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(omnikiosk_hub::serve(hub.clone(), listener, ServeConfig::default(), async {
        let _ = hub_stopped.await;
    }));
    say(&format!("hub: listening on {url}"));

    // Each kiosk long-polls from its first sync on, like the real app.
    let (stop_sync, sync_stopped) = watch::channel(false);
    let mut kiosks = Vec::new();
    for (n, label) in DEVICE_LABELS.iter().take(usize::from(devices.clamp(1, 3))).enumerate() {
        // The first kiosk keeps the folder it always had, so its hints below still hold.
        let dir = if n == 0 { root.join("kiosk") } else { root.join(format!("kiosk-{}", n + 1)) };
        kiosks.push(enrolled_kiosk(&hub, &url, &dir, label, cfg, sync_stopped.clone()).await?);
    }
    let (store, client) = (kiosks[0].store.clone(), kiosks[0].client.clone());

    say("\nonline shop: Anna Kowalska signs up, fills her cart and orders for pickup at store 1");
    let shelf = store.products_in_stock(3)?;
    let anna = "C-DEMO-ANNA";
    let card = LoyaltyCard::generate(&cfg.scan.loyalty_prefix, 990_001);
    hub.upsert_customer(
        anna,
        &CustomerUpsert {
            first_name: "Anna".into(),
            last_name: "Kowalska".into(),
            tier: "gold".into(),
            home_store: Some(1),
            language: "pl".into(),
            email: Some("anna@example.com".into()),
        },
    )?;
    hub.put_identifiers(anna, &IdentifiersPut { loyalty_cards: vec![card.as_str().to_string()] })?;
    let lines: Vec<CartLine> =
        shelf.iter().enumerate().map(|(i, p)| CartLine { sku: p.product.sku.clone(), qty: 1 + i as i64 }).collect();
    hub.put_cart(anna, &CartPut { lines: lines.clone() })?;
    let placed = Instant::now();
    let order = hub.place_order(&OrderCreate {
        customer_id: anna.into(),
        store_id: 1,
        lines: lines[..1].to_vec(),
        promised_ready_at: Some(unix_now() + 3600),
    })?;
    let arrived = wait_for(|| Ok(store.order(&order.order.id)?.is_some()), Duration::from_secs(5)).await?;
    match arrived {
        true => say(&format!(
            "kiosk: order {} (pickup code {}) reached the store queue {} ms after it was placed",
            order.order.id,
            order.order.pickup_code,
            placed.elapsed().as_millis()
        )),
        false => say("kiosk: the order has not arrived within 5 s (is the machine very busy?)"),
    }

    let qr = hub.sign_code(CodeKind::Customer, anna, 30 * 86400)?;
    say("\nshopper scans her app QR code at the kiosk:");
    show(&store, Some(&client), cfg, &qr).await;

    if display_available() {
        let mut codes = demo_codes(&hub, &seeded, ("Anna Kowalska", card.as_str()))?;
        // A product on the shelf: scanned on a shopper's screen, it is saved for later.
        if let Some(p) = shelf.last() {
            codes.push((format!("product · {} (scan on a shopper's screen: save for later)", p.product.name), p.product.sku.clone()));
        }
        say(&format!(
            "\nthe kiosk window is open. Tap \"Demo: pick a shopper or badge\" on its idle screen, or type a code and Enter as a scanner would:\n  {}",
            codes.iter().map(|(label, code)| format!("{label}: {code}")).collect::<Vec<_>>().join("\n  ")
        ));
        crate::ui::display::select(&cfg.display).map_err(|message| Failure { message, code: 1 })?;
        let mut windows = Vec::new();
        for (n, k) in kiosks.iter().enumerate() {
            let ui = crate::ui::KioskUi::new(
                k.store.clone(),
                crate::ui::UiSettings::from_config(cfg),
                Some((k.client.clone(), tokio::runtime::Handle::current())),
            )
            .map_err(|e| Failure { message: format!("cannot open the kiosk window: {e}"), code: 1 })?;
            ui.set_demo_codes(&codes);
            if kiosks.len() > 1 {
                ui.set_title(&format!("Omnikiosk — store 1, {}", k.label));
                // Side by side, each at the smallest kiosk size, so every screen shows at once.
                use slint::ComponentHandle;
                let w = ui.window().window();
                w.set_size(slint::LogicalSize::new(800.0, 480.0));
                w.set_position(slint::LogicalPosition::new(n as f32 * 810.0, n as f32 * 60.0));
            }
            windows.push(ui);
        }
        if kiosks.len() > 1 {
            say(&format!(
                "\n{} kiosk windows of store 1 ({}): check in, call staff or rate at one, and watch the other's desk, help list and manager view (staff badge, then manager badge).",
                kiosks.len(),
                kiosks.iter().map(|k| k.label).collect::<Vec<_>>().join(", ")
            ));
        }
        // The web shop keeps living while the window is open: carts change, orders are
        // placed and cancelled every few seconds, and reach this kiosk's queue by sync.
        let channel = omnikiosk_hub::simulate::spawn(
            hub.clone(),
            omnikiosk_hub::simulate::SimulateOptions { rate_per_min: DEMO_CHANNEL_RATE, seed: 1, count: None },
            |action| say(&format!("online shop: {action}")),
        )
        .map_err(|e| Failure { message: format!("cannot start the online shop: {e}"), code: 1 })?;
        let result = match windows.as_slice() {
            [ui] => ui.run(),
            many => many.iter().try_for_each(|ui| ui.show()).and_then(|()| slint::run_event_loop()),
        };
        let _ = channel.stop();
        let _ = stop_sync.send(true);
        for k in kiosks {
            let _ = k.daemon.await;
        }
        let _ = stop_hub.send(());
        let _ = server.await;
        return result.map_err(|e| Failure { message: format!("the kiosk window failed: {e}"), code: 1 });
    }

    if let [entrance, desk, ..] = kiosks.as_slice() {
        between_devices(entrance, desk, cfg).await?;
    }

    say("\nthe network goes down (the hub stops answering)");
    let _ = stop_sync.send(true);
    for k in kiosks {
        let _ = k.daemon.await;
    }
    let _ = stop_hub.send(());
    let _ = server.await;
    say("shopper scans her loyalty card — answered from the local store:");
    show(&store, Some(&client), cfg, card.as_str()).await;
    let stranger = seeded.stores.iter().find(|s| s.store_id != 1).and_then(|s| s.customers.first()).cloned();
    if let Some(stranger) = stranger {
        let code = hub.sign_code(CodeKind::Customer, &stranger.id, 3600)?;
        say("a shopper from another store scans in:");
        show(&store, Some(&client), cfg, &code).await;
    }

    let dir = root.join("kiosk");
    say(&format!(
        "\ndone. The kiosk's data is in {d}; try:\n  omnikiosk --data-dir {d} status\n  omnikiosk --data-dir {d} orders --status ready\n  omnikiosk --data-dir {d} scan {card}",
        d = dir.display(),
        card = card.as_str()
    ));
    Ok(())
}

/// A kiosk of store 1 at `dir`, enrolled to the demo's hub, its first sync done and its
/// sync daemon running until `stop`.
async fn enrolled_kiosk(
    hub: &Hub,
    url: &str,
    dir: &Path,
    label: &'static str,
    cfg: &Config,
    stop: watch::Receiver<bool>,
) -> Result<DemoKiosk, Failure> {
    let store = LocalStore::open(dir, &cfg.store)?;
    let token = hub.add_device(1, label)?;
    let e = sync::enroll(&store, url, &token, sync::Trust::default(), &cfg.sync).await?;
    say(&format!("kiosk ({label}): enrolled as {} of store {} ({})", e.device_id, e.store_id, e.store_name));
    let t = Instant::now();
    let first = sync_once(&store, cfg).await?;
    let counts = store.counts()?;
    say(&format!(
        "kiosk ({label}): first sync took {:.2} s — {} changes; cached {} customers, {} products, {} orders",
        t.elapsed().as_secs_f64(),
        first.pulled.changes,
        counts.customers,
        counts.products,
        counts.orders
    ));
    let client = sync::client_for(&e, &cfg.sync)?;
    let daemon = tokio::spawn(sync::run_daemon(store.clone(), client.clone(), cfg.sync.clone(), stop, |_| {}));
    Ok(DemoKiosk { label, store, client, daemon })
}

/// The headless script of `--devices 2`: a check-in at the entrance waits at the desk, a
/// call for staff raised at the entrance is taken at the desk and the entrance says who
/// is coming, and an NPS answer at the desk counts at the entrance. Each only through the
/// hub, by the kiosks' own sync daemons.
async fn between_devices(entrance: &DemoKiosk, desk: &DemoKiosk, cfg: &Config) -> Result<(), Failure> {
    let (a, b) = (&entrance.store, &desk.store);
    let record = |store: &LocalStore, op: OpBody| store.record_op(op, &cfg.loyalty, unix_now()).map_err(|e| Failure { message: e.to_string(), code: 1 });
    let travelled = |what: &str, t: Instant, arrived: bool| match arrived {
        true => say(&format!("  ({what} in {} ms)", t.elapsed().as_millis())),
        false => say(&format!("  ({what}: not within 5 s — is the machine very busy?)")),
    };
    say(&format!("\ntwo kiosks of store 1: the {} and the {}", entrance.label, desk.label));

    let order = a.orders(Some(omnikiosk_protocol::wire::OrderStatus::Ready))?.into_iter().find(|o| !o.customer_id.is_empty());
    if let Some(order) = order {
        let name = a.customer(&order.customer_id)?.map(|c| c.first_name).unwrap_or_default();
        say(&format!("{}: {name} taps \"I'm here\" for order {}", entrance.label, order.id));
        record(a, OpBody::VisitCheckin { order_id: order.id.clone(), customer_id: order.customer_id.clone() })?;
        let t = Instant::now();
        let arrived = wait_for(|| Ok(b.waiting()?.iter().any(|w| w.order.id == order.id)), Duration::from_secs(5)).await?;
        for w in b.waiting()? {
            say(&format!("{}: customer waiting — {} · order {}", desk.label, w.first_name, w.order.id));
        }
        travelled("at the desk", t, arrived);
    }

    say(&format!("{}: a shopper taps \"Call staff\"", entrance.label));
    let request = record(a, OpBody::HelpRequest { customer_id: None })?.op_id;
    let t = Instant::now();
    let arrived = wait_for(|| Ok(b.open_help()?.iter().any(|h| h.id == request)), Duration::from_secs(5)).await?;
    say(&format!("{}: help requests — {}", desk.label, b.open_help()?.len()));
    travelled("at the desk", t, arrived);
    let staff = b.staff_member("S1-STAFF")?.map(|m| m.name).unwrap_or_else(|| "S1-STAFF".into());
    say(&format!("{}: {staff} taps \"On my way\"", desk.label));
    record(b, OpBody::HelpTake { request_id: request.clone(), staff_id: "S1-STAFF".into() })?;
    let t = Instant::now();
    let coming = || -> Result<Option<String>, Failure> {
        Ok(a.open_help()?.into_iter().find(|h| h.id == request).and_then(|h| h.taken_by_name))
    };
    let arrived = wait_for(|| Ok(coming()?.is_some()), Duration::from_secs(5)).await?;
    if let Some(name) = coming()? {
        say(&format!("{}: \"{name} is on the way.\"", entrance.label));
    }
    travelled("back at the entrance", t, arrived);

    say(&format!("{}: a shopper rates the visit 9", desk.label));
    let before = a.nps_since(0)?.answers;
    record(b, OpBody::FeedbackNps { score: 9, csat: None, customer_id: None })?;
    let t = Instant::now();
    let arrived = wait_for(|| Ok(a.nps_since(0)?.answers > before), Duration::from_secs(5)).await?;
    let nps = a.nps_since(0)?;
    say(&format!(
        "{}: the store's NPS — {} answers, score {}",
        entrance.label,
        nps.answers,
        nps.score().map(|s| format!("{s:+}")).unwrap_or_else(|| "–".into())
    ));
    travelled("at the entrance", t, arrived);
    Ok(())
}

/// What the demo panel offers instead of a scanner: store 1's sample shoppers' loyalty
/// cards (plus the shopper the demo created), and a staff and a manager badge with their
/// demo PINs in the label.
fn demo_codes(hub: &Hub, seeded: &omnikiosk_hub::SeedSummary, extra: (&str, &str)) -> Result<Vec<(String, String)>, Failure> {
    let mut codes = vec![(format!("{} · shopper with an order", extra.0), extra.1.to_string())];
    for s in seeded.stores.iter().filter(|s| s.store_id == 1) {
        let ready: Vec<&str> = s
            .orders
            .iter()
            .filter(|o| o.status == omnikiosk_protocol::wire::OrderStatus::Ready)
            .map(|o| o.customer_id.as_str())
            .collect();
        for c in &s.customers {
            let note = if ready.contains(&c.id.as_str()) { " · order ready" } else { "" };
            codes.push((format!("{} · shopper ({}){note}", c.name, c.language), c.loyalty_card.clone()));
        }
        for (who, staff) in [("staff badge", &s.staff), ("manager badge", &s.manager)] {
            let code = hub.sign_code(CodeKind::Staff, &staff.id, 30 * 86400)?;
            codes.push((format!("{} · {who} · PIN {}", staff.name, staff.pin), code));
        }
        for o in s.orders.iter().filter(|o| o.status == omnikiosk_protocol::wire::OrderStatus::Ready).take(1) {
            let code = hub.sign_code(CodeKind::Order, &o.id, 30 * 86400)?;
            codes.push((format!("order QR of {} · pickup code {}", o.id, o.pickup_code), code));
        }
    }
    Ok(codes)
}

/// A desktop session to open the window in (set OMNIKIOSK_HEADLESS=1 to stay in the terminal).
fn display_available() -> bool {
    std::env::var_os("OMNIKIOSK_HEADLESS").is_none_or(|x| x.is_empty()) && crate::ui::display::desktop_session()
}

fn say(line: &str) {
    super::out(line);
}

async fn show(store: &LocalStore, client: Option<&sync::HubClient>, cfg: &Config, code: &str) {
    let t = Instant::now();
    match resolve_scan(store, client, &cfg.scan.loyalty_prefix, code, unix_now()).await {
        Ok(outcome) => {
            let took = t.elapsed();
            say(&format!("{}\n  (answered in {took:?})", print::scan(&outcome)));
        }
        Err(e) => say(&format!("  → {e}")),
    }
}

async fn wait_for(mut done: impl FnMut() -> Result<bool, Failure>, within: Duration) -> Result<bool, Failure> {
    let start = Instant::now();
    while start.elapsed() < within {
        if done()? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(false)
}
