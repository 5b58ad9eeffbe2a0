//! What the benchmarks share: a kiosk store filled with a million customers through the
//! real page-apply path.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use omnikiosk::config::StoreConfig;
use omnikiosk::store::{Enrolment, LocalStore};
use omnikiosk_protocol::code::encode_public_key;
use omnikiosk_protocol::gtin::LoyaltyCard;
use omnikiosk_protocol::wire::{CartLine, CartRecord, Change, CustomerRecord, OrderLine, OrderRecord, OrderStatus, ProductRecord, StockRecord};

/// The hub key the filled store is enrolled with, so benchmarks can sign app QR codes.
pub fn hub_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

/// The loyalty card of filled customer `i` (`C{i:07}`).
pub fn card(i: usize) -> String {
    LoyaltyCard::generate("042", i as u64).as_str().to_string()
}

/// Fills a kiosk store in `dir` through the real page-apply path (`LocalStore::apply_page`,
/// 5,000 changes a page) with 2,000 stocked products and `customers` customers, each with a
/// loyalty card, every other one a 3-line cart; `ready_orders` of them, evenly spread, have
/// an order ready for pickup.
pub fn fill_store(dir: &Path, customers: usize, ready_orders: usize) -> LocalStore {
    let order_every = customers.checked_div(ready_orders).unwrap_or(usize::MAX).max(1);
    let store = LocalStore::open(dir, &StoreConfig::default()).unwrap();
    store
        .save_enrolment(&Enrolment {
            hub_url: "http://127.0.0.1:1/".into(),
            device_token: "t".into(),
            device_id: "bench".into(),
            store_id: 1,
            store_name: "Bench".into(),
            hub_public_key: encode_public_key(&hub_key().verifying_key()),
            insecure: false,
                hub_ca: None,
        })
        .unwrap();
    let skus: Vec<String> = (0..2000u64)
        .map(|i| omnikiosk_protocol::gtin::Gtin::ean13_from_body(&format!("5{:011}", i)).unwrap().as_str().to_string())
        .collect();
    let mut page = Vec::with_capacity(10_000);
    for (i, sku) in skus.iter().enumerate() {
        page.push(Change::Product(ProductRecord { sku: sku.clone(), name: format!("Product {i}"), price_cents: 199 + i as i64, vat_bp: 500, category: "Grocery".into(), ..Default::default() }));
        page.push(Change::Stock(StockRecord { store_id: 1, sku: sku.clone(), on_hand: (i % 40) as i64, aisle: format!("A{}", i % 30) }));
    }
    store.apply_page(&page, "0", 0).unwrap();
    let mut cursor = 0;
    for chunk_start in (0..customers).step_by(5000) {
        page.clear();
        for i in chunk_start..(chunk_start + 5000).min(customers) {
            let id = format!("C{i:07}");
            page.push(Change::Customer(CustomerRecord {
                id: id.clone(),
                first_name: "Anna".into(),
                last_initial: "K".into(),
                tier: "gold".into(),
                language: "pl".into(),
                points: i as i64 % 5000,
                home_store: Some(1),
                loyalty_cards: vec![card(i)],
            }));
            if i % 2 == 0 {
                let lines = (0..3).map(|k| CartLine { sku: skus[(i * 3 + k) % skus.len()].clone(), qty: 1 + k as i64 }).collect();
                page.push(Change::Cart(CartRecord { customer_id: id.clone(), lines, updated_at: 0 }));
            }
            if i % order_every == 0 && i / order_every < ready_orders {
                page.push(Change::Order(OrderRecord {
                    id: format!("O-1-{i}"),
                    store_id: 1,
                    customer_id: id,
                    status: OrderStatus::Ready,
                    pickup_code: format!("{:06}", i % 1_000_000),
                    lines: vec![OrderLine { sku: skus[i % skus.len()].clone(), name: "Product".into(), qty: 1, picked: None }],
                    placed_at: 0,
                    promised_ready_at: 0,
                    updated_at: 0,
                    version: 1,
                }));
            }
        }
        cursor += 1;
        store.apply_page(&page, &cursor.to_string(), 0).unwrap();
    }
    store
}

/// `--name N` from the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `p` quantile (0..=1) of durations sorted ascending.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
