//! A retailer's own chain, end to end with real processes: an empty hub filled the way a
//! retailer fills it (stores through the channel API, the catalogue and each store's stock
//! and prices from the Google feeds in `docs/examples/`, a colleague from HR), and a real
//! kiosk enrolled to each store selling by GTIN at its store's price, in its store's
//! currency, at its store's VAT. Runs on the hub's SQLite, and on PostgreSQL with
//! `OMNIKIOSK_TEST_HUB=postgres`.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::{stderr, Kiosk, TestHub};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/examples").join(name)
}

/// Kraków (złoty, 23 % and 5 %) and London (pounds, 20 % and 0 %), the examples' feeds
/// imported, and a till colleague at each.
async fn the_examples_chain(hub: &TestHub) {
    let channel = hub.channel();
    channel
        .put(
            "/v1/stores/1",
            json!({"code": "KRK-01", "name": "Omni Kraków Rynek", "currency": "PLN", "language": "pl", "timezone": "Europe/Warsaw", "vat": {"standard": 2300, "reduced": 500}}),
        )
        .await;
    channel
        .put(
            "/v1/stores/2",
            json!({"code": "LON-01", "name": "Omni London Soho", "currency": "GBP", "language": "en", "timezone": "Europe/London", "vat": {"standard": 2000, "zero": 0}}),
        )
        .await;
    let products = channel.upload("/v1/imports/products", &example("products.tsv")).await;
    assert_eq!(products["created"], 9, "{products}");
    let inventory = channel.upload("/v1/imports/inventory", &example("inventory.tsv")).await;
    assert_eq!(inventory["created"], 10, "{inventory}");
    channel.put("/v1/stores/1/staff/KRK-KASIA", json!({"name": "Kasia Nowak", "role": "till"})).await;
    channel.put("/v1/stores/2/staff/LON-AMY", json!({"name": "Amy Evans", "role": "till"})).await;
}

/// A kiosk of `store`, enrolled and synced.
async fn kiosk(hub: &TestHub, store: i64) -> Kiosk {
    let k = Kiosk::new();
    k.enroll(&hub.url(), &hub.device_token(store)).await;
    k.json(&["sync", "--once", "--json"]).await;
    k
}

/// `sale` of one item paid by card; the receipt.
async fn sell(k: &Kiosk, staff: &str, gtin: &str, cents: i64) -> Value {
    k.json(&["sale", "--staff", staff, "--item", gtin, "--pay", &format!("card:{cents}:T-1"), "--json"]).await
}

#[tokio::test]
async fn each_store_sells_by_gtin_at_its_own_price_currency_and_vat() {
    let hub = TestHub::empty().await;
    the_examples_chain(&hub).await;
    let (krk, lon) = (kiosk(&hub, 1).await, kiosk(&hub, 2).await);

    // The chain's own mug, scanned by its GTIN: 24,99 zł at 23 % in Kraków (the product
    // feed's złoty price), £6.99 at 20 % in London (London's own price from the inventory feed).
    let receipt = sell(&krk, "KRK-KASIA", "5909990000012", 2499).await;
    assert_eq!((receipt["total_cents"].as_i64(), receipt["lines"][0]["sku"].as_str()), (Some(2499), Some("OM-MUG-350")), "{receipt}");
    assert_eq!(receipt["tax"][0]["vat_bp"], 2300, "{receipt}");
    let receipt = sell(&lon, "LON-AMY", "5909990000012", 699).await;
    assert_eq!(receipt["total_cents"], 699, "{receipt}");
    assert_eq!(receipt["tax"][0]["vat_bp"], 2000, "{receipt}");
    // Coffee at the reduced rate, by its second GTIN (an EAN-8), at its sale price: the
    // feed's window runs through December 2026 (the hub publishes the price of the moment).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let on_sale = (1_796_079_600..1_798_153_140).contains(&now);
    let coffee = if on_sale { 6999 } else { 8999 };
    let receipt = sell(&krk, "KRK-KASIA", "50123452", coffee).await;
    assert_eq!((receipt["lines"][0]["sku"].as_str(), &receipt["tax"][0]["vat_bp"]), (Some("PL-KAW-002"), &json!(500)), "{receipt}");
    assert_eq!(receipt["total_cents"], coffee, "{receipt}");

    // London has no price in pounds for a product priced only in złoty: its till says so.
    let out = lon.run(&["sale", "--staff", "LON-AMY", "--item", "5901234000017", "--pay", "card:100:T-2"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no price at this store"), "{}", stderr(&out));

    // Withdrawn at the hub: refused at the till after its next pull; past receipts keep it.
    hub.channel().send(reqwest::Method::DELETE, "/v1/products/OM-MUG-350", None).await;
    krk.json(&["sync", "--once", "--json"]).await;
    let out = krk.run(&["sale", "--staff", "KRK-KASIA", "--item", "5909990000012", "--pay", "card:2499:T-3"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no longer sold"), "{}", stderr(&out));
    let receipts = krk.json(&["receipts", "--json"]).await;
    assert_eq!(receipts.as_array().map(Vec::len), Some(2), "the mug's and the coffee's: {receipts}");
}

#[tokio::test]
async fn an_unchanged_reimport_moves_no_stores_feed() {
    let hub = TestHub::empty().await;
    the_examples_chain(&hub).await;
    let (krk_end, lon_end) = (hub.feed_end(1).await, hub.feed_end(2).await);
    let again = hub.channel().upload("/v1/imports/products", &example("products.tsv")).await;
    assert_eq!((&again["unchanged"], &again["created"], &again["updated"]), (&json!(9), &json!(0), &json!(0)), "{again}");
    let again = hub.channel().upload("/v1/imports/inventory", &example("inventory.tsv")).await;
    assert_eq!(again["unchanged"], 10, "{again}");
    assert_eq!((hub.feed_end(1).await, hub.feed_end(2).await), (krk_end, lon_end));
}

/// The proof at its size: a feed of `OMNIKIOSK_FEED_PRODUCTS` (default 10,000)
/// products and the local inventory of three stores, two in złoty and one in pounds,
/// uploaded as a retailer's nightly job would; a kiosk of each store then sells products by
/// their GTIN at that store's price — Warsaw's own price for every tenth, London's pounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_product_feed_sells_at_three_stores() {
    use std::fmt::Write as _;
    let n: usize = std::env::var("OMNIKIOSK_FEED_PRODUCTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let hub = TestHub::empty().await;
    let channel = hub.channel();
    for (id, code, currency, tz, vat) in [(1, "KRK-01", "PLN", "Europe/Warsaw", 2300), (2, "WAW-01", "PLN", "Europe/Warsaw", 2300), (3, "LON-01", "GBP", "Europe/London", 2000)] {
        let body = json!({"code": code, "name": format!("Omni {code}"), "currency": currency, "language": "en", "timezone": tz, "vat": {"standard": vat}});
        channel.put(&format!("/v1/stores/{id}"), body).await;
    }
    let gtin = |i: usize| omnikiosk_protocol::gtin::Gtin::ean13_from_body(&format!("590{i:09}")).unwrap().as_str().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (mut products, mut inventory) = (String::from("id\ttitle\tprice\tgtin\tproduct_type\ttax_category\n"), String::from("store_code\tid\tquantity\tprice\taisle\n"));
    for i in 0..n {
        writeln!(products, "P{i:06}\tProduct {i}\t{}.{:02} PLN\t{}\tHome > Set {}\tstandard", 1 + i % 90, i % 100, gtin(i), i % 40).unwrap();
        writeln!(inventory, "KRK-01\tP{i:06}\t{}\t\tA{}", i % 30, i % 9).unwrap();
        let warsaw = if i % 10 == 0 { format!("{}.49 PLN", 2 + i % 90) } else { String::new() };
        writeln!(inventory, "WAW-01\tP{i:06}\t{}\t{warsaw}\tB{}", i % 25, i % 7).unwrap();
        writeln!(inventory, "LON-01\tP{i:06}\t{}\t{}.{:02} GBP\tAisle {}", i % 20, i % 20, 50 + i % 50, i % 5).unwrap();
    }
    let (pf, inf) = (dir.path().join("products.tsv"), dir.path().join("inventory.tsv"));
    std::fs::write(&pf, products).unwrap();
    std::fs::write(&inf, inventory).unwrap();
    let p = channel.upload("/v1/imports/products", &pf).await;
    assert_eq!((p["created"].as_u64(), p["errors"].as_array().map(Vec::len)), (Some(n as u64), Some(0)), "{}", p["errors"]);
    let i = channel.upload("/v1/imports/inventory", &inf).await;
    assert_eq!((i["created"].as_u64(), i["errors"].as_array().map(Vec::len)), (Some(3 * n as u64), Some(0)), "{}", i["errors"]);
    channel.put("/v1/stores/1/staff/T1", json!({"name": "Kasia", "role": "till"})).await;
    channel.put("/v1/stores/2/staff/T2", json!({"name": "Marek", "role": "till"})).await;
    channel.put("/v1/stores/3/staff/T3", json!({"name": "Amy", "role": "till"})).await;

    let (krk, waw, lon) = (kiosk(&hub, 1).await, kiosk(&hub, 2).await, kiosk(&hub, 3).await);
    let j = n - 10; // every tenth product has Warsaw's own price
    let list_price = |i: usize| ((1 + i % 90) * 100 + i % 100) as i64;
    for (k, staff, price, vat) in [
        (&krk, "T1", list_price(j), 2300),
        (&waw, "T2", ((2 + j % 90) * 100 + 49) as i64, 2300),
        (&lon, "T3", ((j % 20) * 100 + 50 + j % 50) as i64, 2000),
    ] {
        let receipt = sell(k, staff, &gtin(j), price).await;
        assert_eq!((receipt["total_cents"].as_i64(), &receipt["tax"][0]["vat_bp"]), (Some(price), &json!(vat)), "{receipt}");
    }
    assert_eq!(krk.json(&["status", "--json"]).await["counts"]["products"].as_u64(), Some(n as u64));
}
