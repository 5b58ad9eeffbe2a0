//! The hub on PostgreSQL under a fleet (figures, not pass/fail): many kiosks long-polling
//! while ops are pushed at a steady rate. Reports how fast a change reaches the kiosks it
//! concerns (p50/p99), how long a non-waiting pull takes to serve, and the hub process's
//! memory. The hub runs as its own `omnikiosk-hub serve` process on a throwaway cluster.
//!
//!     cargo bench -p omnikiosk-hub --bench pg_load                 # 1,000 kiosks, 100 ops/s, 30 s
//!     cargo bench -p omnikiosk-hub --bench pg_load -- --kiosks 200 --rate 50 --secs 10

#[path = "../tests/support/pg.rs"]
mod pg;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnikiosk_hub::{Hub, SeedOptions};
use omnikiosk_protocol::wire::{Change, PullResponse, PROTOCOL_HEADER};
use serde_json::json;

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
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
    let stores = (kiosks / 10).max(1);
    if !pg::available() {
        return;
    }
    let url = pg::database();
    let hub = Hub::open(&url).unwrap();
    hub.seed(&SeedOptions { stores, customers: stores * 50, products: 200, orders: stores * 2, seed: 8 }).unwrap();
    let tokens: Vec<(i64, String)> =
        (0..kiosks).map(|i| ((i % stores) as i64 + 1, hub.add_device((i % stores) as i64 + 1, "load").unwrap())).collect();
    let pusher = hub.add_device(1, "till").unwrap();
    drop(hub);

    let port = 18_640;
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub"))
        .args(["--db", &url, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("OMNIKIOSK_LOG", "warn")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("# hub on PostgreSQL under load: {kiosks} kiosks in {stores} stores long-polling, {rate} ops/s for {secs} s");
    rt.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(kiosks + 10).build().unwrap();
        for _ in 0..100 {
            if http.get(format!("{base}/v1/device")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Each kiosk: catch up, then long-poll; record when each customer change arrives.
        let arrivals: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let serve_times: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut polls = Vec::new();
        for (_, token) in tokens.clone() {
            let (http, base, arrivals, serve_times, stop) = (http.clone(), base.clone(), arrivals.clone(), serve_times.clone(), stop.clone());
            polls.push(tokio::spawn(async move {
                let mut cursor = String::new();
                let mut wait = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    let resp = http
                        .get(format!("{base}/v1/sync/pull?cursor={cursor}&limit=1000&wait={wait}"))
                        .bearer_auth(&token)
                        .header(PROTOCOL_HEADER, "1")
                        .send()
                        .await;
                    let Ok(resp) = resp else { continue };
                    let Ok(page) = resp.json::<PullResponse>().await else { continue };
                    if wait == 0 {
                        serve_times.lock().unwrap().push(t.elapsed());
                    } else {
                        let now = Instant::now();
                        let mut a = arrivals.lock().unwrap();
                        for c in &page.changes {
                            if let Change::Customer(cu) = c {
                                a.push((cu.id.clone(), now));
                            }
                        }
                    }
                    cursor = page.cursor;
                    wait = if page.has_more { 0 } else { 20 };
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(3)).await; // everyone caught up and parked
        // The till pushes earnings for customers spread over the stores; each op changes one
        // customer, which wakes that customer's store's kiosks.
        let mut sent: Vec<(String, Instant)> = Vec::new();
        let mut seq = 1;
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
        while start.elapsed() < Duration::from_secs(secs) {
            tick.tick().await;
            let customer = format!("C{:06}", (seq as usize * 37) % (stores * 50) + 1);
            let body = json!({"device_seq_from": seq, "ops": [{"op_id": format!("load-{seq}"), "seq": seq, "name": "loyalty.earn",
                "kiosk_time": 0, "body": {"customer_id": customer, "points": 1, "reason": "load"}}]});
            let t = Instant::now();
            let ok = http.post(format!("{base}/v1/sync/push")).bearer_auth(&pusher).json(&body).send().await.map(|r| r.status().is_success());
            if ok.unwrap_or(false) {
                sent.push((customer, t));
                seq += 1;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = rss_mib(server.id());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Delivery latency: push sent → the change arrived at a kiosk (first arrival after
        // the send, per kiosk that received it).
        let arrivals = arrivals.lock().unwrap().clone();
        let mut delivery = Vec::new();
        for (customer, at) in &sent {
            for (c, arrived) in arrivals.iter().filter(|(c, arrived)| c == customer && arrived >= at) {
                let _ = c;
                delivery.push(*arrived - *at);
            }
        }
        let mut serve = serve_times.lock().unwrap().clone();
        println!("ops pushed: {} ({:.0}/s)", sent.len(), sent.len() as f64 / secs as f64);
        println!(
            "change → kiosk long-poll returns: {} deliveries, p50 {:?}, p99 {:?}",
            delivery.len(),
            pct(&mut delivery, 0.5),
            pct(&mut delivery, 0.99)
        );
        println!("non-waiting pull served: {} pulls, p50 {:?}, p99 {:?}", serve.len(), pct(&mut serve, 0.5), pct(&mut serve, 0.99));
        println!("hub process resident memory: {rss} MiB");
        for p in polls {
            p.abort();
        }
    });
    let _ = server.kill();
    let _ = server.wait();
}
