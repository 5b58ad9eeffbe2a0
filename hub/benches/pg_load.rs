//! The hub under a fleet (figures, not pass/fail): many kiosks long-polling while the
//! online channel writes at a steady rate (each write changes one customer of one store,
//! which wakes that store's kiosks). Reports writes asked and held, how fast a change
//! reaches every kiosk of its store (p50/p99), how long a catch-up pull takes, and each hub
//! process's CPU and memory. The hub runs as its own `omnikiosk-hub serve` process, on
//! SQLite or on a throwaway PostgreSQL cluster; on PostgreSQL `--hubs N` runs N processes
//! over the one database, as behind a load balancer: each store's kiosks and the channel's
//! writes are dealt round-robin over them, so a change must also reach kiosks long-polling
//! another process (which hears of it by LISTEN/NOTIFY).
//!
//!     cargo bench -p omnikiosk-hub --bench pg_load                       # PostgreSQL, 1 hub, 1,000 kiosks, 100 writes/s, 30 s
//!     cargo bench -p omnikiosk-hub --bench pg_load -- --db sqlite --kiosks 200 --rate 50 --secs 10
//!     cargo bench -p omnikiosk-hub --bench pg_load -- --hubs 2 --kiosks 3000 --rate 200 --secs 20
//!     (`--max-in-flight N` is passed to each hub: database jobs before it answers 429)

#[path = "../tests/support/hub_process.rs"]
mod hub_process;
#[path = "../tests/support/pg.rs"]
mod pg;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnikiosk_hub::{Hub, SeedOptions};
use omnikiosk_protocol::wire::{Change, PullResponse, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::json;

use hub_process::HubProcess;

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn arg_str(name: &str, default: &str) -> String {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v.get(((v.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or_default()
}

fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .unwrap_or(0)
        / 1024
}

fn main() {
    let kiosks = arg("--kiosks", 1000) as usize;
    let rate = arg("--rate", 100);
    let secs = arg("--secs", 30);
    let hubs = arg("--hubs", 1).max(1) as usize;
    let stores = (kiosks / 10).max(1);
    let db = arg_str("--db", "postgres");
    if db == "sqlite" && hubs > 1 {
        eprintln!("--hubs {hubs}: a SQLite hub is a single process (its database is that process's file); several hub processes need --db postgres");
        std::process::exit(2);
    }
    let dir = tempfile::tempdir().unwrap();
    let url = if db == "sqlite" {
        format!("sqlite:{}", dir.path().join("hub.db").display())
    } else {
        if !pg::available() {
            return;
        }
        pg::database()
    };
    let hub = Hub::open(&url).unwrap();
    hub.seed(&SeedOptions { stores, customers: stores * 50, products: 200, orders: stores * 2, seed: 8 }).unwrap();
    // Kiosk i is of store i % stores; each store's kiosks are dealt round-robin over the
    // hub processes (kiosk i / stores of its store long-polls process (i / stores) % hubs).
    let tokens: Vec<(usize, String)> =
        (0..kiosks).map(|i| ((i / stores) % hubs, hub.add_device((i % stores) as i64 + 1, "load").unwrap())).collect();
    drop(hub);

    let max_in_flight = arg("--max-in-flight", 512).to_string();
    let servers: Vec<HubProcess> = (0..hubs).map(|_| HubProcess::start(&url, &["--dev", "--max-in-flight", &max_in_flight])).collect();
    let processes = if hubs == 1 { "1 hub process".to_string() } else { format!("{hubs} hub processes") };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("# hub on {db} ({processes}) under load: {kiosks} kiosks in {stores} stores long-polling, {rate} channel writes/s for {secs} s");
    rt.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(kiosks + 10).build().unwrap();
        for s in &servers {
            s.ready(&http).await;
        }
        // Each kiosk: catch up, then long-poll; record when each customer change arrives
        // (and at which hub process).
        let arrivals: Arc<Mutex<Vec<(String, Instant, usize)>>> = Arc::default();
        let serve_times: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Kiosks that have caught up once (and long-poll from then on).
        let parked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut polls = Vec::new();
        for (at_hub, token) in tokens {
            let (http, base, arrivals, serve_times, stop, parked) =
                (http.clone(), servers[at_hub].base.clone(), arrivals.clone(), serve_times.clone(), stop.clone(), parked.clone());
            polls.push(tokio::spawn(async move {
                let mut cursor = String::new();
                let mut wait = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    let resp = http
                        .get(format!("{base}/v1/sync/pull?cursor={cursor}&limit=1000&wait={wait}"))
                        .bearer_auth(&token)
                        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                        .send()
                        .await;
                    let Ok(resp) = resp else { continue };
                    let Ok(page) = resp.json::<PullResponse>().await else { continue };
                    if wait == 0 {
                        serve_times.lock().unwrap().push(t.elapsed());
                    }
                    // A change may come in a long-poll's answer or, for a kiosk that fell
                    // behind, in a catch-up page: both are deliveries.
                    let now = Instant::now();
                    let mut a = arrivals.lock().unwrap();
                    for c in &page.changes {
                        if let Change::Customer(cu) = c {
                            if cu.id.starts_with("LOAD-") {
                                a.push((cu.id.clone(), now, at_hub));
                            }
                        }
                    }
                    drop(a);
                    cursor = page.cursor;
                    if !page.has_more && wait == 0 {
                        parked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    wait = if page.has_more { 0 } else { 20 };
                }
            }));
        }
        // Writes start once every kiosk has caught up and parked in its long-poll: the
        // start-up herd is measured apart (the non-waiting pulls), not mixed into delivery.
        let herd = Instant::now();
        while parked.load(std::sync::atomic::Ordering::Relaxed) < kiosks && herd.elapsed() < Duration::from_secs(180) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("start-up: {} of {kiosks} kiosks caught up in {:.1} s", parked.load(std::sync::atomic::Ordering::Relaxed), herd.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The online shop changes customers spread over the stores, each write on its own
        // (so a slow answer does not slow the rate asked) and through the hub processes in
        // turn; each wakes its store's kiosks.
        let sent: Arc<Mutex<Vec<(String, Instant, usize, usize)>>> = Arc::default();
        let start = Instant::now();
        let cpu_start: Vec<f64> = servers.iter().map(|s| cpu_secs(s.child.id())).collect();
        let mut asked = 0u64;
        let mut writes = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
        while start.elapsed() < Duration::from_secs(secs) {
            tick.tick().await;
            asked += 1;
            let n = asked as usize;
            let store = n % stores + 1;
            let customer = format!("LOAD-{n}");
            let body = json!({"first_name": "Load", "last_name": format!("Shopper{n}"), "tier": "silver", "home_store": store, "language": "pl"});
            let through = n % hubs;
            let (http, base, sent) = (http.clone(), servers[through].base.clone(), sent.clone());
            writes.push(tokio::spawn(async move {
                let t = Instant::now();
                let ok = http.put(format!("{base}/v1/customers/{customer}")).json(&body).send().await.map(|r| r.status().is_success());
                if ok.unwrap_or(false) {
                    sent.lock().unwrap().push((customer, t, through, store));
                }
            }));
        }
        let asked_secs = start.elapsed().as_secs_f64();
        for w in writes {
            let _ = w.await;
        }
        let cpu: Vec<f64> = servers.iter().zip(&cpu_start).map(|(s, start)| cpu_secs(s.child.id()) - start).collect();
        let sent = sent.lock().unwrap().clone();
        // Every kiosk of the written customer's store should have it (kiosk i is of store
        // i % stores + 1); wait for them all, or 30 s.
        let expected: usize = sent.iter().map(|&(.., store)| kiosks / stores + usize::from(store - 1 < kiosks % stores)).sum();
        let tail = Instant::now();
        while arrivals.lock().unwrap().len() < expected && tail.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rss: Vec<u64> = servers.iter().map(|s| rss_mib(s.child.id())).collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Delivery latency: write sent → the change arrived at a kiosk (first arrival after
        // the send, per kiosk that received it); also apart, the arrivals at a kiosk of
        // another hub process than the one written through.
        let mut by_customer: std::collections::HashMap<String, Vec<(Instant, usize)>> = Default::default();
        for (customer, arrived, at_hub) in arrivals.lock().unwrap().iter() {
            by_customer.entry(customer.clone()).or_default().push((*arrived, *at_hub));
        }
        let (mut delivery, mut across) = (Vec::new(), Vec::new());
        for (customer, at, through, _) in &sent {
            for (arrived, at_hub) in by_customer.get(customer).into_iter().flatten().filter(|(arrived, _)| arrived >= at) {
                delivery.push(*arrived - *at);
                if at_hub != through {
                    across.push(*arrived - *at);
                }
            }
        }
        let mut serve = serve_times.lock().unwrap().clone();
        println!("channel writes: {asked} asked ({:.0}/s), {} held ({:.0}/s)", asked as f64 / asked_secs, sent.len(), sent.len() as f64 / asked_secs);
        println!(
            "change → kiosk long-poll returns: {} deliveries of {expected} expected (held writes × the store's kiosks), p50 {:?}, p99 {:?}",
            delivery.len(),
            pct(&mut delivery, 0.5),
            pct(&mut delivery, 0.99)
        );
        if hubs > 1 {
            println!("  of which at a kiosk of another hub process: {} deliveries, p50 {:?}, p99 {:?}", across.len(), pct(&mut across, 0.5), pct(&mut across, 0.99));
        }
        println!("non-waiting pull served: {} pulls, p50 {:?}, p99 {:?}", serve.len(), pct(&mut serve, 0.5), pct(&mut serve, 0.99));
        let usage = |who: &str, rss: u64, cpu: f64| println!("{who} resident memory: {rss} MiB; CPU {:.0} % of one core over the writes", 100.0 * cpu / asked_secs);
        if hubs == 1 {
            usage("hub process", rss[0], cpu[0]);
        } else {
            for (i, (rss, cpu)) in rss.iter().zip(&cpu).enumerate() {
                usage(&format!("hub process {} of {hubs}", i + 1), *rss, *cpu);
            }
            usage("hub processes summed", rss.iter().sum(), cpu.iter().sum());
        }
        for p in polls {
            p.abort();
        }
    });
}
