//! Spine benchmarks (figures, not pass/fail): scan → shopper data with N customers cached,
//! and the first sync of a large store over real HTTP next to a plain SQLite bulk insert
//! of the same rows in the same run.
//!
//!     cargo bench --bench spine                         # the budgets' sizes
//!     cargo bench --bench spine -- --customers 100000 --sync-customers 20000 --sync-products 5000 --sync-orders 500
//!
//! Results go to BENCHMARKS.md by hand, with the machine.

mod support;
use support::{percentile};

use std::time::{Duration, Instant};

use omnikiosk::config::StoreConfig;
use omnikiosk::resolve::resolve_scan;
use omnikiosk::store::LocalStore;
use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::code::CodeKind;
use rand::{Rng, SeedableRng};

struct Args {
    customers: usize,
    sync_customers: usize,
    sync_products: usize,
    sync_orders: usize,
    samples: usize,
    /// The kiosk's pull page size while catching up (its `[sync] catch_up_page_size`): a
    /// first sync is a catch-up.
    page: u32,
    /// Also time the first sync's two halves on their own: fetching every page with no
    /// apply, and applying the fetched pages with no HTTP.
    parts: bool,
}

fn args() -> Args {
    let page = omnikiosk::config::SyncConfig::default().catch_up_page_size;
    let mut a = Args { customers: 1_000_000, sync_customers: 200_000, sync_products: 50_000, sync_orders: 5_000, samples: 20_000, page, parts: false };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let val = || argv.get(i + 1).and_then(|v| v.parse().ok()).expect("a number after the flag");
        match argv[i].as_str() {
            "--customers" => a.customers = val(),
            "--sync-customers" => a.sync_customers = val(),
            "--sync-products" => a.sync_products = val(),
            "--sync-orders" => a.sync_orders = val(),
            "--samples" => a.samples = val(),
            "--page" => a.page = val() as u32,
            "--parts" => {
                a.parts = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("# omnikiosk spine benchmarks");
    scan_bench(&rt, &a);
    first_sync_bench(&rt, &a);
}

/// Fills a kiosk store through the real page-apply path with `n` customers (each with a
/// loyalty card, every other one a 3-line cart, every 50th an order), then times scans.
fn scan_bench(rt: &tokio::runtime::Runtime, a: &Args) {
    let dir = tempfile::tempdir().unwrap();
    let key = support::hub_key();
    let fill = Instant::now();
    let store = support::fill_store(dir.path(), a.customers, a.customers / 50);
    let fill = fill.elapsed();
    let size = std::fs::metadata(store.path()).unwrap().len();
    println!("\n## scan → shopper data, {} customers cached", a.customers);
    println!("fill via apply_page: {:.1} s ({:.0} customers/s), database {:.0} MiB", fill.as_secs_f64(), a.customers as f64 / fill.as_secs_f64(), size as f64 / 1048576.0);

    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let now = omnikiosk::clock::unix_now();
    let qrs: Vec<String> = (0..a.samples)
        .map(|_| {
            let i = rng.gen_range(0..a.customers);
            omnikiosk_protocol::code::sign(
                &key,
                &omnikiosk_protocol::code::CodeClaims { kind: CodeKind::Customer, id: format!("C{i:07}"), iat: now, exp: now + 3600, version: 0 },
            )
        })
        .collect();
    let cards: Vec<String> = (0..a.samples).map(|_| support::card(rng.gen_range(0..a.customers))).collect();
    for (label, codes) in [("app QR (signature check + local read)", &qrs), ("loyalty card (local read)", &cards)] {
        let mut times = Vec::with_capacity(codes.len());
        rt.block_on(async {
            for code in codes.iter() {
                let t = Instant::now();
                let out = resolve_scan(&store, None, "042", code, now).await.unwrap();
                times.push(t.elapsed());
                std::hint::black_box(out);
            }
        });
        times.sort();
        println!(
            "{label}: p50 {:?}  p99 {:?}  max {:?}  ({} scans)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
            times.len()
        );
    }
    println!("process peak RSS: {} MiB", peak_rss_mib());
}

/// First sync of a one-store chain over real HTTP on loopback, and a plain SQLite bulk
/// insert of the same number of rows into the same kind of tables, in the same run.
fn first_sync_bench(rt: &tokio::runtime::Runtime, a: &Args) {
    println!(
        "\n## first sync: {} customers, {} products, {} orders",
        a.sync_customers, a.sync_products, a.sync_orders
    );
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::open(&format!("sqlite:{}", dir.path().join("hub.db").display())).unwrap();
    let t = Instant::now();
    hub.seed(&SeedOptions { stores: 1, customers: a.sync_customers, products: a.sync_products, orders: a.sync_orders, seed: 1 }).unwrap();
    println!("hub seed: {:.1} s", t.elapsed().as_secs_f64());
    let token = hub.add_device(1, "bench").unwrap();

    let (changes, secs) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(omnikiosk_hub::serve(hub.clone(), listener, ServeConfig::default(), async {
            let _ = stop_rx.await;
        }));
        let kdir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(kdir.path(), &StoreConfig::default()).unwrap();
        let cfg = omnikiosk::config::SyncConfig { catch_up_page_size: a.page, ..Default::default() };
        omnikiosk::sync::enroll(&store, &url, &token, Default::default(), &cfg).await.unwrap();
        let client = omnikiosk::sync::client_for(&store.require_enrolment().unwrap(), &cfg).unwrap();
        let t = Instant::now();
        let summary = omnikiosk::sync::pull_until_current(&store, &client, &cfg, Duration::ZERO, |_| {}).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!("kiosk counts: {:?}", store.counts().unwrap());
        if a.parts {
            sync_parts(&client, store.require_enrolment().unwrap(), a.page).await;
        }
        let _ = stop_tx.send(());
        let _ = server.await;
        (summary.changes, secs)
    });
    println!("first sync over HTTP (pages of {}): {changes} changes in {secs:.2} s = {:.0} rows/s", a.page, changes as f64 / secs);

    // The floor: the same number of rows straight into SQLite, one transaction, no HTTP,
    // no JSON, same pragmas.
    let bdir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(bdir.path().join("bulk.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;
         CREATE TABLE customers (id TEXT PRIMARY KEY, first_name TEXT, last_initial TEXT, tier TEXT, language TEXT, points INTEGER, home_store INTEGER) WITHOUT ROWID;
         CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, price_cents INTEGER, category TEXT) WITHOUT ROWID;",
    )
    .unwrap();
    let t = Instant::now();
    let rows = changes as usize;
    {
        let tx = conn.unchecked_transaction().unwrap();
        let mut ins_c = tx.prepare("INSERT INTO customers VALUES (?1, 'Anna', 'K', 'gold', 'pl', 100, 1)").unwrap();
        let mut ins_p = tx.prepare("INSERT INTO products VALUES (?1, 'Oat milk 1 l', 199, 'Dairy')").unwrap();
        for i in 0..rows {
            if i % 2 == 0 {
                ins_c.execute([format!("C{i:09}")]).unwrap();
            } else {
                ins_p.execute([format!("{i:013}")]).unwrap();
            }
        }
        drop((ins_c, ins_p));
        tx.commit().unwrap();
    }
    let bulk = t.elapsed().as_secs_f64();
    println!("plain SQLite bulk insert of {rows} rows: {bulk:.2} s = {:.0} rows/s", rows as f64 / bulk);
    println!("first sync / bulk insert: {:.1}× slower", secs / bulk);
}

/// The first sync's halves apart: every page fetched (HTTP, the hub's read, the kiosk's
/// parse) with nothing applied, then those pages applied to a fresh store with no HTTP.
async fn sync_parts(client: &omnikiosk::sync::HubClient, enrolment: omnikiosk::store::Enrolment, page: u32) {
    let t = Instant::now();
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let p = client.pull(&cursor, page, Duration::ZERO).await.unwrap();
        cursor = p.cursor.clone();
        let more = p.has_more;
        pages.push(p);
        if !more {
            break;
        }
    }
    println!("fetch alone: {} pages in {:.2} s", pages.len(), t.elapsed().as_secs_f64());
    // What a page weighs on the wire (the kiosk holds it and its parse, twice at most).
    let largest = pages.iter().map(|p| serde_json::to_vec(p).unwrap().len()).max().unwrap_or(0);
    println!("largest page: {} KiB of JSON", largest / 1024);
    let secs = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), &StoreConfig::default()).unwrap();
        store.save_enrolment(&enrolment).unwrap();
        let mut round = store.start_catch_up().unwrap();
        let t = Instant::now();
        for p in &pages {
            match &mut round {
                Some(r) => store.apply_catch_up_page(r, &p.changes, &p.cursor, 0).unwrap(),
                None => store.apply_page(&p.changes, &p.cursor, 0).unwrap(),
            };
        }
        t.elapsed().as_secs_f64()
    })
    .await
    .unwrap();
    println!("apply alone: {secs:.2} s");
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .unwrap_or(0)
        / 1024
}
