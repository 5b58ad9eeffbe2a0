//! The retailer's own chain through the channel API, on a real loopback listener over an
//! empty hub (`init`, not the demo's seed): stores with their money, language, time zone
//! and VAT; a catalogue priced per currency and per store; stock; and what each store's
//! devices are told. Every test runs on both backends (`<test>::sqlite`, `<test>::postgres`),
//! every answer held to the OpenAPI document.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/contract.rs"]
mod contract;

use omnikiosk_hub::{Hub, ServeConfig};
use omnikiosk_protocol::wire::{Change, ProductRecord, ProductStatus, PullResponse, StoreRecord, PROTOCOL_HEADER, PROTOCOL_VERSION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CHANNEL: &str = "channel-secret";

#[derive(Debug, Clone, Copy)]
enum Db {
    Sqlite,
    Postgres,
}

macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Db::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                if super::pg::available() {
                    super::$name(super::Db::Postgres).await
                }
            }
        }
    };
}

on_both_backends!(each_store_sells_a_product_at_its_own_price_in_its_own_currency);
on_both_backends!(an_unchanged_write_wakes_no_store);
on_both_backends!(bad_master_data_is_refused_and_changes_nothing);
on_both_backends!(a_stock_adjustment_counts_once_however_often_it_is_sent);

struct Server {
    hub: Hub,
    base: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

/// An empty hub (as `omnikiosk-hub init` leaves it) serving with the channel token.
async fn empty_hub(db: Db) -> Server {
    let (url, dir) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite:{}", dir.path().join("hub.db").display()), Some(dir))
        }
        Db::Postgres => (pg::database(), None),
    };
    let hub = Hub::open(&url).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let h = hub.clone();
    let cfg = ServeConfig { channel_token: Some(CHANNEL.into()), ..ServeConfig::default() };
    tokio::spawn(async move { omnikiosk_hub::serve(h, listener, cfg, std::future::pending()).await.unwrap() });
    Server { hub, base, http: reqwest::Client::new(), _dir: dir }
}

impl Server {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string()).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        if let Err(e) = contract::CONTRACT.check(method.as_str(), path, status.as_u16(), &text) {
            panic!("{e}");
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A channel write that must succeed; its answer.
    async fn put(&self, path: &str, body: Value) -> Value {
        let (st, v) = self.call(Method::PUT, path, CHANNEL, Some(body)).await;
        assert_eq!(st, StatusCode::OK, "PUT {path}: {v}");
        v
    }

    async fn pull(&self, token: &str, cursor: &str, wait: u32) -> PullResponse {
        let (st, v) = self.call(Method::GET, &format!("/v1/sync/pull?cursor={cursor}&limit=1000&wait={wait}"), token, None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        serde_json::from_value(v).unwrap()
    }

    /// Every change the device sees from `cursor` on, and the cursor after them.
    async fn pull_all(&self, token: &str, cursor: &str) -> (Vec<Change>, String) {
        let (mut all, mut cursor) = (Vec::new(), cursor.to_string());
        loop {
            let page = self.pull(token, &cursor, 0).await;
            all.extend(page.changes);
            cursor = page.cursor;
            if !page.has_more {
                return (all, cursor);
            }
        }
    }

    /// A Kraków store in złoty and a London one in pounds, each with a device.
    async fn two_stores(&self) -> (String, String) {
        self.put("/v1/stores/1", krakow()).await;
        self.put(
            "/v1/stores/2",
            json!({"code": "LON-01", "name": "London Soho", "currency": "GBP", "language": "en", "timezone": "Europe/London", "vat": {"standard": 2000}}),
        )
        .await;
        (self.hub.add_device(1, "till").unwrap(), self.hub.add_device(2, "till").unwrap())
    }
}

fn krakow() -> Value {
    json!({"code": "KRK-01", "name": "Kraków Rynek", "city": "Kraków", "currency": "PLN", "language": "pl",
           "timezone": "Europe/Warsaw", "vat": {"standard": 2300, "reduced": 500}, "opening_hours": "Mo-Sa 08:00-21:00"})
}

fn mug() -> Value {
    json!({"name": "Mug 350 ml", "names": {"pl": "Kubek 350 ml"}, "category": "Home", "brand": "Omni", "gtins": ["5901234123457", "96385074"],
           "description": "Stoneware, 350 ml.\nDishwasher safe.",
           "prices": {"PLN": {"price_cents": 2999}, "GBP": {"price_cents": 699}}})
}

fn products(changes: &[Change]) -> Vec<&ProductRecord> {
    changes.iter().filter_map(|c| if let Change::Product(p) = c { Some(p) } else { None }).collect()
}

fn stores(changes: &[Change]) -> Vec<&StoreRecord> {
    changes.iter().filter_map(|c| if let Change::Store(s) = c { Some(s) } else { None }).collect()
}

async fn each_store_sells_a_product_at_its_own_price_in_its_own_currency(db: Db) {
    let s = empty_hub(db).await;
    let (krk, lon) = s.two_stores().await;
    assert_eq!(s.put("/v1/products/MUG-350", mug()).await["outcome"], "created");
    s.put("/v1/products/KEFIR", json!({"name": "Kefir 1 l", "tax_category": "reduced", "gtins": ["5900000000015"], "prices": {"PLN": {"price_cents": 449}}})).await;

    let (krk_changes, krk_cursor) = s.pull_all(&krk, "").await;
    let store = stores(&krk_changes).into_iter().find(|r| r.id == 1).expect("the store's own record");
    assert_eq!((store.timezone.as_str(), store.currency.as_str(), store.language.as_str()), ("Europe/Warsaw", "PLN", "pl"));
    let sold: Vec<_> = products(&krk_changes).iter().map(|p| (p.sku.as_str(), p.price_cents, p.currency.as_str(), p.vat_bp, p.status)).collect();
    assert_eq!(sold, [("MUG-350", 2999, "PLN", 2300, ProductStatus::Active), ("KEFIR", 449, "PLN", 500, ProductStatus::Active)]);
    assert_eq!(products(&krk_changes)[0].gtins, ["5901234123457", "96385074"]);
    assert_eq!(products(&krk_changes)[0].name, "Kubek 350 ml", "Kraków speaks Polish");
    assert_eq!(products(&krk_changes)[0].description, "Stoneware, 350 ml.\nDishwasher safe.", "what it is, line break kept");
    assert_eq!(products(&krk_changes)[1].description, "", "kefir has none");

    let (lon_changes, lon_cursor) = s.pull_all(&lon, "").await;
    let sold: Vec<_> = products(&lon_changes).iter().map(|p| (p.sku.as_str(), p.price_cents, p.currency.as_str(), p.vat_bp, p.status)).collect();
    assert_eq!(
        sold,
        [("MUG-350", 699, "GBP", 2000, ProductStatus::Active), ("KEFIR", 0, "GBP", 0, ProductStatus::Unpriced)],
        "London sells the mug in pounds at its own VAT, and cannot sell kefir priced only in złoty"
    );

    // Kraków's own price reaches Kraków's long-poll, and nothing reaches London.
    let poll = {
        let (http, base, token, cursor) = (s.http.clone(), s.base.clone(), krk.clone(), krk_cursor.clone());
        tokio::spawn(async move {
            let url = format!("{base}/v1/sync/pull?cursor={cursor}&limit=100&wait=20");
            http.get(url).bearer_auth(token).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string()).send().await.unwrap().json::<PullResponse>().await.unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    assert_eq!(s.put("/v1/stores/1/prices/MUG-350", json!({"currency": "PLN", "price_cents": 2499})).await["outcome"], "created");
    let page = poll.await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "a price change reaches an online till within a second");
    assert_eq!(products(&page.changes).iter().map(|p| (p.sku.as_str(), p.price_cents)).collect::<Vec<_>>(), [("MUG-350", 2499)]);
    let (lon_new, lon_cursor) = s.pull_all(&lon, &lon_cursor).await;
    assert!(lon_new.is_empty(), "London's price did not change: {lon_new:?}");

    // Withdrawn: no store sells it from its next pull.
    let (st, v) = s.call(Method::DELETE, "/v1/products/MUG-350", CHANNEL, None).await;
    assert_eq!((st, v["outcome"].as_str()), (StatusCode::OK, Some("withdrawn")));
    let (lon_new, _) = s.pull_all(&lon, &lon_cursor).await;
    assert_eq!(products(&lon_new).iter().map(|p| (p.sku.as_str(), p.status)).collect::<Vec<_>>(), [("MUG-350", ProductStatus::Withdrawn)]);
    let (st, entry) = s.call(Method::GET, "/v1/products/MUG-350", CHANNEL, None).await;
    assert_eq!((st, &entry["withdrawn"]), (StatusCode::OK, &json!(true)));

    // A store's VAT changes: its products are taxed anew there.
    let mut krk_store = krakow();
    krk_store["vat"]["standard"] = json!(2200);
    s.put("/v1/stores/1", krk_store).await;
    let (krk_new, _) = s.pull_all(&krk, &page.cursor).await;
    assert_eq!(stores(&krk_new).len(), 1);
    assert!(products(&krk_new).iter().any(|p| p.sku == "MUG-350" && p.vat_bp == 2200), "{krk_new:?}");
    let (st, listed) = s.call(Method::GET, "/v1/stores", CHANNEL, None).await;
    assert_eq!((st, listed.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
}

async fn an_unchanged_write_wakes_no_store(db: Db) {
    let s = empty_hub(db).await;
    let (krk, _) = s.two_stores().await;
    s.put("/v1/products/MUG-350", mug()).await;
    s.put("/v1/stores/1/stock/MUG-350", json!({"on_hand": 12, "aisle": "A4"})).await;
    let (_, cursor) = s.pull_all(&krk, "").await;
    let head = s.hub.feed_head().unwrap();
    assert_eq!(s.put("/v1/products/MUG-350", mug()).await["outcome"], "unchanged");
    assert_eq!(s.put("/v1/stores/1", krakow()).await["code"], "KRK-01");
    let stock = s.put("/v1/stores/1/stock/MUG-350", json!({"on_hand": 12})).await;
    assert_eq!(stock["aisle"], "A4", "a count without an aisle keeps the aisle");
    assert_eq!(s.hub.feed_head().unwrap(), head, "nothing was appended to any feed");
    let page = s.pull(&krk, &cursor, 0).await;
    assert!(page.changes.is_empty());
}

async fn bad_master_data_is_refused_and_changes_nothing(db: Db) {
    let s = empty_hub(db).await;
    s.two_stores().await;
    s.put("/v1/products/MUG-350", mug()).await;
    let head = s.hub.feed_head().unwrap();
    let with = |patch: Value| {
        let mut v = krakow();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, Method, &str, Option<Value>, StatusCode, &str)> = vec![
        ("a time zone that is no IANA zone", Method::PUT, "/v1/stores/3", Some(with(json!({"code": "X", "timezone": "Europe/Krakow"}))), StatusCode::BAD_REQUEST, "IANA"),
        ("a currency that is no ISO code", Method::PUT, "/v1/stores/3", Some(with(json!({"code": "X", "currency": "zł"}))), StatusCode::BAD_REQUEST, "ISO 4217"),
        ("a language the kiosk does not speak", Method::PUT, "/v1/stores/3", Some(with(json!({"code": "X", "language": "de"}))), StatusCode::BAD_REQUEST, "language"),
        ("a VAT rate over 100 %", Method::PUT, "/v1/stores/3", Some(with(json!({"code": "X", "vat": {"standard": 10001}}))), StatusCode::BAD_REQUEST, "VAT"),
        ("another store's code", Method::PUT, "/v1/stores/3", Some(with(json!({"code": "LON-01"}))), StatusCode::CONFLICT, "LON-01"),
        ("store id 0", Method::PUT, "/v1/stores/0", Some(krakow()), StatusCode::BAD_REQUEST, "store id"),
        ("a store id that is no number", Method::GET, "/v1/stores/krk", None, StatusCode::BAD_REQUEST, "store id"),
        ("a GTIN with a wrong check digit", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "gtins": ["5901234123458"]})), StatusCode::BAD_REQUEST, "GTIN"),
        ("a GTIN of another product", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "gtins": ["96385074"]})), StatusCode::CONFLICT, "MUG-350"),
        ("a negative price", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "prices": {"PLN": {"price_cents": -1}}})), StatusCode::BAD_REQUEST, "price_cents"),
        ("a name in a language no kiosk speaks", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "names": {"de": "Tasse"}})), StatusCode::BAD_REQUEST, "language"),
        ("an absurd price", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "prices": {"PLN": {"price_cents": 1_000_000_001}}})), StatusCode::BAD_REQUEST, "price_cents"),
        ("a price without a currency", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "prices": {"": {"price_cents": 100}}})), StatusCode::BAD_REQUEST, "ISO 4217"),
        ("a store price in another currency", Method::PUT, "/v1/stores/2/prices/MUG-350", Some(json!({"currency": "PLN", "price_cents": 2999})), StatusCode::BAD_REQUEST, "sells in GBP"),
        ("a store price of an unknown product", Method::PUT, "/v1/stores/2/prices/NOPE", Some(json!({"currency": "GBP", "price_cents": 100})), StatusCode::NOT_FOUND, "NOPE"),
        ("a price at an unknown store", Method::PUT, "/v1/stores/9/prices/MUG-350", Some(json!({"currency": "GBP", "price_cents": 100})), StatusCode::NOT_FOUND, "store 9"),
        ("negative stock", Method::PUT, "/v1/stores/1/stock/MUG-350", Some(json!({"on_hand": -1})), StatusCode::BAD_REQUEST, "on_hand"),
        ("stock of an unknown product", Method::PUT, "/v1/stores/1/stock/NOPE", Some(json!({"on_hand": 1})), StatusCode::NOT_FOUND, "NOPE"),
        ("withdrawing an unknown product", Method::DELETE, "/v1/products/NOPE", None, StatusCode::NOT_FOUND, "NOPE"),
        ("a colleague at a store id that is no number", Method::PUT, "/v1/stores/krk/staff/KASIA", Some(json!({"name": "Kasia", "role": "till"})), StatusCode::BAD_REQUEST, "store id"),
        ("the colleagues of a store id that is no number", Method::GET, "/v1/stores/krk/staff", None, StatusCode::BAD_REQUEST, "store id"),
        ("removing a colleague at store id 0", Method::DELETE, "/v1/stores/0/staff/KASIA", None, StatusCode::BAD_REQUEST, "store id"),
        ("a description over 5000 characters", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "description": "é".repeat(5001)})), StatusCode::BAD_REQUEST, "description must be at most 5000 characters"),
        ("a description with a control character", Method::PUT, "/v1/products/CUP", Some(json!({"name": "Cup", "description": "a\u{7}b"})), StatusCode::BAD_REQUEST, "description"),
    ];
    for (name, method, path, body, status, says) in cases {
        let (st, v) = s.call(method, path, CHANNEL, body).await;
        assert_eq!(st, status, "{name}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().contains(says), "{name}: {v}");
    }
    assert_eq!(s.hub.feed_head().unwrap(), head, "no refused write reached any feed");
    assert_eq!(s.hub.stores().unwrap().len(), 2);
    // The document says what the server holds a description to.
    let documented = &contract::CONTRACT.doc()["components"]["schemas"]["ProductPut"]["properties"]["description"];
    assert_eq!(documented["maxLength"].as_u64(), Some(omnikiosk_protocol::catalogue::MAX_DESCRIPTION_CHARS as u64), "{documented}");
    let longest = s.put("/v1/products/TEAPOT", json!({"name": "Teapot", "description": "é".repeat(5000)})).await;
    assert_eq!(longest["outcome"], "created", "the longest description is one");
    let (st, _) = s.call(Method::GET, "/v1/products/CUP", CHANNEL, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn a_stock_adjustment_counts_once_however_often_it_is_sent(db: Db) {
    let s = empty_hub(db).await;
    let (krk, _) = s.two_stores().await;
    s.put("/v1/products/MUG-350", mug()).await;
    s.put("/v1/stores/1/stock/MUG-350", json!({"on_hand": 10, "aisle": "A4"})).await;
    let delivery = json!({"key": "delivery-2026-12-07-17", "delta": 24});
    for attempt in 0..3 {
        let (st, v) = s.call(Method::POST, "/v1/stores/1/stock/MUG-350/adjustments", CHANNEL, Some(delivery.clone())).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!((v["stock"]["on_hand"].as_i64(), v["counted"].as_bool()), (Some(34), Some(attempt == 0)), "attempt {attempt}");
    }
    let (st, v) = s.call(Method::POST, "/v1/stores/1/stock/MUG-350/adjustments", CHANNEL, Some(json!({"key": "delivery-2026-12-07-17", "delta": 5}))).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (changes, _) = s.pull_all(&krk, "").await;
    let stock: Vec<_> = changes.iter().filter_map(|c| if let Change::Stock(s) = c { Some((s.on_hand, s.aisle.as_str())) } else { None }).collect();
    assert_eq!(stock, [(34, "A4")]);
}

on_both_backends!(a_sale_price_starts_and_ends_at_every_store_on_its_own);

async fn a_sale_price_starts_and_ends_at_every_store_on_its_own(db: Db) {
    let s = empty_hub(db).await;
    let (krk, lon) = s.two_stores().await;
    let now = omnikiosk_hub::now_secs();
    let mut mug = mug();
    mug["prices"]["PLN"] = json!({"price_cents": 2999, "sale_price_cents": 1999, "sale_from": now + 3600, "sale_until": now + 7200});
    s.put("/v1/products/MUG-350", mug).await;
    let price_at = |changes: &[Change]| products(changes).iter().find(|p| p.sku == "MUG-350").map(|p| p.price_cents);
    let (krk_changes, krk_cursor) = s.pull_all(&krk, "").await;
    let (_, lon_cursor) = s.pull_all(&lon, "").await;
    assert_eq!(price_at(&krk_changes), Some(2999), "the sale has not started");
    assert_eq!(s.hub.republish_due_prices(now + 60).unwrap(), 0, "nothing is due a minute later");
    assert_eq!(s.hub.republish_due_prices(now + 3600).unwrap(), 1, "the sale starts in Kraków only (London has no PLN window)");
    let (started, krk_cursor) = s.pull_all(&krk, &krk_cursor).await;
    assert_eq!(price_at(&started), Some(1999));
    let (lon_new, _) = s.pull_all(&lon, &lon_cursor).await;
    assert!(lon_new.is_empty(), "{lon_new:?}");
    assert_eq!(s.hub.republish_due_prices(now + 7200).unwrap(), 1);
    let (ended, _) = s.pull_all(&krk, &krk_cursor).await;
    assert_eq!(price_at(&ended), Some(2999), "the sale is over");
}

on_both_backends!(the_feeds_upload_over_http_as_from_the_command_line);

async fn the_feeds_upload_over_http_as_from_the_command_line(db: Db) {
    let s = empty_hub(db).await;
    let (krk, lon) = s.two_stores().await;
    let upload = |path: &'static str, file: &'static str| {
        let (http, base) = (s.http.clone(), s.base.clone());
        async move {
            let body = std::fs::read(format!("{}/../docs/examples/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let resp = http.post(format!("{base}{path}")).bearer_auth(CHANNEL).header("content-type", "text/tab-separated-values").body(body).send().await.unwrap();
            let status = resp.status();
            let text = resp.text().await.unwrap();
            if let Err(e) = contract::CONTRACT.check("POST", path, status.as_u16(), &text) {
                panic!("{e}");
            }
            (status, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    let (st, dry) = upload("/v1/imports/products?dry_run=true", "products.tsv").await;
    assert_eq!((st, &dry["created"], &dry["dry_run"]), (StatusCode::OK, &json!(9), &json!(true)), "{dry}");
    assert!(s.hub.product("OM-MUG-350").is_err(), "a dry run wrote");
    let (_, catalogue) = upload("/v1/imports/products", "products.tsv").await;
    assert_eq!(catalogue["created"], 9, "{catalogue}");
    let (_, inventory) = upload("/v1/imports/inventory", "inventory.tsv").await;
    assert_eq!((&inventory["created"], inventory["errors"].as_array().map(Vec::len)), (&json!(10), Some(0)), "{inventory}");
    let (st, v) = upload("/v1/imports/products?encoding=ebcdic", "products.tsv").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");

    // The chain's own mug: złoty in Kraków from the product feed, pounds in London from the inventory feed.
    let mug = |changes: Vec<Change>| products(&changes).iter().find(|p| p.sku == "OM-MUG-350").map(|p| (p.price_cents, p.currency.clone(), p.gtins.clone()));
    assert_eq!(mug(s.pull_all(&krk, "").await.0), Some((2499, "PLN".to_string(), vec!["5909990000012".to_string()])));
    assert_eq!(mug(s.pull_all(&lon, "").await.0), Some((699, "GBP".to_string(), vec!["5909990000012".to_string()])));
}

on_both_backends!(a_till_of_the_previous_protocol_is_never_sent_a_product_it_may_not_sell);

/// A device of protocol 4 reads no `status`: it would sell a withdrawn product, or an
/// unpriced one at 0. It is sent only what its store may sell, and keeps its last sellable
/// record of a product withdrawn since.
async fn a_till_of_the_previous_protocol_is_never_sent_a_product_it_may_not_sell(db: Db) {
    let s = empty_hub(db).await;
    let (_, lon) = s.two_stores().await;
    s.put("/v1/products/MUG-350", mug()).await;
    s.put("/v1/products/KEFIR", json!({"name": "Kefir 1 l", "prices": {"PLN": {"price_cents": 449}}})).await;
    let old_pull = |cursor: String| {
        let (http, base, token) = (s.http.clone(), s.base.clone(), lon.clone());
        async move {
            let url = format!("{base}/v1/sync/pull?cursor={cursor}&limit=1000&wait=0");
            let page: PullResponse = http.get(url).bearer_auth(token).header(PROTOCOL_HEADER, (PROTOCOL_VERSION - 1).to_string()).send().await.unwrap().json().await.unwrap();
            page
        }
    };
    let page = old_pull(String::new()).await;
    let seen: Vec<_> = products(&page.changes).iter().map(|p| (p.sku.clone(), p.status)).collect();
    assert_eq!(seen, [("MUG-350".to_string(), ProductStatus::Active)], "London cannot sell kefir: an old till is not told of it");
    let (st, _) = s.call(Method::DELETE, "/v1/products/MUG-350", CHANNEL, None).await;
    assert_eq!(st, StatusCode::OK);
    let after = old_pull(page.cursor.clone()).await;
    assert!(products(&after.changes).is_empty(), "{:?}", after.changes);
    let (now, _) = s.pull_all(&lon, &page.cursor).await;
    assert_eq!(products(&now).iter().map(|p| p.status).collect::<Vec<_>>(), [ProductStatus::Withdrawn], "a current till is told");
}

on_both_backends!(stores_of_a_region_sell_from_their_price_list);

/// Two Polish stores share the "PL-SOUTH" price list; a third sells at the catalogue's
/// price. A list price reaches the list's stores only; a store's own price beats it; a
/// store moved onto the list is priced anew; a list price in another currency is ignored.
async fn stores_of_a_region_sell_from_their_price_list(db: Db) {
    let s = empty_hub(db).await;
    let mut south = krakow();
    south["price_list"] = json!("PL-SOUTH");
    s.put("/v1/stores/1", south.clone()).await;
    let mut katowice = south.clone();
    katowice["code"] = json!("KTW-01");
    s.put("/v1/stores/2", katowice).await;
    let mut warsaw = krakow();
    warsaw["code"] = json!("WAW-01");
    s.put("/v1/stores/3", warsaw.clone()).await;
    let tokens: Vec<String> = (1..=3).map(|id| s.hub.add_device(id, "till").unwrap()).collect();
    s.put("/v1/products/MUG-350", mug()).await;
    let mut cursors = vec![String::new(); 3];
    assert_eq!(mug_prices(&s, &tokens, &mut cursors).await, [Some(2999), Some(2999), Some(2999)], "no list price yet: the catalogue's");
    assert_eq!(s.put("/v1/price-lists/PL-SOUTH/prices/MUG-350", json!({"currency": "PLN", "price_cents": 2799})).await["outcome"], "created");
    assert_eq!(mug_prices(&s, &tokens, &mut cursors).await, [Some(2799), Some(2799), None], "the list's stores only");
    s.put("/v1/stores/1/prices/MUG-350", json!({"currency": "PLN", "price_cents": 2599})).await;
    assert_eq!(mug_prices(&s, &tokens, &mut cursors).await, [Some(2599), None, None], "Kraków's own price beats the list");
    warsaw["price_list"] = json!("PL-SOUTH");
    s.put("/v1/stores/3", warsaw).await;
    assert_eq!(mug_prices(&s, &tokens, &mut cursors).await, [None, None, Some(2799)], "Warsaw moved onto the list");
    assert_eq!(s.put("/v1/price-lists/PL-SOUTH/prices/MUG-350", json!({"currency": "GBP", "price_cents": 699})).await["outcome"], "updated");
    assert_eq!(mug_prices(&s, &tokens, &mut cursors).await, [None, Some(2999), Some(2999)], "a list price in pounds does not price a złoty store");
    let (st, v) = s.call(Method::PUT, "/v1/price-lists/PL SOUTH/prices/MUG-350", CHANNEL, Some(json!({"currency": "PLN", "price_cents": 1}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
}

/// The mug's price each device was told of since its cursor (`None`: nothing new).
async fn mug_prices(s: &Server, tokens: &[String], cursors: &mut [String]) -> Vec<Option<i64>> {
    let mut seen = Vec::new();
    for (token, cursor) in tokens.iter().zip(cursors.iter_mut()) {
        let (changes, next) = s.pull_all(token, cursor).await;
        *cursor = next;
        seen.push(products(&changes).iter().find(|p| p.sku == "MUG-350").map(|p| p.price_cents));
    }
    seen
}

on_both_backends!(an_online_order_keeps_its_stores_pickup_promise);

/// An order placed online is promised ready after its store's pickup promise; a store that
/// offers no click & collect takes none.
async fn an_online_order_keeps_its_stores_pickup_promise(db: Db) {
    let s = empty_hub(db).await;
    let mut quick = krakow();
    quick["pickup_minutes"] = json!(30);
    s.put("/v1/stores/1", quick).await;
    let mut no_pickup = krakow();
    no_pickup["code"] = json!("KRK-02");
    no_pickup["click_collect"] = json!(false);
    s.put("/v1/stores/2", no_pickup).await;
    s.put("/v1/products/MUG-350", mug()).await;
    s.put("/v1/customers/C-1", json!({"first_name": "Anna", "last_name": "Nowak", "tier": "gold", "home_store": 1, "language": "pl"})).await;
    let order = |store: i64| json!({"customer_id": "C-1", "store_id": store, "lines": [{"sku": "MUG-350", "qty": 1}]});
    let (st, placed) = s.call(Method::POST, "/v1/orders", CHANNEL, Some(order(1))).await;
    assert_eq!(st, StatusCode::CREATED, "{placed}");
    let promised = placed["promised_ready_at"].as_i64().unwrap() - placed["placed_at"].as_i64().unwrap();
    assert_eq!(promised, 30 * 60, "{placed}");
    let (st, refused) = s.call(Method::POST, "/v1/orders", CHANNEL, Some(order(2))).await;
    assert_eq!(st, StatusCode::CONFLICT, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("no click & collect"), "{refused}");
}
