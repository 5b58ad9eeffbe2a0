//! Till benchmarks (figures, not pass/fail): "Pay" → receipt ready at the kiosk for a
//! 10-line card sale (the receipt and its op in one fsync'd transaction), and 1,000
//! offline sales → all acknowledged by the hub after reconnect.
//!
//!     cargo bench --bench till                        # 1,000 sales
//!     cargo bench --bench till -- --sales 200

use std::time::{Duration, Instant};

mod support;
use support::{arg, percentile};

use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::{Basket, BasketItem, LocalStore};
use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::till::{Tender, TenderMethod};

fn main() {
    let sales = arg("--sales", 1_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::open(&format!("sqlite:{}", dir.path().join("hub.db").display())).unwrap();
    hub.seed(&SeedOptions { stores: 2, customers: 2000, products: 500, orders: 100, seed: 3 }).unwrap();
    let token = hub.add_device(1, "bench till").unwrap();
    let cfg = Config::default();
    println!("# omnikiosk till benchmarks");

    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(omnikiosk_hub::serve(hub.clone(), listener, ServeConfig::default(), std::future::pending()));
        let kdir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(kdir.path(), &StoreConfig::default()).unwrap();
        omnikiosk::sync::enroll(&store, &url, &token, Default::default(), &cfg.sync).await.unwrap();
        let client = omnikiosk::sync::client_for(&store.require_enrolment().unwrap(), &cfg.sync).unwrap();
        omnikiosk::sync::pull_until_current(&store, &client, &cfg.sync, Duration::ZERO, |_| {}).await.unwrap();
        let skus: Vec<String> = store.products_in_stock(1).unwrap().into_iter().take(10).map(|p| p.product.sku).collect();
        let customers: Vec<String> = store.orders(None).unwrap().into_iter().map(|o| o.customer_id).take(50).collect();

        // Offline: each sale is priced, judged, numbered and written with its op.
        let mut lat = Vec::with_capacity(sales);
        let t = Instant::now();
        for i in 0..sales {
            let basket = Basket {
                staff_id: "S1-STAFF".into(),
                customer_id: Some(customers[i % customers.len()].clone()),
                items: skus.iter().map(|sku| BasketItem { sku: sku.clone(), qty: 1 + (i % 3) as i64, from_cart: false }).collect(),
                points_redeemed: 0,
                tenders: vec![Tender { method: TenderMethod::Card, cents: 0, reference: Some(format!("T-{i}")) }],
            };
            // The card terminal takes exactly the total: price it as the till's screen does.
            let total = {
                let lines: Vec<_> = basket
                    .items
                    .iter()
                    .map(|it| {
                        let p = store.product(&it.sku).unwrap().unwrap().product;
                        omnikiosk_protocol::till::ReceiptLine { sku: p.sku, name: p.name, qty: it.qty, price_cents: p.price_cents, vat_bp: p.vat_bp, from_cart: false, origin: None }
                    })
                    .collect();
                omnikiosk_protocol::till::price(&lines, 0, cfg.loyalty.points_rule(), true).total_cents
            };
            let basket = Basket { tenders: vec![Tender { cents: total, ..basket.tenders[0].clone() }], ..basket };
            let pay = Instant::now();
            store.complete_sale(&basket, &cfg.loyalty, 0).unwrap();
            lat.push(pay.elapsed());
        }
        let record = t.elapsed();
        lat.sort();
        println!("\n## \"Pay\" → receipt ready, 10 lines, card tender ({sales} sales, each fsync'd)");
        println!("p50 {:?}  p99 {:?}  max {:?}", percentile(&lat, 0.5), percentile(&lat, 0.99), lat[lat.len() - 1]);
        println!("recording all: {:.2} s", record.as_secs_f64());

        let t = Instant::now();
        let pushed = omnikiosk::sync::push_pending(&store, &client, cfg.sync.push_batch).await.unwrap();
        let push = t.elapsed();
        assert_eq!(store.outbox_stats().unwrap().pending, 0);
        println!("\n## {sales} offline sales → all acknowledged after reconnect");
        println!(
            "{:.2} s ({:.0} sales/s, {} requests of up to {})",
            push.as_secs_f64(),
            sales as f64 / push.as_secs_f64(),
            pushed.requests,
            cfg.sync.push_batch
        );
        let at_hub = hub.sales(Some(1), None, Some(1000)).map(|p| p.sales.len()).unwrap_or(0);
        println!("receipts of store 1 at the hub (first page of up to 1000): {at_hub}");
        server.abort();
    });
}
