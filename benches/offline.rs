//! Offline-actions benchmarks (figures, not pass/fail): 10,000 ops queued while offline →
//! all acknowledged after reconnect, and online order → visible in a long-polling
//! kiosk's store queue.
//!
//! Also: a check-in at one device → in another device's waiting list, both long-polling.
//!
//!     cargo bench --bench offline                     # 10,000 ops, 100 orders, 200 check-ins
//!     cargo bench --bench offline -- --ops 1000 --orders 20 --checkins 20

use std::time::{Duration, Instant};

mod support;
use support::{arg, percentile};

use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::{CartLine, OrderCreate};

fn main() {
    let ops = arg("--ops", 10_000);
    let orders = arg("--orders", 100);
    let checkins = arg("--checkins", 200);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::open(&format!("sqlite:{}", dir.path().join("hub.db").display())).unwrap();
    // Enough orders that store 1 has a ready one for every check-in.
    hub.seed(&SeedOptions { stores: 2, customers: 2000, products: 500, orders: (checkins * 12).max(100), seed: 3 }).unwrap();
    let token = hub.add_device(1, "bench").unwrap();
    let desk_token = hub.add_device(1, "bench desk").unwrap();
    let cfg = Config::default();
    println!("# omnikiosk offline-actions benchmarks");

    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(omnikiosk_hub::serve(hub.clone(), listener, ServeConfig::default(), std::future::pending()));
        let kdir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(kdir.path(), &StoreConfig::default()).unwrap();
        omnikiosk::sync::enroll(&store, &url, &token, Default::default(), &cfg.sync).await.unwrap();
        let client = omnikiosk::sync::client_for(&store.require_enrolment().unwrap(), &cfg.sync).unwrap();
        omnikiosk::sync::pull_until_current(&store, &client, &cfg.sync, Duration::ZERO, |_| {}).await.unwrap();
        let customers: Vec<String> =
            store.orders(None).unwrap().into_iter().map(|o| o.customer_id).take(50).collect();

        // Offline: the ops only reach the outbox (each its own durable transaction).
        let t = Instant::now();
        for i in 0..ops {
            let op = OpBody::LoyaltyEarn { customer_id: customers[i % customers.len()].clone(), points: 1, reason: "bench".into() };
            store.record_op(op, &cfg.loyalty, 0).unwrap();
        }
        let record = t.elapsed();
        println!("\n## {ops} ops queued offline, then the network is back");
        println!("recording: {:.2} s ({:.0} ops/s, each fsync'd)", record.as_secs_f64(), ops as f64 / record.as_secs_f64());
        let t = Instant::now();
        let pushed = omnikiosk::sync::push_pending(&store, &client, cfg.sync.push_batch).await.unwrap();
        let push = t.elapsed();
        assert_eq!(store.outbox_stats().unwrap().pending, 0);
        println!(
            "all acknowledged after reconnect: {:.2} s ({:.0} ops/s, {} requests of up to {})",
            push.as_secs_f64(),
            ops as f64 / push.as_secs_f64(),
            pushed.requests,
            cfg.sync.push_batch
        );

        // Online: a long-polling kiosk and the web shop placing orders.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let daemon = tokio::spawn(omnikiosk::sync::run_daemon(store.clone(), client.clone(), cfg.sync.clone(), stopped, |_| {}));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sku = store.products_in_stock(1).unwrap().remove(0).product.sku;
        let mut lat = Vec::with_capacity(orders);
        for i in 0..orders {
            let h = hub.clone();
            let body = OrderCreate {
                customer_id: customers[i % customers.len()].clone(),
                store_id: 1,
                lines: vec![CartLine { sku: sku.clone(), qty: 1 }],
                promised_ready_at: None,
            };
            let t = Instant::now();
            let placed = tokio::task::spawn_blocking(move || h.place_order(&body)).await.unwrap().unwrap();
            while store.order(&placed.order.id).unwrap().is_none() {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            lat.push(t.elapsed());
        }
        lat.sort();
        println!("\n## online order → visible in the store queue, kiosk long-polling ({orders} orders)");
        println!("p50 {:?}  p95 {:?}  max {:?}", percentile(&lat, 0.5), percentile(&lat, 0.95), lat[lat.len() - 1]);

        // A second device of the store, long-polling too: check-ins made at the first.
        let ddir = tempfile::tempdir().unwrap();
        let desk = LocalStore::open(ddir.path(), &StoreConfig::default()).unwrap();
        omnikiosk::sync::enroll(&desk, &url, &desk_token, Default::default(), &cfg.sync).await.unwrap();
        let desk_client = omnikiosk::sync::client_for(&desk.require_enrolment().unwrap(), &cfg.sync).unwrap();
        omnikiosk::sync::pull_until_current(&desk, &desk_client, &cfg.sync, Duration::ZERO, |_| {}).await.unwrap();
        let (desk_stop, desk_stopped) = tokio::sync::watch::channel(false);
        let desk_daemon = tokio::spawn(omnikiosk::sync::run_daemon(desk.clone(), desk_client, cfg.sync.clone(), desk_stopped, |_| {}));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ready: Vec<_> = store.orders(Some(omnikiosk_protocol::wire::OrderStatus::Ready)).unwrap().into_iter().take(checkins).collect();
        let mut lat = Vec::with_capacity(ready.len());
        for o in &ready {
            let t = Instant::now();
            store.record_op(OpBody::VisitCheckin { order_id: o.id.clone(), customer_id: o.customer_id.clone() }, &cfg.loyalty, 0).unwrap();
            while !desk.waiting().unwrap().iter().any(|w| w.order.id == o.id) {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "\n## check-in at one device → in another device's waiting list, both long-polling ({} check-ins, push every {} ms)",
            lat.len(),
            cfg.sync.push_interval_ms
        );
        println!("p50 {:?}  p95 {:?}  max {:?}", percentile(&lat, 0.5), percentile(&lat, 0.95), lat[lat.len() - 1]);
        let _ = desk_stop.send(true);
        let _ = desk_daemon.await;
        let _ = stop.send(true);
        let _ = daemon.await;
        server.abort();
    });
}
