//! The demo (`cargo run --release` with nothing set up): an embedded hub on loopback with
//! a seeded chain, this kiosk enrolled to store 1, and the online channel doing what a web
//! shop does. With a display the kiosk window opens, with a panel of sample shoppers and
//! badges instead of a scanner, while the simulated online shop changes carts and places
//! and cancels orders; without one (or with OMNIKIOSK_HEADLESS=1) it runs in the terminal,
//! takes the network away and shows the kiosk answering from its local store.

use std::path::Path;
use std::time::{Duration, Instant};

use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::gtin::LoyaltyCard;
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

pub async fn run(data_dir: &Path, cfg: &Config) -> CmdResult {
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

    let store = LocalStore::open(&root.join("kiosk"), &cfg.store)?;
    let token = hub.add_device(1, "demo kiosk")?;
    let e = sync::enroll(&store, &url, &token, false, &cfg.sync).await?;
    say(&format!("kiosk: enrolled as {} of store {} ({})", e.device_id, e.store_id, e.store_name));
    let t = Instant::now();
    let first = sync_once(&store, cfg).await?;
    let counts = store.counts()?;
    say(&format!(
        "kiosk: first sync took {:.2} s — {} changes; cached {} customers, {} products, {} orders",
        t.elapsed().as_secs_f64(),
        first.pulled.changes,
        counts.customers,
        counts.products,
        counts.orders
    ));

    // The kiosk long-polls from here on, like the real app.
    let (stop_sync, sync_stopped) = watch::channel(false);
    let client = sync::client_for(&e, &cfg.sync)?;
    let daemon = tokio::spawn(sync::run_daemon(store.clone(), client.clone(), cfg.sync.clone(), sync_stopped, |_| {}));

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
        let codes = demo_codes(&hub, &seeded, ("Anna Kowalska", card.as_str()))?;
        say(&format!(
            "\nthe kiosk window is open. Tap \"Demo: pick a shopper or badge\" on its idle screen, or type a code and Enter as a scanner would:\n  {}",
            codes.iter().map(|(label, code)| format!("{label}: {code}")).collect::<Vec<_>>().join("\n  ")
        ));
        crate::ui::display::select(&cfg.display).map_err(|message| Failure { message, code: 1 })?;
        let ui = crate::ui::KioskUi::new(
            store.clone(),
            crate::ui::UiSettings::from_config(cfg),
            Some((client.clone(), tokio::runtime::Handle::current())),
        )
        .map_err(|e| Failure { message: format!("cannot open the kiosk window: {e}"), code: 1 })?;
        ui.set_demo_codes(&codes);
        // The web shop keeps living while the window is open: carts change, orders are
        // placed and cancelled every few seconds, and reach this kiosk's queue by sync.
        let channel = omnikiosk_hub::simulate::spawn(
            hub.clone(),
            omnikiosk_hub::simulate::SimulateOptions { rate_per_min: DEMO_CHANNEL_RATE, seed: 1, count: None },
            |action| say(&format!("online shop: {action}")),
        )
        .map_err(|e| Failure { message: format!("cannot start the online shop: {e}"), code: 1 })?;
        let result = ui.run();
        let _ = channel.stop();
        let _ = stop_sync.send(true);
        let _ = daemon.await;
        let _ = stop_hub.send(());
        let _ = server.await;
        return result.map_err(|e| Failure { message: format!("the kiosk window failed: {e}"), code: 1 });
    }

    say("\nthe network goes down (the hub stops answering)");
    let _ = stop_sync.send(true);
    let _ = daemon.await;
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
