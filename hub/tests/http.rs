//! The hub's HTTP API on a real loopback listener: who may read what, paging and
//! long-poll of the change feed, and bad input that changes nothing. Every test runs on
//! both storage backends: `<test>::sqlite` and `<test>::postgres` (the latter on a
//! throwaway cluster, skipped with a printed reason when PostgreSQL is not installed).

#[path = "support/pg.rs"]
mod pg;
#[path = "support/contract.rs"]
mod contract;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use omnikiosk_hub::store::{Backend, PostgresHubStore, SqliteHubStore, TxKind};
use omnikiosk_hub::lookups::{LookupAudit, LookupOutcome, LookupsPage};
use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::gtin::LoyaltyCard;
use omnikiosk_protocol::returns::{returned_so_far, Bought, ReturnDraft, Returned};
use omnikiosk_protocol::shift::{OpenShift, ZReport};
use omnikiosk_protocol::till::{PointsRule, Receipt, ReceiptKind, ReceiptLine, SaleDraft, Tender, TenderMethod, GENESIS_HASH};
use omnikiosk_protocol::wire::{
    Change, OrderRecord, OrderStatus, ProductRecord, PullResponse, SalesPage, ShiftsPage, StaffRecord, StaffRole, Touch, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CHANNEL: &str = "channel-secret";

/// The storage backend a test runs on.
#[derive(Debug, Clone, Copy)]
enum Db {
    Sqlite,
    Postgres,
}

/// Runs `async fn $name(db: Db)` as `$name::sqlite` and `$name::postgres`.
macro_rules! on_both_backends {
    ($name:ident $(, $($flavor:tt)*)?) => {
        mod $name {
            #[tokio::test $(($($flavor)*))?]
            async fn sqlite() {
                super::$name(super::Db::Sqlite).await
            }
            #[tokio::test $(($($flavor)*))?]
            async fn postgres() {
                if super::pg::available() {
                    super::$name(super::Db::Postgres).await
                }
            }
        }
    };
}

struct Server {
    hub: Hub,
    /// Where the hub's database is, for a second handle on it.
    db_url: String,
    base: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty hub database on the backend: the hub and its database URL.
fn open_hub(db: Db) -> (Hub, String, Option<tempfile::TempDir>) {
    let (url, dir) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite:{}", dir.path().join("hub.db").display()), Some(dir))
        }
        Db::Postgres => (pg::database(), None),
    };
    (Hub::open(&url).unwrap(), url, dir)
}

async fn server(db: Db, opts: SeedOptions) -> Server {
    server_with(db, opts, ServeConfig::default()).await
}

/// A seeded hub serving with `cfg` and the tests' channel token.
async fn server_with(db: Db, opts: SeedOptions, cfg: ServeConfig) -> Server {
    let (hub, db_url, dir) = open_hub(db);
    hub.seed(&opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let h = hub.clone();
    let cfg = ServeConfig { channel_token: Some(CHANNEL.into()), ..cfg };
    tokio::spawn(async move { omnikiosk_hub::serve(h, listener, cfg, std::future::pending()).await.unwrap() });
    Server { hub, db_url, base, http: reqwest::Client::new(), _dir: dir }
}

fn small() -> SeedOptions {
    SeedOptions { stores: 3, customers: 240, products: 60, orders: 60, seed: 9 }
}

impl Server {
    async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        // Every answer of the suite is held to the OpenAPI document.
        if let Err(e) = contract::CONTRACT.check(method.as_str(), path, status.as_u16(), &text) {
            panic!("{e}");
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    async fn channel(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(method, path, Some(CHANNEL), Some(body)).await
    }

    async fn pull(&self, token: &str, cursor: &str, limit: u32, wait: u32) -> PullResponse {
        let (st, v) = self.get(&format!("/v1/sync/pull?cursor={cursor}&limit={limit}&wait={wait}"), token).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        serde_json::from_value(v).unwrap()
    }

    /// Every change the device can see, in small pages.
    async fn pull_all(&self, token: &str, limit: u32) -> (Vec<Change>, String) {
        let (mut all, mut cursor) = (Vec::new(), String::new());
        loop {
            let page = self.pull(token, &cursor, limit, 0).await;
            all.extend(page.changes);
            cursor = page.cursor;
            if !page.has_more {
                return (all, cursor);
            }
        }
    }
}

async fn device_endpoint_names_the_device_its_store_and_the_hub_key(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(2, "till 2").unwrap();
    let (st, v) = s.get("/v1/device", &token).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["store_id"], 2);
    assert_eq!(v["protocol_version"], PROTOCOL_VERSION);
    assert_eq!(v["hub_public_key"], omnikiosk_protocol::code::encode_public_key(&s.hub.public_key()));
}

async fn tokens_are_checked_on_every_endpoint(db: Db) {
    let s = server(db, small()).await;
    let device = s.hub.add_device(1, "k").unwrap();
    use reqwest::Method as M;
    let device_paths = ["/v1/device", "/v1/sync/pull", "/v1/lookup?code=0420000000013"];
    for path in device_paths {
        assert_eq!(s.call(M::GET, path, None, None).await.0, StatusCode::UNAUTHORIZED, "{path} without token");
        assert_eq!(s.call(M::GET, path, Some("okd_forged"), None).await.0, StatusCode::UNAUTHORIZED, "{path} forged");
        assert_eq!(s.call(M::GET, path, Some(CHANNEL), None).await.0, StatusCode::FORBIDDEN, "{path} with channel token");
    }
    let channel_paths = ["/v1/customers/C000001", "/v1/orders/O-1-1", "/v1/devices"];
    for path in channel_paths {
        assert_eq!(s.call(M::GET, path, None, None).await.0, StatusCode::UNAUTHORIZED, "{path} without token");
        assert_eq!(s.call(M::GET, path, Some("wrong"), None).await.0, StatusCode::UNAUTHORIZED, "{path} wrong token");
        assert_eq!(s.call(M::GET, path, Some(&device), None).await.0, StatusCode::FORBIDDEN, "{path} with device token");
    }
    let (st, v) = s.get("/v1/devices", CHANNEL).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1);

    // A revoked kiosk is shut out at once, with a reason it can show.
    let id = v[0]["device_id"].as_str().unwrap().to_string();
    assert_eq!(s.get("/v1/device", &device).await.0, StatusCode::OK);
    s.hub.revoke_device(&id).unwrap();
    let (st, v) = s.get("/v1/sync/pull", &device).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(v["message"].as_str().unwrap().contains("revoked"), "{v}");
    assert!(s.hub.revoke_device("kiosk-9-9").is_err());
}

async fn an_outdated_protocol_is_told_to_update(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let resp = s.http.get(format!("{}/v1/sync/pull", s.base)).bearer_auth(&token).header(PROTOCOL_HEADER, "0").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UPGRADE_REQUIRED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "update_needed");
}

async fn small_pages_deliver_exactly_what_one_big_page_does(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let (big, big_cursor) = s.pull_all(&token, 10_000).await;
    let (small_pages, small_cursor) = s.pull_all(&token, 7).await;
    assert!(big.len() > 100);
    assert_eq!(big, small_pages);
    assert_eq!(big_cursor, small_cursor);
    // Nothing new: an immediate answer with the same cursor and no changes.
    let again = s.pull(&token, &big_cursor, 7, 0).await;
    assert!(again.changes.is_empty() && !again.has_more);
    assert_eq!(again.cursor, big_cursor);
}

async fn a_page_never_splits_a_server_transaction(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let (_, cursor) = s.pull_all(&token, 10_000).await;
    // A newcomer with a cart orders for pickup at store 1: one transaction brings their
    // profile, their cart and the order into store 1's feed together.
    s.channel(reqwest::Method::PUT, "/v1/customers/C-NEW", json!({"first_name":"Mei","last_name":"Wang","tier":"silver","home_store":2,"language":"zh"})).await;
    let skus = skus(&s, 2).await;
    s.channel(reqwest::Method::PUT, "/v1/customers/C-NEW/cart", json!({"lines":[{"sku":skus[0],"qty":1}]})).await;
    let (st, order) = s.channel(reqwest::Method::POST, "/v1/orders", json!({"customer_id":"C-NEW","store_id":1,"lines":[{"sku":skus[1],"qty":2}]})).await;
    assert_eq!(st, StatusCode::CREATED, "{order}");
    let page = s.pull(&token, &cursor, 1, 0).await;
    let kinds: Vec<&str> = page
        .changes
        .iter()
        .map(|c| match c {
            Change::Customer(_) => "customer",
            Change::Cart(_) => "cart",
            Change::Order(_) => "order",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["customer", "cart", "order"], "asked for 1, got the whole transaction");
    assert!(!page.has_more);
}

async fn a_long_poll_returns_as_soon_as_an_order_is_placed(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let (_, cursor) = s.pull_all(&token, 10_000).await;
    let customer = s.hub.get_customer("C000001").unwrap();
    let started = Instant::now();
    let poll = {
        let (http, base, token, cursor) = (s.http.clone(), s.base.clone(), token.clone(), cursor.clone());
        tokio::spawn(async move {
            let r = http.get(format!("{base}/v1/sync/pull?cursor={cursor}&wait=30")).bearer_auth(token).send().await.unwrap();
            r.json::<PullResponse>().await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // An order at another store first: it must not answer store 1's poll.
    let sku = customer_sku(&s).await;
    s.channel(reqwest::Method::POST, "/v1/orders", json!({"customer_id":customer.id,"store_id":2,"lines":[{"sku":sku,"qty":1}]})).await;
    let (_, order) = s.channel(reqwest::Method::POST, "/v1/orders", json!({"customer_id":customer.id,"store_id":1,"lines":[{"sku":sku,"qty":1}]})).await;
    let page = tokio::time::timeout(Duration::from_secs(10), poll).await.expect("long-poll never woke").unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let ids: Vec<String> = page.changes.iter().filter_map(|c| if let Change::Order(o) = c { Some(o.id.clone()) } else { None }).collect();
    assert!(ids.contains(&order["id"].as_str().unwrap().to_string()), "{ids:?}");
    assert!(page.changes.iter().all(|c| !matches!(c, Change::Order(o) if o.store_id != 1)));
}

/// Real SKUs from the catalogue, as a kiosk sees it: a kiosk of store 3, which the tests
/// do not watch (a new device enters its own store's feed with its first pull).
async fn skus(s: &Server, n: usize) -> Vec<String> {
    let token = s.hub.add_device(3, "sku finder").unwrap();
    let (all, _) = s.pull_all(&token, 10_000).await;
    all.into_iter().filter_map(|c| if let Change::Product(p) = c { Some(p.sku) } else { None }).take(n).collect()
}

async fn customer_sku(s: &Server) -> String {
    skus(s, 1).await.remove(0)
}

async fn a_store_1_device_reads_nothing_of_store_2(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let (all, _) = s.pull_all(&token, 10_000).await;
    for c in &all {
        match c {
            Change::Order(o) => assert_eq!(o.store_id, 1, "order {}", o.id),
            Change::Stock(st) => assert_eq!(st.store_id, 1),
            Change::Staff(st) => assert_eq!(st.store_id, 1, "staff {} of another store", st.id),
            Change::Customer(cu) => {
                let relevant = cu.home_store == Some(1)
                    || all.iter().any(|x| matches!(x, Change::Order(o) if o.customer_id == cu.id));
                assert!(relevant, "customer {} is not relevant to store 1", cu.id);
            }
            _ => {}
        }
    }
    // A store-2 shopper with an order at store 2, looked up at store 1: the profile may
    // come (they are in this store now), their store-2 orders never.
    let store2_order = (1..=60)
        .filter_map(|n| s.hub.get_order(&format!("O-2-{n}")).ok())
        .find(|o| !o.order.status.is_final())
        .expect("a store-2 order");
    let qr = s.hub.sign_code(CodeKind::Customer, &store2_order.order.customer_id, 600).unwrap();
    let (st, v) = s.get(&format!("/v1/lookup?code={qr}"), &token).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["orders"].as_array().unwrap().iter().all(|o| o["store_id"] == 1), "{v}");
    assert!(v["customer"].get("email").is_none() && v["customer"].get("last_name").is_none(), "{v}");
    // Asked the newer way, the code in the body (out of every access log): the same answer.
    let (st, posted) = s.call(reqwest::Method::POST, "/v1/lookup", Some(&token), Some(json!({"code": qr}))).await;
    assert_eq!((st, &posted["customer"]), (StatusCode::OK, &v["customer"]), "{posted}");
}

async fn lookup_of_unknown_or_wrong_codes_answers_clearly(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let unknown_card = LoyaltyCard::generate("042", 999_999).as_str().to_string();
    assert_eq!(s.get(&format!("/v1/lookup?code={unknown_card}"), &token).await.0, StatusCode::NOT_FOUND);
    let (st, v) = s.get("/v1/lookup?code=4006381333931", &token).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "a product is not a customer: {v}");
    let (st, _) = s.get("/v1/lookup?code=K1.garbage.garbage", &token).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let posted = |body: Value| s.call(reqwest::Method::POST, "/v1/lookup", Some(&token), Some(body));
    assert_eq!(posted(json!({"code": unknown_card})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(posted(json!({"code": "K1.garbage.garbage"})).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(posted(json!({"card": unknown_card})).await.0, StatusCode::BAD_REQUEST, "a body without its code");
}

async fn bad_input_is_refused_and_changes_nothing(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let head = s.hub.feed_head().unwrap();
    use reqwest::Method as M;
    let card_of_c2 = s.hub.get_customer("C000002").unwrap().loyalty_cards[0].clone();
    let cases: Vec<(M, &str, Value, StatusCode)> = vec![
        (M::PUT, "/v1/customers/C000001", json!({"first_name":"A"}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/C000001", json!({"first_name":"A","last_name":"B","tier":"diamond","home_store":1,"language":"en"}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/C000001", json!({"first_name":"A","last_name":"B","tier":"gold","home_store":99,"language":"en"}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/bad%20id", json!({"first_name":"A","last_name":"B","tier":"gold","home_store":1,"language":"en"}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/C000001/identifiers", json!({"loyalty_cards":["0420000000014"]}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/C000001/identifiers", json!({"loyalty_cards":[card_of_c2]}), StatusCode::CONFLICT),
        (M::PUT, "/v1/customers/C000001/cart", json!({"lines":[{"sku":"4006381333931","qty":1}]}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/C000001/cart", json!({"lines":[{"sku":"4006381333931","qty":0}]}), StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/NOPE/cart", json!({"lines":[]}), StatusCode::NOT_FOUND),
        (M::POST, "/v1/orders", json!({"customer_id":"C000001","store_id":1,"lines":[]}), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders", json!({"customer_id":"NOPE","store_id":1,"lines":[{"sku":"4006381333931","qty":1}]}), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders", json!("'; DROP TABLE orders; --"), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders/O-9-9/cancel", json!({"reason":"x"}), StatusCode::NOT_FOUND),
    ];
    for (method, path, body, expected) in cases {
        let (st, v) = s.channel(method.clone(), path, body.clone()).await;
        assert_eq!(st, expected, "{method} {path} {body}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {v}");
    }
    // Garbage that is not JSON at all.
    let resp = s.http.post(format!("{}/v1/orders", s.base)).bearer_auth(CHANNEL).header("content-type", "application/json").body("{{{{").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    for q in ["cursor=-1", "cursor=abc", "cursor=1", "cursor=1&limit=x"] {
        assert_eq!(s.get(&format!("/v1/sync/pull?{q}"), &token).await.0, StatusCode::BAD_REQUEST, "{q}");
    }
    assert_eq!(s.hub.feed_head().unwrap(), head, "a refused request wrote to the feed");
    // A collected order cannot be cancelled.
    let collected = (1..=60)
        .filter_map(|n| s.hub.get_order(&format!("O-1-{n}")).ok())
        .find(|o| o.order.status == omnikiosk_protocol::wire::OrderStatus::Collected)
        .expect("a collected order");
    let (st, _) = s.channel(M::POST, &format!("/v1/orders/{}/cancel", collected.order.id), json!({"reason":"x"})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(s.hub.feed_head().unwrap(), head);
}

/// Regression guard for the classic change-feed bug: a sequence number taken before
/// commit lets a reader jump past a row that commits later and lose it forever. Writers
/// of two stores and of `global` run side by side (on PostgreSQL writers of different
/// stores no longer wait for each other, and `global` is numbered apart from the stores)
/// while a kiosk of each store pulls small pages: each sees every change of its two
/// scopes exactly once, each writer's changes in the order they committed, in the order
/// of the store's feed, and nothing of the other store.
async fn concurrent_writers_never_make_a_puller_miss_a_change(db: Db) {
    let s = std::sync::Arc::new(server(db, small()).await);
    let sku = customer_sku(&s).await;
    const STORES: [i64; 2] = [1, 2];
    const WRITERS: usize = 4;
    const EACH: usize = 15;
    let mut kiosks = Vec::new();
    for store in STORES {
        let token = s.hub.add_device(store, "k").unwrap();
        let (_, start) = s.pull_all(&token, 10_000).await;
        kiosks.push((store, token, start));
    }
    // The catalogue changes meanwhile: through a second handle on the database, as another
    // hub process would (no endpoint writes `global`).
    let url = s.db_url.clone();
    let other = tokio::task::spawn_blocking(move || second_backend(&url)).await.unwrap();
    // Each writer's keys, in the order it committed them (one after the other).
    let catalogue_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for store in STORES {
        for w in 0..WRITERS {
            let (s, sku) = (s.clone(), sku.clone());
            let catalogue_done = catalogue_done.clone();
            writers.push(tokio::spawn(async move {
                let mut keys = Vec::new();
                // As long as the catalogue writer runs, so the two always overlap.
                while keys.len() < EACH || !catalogue_done.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"customer_id":format!("C{:06}", w + 1),"store_id":store,"lines":[{"sku":sku,"qty":1}]});
                    let (st, v) = s.channel(reqwest::Method::POST, "/v1/orders", body).await;
                    assert_eq!(st, StatusCode::CREATED, "{v}");
                    keys.push(format!("order:{}", v["id"].as_str().unwrap()));
                }
                (Some(store), keys)
            }));
        }
    }
    let global = {
        let done = catalogue_done.clone();
        tokio::task::spawn_blocking(move || {
            let keys: Vec<String> = (0..2 * EACH).map(|n| format!("product:CW-{n}")).collect();
            for (n, key) in keys.iter().enumerate() {
                let sku = key.trim_start_matches("product:").to_string();
                let change = Change::Product(ProductRecord { sku, name: format!("Catalogue change {n}"), price_cents: 100, category: "test".into(), vat_bp: 2300, ..Default::default() });
                let (key, body) = (key.clone(), serde_json::to_string(&change).unwrap());
                other
                    .tx(TxKind::Feed, move |tx| {
                        tx.feed("global", &key, &body)?;
                        // A writer slow to commit: the stores' writers commit meanwhile.
                        std::thread::sleep(Duration::from_millis(5));
                        Ok(())
                    })
                    .unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            (None, keys)
        })
    };
    let (written_tx, written_rx) = tokio::sync::watch::channel(None);
    let pullers: Vec<_> = kiosks
        .iter()
        .cloned()
        .map(|(store, token, start)| {
            let (s, mut written) = (s.clone(), written_rx.clone());
            tokio::spawn(async move {
                let (mut seen, mut cursor) = (Vec::new(), start);
                let deadline = Instant::now() + Duration::from_secs(60);
                // Until every change of its scopes is seen, once all are written.
                let all_seen = |seen: &Vec<String>, written: &Option<Vec<(Option<i64>, Vec<String>)>>| {
                    written.as_ref().is_some_and(|w| {
                        w.iter().filter(|(scope, _)| scope.is_none_or(|s| s == store)).flat_map(|(_, keys)| keys).all(|k| seen.contains(k))
                    })
                };
                while !all_seen(&seen, &written.borrow_and_update()) && Instant::now() < deadline {
                    let page = s.pull(&token, &cursor, 3, 1).await;
                    for c in &page.changes {
                        if let Change::Order(o) = c {
                            assert_eq!(o.store_id, store, "a kiosk of store {store} was sent {}", o.id);
                        }
                    }
                    seen.extend(page.changes.iter().filter_map(written_key));
                    cursor = page.cursor;
                }
                seen
            })
        })
        .collect();
    let mut written = vec![global.await.unwrap()];
    for w in writers {
        written.push(w.await.unwrap());
    }
    written_tx.send_replace(Some(written.clone()));
    for ((store, token, start), puller) in kiosks.iter().zip(pullers) {
        let seen = puller.await.unwrap();
        let mut once = HashSet::new();
        let twice: Vec<_> = seen.iter().filter(|k| !once.insert(*k)).collect();
        assert!(twice.is_empty(), "store {store}'s kiosk was sent {twice:?} twice");
        for (scope, keys) in written.iter().filter(|(scope, _)| scope.is_none_or(|s| s == *store)) {
            let got: Vec<&String> = seen.iter().filter(|k| keys.contains(k)).collect();
            let missed: Vec<_> = keys.iter().filter(|k| !once.contains(k)).collect();
            assert!(missed.is_empty(), "store {store}'s kiosk missed {missed:?} (writer of {scope:?})");
            assert!(got.iter().copied().eq(keys.iter()), "store {store}'s kiosk saw a writer's changes out of commit order: {got:?}");
        }
        // Live, in small pages, the kiosk saw what the feed holds now, in its order.
        let now: Vec<String> = s.pull(token, start, 10_000, 0).await.changes.iter().filter_map(written_key).collect();
        assert_eq!(seen, now, "store {store}'s kiosk saw its feed in another order");
    }
}

/// The feed key of an order, or of a product the concurrent writers made.
fn written_key(c: &Change) -> Option<String> {
    match c {
        Change::Order(o) => Some(format!("order:{}", o.id)),
        Change::Product(p) if p.sku.starts_with("CW-") => Some(format!("product:{}", p.sku)),
        _ => None,
    }
}

/// Another handle on the hub's database, as a second hub process has.
fn second_backend(db_url: &str) -> std::sync::Arc<dyn Backend> {
    match db_url.strip_prefix("sqlite:") {
        Some(path) => std::sync::Arc::new(SqliteHubStore::open(std::path::Path::new(path)).unwrap()),
        None => std::sync::Arc::new(PostgresHubStore::open(db_url).unwrap()),
    }
}

async fn ready_orders_left_uncollected_expire_and_kiosks_hear_of_it(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let (before, cursor) = s.pull_all(&token, 10_000).await;
    let ready: Vec<String> = before
        .iter()
        .filter_map(|c| match c {
            Change::Order(o) if o.status == omnikiosk_protocol::wire::OrderStatus::Ready => Some(o.id.clone()),
            _ => None,
        })
        .collect();
    assert!(!ready.is_empty());
    // Not yet: the seed's ready orders were promised at most three days ago.
    assert!(s.hub.expire_no_shows(omnikiosk_hub::now_secs(), 7 * 86400).unwrap().is_empty());
    let expired = s.hub.expire_no_shows(omnikiosk_hub::now_secs() + 30 * 86400, 7 * 86400).unwrap();
    let page = s.pull(&token, &cursor, 10_000, 0).await;
    for id in &ready {
        assert!(expired.iter().any(|e| e.starts_with("O-1-") && e == id), "{id} did not expire");
        assert!(
            page.changes.iter().any(|c| matches!(c, Change::Order(o) if &o.id == id && o.status == omnikiosk_protocol::wire::OrderStatus::Expired)),
            "{id} did not reach the kiosk as expired"
        );
    }
    assert_eq!(s.hub.get_order(&ready[0]).unwrap().history.last().unwrap().by, "hub");
}

async fn a_cursor_of_another_database_or_from_the_future_asks_for_a_fresh_start(db: Db) {
    let a = server(db, small()).await;
    let b = server(db, SeedOptions { seed: 10, ..small() }).await;
    let (ta, tb) = (a.hub.add_device(1, "k").unwrap(), b.hub.add_device(1, "k").unwrap());
    let (_, cursor_a) = a.pull_all(&ta, 10_000).await;
    let (st, v) = b.get(&format!("/v1/sync/pull?cursor={cursor_a}"), &tb).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "cursor_reset");
    let (epoch, seq) = cursor_a.split_once('.').unwrap();
    let ahead = format!("{epoch}.{}", seq.parse::<i64>().unwrap() + 1000);
    let (st, v) = a.get(&format!("/v1/sync/pull?cursor={ahead}"), &ta).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "cursor_reset");
}

/// Pushed ops on the storage backend: applied, rejected (recorded as a conflict, leaving
/// nothing behind), replayed (duplicate), a gap (expected_seq); an order QR checked with
/// the hub key; then erasure reaching the kiosk's feed.
async fn pushed_ops_apply_once_and_erasure_reaches_the_feed(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    let (_, cursor) = s.pull_all(&token, 10_000).await;
    let ready = (1..=60)
        .filter_map(|n| s.hub.get_order(&format!("O-1-{n}")).ok())
        .find(|o| o.order.status == omnikiosk_protocol::wire::OrderStatus::Ready)
        .expect("a ready order at store 1");
    let (order_id, customer) = (ready.order.id.clone(), ready.order.customer_id.clone());
    let before = s.hub.get_customer(&customer).unwrap().points;
    let qr = s.hub.sign_code(CodeKind::Order, &order_id, 600).unwrap();
    let ops = json!([
        {"op_id":"op-1","seq":1,"name":"loyalty.earn","kiosk_time":0,"body":{"customer_id":customer,"points":75,"reason":"purchase"}},
        {"op_id":"op-2","seq":2,"name":"loyalty.redeem","kiosk_time":0,"body":{"customer_id":customer,"points":before + 76,"reason":"too much"}},
        {"op_id":"op-3","seq":3,"name":"order.collect","kiosk_time":0,
         "body":{"order_id":order_id,"staff_id":"S1-STAFF","verification":{"method":"order_qr","value":qr}}},
    ]);
    let push = |body: Value| s.call(reqwest::Method::POST, "/v1/sync/push", Some(&token), Some(body));
    let (st, v) = push(json!({"device_seq_from": 1, "ops": ops, "outbox_len": 3})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let statuses: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["applied", "rejected", "applied"], "{v}");
    assert_eq!(v["results"][1]["code"], "insufficient_points", "{v}");
    assert_eq!(s.hub.get_customer(&customer).unwrap().points, before + 75, "the refused redemption left nothing behind");
    let conflicts = s.hub.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].op_id, "op-2");
    let order = s.hub.get_order(&order_id).unwrap();
    assert_eq!(order.order.status, omnikiosk_protocol::wire::OrderStatus::Collected);
    assert_eq!(order.history.last().unwrap().note.as_deref(), Some("verified by order QR"));
    // The same push again: every op is a duplicate and nothing changes.
    let (_, v) = push(json!({"device_seq_from": 1, "ops": ops, "outbox_len": 3})).await;
    let statuses: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["duplicate", "duplicate", "duplicate"], "{v}");
    assert_eq!(s.hub.get_customer(&customer).unwrap().points, before + 75);
    // A gap answers where to resume.
    let (_, v) = push(json!({"device_seq_from": 9, "ops": [{"op_id":"op-9","seq":9,"name":"feedback.nps","kiosk_time":0,"body":{"score":9,"csat":null,"customer_id":null}}]})).await;
    assert_eq!(v["results"][0]["status"], "expected_seq", "{v}");
    assert_eq!(v["results"][0]["expected_seq"], 4, "{v}");
    assert_eq!(s.get("/v1/device", &token).await.1["last_seq"], 3);
    let page = s.pull(&token, &cursor, 10_000, 0).await;
    assert!(page.changes.iter().any(|c| matches!(c, Change::Order(o) if o.id == order_id && o.status == omnikiosk_protocol::wire::OrderStatus::Collected)));
    assert!(page.changes.iter().any(|c| matches!(c, Change::Customer(cu) if cu.id == customer && cu.points == before + 75)));
    // Erasure: the kiosk's next pull drops the customer; the order stays, anonymised.
    let (st, v) = s.call(reqwest::Method::DELETE, &format!("/v1/customers/{customer}"), Some(CHANNEL), None).await;
    assert!(st.is_success(), "{st} {v}");
    let after = s.pull(&token, &page.cursor, 10_000, 0).await;
    assert!(after.changes.iter().any(|c| matches!(c, Change::CustomerRemoved { id } if *id == customer)), "{:?}", after.changes);
    assert!(after.changes.iter().all(|c| !matches!(c, Change::Customer(cu) if cu.id == customer)));
    assert_eq!(s.hub.get_order(&order_id).unwrap().order.customer_id, "erased");
    assert!(s.hub.get_customer(&customer).is_err());
    let (all, _) = s.pull_all(&token, 10_000).await;
    assert!(all.iter().all(|c| !matches!(c, Change::Customer(cu) if cu.id == customer) && !matches!(c, Change::Cart(ca) if ca.customer_id == customer)));
}

/// A NUL character (which PostgreSQL text cannot hold) in a path, body or pushed op is
/// answered like any other unknown input — never a 500, never a stuck push queue.
async fn nul_characters_are_answered_like_any_other_input(db: Db) {
    let s = server(db, small()).await;
    let token = s.hub.add_device(1, "k").unwrap();
    use reqwest::Method as M;
    let sku = customer_sku(&s).await;
    let cases: Vec<(M, &str, Option<Value>, StatusCode)> = vec![
        (M::GET, "/v1/orders/O-1-1%00", None, StatusCode::NOT_FOUND),
        (M::GET, "/v1/customers/C000001%00", None, StatusCode::BAD_REQUEST),
        (M::PUT, "/v1/customers/C000001/cart", Some(json!({"lines":[{"sku":"400638\u{0}1333931","qty":1}]})), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders", Some(json!({"customer_id":"C\u{0}1","store_id":1,"lines":[{"sku":sku,"qty":1}]})), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders/O-1-1%00/cancel", Some(json!({"reason":"x"})), StatusCode::NOT_FOUND),
        (M::DELETE, "/v1/customers/C000001%00", None, StatusCode::BAD_REQUEST),
    ];
    for (method, path, body, expected) in cases {
        let (st, v) = s.call(method.clone(), path, Some(CHANNEL), body.clone()).await;
        assert_eq!(st, expected, "{method} {path} {body:?}: {v}");
    }
    // A shopper of store 1: the device may give them points.
    let here = (1..=240).filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok()).find(|c| c.home_store == Some(1)).unwrap().id;
    let op = |seq: i64, op_id: &str| json!({"op_id":op_id,"seq":seq,"name":"loyalty.earn","kiosk_time":0,"body":{"customer_id":here,"points":5,"reason":"thanks\u{0}"}});
    let push = |ops: Value| s.call(M::POST, "/v1/sync/push", Some(&token), Some(json!({"device_seq_from": 1, "ops": ops})));
    let (st, v) = push(json!([op(1, "nul-\u{0}-1")])).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["status"], "applied", "{v}");
    let (st, v) = push(json!([op(1, "nul-\u{0}-1"), op(2, "nul-2")])).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["status"], "duplicate", "{v}");
    assert_eq!(v["results"][1]["status"], "applied", "{v}");
}

on_both_backends!(device_endpoint_names_the_device_its_store_and_the_hub_key);
on_both_backends!(tokens_are_checked_on_every_endpoint);
on_both_backends!(an_outdated_protocol_is_told_to_update);
on_both_backends!(small_pages_deliver_exactly_what_one_big_page_does);
on_both_backends!(a_page_never_splits_a_server_transaction);
on_both_backends!(a_long_poll_returns_as_soon_as_an_order_is_placed);
on_both_backends!(a_store_1_device_reads_nothing_of_store_2);
on_both_backends!(lookup_of_unknown_or_wrong_codes_answers_clearly);
on_both_backends!(bad_input_is_refused_and_changes_nothing);
on_both_backends!(concurrent_writers_never_make_a_puller_miss_a_change, flavor = "multi_thread", worker_threads = 4);
on_both_backends!(ready_orders_left_uncollected_expire_and_kiosks_hear_of_it);
on_both_backends!(a_cursor_of_another_database_or_from_the_future_asks_for_a_fresh_start);
on_both_backends!(pushed_ops_apply_once_and_erasure_reaches_the_feed);
on_both_backends!(nul_characters_are_answered_like_any_other_input);

on_both_backends!(stopping_the_hub_does_not_wait_out_held_long_polls);
async fn stopping_the_hub_does_not_wait_out_held_long_polls(db: Db) {
    let (hub, _, _dir) = open_hub(db);
    hub.seed(&small()).unwrap();
    let token = hub.add_device(1, "k").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(omnikiosk_hub::serve(hub.clone(), listener, ServeConfig::default(), async {
        let _ = stopped.await;
    }));
    let cursor = hub.cursor(hub.feed_head().unwrap());
    let poll = tokio::spawn(async move {
        reqwest::Client::new()
            .get(format!("{base}/v1/sync/pull?cursor={cursor}&wait=60"))
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server).await.expect("the hub stopped within 20 s, not after the 60 s poll").unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_secs(20));
    // The held poll got its (empty) answer instead of a cut connection.
    assert_eq!(poll.await.unwrap().unwrap(), StatusCode::OK);
}

/// A kiosk of the tests: its token and the next sequence number of its ops.
struct Kiosk {
    token: String,
    id: String,
    next_seq: std::cell::Cell<i64>,
}

impl Server {
    async fn kiosk(&self, store_id: i64) -> Kiosk {
        let token = self.hub.add_device(store_id, "till").unwrap();
        let (st, v) = self.get("/v1/device", &token).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        Kiosk { token, id: v["device_id"].as_str().unwrap().to_string(), next_seq: std::cell::Cell::new(1) }
    }

    /// Pushes one op through the real push endpoint and returns its result.
    async fn push_op(&self, k: &Kiosk, op_id: &str, name: &str, body: Value) -> Value {
        let seq = k.next_seq.get();
        let op = json!({"op_id": op_id, "seq": seq, "name": name, "kiosk_time": 0, "body": body});
        let (st, v) = self.call(reqwest::Method::POST, "/v1/sync/push", Some(&k.token), Some(json!({"device_seq_from": seq, "ops": [op]}))).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let result = v["results"][0].clone();
        if result["status"] != "duplicate" {
            k.next_seq.set(seq + 1);
        }
        result
    }

    /// The whole feed as a kiosk speaking `protocol` is sent it, in one page.
    async fn pull_as(&self, token: &str, protocol: u32) -> PullResponse {
        let resp = self
            .http
            .get(format!("{}/v1/sync/pull?cursor=&limit=10000", self.base))
            .bearer_auth(token)
            .header(PROTOCOL_HEADER, protocol.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let page: PullResponse = resp.json().await.unwrap();
        assert!(!page.has_more);
        page
    }

    /// The store's current state of shared things as a device of it sees them: every
    /// change it can pull, last one per entity winning.
    async fn store_view(&self, k: &Kiosk) -> Vec<Change> {
        self.pull_all(&k.token, 10_000).await.0
    }
}

fn help_of(changes: &[Change], id: &str) -> Option<omnikiosk_protocol::wire::HelpRecord> {
    changes.iter().rev().find_map(|c| match c {
        Change::Help(h) if h.id == id => Some(h.clone()),
        _ => None,
    })
}

fn help_ended(changes: &[Change], id: &str) -> bool {
    changes.iter().any(|c| matches!(c, Change::HelpEnded { id: i } if i == id))
}

async fn put_shopper(s: &Server, id: &str, first: &str, last: &str, home: i64) {
    let (st, v) = s
        .channel(reqwest::Method::PUT, &format!("/v1/customers/{id}"), json!({"first_name":first,"last_name":last,"tier":"silver","home_store":home,"language":"pl"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// "Call staff" at one device: every device of the store lists it with the shopper's first
/// name and initial, none of another store does; one colleague takes it, a second is told
/// who is on the way, and once done it leaves every screen.
async fn a_help_request_is_seen_store_wide_and_answered_once(db: Db) {
    let s = server(db, small()).await;
    let (a, b, other) = (s.kiosk(1).await, s.kiosk(1).await, s.kiosk(2).await);
    put_shopper(&s, "C-ANNA", "Anna", "kowalska", 1).await;

    let r = s.push_op(&a, "help-1", "help.request", json!({"customer_id":"C-ANNA"})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let seen = s.store_view(&b).await;
    let h = help_of(&seen, "help-1").expect("device B lists the request raised at A");
    assert_eq!((h.shopper.as_deref(), h.device_id.as_str(), h.taken_by.as_deref()), (Some("Anna K."), a.id.as_str(), None));
    assert!(help_of(&s.store_view(&other).await, "help-1").is_none(), "a store-2 device lists store 1's request");

    let r = s.push_op(&b, "take-1", "help.take", json!({"request_id":"help-1","staff_id":"S1-STAFF"})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let h = help_of(&s.store_view(&a).await, "help-1").unwrap();
    assert_eq!((h.taken_by.as_deref(), h.taken_by_name.as_deref()), (Some("S1-STAFF"), Some("Kasia")), "the asking device shows who is coming");
    assert!(h.taken_at.is_some());

    let r = s.push_op(&a, "take-2", "help.take", json!({"request_id":"help-1","staff_id":"S1-MGR"})).await;
    assert_eq!((r["status"].as_str(), r["code"].as_str()), (Some("rejected"), Some("help_taken")), "{r}");
    assert_eq!(r["message"], "Kasia is already on the way");
    assert_eq!(r["facts"]["taken_by"], "S1-STAFF", "{r}");
    let conflicts = s.hub.conflicts().unwrap();
    assert!(conflicts.iter().any(|c| c.op_id == "take-2" && c.code == "help_taken"), "{conflicts:?}");

    let r = s.push_op(&b, "done-1", "help.done", json!({"request_id":"help-1","staff_id":"S1-STAFF"})).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert!(help_ended(&s.store_view(&a).await, "help-1"), "the request left the screens");
    let r = s.push_op(&a, "done-2", "help.done", json!({"request_id":"help-1","staff_id":"S1-MGR"})).await;
    assert_eq!(r["code"], "help_closed", "{r}");
    assert!(r["message"].as_str().unwrap().contains("Kasia"), "{r}");

    // Anonymous, then closed with the badge of another store's colleague.
    let r = s.push_op(&a, "help-2", "help.request", json!({"customer_id":null})).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(help_of(&s.store_view(&b).await, "help-2").unwrap().shopper, None);
    let r = s.push_op(&b, "done-3", "help.done", json!({"request_id":"help-2","staff_id":"S2-STAFF"})).await;
    assert_eq!(r["code"], "unknown_staff", "{r}");
    // A store-2 device cannot reach store 1's request at all.
    let r = s.push_op(&other, "take-3", "help.take", json!({"request_id":"help-2","staff_id":"S2-STAFF"})).await;
    assert_eq!(r["code"], "unknown_help", "{r}");
    assert!(!help_ended(&s.store_view(&b).await, "help-2"));
}

/// Five wrong PINs for one badge, typed at two devices, lock it at every device of the
/// store; the right PIN clears the count.
async fn wrong_pins_at_two_devices_lock_the_badge_store_wide(db: Db) {
    let s = server(db, small()).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(1).await);
    let pins = |changes: &[Change]| {
        changes.iter().rev().find_map(|c| match c {
            Change::PinFailures(p) if p.staff_id == "S1-STAFF" => Some(p.clone()),
            _ => None,
        })
    };
    for n in 0..5 {
        let k = if n % 2 == 0 { &a } else { &b };
        let r = s.push_op(k, &format!("pin-{n}"), "staff.pin_failed", json!({"staff_id":"S1-STAFF"})).await;
        assert_eq!(r["status"], "applied", "{r}");
        if n == 3 {
            let p = pins(&s.store_view(&a).await).unwrap();
            assert_eq!((p.state.failures, p.state.locked_until), (4, None), "four wrong PINs do not lock yet");
        }
    }
    let p = pins(&s.store_view(&b).await).expect("the count reached the store's feed");
    assert_eq!((p.store_id, p.state.failures), (1, 5));
    assert!(p.state.locked_until.is_some_and(|u| u > omnikiosk_hub::now_secs()), "{p:?}");
    let r = s.push_op(&a, "pin-ok", "staff.pin_ok", json!({"staff_id":"S1-STAFF"})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let p = pins(&s.store_view(&b).await).unwrap();
    assert_eq!((p.state.failures, p.state.locked_until), (0, None));
    let r = s.push_op(&a, "pin-x", "staff.pin_failed", json!({"staff_id":"S2-STAFF"})).await;
    assert_eq!(r["code"], "unknown_staff", "{r}");
}

/// NPS answers given at two devices are both the store's; an impossible score is refused.
async fn answers_at_two_devices_are_the_stores_numbers(db: Db) {
    let s = server(db, small()).await;
    let (a, b, other) = (s.kiosk(1).await, s.kiosk(1).await, s.kiosk(2).await);
    let r = s.push_op(&a, "nps-a", "feedback.nps", json!({"score":9,"csat":"quick","customer_id":null})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let r = s.push_op(&b, "nps-b", "feedback.nps", json!({"score":3,"csat":null,"customer_id":"C000001"})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let answers: Vec<(String, String, i64)> = s
        .store_view(&a)
        .await
        .into_iter()
        .filter_map(|c| if let Change::Feedback(f) = c { Some((f.op_id, f.device_id, f.score)) } else { None })
        .collect();
    assert_eq!(answers, [("nps-a".to_string(), a.id.clone(), 9), ("nps-b".to_string(), b.id.clone(), 3)]);
    assert!(s.store_view(&other).await.iter().all(|c| !matches!(c, Change::Feedback(_))));
    let r = s.push_op(&a, "nps-11", "feedback.nps", json!({"score":11,"csat":null,"customer_id":null})).await;
    assert_eq!(r["code"], "bad_op", "{r}");
}

/// "Save for later" puts the scanned product into the shopper's online cart once per op,
/// whatever the retries; a product the catalogue does not have is refused.
async fn save_for_later_lands_in_the_online_cart_once(db: Db) {
    let s = server(db, small()).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(1).await);
    put_shopper(&s, "C-CART", "Ola", "Nowak", 1).await;
    let sku = customer_sku(&s).await;
    let cart = |p: &omnikiosk_protocol::wire::CustomerProfile| p.cart.iter().map(|l| (l.sku.clone(), l.qty)).collect::<Vec<_>>();

    let add = json!({"customer_id":"C-CART","sku":sku});
    assert_eq!(s.push_op(&a, "save-1", "cart.add", add.clone()).await["status"], "applied");
    assert_eq!(cart(&s.hub.get_customer("C-CART").unwrap()), [(sku.clone(), 1)]);
    // The same op again (a retry after a lost answer): a duplicate, the cart unchanged.
    a.next_seq.set(1);
    assert_eq!(s.push_op(&a, "save-1", "cart.add", add.clone()).await["status"], "duplicate");
    let (st, profile) = s.get("/v1/customers/C-CART", CHANNEL).await;
    assert_eq!(st, StatusCode::OK);
    let lines = profile["cart"].as_array().unwrap();
    assert_eq!((lines.len(), &lines[0]["sku"], &lines[0]["qty"]), (1, &json!(sku), &json!(1)), "{profile}");
    // Another device of the store sees the cart in its feed.
    let carts: Vec<_> = s.store_view(&b).await.into_iter().filter_map(|c| if let Change::Cart(c) = c { Some(c) } else { None }).collect();
    assert!(carts.iter().any(|c| c.customer_id == "C-CART" && c.lines.len() == 1 && c.lines[0].qty == 1), "{carts:?}");
    // A second scan of the same product is one more of it, on the same line.
    a.next_seq.set(2);
    assert_eq!(s.push_op(&a, "save-2", "cart.add", add).await["status"], "applied");
    assert_eq!(cart(&s.hub.get_customer("C-CART").unwrap()), [(sku.clone(), 2)]);
    let r = s.push_op(&a, "save-3", "cart.add", json!({"customer_id":"C-CART","sku":"4006381333931"})).await;
    assert_eq!(r["code"], "unknown_product", "{r}");
    let r = s.push_op(&a, "save-4", "cart.add", json!({"customer_id":"C-NOBODY","sku":sku})).await;
    assert_eq!(r["code"], "unknown_customer", "{r}");
}

/// What a call-centre agent sees of a shopper's day in store, newest first and paged; an
/// unknown shopper is a 404, and erasure leaves nothing of it.
async fn the_timeline_lists_a_shoppers_day_newest_first_until_erasure(db: Db) {
    let s = server(db, small()).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(1).await);
    let ready = (1..=60)
        .filter_map(|n| s.hub.get_order(&format!("O-1-{n}")).ok())
        .find(|o| o.order.status == omnikiosk_protocol::wire::OrderStatus::Ready)
        .expect("a ready order at store 1");
    let (order_id, customer, code) = (ready.order.id.clone(), ready.order.customer_id.clone(), ready.order.pickup_code.clone());
    let sku = customer_sku(&s).await;
    // Op ids rise with the order they are made in: entries of one second sort by them.
    let steps = [
        ("tl-1", "visit.seen", json!({"customer_id":customer})),
        ("tl-2", "visit.checkin", json!({"order_id":order_id,"customer_id":customer})),
        ("tl-3", "order.collect", json!({"order_id":order_id,"staff_id":"S1-STAFF","verification":{"method":"pickup_code","value":code}})),
        ("tl-4", "help.request", json!({"customer_id":customer})),
        ("tl-5", "feedback.nps", json!({"score":10,"csat":"friendly","customer_id":customer})),
        ("tl-6", "cart.add", json!({"customer_id":customer,"sku":sku})),
    ];
    for (i, (op_id, name, body)) in steps.iter().enumerate() {
        let k = if i % 2 == 0 { &a } else { &b };
        let r = s.push_op(k, op_id, name, body.clone()).await;
        assert_eq!(r["status"], "applied", "{name}: {r}");
    }
    let (st, v) = s.get(&format!("/v1/customers/{customer}/timeline"), CHANNEL).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let timeline: omnikiosk_protocol::wire::Timeline = serde_json::from_value(v.clone()).unwrap();
    let kinds: Vec<&str> = v["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["cart_add", "feedback", "help", "pickup", "checkin", "visit"], "{v}");
    assert_eq!(timeline.next, None);
    use omnikiosk_protocol::wire::Touch;
    assert_eq!(timeline.entries[0].touch, Touch::CartAdd { sku: sku.clone() });
    assert_eq!(timeline.entries[1].touch, Touch::Feedback { score: 10, csat: Some("friendly".into()) });
    assert_eq!(timeline.entries[3].touch, Touch::Pickup { order_id: order_id.clone() });
    assert!(timeline.entries.iter().all(|e| e.store_id == 1));
    assert!(timeline.entries.windows(2).all(|w| w[0].at >= w[1].at), "newest first");

    // Pages of two: the same entries, in the same order, then no `next`.
    let (mut paged, mut after) = (Vec::new(), String::new());
    for page in 0.. {
        let (st, v) = s.get(&format!("/v1/customers/{customer}/timeline?limit=2&after={after}"), CHANNEL).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let t: omnikiosk_protocol::wire::Timeline = serde_json::from_value(v).unwrap();
        assert!(t.entries.len() <= 2);
        paged.extend(t.entries);
        match t.next {
            Some(next) => after = next,
            None => {
                assert_eq!(page, 2, "six entries make three pages of two");
                break;
            }
        }
    }
    assert_eq!(paged, timeline.entries);
    let (st, v) = s.get(&format!("/v1/customers/{customer}/timeline?after=garbage"), CHANNEL).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("cursor"), "{v}");
    let (st, v) = s.get("/v1/customers/C-NOBODY/timeline", CHANNEL).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    assert_eq!(s.get(&format!("/v1/customers/{customer}/timeline"), &a.token).await.0, StatusCode::FORBIDDEN);

    // Erasure: no timeline; the same id made again starts with none; the help request
    // still open stays on the store's screens without the shopper's name.
    let (_, cursor) = s.pull_all(&b.token, 10_000).await;
    let (st, v) = s.call(reqwest::Method::DELETE, &format!("/v1/customers/{customer}"), Some(CHANNEL), None).await;
    assert!(st.is_success(), "{st} {v}");
    assert_eq!(s.get(&format!("/v1/customers/{customer}/timeline"), CHANNEL).await.0, StatusCode::NOT_FOUND);
    put_shopper(&s, &customer, "Someone", "Else", 1).await;
    let (st, v) = s.get(&format!("/v1/customers/{customer}/timeline"), CHANNEL).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["entries"], json!([]), "erasure left touchpoints behind: {v}");
    let after = s.pull(&b.token, &cursor, 10_000, 0).await;
    let h = help_of(&after.changes, "tl-4").expect("the open request is shared again, without the shopper");
    assert_eq!((h.customer_id, h.shopper), (None, None));
    let (all, _) = s.pull_all(&b.token, 10_000).await;
    assert!(all.iter().all(|c| !matches!(c, Change::Help(h) if h.customer_id.is_some() && h.id == "tl-4")));
}

/// The manager's device list comes through the store's feed: what each device said of its
/// outbox at its last push; a pull shares a device at most once a minute, so pulls do not
/// wake each other for ever.
async fn devices_reach_the_store_feed_with_their_outbox(db: Db) {
    let s = server(db, small()).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(1).await);
    let (_, cursor) = s.pull_all(&b.token, 10_000).await;
    let op = json!({"op_id":"dev-1","seq":1,"name":"feedback.nps","kiosk_time":1_700_000_000,"body":{"score":8,"csat":null,"customer_id":null}});
    let (st, v) = s
        .call(reqwest::Method::POST, "/v1/sync/push", Some(&a.token), Some(json!({"device_seq_from":1,"ops":[op],"outbox_len":4,"oldest_unsent_at":1_700_000_000})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let page = s.pull(&b.token, &cursor, 10_000, 0).await;
    let record = page
        .changes
        .iter()
        .find_map(|c| if let Change::Device(d) = c { (d.device_id == a.id).then(|| d.clone()) } else { None })
        .expect("device A in store 1's feed");
    assert_eq!((record.store_id, record.outbox_len, record.oldest_unsent_at), (1, Some(4), Some(1_700_000_000)));
    assert!(record.last_seen_at.is_some());
    let (_, devices) = s.get("/v1/devices", CHANNEL).await;
    let listed = devices.as_array().unwrap().iter().find(|d| d["device_id"] == a.id.as_str()).unwrap().clone();
    assert_eq!((listed["outbox_len"].as_i64(), listed["oldest_unsent_at"].as_i64()), (Some(4), Some(1_700_000_000)), "{listed}");
    // Device B shared itself with its first pull; pulling again within the minute shares
    // nothing, and a long-poll waits out its time instead of being woken by its own pull.
    let (all, _) = s.pull_all(&a.token, 10_000).await;
    assert!(all.iter().any(|c| matches!(c, Change::Device(d) if d.device_id == b.id)), "device B in store 1's feed");
    let started = Instant::now();
    let quiet = s.pull(&b.token, &page.cursor, 10_000, 2).await;
    assert!(quiet.changes.is_empty(), "{:?}", quiet.changes);
    assert!(started.elapsed() >= Duration::from_millis(1500), "the long-poll was woken by its own pull");
    let other = s.kiosk(2).await;
    assert!(s.store_view(&other).await.iter().all(|c| !matches!(c, Change::Device(d) if d.store_id != 2)));
}

/// A check-in and a help request nobody closed end by themselves after their time, at
/// every device of the store.
async fn check_ins_and_help_requests_run_out_of_time(db: Db) {
    let s = server(db, small()).await;
    let a = s.kiosk(1).await;
    let ready = (1..=60)
        .filter_map(|n| s.hub.get_order(&format!("O-1-{n}")).ok())
        .find(|o| o.order.status == omnikiosk_protocol::wire::OrderStatus::Ready)
        .expect("a ready order at store 1");
    let (order_id, customer) = (ready.order.id.clone(), ready.order.customer_id.clone());
    let r = s.push_op(&a, "in-1", "visit.checkin", json!({"order_id":order_id,"customer_id":customer})).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(s.push_op(&a, "call-1", "help.request", json!({"customer_id":null})).await["status"], "applied");
    let (_, cursor) = s.pull_all(&a.token, 10_000).await;
    let now = omnikiosk_hub::now_secs();
    let (checkin_ttl, help_ttl) = (omnikiosk_hub::DEFAULT_CHECKIN_TTL_SECS, omnikiosk_hub::DEFAULT_HELP_TTL_SECS);
    assert_eq!(s.hub.end_stale_waits(now, checkin_ttl, help_ttl).unwrap(), omnikiosk_hub::EndedWaits::default(), "too early");
    let ended = s.hub.end_stale_waits(now + help_ttl + 60, checkin_ttl, help_ttl).unwrap();
    assert_eq!((ended.checkins.len(), ended.help.as_slice()), (0, ["call-1".to_string()].as_slice()));
    let ended = s.hub.end_stale_waits(now + checkin_ttl + 60, checkin_ttl, help_ttl).unwrap();
    assert_eq!((ended.checkins.as_slice(), ended.help.len()), ([order_id.clone()].as_slice(), 0), "each ends once");
    let page = s.pull(&a.token, &cursor, 10_000, 0).await;
    assert!(help_ended(&page.changes, "call-1"), "{:?}", page.changes);
    assert!(page.changes.iter().any(|c| matches!(c, Change::CheckinEnded { order_id: o } if *o == order_id)), "{:?}", page.changes);
    // Closing a request that ran out of time says so.
    let r = s.push_op(&a, "done-late", "help.done", json!({"request_id":"call-1","staff_id":"S1-STAFF"})).await;
    assert_eq!(r["code"], "help_closed", "{r}");
    assert!(r["message"].as_str().unwrap().contains("ran out of time"), "{r}");
    // Collecting the order afterwards does not end the check-in a second time.
    let head = s.hub.feed_head().unwrap();
    assert!(s.hub.end_stale_waits(now + 10 * checkin_ttl, checkin_ttl, help_ttl).unwrap() == omnikiosk_hub::EndedWaits::default());
    assert_eq!(s.hub.feed_head().unwrap(), head);
}

/// A kiosk of an older protocol keeps syncing: it is not sent the kinds its protocol does
/// not know — a protocol-3 kiosk no Z reports, a protocol-2 kiosk no sales either, a
/// protocol-1 kiosk none of the store's shared desk state either — and its cursor moves
/// past them like everyone's.
async fn a_kiosk_of_the_previous_protocol_is_not_sent_kinds_it_cannot_read(db: Db) {
    let s = server(db, small()).await;
    let a = s.kiosk(1).await;
    let (three, two, one) =
        (s.hub.add_device(1, "protocol 3 kiosk").unwrap(), s.hub.add_device(1, "protocol 2 kiosk").unwrap(), s.hub.add_device(1, "protocol 1 kiosk").unwrap());
    let four = s.hub.add_device(1, "protocol 4 kiosk").unwrap();
    assert_eq!(s.channel(reqwest::Method::PUT, "/v1/loyalty/rule", json!({"rules": {"PLN": {"earn_per_unit": 2, "point_value_cents": 1}}})).await.0, StatusCode::OK);
    assert_eq!(s.push_op(&a, "help-v1", "help.request", json!({"customer_id":null})).await["status"], "applied");
    let product = catalogue(&s).await.remove(0);
    let sale = Till::staff(1, &a.id).receipt(1, GENESIS_HASH, vec![line(&product, 1, false)]);
    assert_eq!(s.push_op(&a, "sale-v2", "sale.complete", json!({"receipt": sale})).await["status"], "applied");
    let z = z_report(1, &a.id, 1, std::slice::from_ref(&sale));
    assert_eq!(s.push_op(&a, "z-v3", "shift.close", json!({"report": z})).await["status"], "applied");
    let (current, _) = s.pull_all(&a.token, 10_000).await;
    assert!(help_of(&current, "help-v1").is_some());
    assert!(current.iter().any(|c| matches!(c, Change::Sale(r) if r.number == sale.number)), "a current kiosk is sent the sale");
    assert!(current.iter().any(|c| matches!(c, Change::Shift(r) if *r == z)), "and the Z report");
    assert!(current.iter().any(|c| matches!(c, Change::LoyaltyRule(_))), "and the chain's loyalty rule");
    assert_eq!(PROTOCOL_VERSION - 1, 4, "this test names what protocols 1, 2, 3 and 4 know");
    let page = s.pull_as(&four, 4).await;
    assert!(page.changes.iter().all(|c| !matches!(c, Change::LoyaltyRule(_))), "a protocol-4 kiosk is sent no loyalty rule");
    assert!(page.changes.iter().any(|c| matches!(c, Change::Shift(r) if *r == z)), "but the Z reports protocol 4 brought");
    assert_eq!(page.cursor, s.pull_all(&a.token, 10_000).await.1, "past the rest all the same");
    let page = s.pull_as(&three, 3).await;
    assert!(page.changes.iter().all(|c| !matches!(c, Change::Shift(_))), "a protocol-3 kiosk is sent no Z reports");
    assert!(page.changes.iter().any(|c| matches!(c, Change::Sale(r) if r.number == sale.number)), "but the sales protocol 3 brought");
    assert_eq!(page.cursor, s.pull_all(&a.token, 10_000).await.1, "past the rest all the same");
    let page = s.pull_as(&two, 2).await;
    assert!(page.changes.iter().all(|c| !matches!(c, Change::Sale(_))), "a protocol-2 kiosk is sent no sales");
    assert!(help_of(&page.changes, "help-v1").is_some(), "but the desk state protocol 2 brought");
    // Its first pull put its own device record in the feed: the current kiosk's next pull
    // ends where the old one's did.
    assert_eq!(page.cursor, s.pull_all(&a.token, 10_000).await.1, "past the rest all the same");
    let page = s.pull_as(&one, 1).await;
    assert!(page.changes.iter().all(|c| matches!(
        c,
        Change::Store(_) | Change::Customer(_) | Change::CustomerRemoved { .. } | Change::Cart(_) | Change::Product(_) | Change::Stock(_) | Change::Order(_) | Change::Staff(_) | Change::StaffRemoved { .. }
    )), "only what protocol 1 knows");
    assert!(page.changes.iter().any(|c| matches!(c, Change::Order(_))), "and all of that");
    assert_eq!(page.cursor, s.pull_all(&a.token, 10_000).await.1, "past the rest all the same");
}

on_both_backends!(a_help_request_is_seen_store_wide_and_answered_once);
on_both_backends!(a_kiosk_of_the_previous_protocol_is_not_sent_kinds_it_cannot_read);
on_both_backends!(wrong_pins_at_two_devices_lock_the_badge_store_wide);
on_both_backends!(answers_at_two_devices_are_the_stores_numbers);
on_both_backends!(save_for_later_lands_in_the_online_cart_once);
on_both_backends!(the_timeline_lists_a_shoppers_day_newest_first_until_erasure);
on_both_backends!(devices_reach_the_store_feed_with_their_outbox);
on_both_backends!(check_ins_and_help_requests_run_out_of_time);

/// A hub past its limits answers at once — 429 with `Retry-After` — instead of queueing
/// every request behind a stuck writer until all of them time out; once the writer moves
/// on, the queued request completes and the hub answers again. (On PostgreSQL, where a
/// session of another program can hold a lock the hub's write waits on.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_hub_answers_429_with_retry_after() {
    if !pg::available() {
        return;
    }
    let url = pg::database();
    let hub = Hub::open(&url).unwrap();
    hub.seed(&small()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Enrolled before the hub serves with one place: its minute jobs could hold it.
    let token = hub.add_device(1, "till").unwrap();
    let h = hub.clone();
    let cfg = ServeConfig { channel_token: Some(CHANNEL.into()), max_in_flight: Some(1), ..ServeConfig::default() };
    tokio::spawn(async move { omnikiosk_hub::serve(h, listener, cfg, std::future::pending()).await.unwrap() });
    let s = Server { hub, db_url: url.clone(), base, http: reqwest::Client::new(), _dir: None };

    // Another program holds a lock the hub's one write must wait for.
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let blocker = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        tx.batch_execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE").unwrap();
        locked_tx.send(()).unwrap();
        released.recv().unwrap();
        tx.commit().unwrap();
    });
    locked.recv().unwrap();
    let body = json!({"first_name":"Ola","last_name":"Nowak","tier":"silver","home_store":1,"language":"pl"});
    // The write takes the one place (the hub's own minute jobs may hold it for a moment:
    // then it is answered 429 and sent again).
    let mut writer = None;
    for _ in 0..20 {
        let (http, url, body) = (s.http.clone(), format!("{}/v1/customers/C-OLA", s.base), body.clone());
        let w = tokio::spawn(async move { http.put(url).bearer_auth(CHANNEL).json(&body).send().await.unwrap().status() });
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !w.is_finished() {
            writer = Some(w);
            break;
        }
        assert_eq!(w.await.unwrap(), StatusCode::TOO_MANY_REQUESTS, "only a busy hub answers before the lock is released");
    }
    let writer = writer.expect("the write waits for the lock");
    let resp = s.http.get(format!("{}/v1/device", s.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "busy", "{v}");

    release.send(()).unwrap();
    blocker.join().unwrap();
    assert_eq!(writer.await.unwrap(), StatusCode::OK, "the queued write was not lost");
    // And the hub answers again (a minute job may hold the one place for a moment).
    let mut st = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..20 {
        st = s.get("/v1/device", &token).await.0;
        if st != StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(st, StatusCode::OK, "and the hub answers again");
}

/// The metrics listener of this test process (`serve --metrics-listen`): the figures are
/// the process's, so one listener, on a thread of its own, serves every test.
fn metrics_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                omnikiosk_hub::metrics::serve(listener, std::future::pending()).await.unwrap();
            });
        });
        url
    })
}

/// `/metrics` as Prometheus reads it: text, without a token, on its own listener.
async fn metrics_text(s: &Server) -> String {
    let resp = s.http.get(metrics_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

/// The value of the metric line `series` (name and labels as rendered) in `/metrics`, 0
/// when absent.
async fn metric(s: &Server, series: &str) -> f64 {
    let text = metrics_text(s).await;
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}

/// After a pull and a push, `/metrics` counts them by route and the ops by outcome. The
/// figures are the process's (other tests run beside this one): they only grow.
async fn metrics_count_requests_by_route_and_ops_by_outcome(db: Db) {
    let s = server(db, small()).await;
    let k = s.kiosk(1).await;
    let pulls = r#"omnikiosk_hub_http_requests_total{method="GET",route="/v1/sync/pull",status="200"}"#;
    let pushes = r#"omnikiosk_hub_http_requests_total{method="POST",route="/v1/sync/push",status="200"}"#;
    let (applied, duplicate) = (r#"omnikiosk_hub_ops_total{outcome="applied"}"#, r#"omnikiosk_hub_ops_total{outcome="duplicate"}"#);
    let before = [metric(&s, pulls).await, metric(&s, pushes).await, metric(&s, applied).await, metric(&s, duplicate).await];
    let (_, cursor) = s.pull_all(&k.token, 10_000).await;
    assert_eq!(s.push_op(&k, "m-1", "feedback.nps", json!({"score":9,"csat":null,"customer_id":null})).await["status"], "applied");
    k.next_seq.set(1);
    assert_eq!(s.push_op(&k, "m-1", "feedback.nps", json!({"score":9,"csat":null,"customer_id":null})).await["status"], "duplicate");
    // A long-poll that waits out its second.
    s.pull(&k.token, &s.pull(&k.token, &cursor, 10_000, 0).await.cursor, 10_000, 1).await;
    let after = [metric(&s, pulls).await, metric(&s, pushes).await, metric(&s, applied).await, metric(&s, duplicate).await];
    for (i, what) in ["pulls", "pushes", "applied ops", "duplicate ops"].iter().enumerate() {
        assert!(after[i] >= before[i] + 1.0, "{what}: {} then {}", before[i], after[i]);
    }
    let text = metrics_text(&s).await;
    for series in ["omnikiosk_hub_long_polls_open ", r#"omnikiosk_hub_feed_head{scope="store:1"} "#, r#"omnikiosk_hub_http_request_duration_seconds_count{method="GET",route="/v1/sync/pull"} "#] {
        assert!(text.lines().any(|l| l.starts_with(series)), "no {series} in\n{text}");
    }
    // Not on the API's listener, which the shop and every kiosk reach.
    let on_api = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
}

/// The largest push a kiosk makes (MAX_PUSH_OPS `order.pick` ops of 100 lines) is read;
/// a body over the limit is answered 413 `too_large`, and changes nothing.
async fn a_body_over_the_limit_is_too_large_and_the_largest_push_is_not(db: Db) {
    let s = server(db, small()).await;
    let k = s.kiosk(1).await;
    let lines: Vec<Value> = (0..100).map(|i| json!({"sku": format!("40063813{i:05}"), "picked": 99})).collect();
    let op = |seq: usize| {
        json!({"op_id": format!("{seq:036}"), "seq": seq, "name": "order.pick", "kiosk_time": 1_700_000_000, "base_version": 3,
               "body": {"order_id": "O-1-1000000", "staff_id": "S1-STAFF-000000", "lines": lines, "short_reason": "x".repeat(100)}})
    };
    let mut ops: Vec<Value> = (1..=omnikiosk_hub::MAX_PUSH_OPS).map(op).collect();
    // A gap at the end: refused before anything is applied, but only once the body was read.
    ops.last_mut().unwrap()["seq"] = json!(0);
    let largest = json!({"device_seq_from": 1, "ops": ops, "outbox_len": 1000, "oldest_unsent_at": 1_700_000_000});
    let size = largest.to_string().len();
    assert!(size > 3_000_000 && size < omnikiosk_hub::http::DEFAULT_MAX_BODY_BYTES, "{size}");
    let head = s.hub.feed_head().unwrap();
    let (st, v) = s.call(reqwest::Method::POST, "/v1/sync/push", Some(&k.token), Some(largest)).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("consecutive"), "{v}");
    let over = json!({"device_seq_from": 1, "ops": [], "padding": "x".repeat(omnikiosk_hub::http::DEFAULT_MAX_BODY_BYTES)});
    let (st, v) = s.call(reqwest::Method::POST, "/v1/sync/push", Some(&k.token), Some(over)).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{v}");
    let big_name = json!({"first_name": "x".repeat(omnikiosk_hub::http::DEFAULT_MAX_BODY_BYTES), "last_name": "B", "tier": "gold", "home_store": 1, "language": "en"});
    let (st, v) = s.channel(reqwest::Method::PUT, "/v1/customers/C000001", big_name).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{v}");
    assert_eq!(s.hub.feed_head().unwrap(), head, "a refused body wrote to the feed");

    // A stranger's body is never read: a made-up token (twice: the second answered from
    // memory), no token, a revoked device's — 401 before the size or the JSON is looked at.
    let stranger = s.hub.add_device(1, "revoked").unwrap();
    let id = s.hub.device_by_token(&stranger).unwrap().unwrap().id;
    s.hub.revoke_device(&id).unwrap();
    for token in [Some("made-up"), Some("made-up"), None, Some(stranger.as_str())] {
        let over = json!({"device_seq_from": 1, "ops": [], "padding": "x".repeat(omnikiosk_hub::http::DEFAULT_MAX_BODY_BYTES)});
        let (st, v) = s.call(reqwest::Method::POST, "/v1/sync/push", token, Some(over)).await;
        assert_eq!((st, v["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{token:?}: {v}");
        let (st, _) = s.call(reqwest::Method::PUT, "/v1/customers/C000001", token, Some(json!({"not": "a customer"}))).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{token:?}");
    }
}

on_both_backends!(metrics_count_requests_by_route_and_ops_by_outcome);
on_both_backends!(a_body_over_the_limit_is_too_large_and_the_largest_push_is_not);
on_both_backends!(a_sales_points_are_counted_by_the_chains_rule_not_by_the_till);
on_both_backends!(a_device_keeps_at_most_eight_receipt_keys);
on_both_backends!(a_device_acts_only_for_shoppers_of_its_own_store);
on_both_backends!(a_device_gives_no_more_points_an_hour_than_the_hub_allows);

/// The catalogue as a kiosk sees it (through a kiosk of store 3, which the tests do not
/// watch).
async fn catalogue(s: &Server) -> Vec<ProductRecord> {
    let token = s.hub.add_device(3, "catalogue reader").unwrap();
    let (all, _) = s.pull_all(&token, 10_000).await;
    all.into_iter().filter_map(|c| if let Change::Product(p) = c { Some(p) } else { None }).collect()
}

/// A receipt line of `qty` of the product at its catalogue price and VAT.
fn line(p: &ProductRecord, qty: i64, from_cart: bool) -> ReceiptLine {
    ReceiptLine { sku: p.sku.clone(), name: p.name.clone(), qty, price_cents: p.price_cents, vat_bp: p.vat_bp, from_cart, origin: None }
}

/// A till of the tests: who sells, to whom, what points they redeem.
#[derive(Debug, Clone)]
struct Till<'a> {
    store_id: i64,
    device_id: &'a str,
    staff_id: String,
    customer_id: Option<&'a str>,
    redeem: i64,
}

impl<'a> Till<'a> {
    /// The store's seeded staff member selling to nobody in particular.
    fn staff(store_id: i64, device_id: &'a str) -> Till<'a> {
        Till { store_id, device_id, staff_id: format!("S{store_id}-STAFF"), customer_id: None, redeem: 0 }
    }

    /// The receipt the kiosk makes of `lines`: half by card, the rest in cash with change.
    fn receipt(&self, seq: i64, prev_hash: &str, lines: Vec<ReceiptLine>) -> Receipt {
        let total: i64 = lines.iter().map(|l| l.qty * l.price_cents).sum::<i64>() - self.redeem;
        let card = total / 2;
        let tenders = vec![
            Tender { method: TenderMethod::Card, cents: card, reference: Some(format!("T-{seq}")) },
            Tender { method: TenderMethod::Cash, cents: total - card + 500, reference: None },
        ];
        SaleDraft {
            store_id: self.store_id,
            device_id: self.device_id,
            seq,
            staff_id: &self.staff_id,
            customer_id: self.customer_id,
            currency: "PLN",
            lines,
            points_redeemed: self.redeem,
            tenders,
            rule: PointsRule::default(),
            at: 1_700_000_000 + seq,
            prev_hash,
        }
        .receipt()
        .unwrap()
    }
}

/// The last stock of `sku` a device was sent, if any.
fn stock_of(changes: &[Change], sku: &str) -> Option<i64> {
    changes.iter().rev().find_map(|c| match c {
        Change::Stock(st) if st.sku == sku => Some(st.on_hand),
        _ => None,
    })
}

/// Every item of a channel list in commit order (`path` with its query, `field` the
/// page's list), read in pages of `limit`, and the cursor after the last.
async fn read_in_pages<T: serde::de::DeserializeOwned>(s: &Server, path: &str, field: &str, limit: usize) -> (Vec<T>, String) {
    let (mut items, mut after) = (Vec::new(), String::new());
    loop {
        let (st, v) = s.get(&format!("{path}&limit={limit}&after={after}"), CHANNEL).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let page: Vec<T> = serde_json::from_value(v[field].clone()).unwrap();
        assert!(page.len() <= limit, "{v}");
        items.extend(page);
        after = v["cursor"].as_str().unwrap().to_string();
        if v["has_more"] != true {
            return (items, after);
        }
    }
}

async fn sales_page(s: &Server, query: &str) -> SalesPage {
    let (st, v) = s.get(&format!("/v1/sales{query}"), CHANNEL).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    serde_json::from_value(v).unwrap()
}

/// A sale at the till with a shopper, points redeemed, card and cash, and a line taken from
/// their online cart: recorded once — the receipt listed for the ERP and served by its
/// number, the store's stock less what was sold, the points earned less those redeemed,
/// the cart line gone, the sale on the shopper's timeline and in the store's feed. The
/// same push again, and the same op at a later sequence, are duplicates that change
/// nothing; erasure takes the shopper off the receipt and leaves its hash.
async fn a_sale_at_the_till_is_recorded_once_with_its_effects(db: Db) {
    let s = server(db, small()).await;
    let (k, other) = (s.kiosk(1).await, s.kiosk(1).await);
    let products = catalogue(&s).await;
    let shopper = (1..=240)
        .filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok())
        .find(|c| c.home_store == Some(1) && !c.cart.is_empty() && c.points >= 100)
        .expect("a store-1 shopper with a cart and points");
    let from_cart = shopper.cart[0].clone();
    let product = |sku: &str| products.iter().find(|p| p.sku == sku).unwrap().clone();
    let extra = products.iter().find(|p| shopper.cart.iter().all(|l| l.sku != p.sku)).unwrap().clone();
    let (view, cursor) = s.pull_all(&other.token, 10_000).await;
    let stock_before = |sku: &str| stock_of(&view, sku).unwrap_or(0);
    let till = Till { customer_id: Some(&shopper.id), redeem: 40, ..Till::staff(1, &k.id) };
    let sale = till.receipt(1, GENESIS_HASH, vec![line(&product(&from_cart.sku), from_cart.qty, true), line(&extra, 2, false)]);
    assert!(sale.points_earned > 0 && sale.change_cents == 500 && sale.tenders.len() == 2, "{sale:?}");

    let r = s.push_op(&k, "sale-1", "sale.complete", json!({"receipt": sale})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let (st, v) = s.get(&format!("/v1/receipts/{}", sale.number), CHANNEL).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(serde_json::from_value::<Receipt>(v).unwrap(), sale, "the receipt as the till made it");
    let listed = sales_page(&s, "?store_id=1").await;
    assert_eq!((listed.sales.as_slice(), listed.has_more), (std::slice::from_ref(&sale), false));
    let page = s.pull(&other.token, &cursor, 10_000, 0).await;
    assert_eq!(stock_of(&page.changes, &from_cart.sku), Some(stock_before(&from_cart.sku) - from_cart.qty), "{:?}", page.changes);
    assert_eq!(stock_of(&page.changes, &extra.sku), Some(stock_before(&extra.sku) - 2));
    assert!(page.changes.iter().any(|c| matches!(c, Change::Sale(r) if r.number == sale.number && r.total_cents == sale.total_cents && r.device_id == k.id)));
    let points = shopper.points + sale.points_earned - 40;
    assert!(page.changes.iter().any(|c| matches!(c, Change::Customer(cu) if cu.id == shopper.id && cu.points == points)), "the store's devices see the new balance");
    let (st, profile) = s.get(&format!("/v1/customers/{}", shopper.id), CHANNEL).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(profile["points"], points, "earned less redeemed: {profile}");
    let cart: Vec<String> = profile["cart"].as_array().unwrap().iter().map(|l| l["sku"].as_str().unwrap().to_string()).collect();
    assert!(!cart.contains(&from_cart.sku), "the line bought here left the online cart: {profile}");
    assert_eq!(cart.len(), shopper.cart.len() - 1, "and only that line: {profile}");
    let (_, v) = s.get(&format!("/v1/customers/{}/timeline", shopper.id), CHANNEL).await;
    let timeline: omnikiosk_protocol::wire::Timeline = serde_json::from_value(v).unwrap();
    assert_eq!(timeline.entries[0].touch, Touch::Sale { receipt: sale.number.clone(), total_cents: sale.total_cents });
    let (_, v) = s.get("/v1/device", &k.token).await;
    assert_eq!(v["last_receipt"], json!({"seq": 1, "hash": sale.hash}), "{v}");

    // The same push again (its answer was lost), then the same op at a later sequence (a
    // kiosk that lost track of what it sent): duplicates, and nothing more happens.
    k.next_seq.set(1);
    assert_eq!(s.push_op(&k, "sale-1", "sale.complete", json!({"receipt": sale})).await["status"], "duplicate");
    k.next_seq.set(2);
    assert_eq!(s.push_op(&k, "sale-1", "sale.complete", json!({"receipt": sale})).await["status"], "duplicate");
    assert_eq!(sales_page(&s, "").await.sales.len(), 1, "one sale");
    assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, points, "earned once");
    let again = s.pull(&other.token, &page.cursor, 10_000, 0).await;
    assert!(again.changes.iter().all(|c| !matches!(c, Change::Stock(_) | Change::Sale(_) | Change::Customer(_))), "{:?}", again.changes);

    // Erasure: the receipt stays, without the shopper, its hash as recorded.
    let (st, v) = s.call(reqwest::Method::DELETE, &format!("/v1/customers/{}", shopper.id), Some(CHANNEL), None).await;
    assert!(st.is_success(), "{st} {v}");
    let kept = s.hub.receipt(&sale.number).unwrap();
    assert_eq!((kept.customer_id.as_deref(), kept.hash.as_str(), kept.lines.len()), (None, sale.hash.as_str(), 2));
    assert_eq!(sales_page(&s, "").await.sales[0].customer_id, None);
}

/// A till that claims ten times the points the chain's rule gives (a tampered device, or
/// one with a rule of its own) has its sale recorded and its shopper credited by the
/// rule; the store's manager sees the correction among the conflicts.
async fn a_sales_points_are_counted_by_the_chains_rule_not_by_the_till(db: Db) {
    let s = server(db, small()).await;
    let k = s.kiosk(1).await;
    let products = catalogue(&s).await;
    let shopper = (1..=240).filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok()).find(|c| c.home_store == Some(1)).unwrap();
    let till = Till { customer_id: Some(&shopper.id), ..Till::staff(1, &k.id) };
    let honest = till.receipt(1, GENESIS_HASH, vec![line(&products[0], 3, false)]);
    assert!(honest.points_earned > 0, "{honest:?}");
    let mut greedy = honest.clone();
    greedy.points_earned *= 10;
    let greedy = greedy.seal();
    assert_eq!(s.push_op(&k, "sale-greedy", "sale.complete", json!({"receipt": greedy})).await["status"], "applied");
    assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, shopper.points + honest.points_earned, "credited by the rule");
    let (_, conflicts) = s.get("/v1/conflicts", CHANNEL).await;
    let said = conflicts.as_array().unwrap().iter().find(|c| c["code"] == "points_recomputed").expect("the correction is a conflict");
    assert!(said["message"].as_str().unwrap().contains(&greedy.points_earned.to_string()), "{said}");
    assert_eq!(said["hub_facts"]["points_credited"], honest.points_earned);
}

/// A store-1 device cannot reach a shopper known only at store 2: earning or redeeming
/// their points, marking their visit or saving to their cart is refused as a conflict
/// with the reason, changes nothing, and brings nothing of them into store 1's feed.
async fn a_device_acts_only_for_shoppers_of_its_own_store(db: Db) {
    let s = server(db, small()).await;
    let k = s.kiosk(1).await;
    let (_, cursor) = s.pull_all(&k.token, 10_000).await;
    let stranger = (1..=240)
        .filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok())
        .find(|c| c.home_store == Some(2) && c.points > 10 && !s.hub.get_customer(&c.id).unwrap().cart.is_empty())
        .expect("a store-2 shopper with points");
    let sku = customer_sku(&s).await;
    let attempts = [
        ("loyalty.earn", json!({"customer_id": stranger.id, "points": 500, "reason": "thanks"})),
        ("loyalty.redeem", json!({"customer_id": stranger.id, "points": 10, "reason": "gift"})),
        ("visit.seen", json!({"customer_id": stranger.id})),
        ("cart.add", json!({"customer_id": stranger.id, "sku": sku})),
    ];
    for (n, (name, body)) in attempts.into_iter().enumerate() {
        let r = s.push_op(&k, &format!("reach-{n}"), name, body).await;
        assert_eq!((r["status"].as_str(), r["code"].as_str()), (Some("rejected"), Some("unknown_customer")), "{name}: {r}");
    }
    assert_eq!(s.hub.get_customer(&stranger.id).unwrap().points, stranger.points, "points moved");
    let page = s.pull(&k.token, &cursor, 10_000, 0).await;
    assert!(page.changes.iter().all(|c| !matches!(c, Change::Customer(cu) if cu.id == stranger.id)), "the shopper came into store 1's feed");
    let (_, conflicts) = s.get("/v1/conflicts", CHANNEL).await;
    let ours = conflicts.as_array().unwrap().iter().filter(|c| c["code"] == "unknown_customer" && c["store_id"] == 1).count();
    assert_eq!(ours, 4, "{conflicts}");
}

/// A device gives at most `--points-per-device-hour` points in an hour: by hand past it is
/// refused as `points_limit`; a sale past it is recorded and credits only what is left.
async fn a_device_gives_no_more_points_an_hour_than_the_hub_allows(db: Db) {
    let s = server_with(db, small(), ServeConfig { points_per_device_hour: Some(100), ..ServeConfig::default() }).await;
    let k = s.kiosk(1).await;
    let shopper = (1..=240).filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok()).find(|c| c.home_store == Some(1)).unwrap();
    let earn = |points: i64| json!({"customer_id": shopper.id, "points": points, "reason": "welcome"});
    assert_eq!(s.push_op(&k, "give-1", "loyalty.earn", earn(60)).await["status"], "applied");
    let over = s.push_op(&k, "give-2", "loyalty.earn", earn(60)).await;
    assert_eq!((over["status"].as_str(), over["code"].as_str()), (Some("rejected"), Some("points_limit")), "{over}");
    assert!(over["message"].as_str().unwrap().contains("40 are left"), "{over}");
    assert_eq!(s.push_op(&k, "give-3", "loyalty.earn", earn(40)).await["status"], "applied");
    let products = catalogue(&s).await;
    let dear = products.iter().max_by_key(|p| p.price_cents).unwrap();
    let sale = Till { customer_id: Some(&shopper.id), ..Till::staff(1, &k.id) }.receipt(1, GENESIS_HASH, vec![line(dear, 1, false)]);
    assert!(sale.points_earned > 0);
    assert_eq!(s.push_op(&k, "sale-past", "sale.complete", json!({"receipt": sale})).await["status"], "applied", "the sale itself is kept");
    assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, shopper.points + 100, "nothing past the hour's allowance");
    let (_, conflicts) = s.get("/v1/conflicts", CHANNEL).await;
    assert_eq!(conflicts.as_array().unwrap().iter().filter(|c| c["code"] == "points_limit").count(), 2, "{conflicts}");
}

/// A device's receipt keys are kept up to `MAX_RECEIPT_KEYS` (one per install of its
/// till): a stolen token cannot fill the devices table with keys; the keys kept stay.
async fn a_device_keeps_at_most_eight_receipt_keys(db: Db) {
    let s = server(db, small()).await;
    let k = s.kiosk(1).await;
    let keys: Vec<String> = (1..=10u8)
        .map(|i| omnikiosk_protocol::code::encode_public_key(&ed25519_dalek::SigningKey::from_bytes(&[i; 32]).verifying_key()))
        .collect();
    for key in &keys {
        let push = json!({"device_seq_from": 1, "ops": [], "outbox_len": 0, "receipt_key": key});
        let (st, v) = s.call(reqwest::Method::POST, "/v1/sync/push", Some(&k.token), Some(push)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    let device = s.hub.devices().unwrap().into_iter().find(|d| d.device_id == k.id).unwrap();
    let kept: Vec<&str> = device.receipt_keys().collect();
    assert_eq!(kept.len(), omnikiosk_hub::store::MAX_RECEIPT_KEYS as usize, "{kept:?}");
    assert!(keys[..8].iter().all(|key| kept.contains(&key.as_str())) && !kept.contains(&keys[9].as_str()), "{kept:?}");
}

/// A sale the hub cannot take is refused as a conflict with the hub's side of it, and
/// leaves no receipt, stock or points behind: a receipt that does not match its hash, a
/// badge without the till role, a product the catalogue does not have, a receipt another
/// device made.
async fn a_sale_the_hub_cannot_take_is_refused_and_leaves_nothing(db: Db) {
    let s = server(db, small()).await;
    let (k, other) = (s.kiosk(1).await, s.kiosk(1).await);
    let product = catalogue(&s).await.remove(0);
    let salt = "00112233445566778899aabbccddeeff".to_string();
    let floor = StaffRecord {
        id: "S1-FLOOR".into(),
        name: "Ola (floor)".into(),
        role: StaffRole::Staff,
        store_id: 1,
        pin_hash: omnikiosk_protocol::pin::hash(&salt, "1234").unwrap(),
        pin_salt: salt,
        till: false,
        badge_version: 0,
    };
    second_backend(&s.db_url).tx(TxKind::Feed, move |tx| Ok(tx.insert_staff(&floor)?)).unwrap();
    let head = s.hub.feed_head().unwrap();
    let basket = || vec![line(&product, 3, false)];

    let mut tampered = Till::staff(1, &k.id).receipt(1, GENESIS_HASH, basket());
    tampered.at += 1;
    let floor = Till { staff_id: "S1-FLOOR".into(), ..Till::staff(1, &k.id) }.receipt(1, GENESIS_HASH, basket());
    let mut unknown = line(&product, 1, false);
    unknown.sku = "4006381333931".into();
    let not_sold_here = Till::staff(1, &k.id).receipt(1, GENESIS_HASH, vec![unknown]);
    let foreign = Till::staff(1, &other.id).receipt(1, GENESIS_HASH, basket());
    let cases = [
        ("tampered", &tampered, "receipt_tampered"),
        ("floor", &floor, "till_role_required"),
        ("unknown", &not_sold_here, "unknown_product"),
        ("foreign", &foreign, "foreign_receipt"),
    ];
    for (op_id, receipt, code) in cases {
        let r = s.push_op(&k, op_id, "sale.complete", json!({"receipt": receipt})).await;
        assert_eq!((r["status"].as_str(), r["code"].as_str()), (Some("rejected"), Some(code)), "{op_id}: {r}");
    }
    let conflicts = s.hub.conflicts().unwrap();
    let facts = |op_id: &str| conflicts.iter().find(|c| c.op_id == op_id).and_then(|c| c.hub_facts.clone()).unwrap_or_default();
    assert_eq!(facts("unknown")["sku"], "4006381333931", "{conflicts:?}");
    assert_eq!((facts("foreign")["receipt_device_id"].as_str(), facts("foreign")["device_id"].as_str()), (Some(other.id.as_str()), Some(k.id.as_str())));
    // A manager may always sell, till role or not.
    let r = s.push_op(&k, "manager", "sale.complete", json!({"receipt": Till { staff_id: "S1-MGR".into(), ..Till::staff(1, &k.id) }.receipt(1, GENESIS_HASH, basket())})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let listed = sales_page(&s, "").await;
    assert_eq!(listed.sales.iter().map(|r| r.staff_id.as_str()).collect::<Vec<_>>(), ["S1-MGR"], "only the manager's sale was recorded");
    for refused in [&floor, &not_sold_here, &foreign] {
        if refused.number != listed.sales[0].number {
            let (st, v) = s.get(&format!("/v1/receipts/{}", refused.number), CHANNEL).await;
            assert_eq!((st, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
        }
    }
    // The refusals wrote nothing to the feed but the device's own record.
    let (view, _) = s.pull_all(&other.token, 10_000).await;
    let sales = view.iter().filter(|c| matches!(c, Change::Sale(_))).count();
    assert_eq!(sales, 1);
    assert!(s.hub.feed_head().unwrap() > head);
}

/// Receipt numbers are recorded once and each receipt names its device's previous one: a
/// number already recorded under another op (a kiosk restored from a backup) and a
/// receipt that does not chain onto the hub's copy of the one before are refused; one
/// whose predecessor the hub does not have is taken. `GET /v1/device` tells a
/// reinstalled kiosk where its chain stands.
async fn receipt_numbers_and_chains_are_held_to_what_the_hub_recorded(db: Db) {
    let s = server(db, small()).await;
    let (k, fresh) = (s.kiosk(1).await, s.kiosk(1).await);
    let products = catalogue(&s).await;
    let till = Till::staff(1, &k.id);
    let first = till.receipt(1, GENESIS_HASH, vec![line(&products[0], 1, false)]);
    assert_eq!(s.push_op(&k, "r-1", "sale.complete", json!({"receipt": first})).await["status"], "applied");
    let second = till.receipt(2, &first.hash, vec![line(&products[1], 1, false)]);
    assert_eq!(s.push_op(&k, "r-2", "sale.complete", json!({"receipt": second})).await["status"], "applied");

    // Restored from last night's backup: it numbers its next sale 2 again.
    let again = till.receipt(2, &first.hash, vec![line(&products[2], 4, false)]);
    let r = s.push_op(&k, "r-2-restored", "sale.complete", json!({"receipt": again})).await;
    assert_eq!(r["code"], "receipt_number_used", "{r}");
    assert_eq!((r["facts"]["op_id"].as_str(), r["facts"]["hash"].as_str()), (Some("r-2"), Some(second.hash.as_str())), "{r}");
    let broken = till.receipt(3, GENESIS_HASH, vec![line(&products[2], 1, false)]);
    let r = s.push_op(&k, "r-3-broken", "sale.complete", json!({"receipt": broken})).await;
    assert_eq!(r["code"], "broken_chain", "{r}");
    assert_eq!(r["facts"]["previous_hash"], second.hash.as_str(), "{r}");
    let not_first = Till::staff(1, &fresh.id).receipt(1, &first.hash, vec![line(&products[2], 1, false)]);
    assert_eq!(s.push_op(&fresh, "f-1", "sale.complete", json!({"receipt": not_first})).await["code"], "broken_chain");
    // Receipts 3 and 4 never reached the hub (refused, or not pushed yet): 5 is taken.
    let fifth = till.receipt(5, &"ab".repeat(32), vec![line(&products[3], 1, false)]);
    assert_eq!(s.push_op(&k, "r-5", "sale.complete", json!({"receipt": fifth})).await["status"], "applied");
    let (_, v) = s.get("/v1/device", &k.token).await;
    assert_eq!(v["last_receipt"], json!({"seq": 5, "hash": fifth.hash}), "{v}");
    let (_, v) = s.get("/v1/device", &fresh.token).await;
    assert_eq!(v["last_receipt"], Value::Null, "{v}");
    assert_eq!(s.hub.receipt(&second.number).unwrap(), second, "the first receipt 2 stands");
}

/// `GET /v1/sales` lists receipts in the order the hub recorded them, of one store or all,
/// in pages that join up; the last cursor stays valid and picks up the next sale.
async fn sales_are_listed_in_commit_order_in_pages(db: Db) {
    let s = server(db, small()).await;
    let (a, b, c) = (s.kiosk(1).await, s.kiosk(1).await, s.kiosk(2).await);
    let products = catalogue(&s).await;
    let mut made = Vec::new();
    let mut last: std::collections::HashMap<String, Receipt> = Default::default();
    for (n, (k, store)) in [(&a, 1), (&b, 1), (&c, 2), (&a, 1), (&c, 2), (&a, 1)].into_iter().enumerate() {
        let prev = last.get(&k.id).map_or(GENESIS_HASH.to_string(), |r| r.hash.clone());
        let seq = last.get(&k.id).map_or(1, |r| r.seq + 1);
        let receipt = Till::staff(store, &k.id).receipt(seq, &prev, vec![line(&products[n], 1, false)]);
        assert_eq!(s.push_op(k, &format!("p-{n}"), "sale.complete", json!({"receipt": receipt})).await["status"], "applied");
        last.insert(k.id.clone(), receipt.clone());
        made.push(receipt);
    }
    let all = sales_page(&s, "").await;
    assert_eq!((all.sales.as_slice(), all.has_more), (made.as_slice(), false));
    let store_1: Vec<Receipt> = made.iter().filter(|r| r.store_id == 1).cloned().collect();
    let (paged, after) = read_in_pages::<Receipt>(&s, "/v1/sales?store_id=1", "sales", 2).await;
    assert_eq!(paged, store_1);
    let quiet = sales_page(&s, &format!("?store_id=1&after={after}")).await;
    assert_eq!((quiet.sales.len(), quiet.cursor.as_str(), quiet.has_more), (0, after.as_str(), false), "nothing new, same cursor");
    let next = Till::staff(1, &b.id).receipt(2, &last[&b.id].hash, vec![line(&products[9], 1, false)]);
    assert_eq!(s.push_op(&b, "p-next", "sale.complete", json!({"receipt": next})).await["status"], "applied");
    assert_eq!(sales_page(&s, &format!("?store_id=1&after={after}")).await.sales, [next]);
    assert!(sales_page(&s, "?store_id=2").await.sales.iter().all(|r| r.store_id == 2));
    let (st, v) = s.get("/v1/sales?after=garbage", CHANNEL).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v) = s.get("/v1/sales?after=0000.1", CHANNEL).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("cursor_reset")), "{v}");
    assert_eq!(s.get("/v1/sales", &a.token).await.0, StatusCode::FORBIDDEN, "a device does not read the chain's sales");
    let (st, v) = s.get("/v1/receipts/1-9-000001", CHANNEL).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
}

on_both_backends!(a_sale_at_the_till_is_recorded_once_with_its_effects);
on_both_backends!(a_sale_the_hub_cannot_take_is_refused_and_leaves_nothing);
on_both_backends!(receipt_numbers_and_chains_are_held_to_what_the_hub_recorded);
on_both_backends!(sales_are_listed_in_commit_order_in_pages);

/// How a test's till gives money back: cash, or points onto the shopper's card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refund {
    Cash,
    Points,
}

impl Till<'_> {
    /// The return the kiosk makes of `items` taken back from `bought`, knowing `returned`
    /// came back already, refunded whole in `refund`.
    fn give_back(&self, seq: i64, prev_hash: &str, bought: &Bought, returned: &Returned, items: &[(&str, i64)], refund: Refund) -> Receipt {
        let cents: i64 = items
            .iter()
            .map(|(sku, qty)| qty * bought.refund_unit_cents(bought.lines.iter().find(|l| l.sku == *sku).expect("bought there")))
            .sum();
        let method = if refund == Refund::Cash { TenderMethod::Cash } else { TenderMethod::Points };
        ReturnDraft {
            store_id: self.store_id,
            device_id: self.device_id,
            seq,
            staff_id: &self.staff_id,
            currency: "PLN",
            bought,
            returned,
            items: items.iter().map(|(sku, qty)| (sku.to_string(), *qty)).collect(),
            sold: vec![],
            reason: "does not fit",
            tenders: vec![Tender { method, cents, reference: None }],
            rule: PointsRule::default(),
            at: 1_700_000_100 + seq,
            prev_hash,
        }
        .receipt()
        .unwrap()
    }
}

/// The conflict the hub recorded for `op_id`.
fn conflict_of(s: &Server, op_id: &str) -> omnikiosk_protocol::wire::ConflictRecord {
    s.hub.conflicts().unwrap().into_iter().find(|c| c.op_id == op_id).unwrap_or_else(|| panic!("no conflict for {op_id}"))
}

/// Two of a product sold; one taken back at device A (refunded as points), then — B being
/// offline and not knowing of A's return — both at device B: B's is refused `over_return`,
/// the conflict naming what was bought, what came back before and on which receipt. Stock
/// and points moved by the sale and A's return only (the return takes back the points its
/// line earned, gives back those it redeemed, and adds the refund as points), `/v1/sales`
/// lists the sale and A's return, and A's return pushed again is a duplicate.
async fn a_line_comes_back_once_whichever_device_takes_it(db: Db) {
    let s = server(db, small()).await;
    let (a, b, watcher) = (s.kiosk(1).await, s.kiosk(1).await, s.kiosk(1).await);
    let products = catalogue(&s).await;
    let shopper = (1..=240)
        .filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok())
        .find(|c| c.home_store == Some(1) && c.points >= 100)
        .expect("a store-1 shopper with points");
    let (product, other) = (&products[0], &products[1]);
    let (view, cursor) = s.pull_all(&watcher.token, 10_000).await;
    let stock_before = stock_of(&view, &product.sku).unwrap_or(0);
    let till_a = Till { customer_id: Some(&shopper.id), redeem: 40, ..Till::staff(1, &a.id) };
    let sale = till_a.receipt(1, GENESIS_HASH, vec![line(product, 2, false), line(other, 1, false)]);
    assert_eq!(s.push_op(&a, "sale", "sale.complete", json!({"receipt": sale})).await["status"], "applied");

    let bought = Bought::of_receipt(&sale);
    let none = Returned::new();
    let back_a = till_a.give_back(2, &sale.hash, &bought, &none, &[(&product.sku, 1)], Refund::Points);
    assert!(back_a.points_earned < 0 && back_a.points_redeemed < 0 && back_a.points_refunded > 0, "{back_a:?}");
    let r = s.push_op(&a, "back-a", "return.complete", json!({"receipt": back_a})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let till_b = Till { customer_id: Some(&shopper.id), ..Till::staff(1, &b.id) };
    let back_b = till_b.give_back(1, GENESIS_HASH, &bought, &none, &[(&product.sku, 2)], Refund::Cash);
    let r = s.push_op(&b, "back-b", "return.complete", json!({"receipt": back_b})).await;
    assert_eq!((r["status"].as_str(), r["code"].as_str()), (Some("rejected"), Some("over_return")), "{r}");
    let facts = json!({
        "origin": sale.number,
        "origin_store_id": 1,
        "sku": product.sku,
        "bought": 2,
        "returned_before": 1,
        "earlier_returns": [back_a.number],
    });
    assert_eq!(r["facts"], facts, "{r}");
    let (st, v) = s.get("/v1/conflicts", CHANNEL).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v.as_array().unwrap().iter().any(|c| c["op_id"] == "back-b" && c["code"] == "over_return" && c["hub_facts"] == facts), "{v}");
    assert_eq!(conflict_of(&s, "back-b").device_id, b.id);

    let listed = sales_page(&s, "?store_id=1").await;
    assert_eq!(listed.sales, [sale.clone(), back_a.clone()], "the sale and the one good return");
    let (st, v) = s.get(&format!("/v1/receipts/{}", back_b.number), CHANNEL).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let page = s.pull(&watcher.token, &cursor, 10_000, 0).await;
    assert_eq!(stock_of(&page.changes, &product.sku), Some(stock_before - 2 + 1), "sold 2, one came back");
    let points = shopper.points + sale.points_earned - 40 + back_a.points_earned - back_a.points_redeemed + back_a.points_refunded;
    assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, points);
    assert!(page.changes.iter().any(|c| matches!(c, Change::Customer(cu) if cu.id == shopper.id && cu.points == points)), "the store's devices see the balance");
    let returned: Vec<Receipt> = page
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Sale(r) if r.kind == ReceiptKind::Return => r.receipt.as_deref().cloned(),
            _ => None,
        })
        .collect();
    assert_eq!(returned, std::slice::from_ref(&back_a), "every device of the store learns what came back, with its lines");
    let (_, v) = s.get(&format!("/v1/customers/{}/timeline", shopper.id), CHANNEL).await;
    let timeline: omnikiosk_protocol::wire::Timeline = serde_json::from_value(v).unwrap();
    let touch = Touch::Return { receipt: back_a.number.clone(), total_cents: back_a.total_cents };
    assert!(timeline.entries.iter().any(|e| e.touch == touch), "the return on the shopper's timeline: {timeline:?}");

    // A's return again (its answer was lost): a duplicate, and nothing more happens.
    a.next_seq.set(2);
    assert_eq!(s.push_op(&a, "back-a", "return.complete", json!({"receipt": back_a})).await["status"], "duplicate");
    assert_eq!(sales_page(&s, "?store_id=1").await.sales.len(), 2);
    assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, points, "points moved once");
    let again = s.pull(&watcher.token, &page.cursor, 10_000, 0).await;
    assert!(again.changes.iter().all(|c| !matches!(c, Change::Stock(_) | Change::Sale(_) | Change::Customer(_))), "{:?}", again.changes);
    // What is left can still come back at B, chained onto B's own last receipt (none).
    let returned = returned_so_far(&sale.number, [&back_a]);
    let rest = till_b.give_back(1, GENESIS_HASH, &bought, &returned, &[(&product.sku, 1)], Refund::Cash);
    assert_eq!(s.push_op(&b, "back-b-rest", "return.complete", json!({"receipt": rest})).await["status"], "applied");
    assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, points + rest.points_earned - rest.points_redeemed);
}

/// A return the hub cannot hold to a receipt of this store is refused and records nothing:
/// against another store's receipt (`other_store`), against a number nobody recorded
/// (`unknown_receipt`), and one made by another device (`foreign_receipt`).
async fn a_return_against_what_the_store_did_not_sell_is_refused_and_leaves_nothing(db: Db) {
    let s = server(db, small()).await;
    let (k, elsewhere, watcher) = (s.kiosk(1).await, s.kiosk(2).await, s.kiosk(1).await);
    let products = catalogue(&s).await;
    let product = &products[2];
    let sold_there = Till::staff(2, &elsewhere.id).receipt(1, GENESIS_HASH, vec![line(product, 2, false)]);
    assert_eq!(s.push_op(&elsewhere, "there", "sale.complete", json!({"receipt": sold_there})).await["status"], "applied");
    let (_, cursor) = s.pull_all(&watcher.token, 10_000).await;
    let head = sales_page(&s, "").await;
    let till = Till::staff(1, &k.id);
    let none = Returned::new();
    // The kiosk took the other store's receipt for its own, or read a number wrong.
    let as_if_here = Bought { store_id: 1, ..Bought::of_receipt(&sold_there) };
    let made_up = Bought { reference: "1-7-000042".into(), ..as_if_here.clone() };
    let by_other = Till::staff(1, &watcher.id).give_back(1, GENESIS_HASH, &as_if_here, &none, &[(&product.sku, 1)], Refund::Cash);
    let cases = [
        ("other-store", till.give_back(1, GENESIS_HASH, &as_if_here, &none, &[(&product.sku, 1)], Refund::Cash), "other_store"),
        ("unknown", till.give_back(1, GENESIS_HASH, &made_up, &none, &[(&product.sku, 1)], Refund::Cash), "unknown_receipt"),
        ("foreign", by_other, "other_store"),
    ];
    for (op_id, receipt, code) in &cases {
        let r = s.push_op(&k, op_id, "return.complete", json!({"receipt": receipt})).await;
        assert_eq!((r["status"].as_str(), r["code"].as_str()), (Some("rejected"), Some(*code)), "{op_id}: {r}");
    }
    assert_eq!(conflict_of(&s, "other-store").hub_facts.unwrap()["origin_store_id"], 2);
    // Held to the receipt first, to the device after: a receipt another device made is
    // refused as such once what it takes back is the store's own.
    let mine = Till::staff(1, &k.id).receipt(1, GENESIS_HASH, vec![line(product, 1, false)]);
    assert_eq!(s.push_op(&k, "mine", "sale.complete", json!({"receipt": mine})).await["status"], "applied");
    let by_other = Till::staff(1, &watcher.id).give_back(1, GENESIS_HASH, &Bought::of_receipt(&mine), &none, &[(&product.sku, 1)], Refund::Cash);
    let r = s.push_op(&k, "foreign-2", "return.complete", json!({"receipt": by_other})).await;
    assert_eq!(r["code"], "foreign_receipt", "{r}");
    let listed = sales_page(&s, "").await;
    assert_eq!(listed.sales.len(), head.sales.len() + 1, "only the sale was recorded");
    assert!(listed.sales.iter().all(|r| r.kind == ReceiptKind::Sale));
    let page = s.pull(&watcher.token, &cursor, 10_000, 0).await;
    assert_eq!(page.changes.iter().filter(|c| matches!(c, Change::Stock(_))).count(), 1, "only the sale moved stock: {:?}", page.changes);
}

/// A collected click-and-collect order comes back like a receipt, at the catalogue's price
/// (it was paid online): not before it is collected, and never more than was handed over.
async fn a_collected_order_can_be_returned(db: Db) {
    let s = server(db, small()).await;
    let (k, watcher) = (s.kiosk(1).await, s.kiosk(1).await);
    let products = catalogue(&s).await;
    let ready = (1..=60)
        .filter_map(|n| s.hub.get_order(&format!("O-1-{n}")).ok())
        .find(|o| o.order.status == OrderStatus::Ready && o.order.lines.iter().any(|l| l.picked.unwrap_or(l.qty) > 0))
        .expect("a ready order at store 1")
        .order;
    let price_of = |sku: &str| products.iter().find(|p| p.sku == sku).map(|p| (p.price_cents, p.vat_bp));
    let picked = ready.lines.iter().find(|l| l.picked.unwrap_or(l.qty) > 0).unwrap();
    let handed = picked.picked.unwrap_or(picked.qty);
    let till = Till { customer_id: Some(&ready.customer_id), ..Till::staff(1, &k.id) };
    let none = Returned::new();

    // Not collected yet: the kiosk believed it was, the hub says what it is.
    let collected = OrderRecord { status: OrderStatus::Collected, ..ready.clone() };
    let bought = Bought::of_order(&collected, price_of).unwrap();
    let early = till.give_back(1, GENESIS_HASH, &bought, &none, &[(&picked.sku, 1)], Refund::Cash);
    let r = s.push_op(&k, "early", "return.complete", json!({"receipt": early})).await;
    assert_eq!(r["code"], "not_collected", "{r}");
    let collect = json!({"order_id": ready.id, "staff_id": "S1-STAFF", "verification": {"method": "pickup_code", "value": ready.pickup_code}});
    assert_eq!(s.push_op(&k, "collect", "order.collect", collect).await["status"], "applied");

    let (view, cursor) = s.pull_all(&watcher.token, 10_000).await;
    let stock_before = stock_of(&view, &picked.sku).unwrap_or(0);
    let points_before = s.hub.get_customer(&ready.customer_id).unwrap().points;
    let back = till.give_back(1, GENESIS_HASH, &bought, &none, &[(&picked.sku, 1)], Refund::Cash);
    assert_eq!(back.lines[0].price_cents, price_of(&picked.sku).unwrap().0, "refunded at the catalogue's price");
    let r = s.push_op(&k, "back", "return.complete", json!({"receipt": back})).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(sales_page(&s, "?store_id=1").await.sales, std::slice::from_ref(&back));
    let page = s.pull(&watcher.token, &cursor, 10_000, 0).await;
    assert_eq!(stock_of(&page.changes, &picked.sku), Some(stock_before + 1));
    assert_eq!(s.hub.get_customer(&ready.customer_id).unwrap().points, points_before, "paid online: no points move");

    let returned = returned_so_far(&ready.id, [&back]);
    // A device that did not know of the first return asks for all that was handed over.
    let too_many = till.give_back(2, &back.hash, &bought, &none, &[(&picked.sku, handed)], Refund::Cash);
    let r = s.push_op(&k, "too-many", "return.complete", json!({"receipt": too_many})).await;
    assert_eq!(r["code"], "over_return", "{r}");
    assert_eq!((r["facts"]["origin"].as_str(), r["facts"]["returned_before"].as_i64()), (Some(ready.id.as_str()), Some(1)), "{r}");
    if handed > 1 {
        let rest = till.give_back(2, &back.hash, &bought, &returned, &[(&picked.sku, handed - 1)], Refund::Cash);
        assert_eq!(s.push_op(&k, "rest", "return.complete", json!({"receipt": rest})).await["status"], "applied");
    }
}

/// The Z report of the shift `z` at the till, covering `receipts`.
fn z_report(store_id: i64, device_id: &str, z: i64, receipts: &[Receipt]) -> ZReport {
    let shift = OpenShift {
        z_number: z,
        store_id,
        device_id,
        currency: "PLN",
        opened_by: &format!("S{store_id}-STAFF"),
        opened_at: 1_700_000_000 + 1000 * z,
        float_cents: 20_000,
        cash_moves: vec![],
    };
    shift.close(receipts, &format!("S{store_id}-STAFF"), 1_700_000_500 + 1000 * z, 25_000, 0).unwrap()
}

/// A shift's close is recorded once: listed by `GET /v1/shifts` in pages that join up,
/// sent to every device of its store (none of another), a duplicate when pushed again;
/// another close with the same Z number is refused `z_number_used`, and a report of
/// another device `foreign_z_report`.
async fn a_shift_close_is_kept_once_and_shared_with_the_store(db: Db) {
    let s = server(db, small()).await;
    let (k, other, elsewhere) = (s.kiosk(1).await, s.kiosk(1).await, s.kiosk(2).await);
    let products = catalogue(&s).await;
    let sale = Till::staff(1, &k.id).receipt(1, GENESIS_HASH, vec![line(&products[0], 1, false)]);
    assert_eq!(s.push_op(&k, "sale", "sale.complete", json!({"receipt": sale})).await["status"], "applied");
    let (_, cursor) = s.pull_all(&other.token, 10_000).await;
    let z1 = z_report(1, &k.id, 1, std::slice::from_ref(&sale));
    assert_eq!((z1.sales.count, z1.sales.total_cents), (1, sale.total_cents));
    let r = s.push_op(&k, "z1", "shift.close", json!({"report": z1})).await;
    assert_eq!(r["status"], "applied", "{r}");
    let page = s.pull(&other.token, &cursor, 10_000, 0).await;
    assert_eq!(page.changes.iter().filter(|c| matches!(c, Change::Shift(z) if *z == z1)).count(), 1, "{:?}", page.changes);
    assert!(s.pull_all(&elsewhere.token, 10_000).await.0.iter().all(|c| !matches!(c, Change::Shift(_))), "not another store's");

    let next = k.next_seq.replace(2);
    assert_eq!(s.push_op(&k, "z1", "shift.close", json!({"report": z1})).await["status"], "duplicate");
    k.next_seq.set(next);
    let again = ZReport { counted_cash_cents: 26_000, difference_cents: z1.difference_cents + 1000, ..z1.clone() };
    let r = s.push_op(&k, "z1-again", "shift.close", json!({"report": again})).await;
    assert_eq!((r["code"].as_str(), r["facts"]["op_id"].as_str()), (Some("z_number_used"), Some("z1")), "{r}");
    let theirs = z_report(1, &other.id, 1, &[]);
    let r = s.push_op(&k, "z-theirs", "shift.close", json!({"report": theirs})).await;
    assert_eq!(r["code"], "foreign_z_report", "{r}");

    let (z2, z3) = (z_report(1, &k.id, 2, &[]), z_report(1, &other.id, 1, &[]));
    assert_eq!(s.push_op(&k, "z2", "shift.close", json!({"report": z2})).await["status"], "applied");
    assert_eq!(s.push_op(&elsewhere, "z-2", "shift.close", json!({"report": z_report(2, &elsewhere.id, 1, &[])})).await["status"], "applied");
    assert_eq!(s.push_op(&other, "z3", "shift.close", json!({"report": z3})).await["status"], "applied");
    let (mut paged, mut after) = (Vec::new(), String::new());
    loop {
        let (st, v) = s.get(&format!("/v1/shifts?store_id=1&limit=2&after={after}"), CHANNEL).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let page: ShiftsPage = serde_json::from_value(v).unwrap();
        assert!(page.shifts.len() <= 2);
        paged.extend(page.shifts);
        after = page.cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(paged, [z1, z2, z3], "in the order recorded, the refused ones not among them");
    let (_, v) = s.get(&format!("/v1/shifts?store_id=1&after={after}"), CHANNEL).await;
    assert_eq!((v["shifts"].as_array().map(Vec::len), v["cursor"].as_str()), (Some(0), Some(after.as_str())), "nothing new, same cursor");
    let (_, v) = s.get("/v1/shifts", CHANNEL).await;
    assert_eq!(v["shifts"].as_array().unwrap().len(), 4, "every store's: {v}");
    let (st, v) = s.get("/v1/shifts?after=garbage", CHANNEL).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v) = s.get("/v1/shifts?after=0000.1", CHANNEL).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("cursor_reset")), "{v}");
    assert_eq!(s.get("/v1/shifts", &k.token).await.0, StatusCode::FORBIDDEN, "a device does not read the chain's shifts");
}

on_both_backends!(a_line_comes_back_once_whichever_device_takes_it);
on_both_backends!(a_return_against_what_the_store_did_not_sell_is_refused_and_leaves_nothing);
on_both_backends!(a_collected_order_can_be_returned);
on_both_backends!(a_shift_close_is_kept_once_and_shared_with_the_store);

/// Two devices taking back the same line at the same moment: the hub applies one, and
/// the other meets it (`over_return`) — the returns against a receipt are counted inside
/// the writing transaction, never from a snapshot both passed.
async fn two_devices_returning_one_line_at_once_refund_it_once(db: Db) {
    let s = server(db, small()).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(1).await);
    let products = catalogue(&s).await;
    let sale = Till::staff(1, &a.id).receipt(1, GENESIS_HASH, vec![line(&products[4], 1, false)]);
    assert_eq!(s.push_op(&a, "sale", "sale.complete", json!({"receipt": sale})).await["status"], "applied");
    let (bought, none) = (Bought::of_receipt(&sale), Returned::new());
    let sku = products[4].sku.as_str();
    let back_a = Till::staff(1, &a.id).give_back(2, &sale.hash, &bought, &none, &[(sku, 1)], Refund::Cash);
    let back_b = Till::staff(1, &b.id).give_back(1, GENESIS_HASH, &bought, &none, &[(sku, 1)], Refund::Cash);
    let (ra, rb) = tokio::join!(
        s.push_op(&a, "back-a", "return.complete", json!({"receipt": back_a})),
        s.push_op(&b, "back-b", "return.complete", json!({"receipt": back_b})),
    );
    let mut codes = [ra["code"].as_str().unwrap_or("applied"), rb["code"].as_str().unwrap_or("applied")];
    codes.sort();
    assert_eq!(codes, ["applied", "over_return"], "{ra} {rb}");
    let returns = sales_page(&s, "").await.sales.into_iter().filter(|r| r.kind == ReceiptKind::Return).count();
    assert_eq!(returns, 1);
}

on_both_backends!(two_devices_returning_one_line_at_once_refund_it_once, flavor = "multi_thread", worker_threads = 4);

/// Tills of two stores spending one shopper's whole balance at the same moment — writers
/// of different stores run side by side on PostgreSQL — spend it once: for each shopper
/// one sale is applied and the other refused `insufficient_points`, and no balance goes
/// below what the applied sale left.
async fn two_stores_spending_one_shoppers_points_at_once_spend_them_once(db: Db) {
    let s = server(db, small()).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(2).await);
    let products = catalogue(&s).await;
    let dear = products.iter().max_by_key(|p| p.price_cents).unwrap();
    let shoppers: Vec<_> = (1..=240).filter_map(|n| s.hub.get_customer(&format!("C{n:06}")).ok()).filter(|c| c.points > 0).take(6).collect();
    assert_eq!(shoppers.len(), 6, "six seeded shoppers with points");
    // Each shopper's app code scanned at both stores: now a shopper of both.
    for shopper in &shoppers {
        let code = s.hub.sign_code(CodeKind::Customer, &shopper.id, 600).unwrap();
        for till in [&a, &b] {
            let (st, v) = s.call(reqwest::Method::POST, "/v1/lookup", Some(&till.token), Some(json!({"code": code}))).await;
            assert_eq!(st, StatusCode::OK, "{v}");
        }
    }
    let (mut prev_a, mut prev_b) = (GENESIS_HASH.to_string(), GENESIS_HASH.to_string());
    for (n, shopper) in shoppers.iter().enumerate() {
        let qty = shopper.points / dear.price_cents + 1;
        let sale = |till: &Kiosk, store: i64, prev: &str| {
            Till { customer_id: Some(&shopper.id), redeem: shopper.points, ..Till::staff(store, &till.id) }.receipt(till.next_seq.get(), prev, vec![line(dear, qty, false)])
        };
        let (sale_a, sale_b) = (sale(&a, 1, &prev_a), sale(&b, 2, &prev_b));
        let (op_a, op_b) = (format!("spend-a-{n}"), format!("spend-b-{n}"));
        let (ra, rb) = tokio::join!(
            s.push_op(&a, &op_a, "sale.complete", json!({"receipt": sale_a})),
            s.push_op(&b, &op_b, "sale.complete", json!({"receipt": sale_b})),
        );
        let mut codes = [ra["code"].as_str().unwrap_or("applied"), rb["code"].as_str().unwrap_or("applied")];
        codes.sort();
        assert_eq!(codes, ["applied", "insufficient_points"], "{} spent twice or not at all: {ra} {rb}", shopper.id);
        let applied = if ra["status"] == "applied" { &sale_a } else { &sale_b };
        assert_eq!(s.hub.get_customer(&shopper.id).unwrap().points, applied.points_earned, "{}'s balance", shopper.id);
        // A refused sale uses no number at the hub, but it did at its till (kept there for
        // the manager): the next receipt chains on from it.
        prev_a = sale_a.hash.clone();
        prev_b = sale_b.hash.clone();
    }
}

on_both_backends!(two_stores_spending_one_shoppers_points_at_once_spend_them_once, flavor = "multi_thread", worker_threads = 4);

/// The same push sent twice at the same moment (a kiosk that timed out and sent again, or
/// a restored copy of it): one copy applies each op, the other meets it as `duplicate`.
async fn one_push_sent_twice_at_once_applies_once(db: Db) {
    let s = server(db, small()).await;
    let k = s.kiosk(1).await;
    let products = catalogue(&s).await;
    let till = Till::staff(1, &k.id);
    let mut prev = GENESIS_HASH.to_string();
    let ops: Vec<Value> = (1..=5)
        .map(|seq| {
            let sale = till.receipt(seq, &prev, vec![line(&products[seq as usize], 1, false)]);
            prev = sale.hash.clone();
            json!({"op_id": format!("twice-{seq}"), "seq": seq, "name": "sale.complete", "kiosk_time": 0, "body": {"receipt": sale}})
        })
        .collect();
    let push = json!({"device_seq_from": 1, "ops": ops});
    let send = || s.call(reqwest::Method::POST, "/v1/sync/push", Some(&k.token), Some(push.clone()));
    let ((st1, v1), (st2, v2)) = tokio::join!(send(), send());
    assert_eq!((st1, st2), (StatusCode::OK, StatusCode::OK), "{v1} {v2}");
    let statuses = |v: &Value| v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (first, second) = (statuses(&v1), statuses(&v2));
    let applied = vec!["applied".to_string(); 5];
    let duplicate = vec!["duplicate".to_string(); 5];
    assert!((first == applied && second == duplicate) || (first == duplicate && second == applied), "{first:?} {second:?}");
    let sales = sales_page(&s, "").await.sales;
    assert_eq!(sales.iter().filter(|r| r.device_id == k.id).count(), 5, "five sales, once each");
}

on_both_backends!(one_push_sent_twice_at_once_applies_once, flavor = "multi_thread", worker_threads = 4);

// ---- lookups guarded: the per-device limit, the audit, and the expiry of lookup-only customers

/// A shopper of store 2 with a loyalty card numbered `n`; answers the card.
async fn shopper_of_store_2(s: &Server, id: &str, n: u64) -> String {
    put_shopper(s, id, "Ola", "Nowak", 2).await;
    let card = LoyaltyCard::generate("042", n).as_str().to_string();
    let (st, v) = s.channel(reqwest::Method::PUT, &format!("/v1/customers/{id}/identifiers"), json!({"loyalty_cards":[card]})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    card
}

async fn lookups_page(s: &Server, query: &str) -> LookupsPage {
    let (st, v) = s.get(&format!("/v1/lookups{query}"), CHANNEL).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    serde_json::from_value(v).unwrap()
}

/// A device gets its lookups per minute and no more: the next is answered 429
/// `lookup_rate_limited` with `Retry-After`, looks nothing up and attaches nobody, and is
/// audited as refused; another device of the store has its own allowance, and bad input
/// is refused before it counts. The channel reads the audit — kind, found or not or
/// refused, never the code — in pages; a device may not; erasure unlinks the shopper.
async fn lookups_past_a_devices_allowance_are_refused_and_every_lookup_is_audited(db: Db) {
    let s = server_with(db, small(), ServeConfig { lookups_per_minute: Some(3), ..ServeConfig::default() }).await;
    let (a, b) = (s.kiosk(1).await, s.kiosk(1).await);
    let card = shopper_of_store_2(&s, "C-LK1", 900_001).await;
    let refused_card = shopper_of_store_2(&s, "C-LK2", 900_002).await;
    let qr = s.hub.sign_code(CodeKind::Customer, "C-LK1", 600).unwrap();
    let unknown = LoyaltyCard::generate("042", 999_999).as_str().to_string();
    assert_eq!(s.get("/v1/lookup?code=4006381333931", &a.token).await.0, StatusCode::BAD_REQUEST, "a product is no lookup");
    assert_eq!(s.get(&format!("/v1/lookup?code={card}"), &a.token).await.0, StatusCode::OK);
    assert_eq!(s.get(&format!("/v1/lookup?code={qr}"), &a.token).await.0, StatusCode::OK);
    assert_eq!(s.get(&format!("/v1/lookup?code={unknown}"), &a.token).await.0, StatusCode::NOT_FOUND);
    let (_, cursor) = s.pull_all(&a.token, 10_000).await;
    let head = s.hub.feed_head().unwrap();
    let resp = s.http.get(format!("{}/v1/lookup?code={refused_card}", s.base)).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "one lookup comes back every 20 s: {retry}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "lookup_rate_limited", "{v}");
    // Held to the document like every other answer.
    let (st, _) = s.get(&format!("/v1/lookup?code={refused_card}"), &a.token).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(s.hub.feed_head().unwrap(), head, "a refused lookup attaches nobody");
    assert!(s.pull(&a.token, &cursor, 10_000, 0).await.changes.iter().all(|c| !matches!(c, Change::Customer(cu) if cu.id == "C-LK2")));
    let (st, v) = s.get(&format!("/v1/lookup?code={refused_card}"), &b.token).await;
    assert_eq!(st, StatusCode::OK, "another device is not limited: {v}");

    let all = lookups_page(&s, "?store_id=1").await;
    let seen: Vec<(&str, &str, LookupOutcome, Option<&str>)> =
        all.lookups.iter().map(|l| (l.device_id.as_str(), l.kind.as_str(), l.outcome, l.customer_id.as_deref())).collect();
    assert_eq!(
        seen,
        [
            (a.id.as_str(), "loyalty_card", LookupOutcome::Found, Some("C-LK1")),
            (a.id.as_str(), "customer", LookupOutcome::Found, Some("C-LK1")),
            (a.id.as_str(), "loyalty_card", LookupOutcome::NotFound, None),
            (a.id.as_str(), "loyalty_card", LookupOutcome::Refused, None),
            (a.id.as_str(), "loyalty_card", LookupOutcome::Refused, None),
            (b.id.as_str(), "loyalty_card", LookupOutcome::Found, Some("C-LK2")),
        ]
    );
    assert!(!all.has_more && all.lookups.iter().all(|l| l.store_id == 1 && l.at > 0));
    let text = s.get("/v1/lookups", CHANNEL).await.1.to_string();
    for code in [&card, &refused_card, &unknown, &qr] {
        assert!(!text.contains(code.as_str()), "the audit holds no code: {text}");
    }
    assert!(lookups_page(&s, "?store_id=2").await.lookups.is_empty());
    // Pages of two give the same, in the same order.
    let (paged, after) = read_in_pages::<LookupAudit>(&s, "/v1/lookups?store_id=1", "lookups", 2).await;
    assert_eq!(paged, all.lookups);
    assert!(lookups_page(&s, &format!("?after={after}")).await.lookups.is_empty(), "nothing after the last");
    assert_eq!(s.get("/v1/lookups", &a.token).await.0, StatusCode::FORBIDDEN, "a device does not read the audit");
    assert_eq!(s.get("/v1/lookups?after=nonsense", CHANNEL).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get("/v1/lookups?after=0000.1", CHANNEL).await.0, StatusCode::CONFLICT, "a cursor of another database");

    assert_eq!(s.call(reqwest::Method::DELETE, "/v1/customers/C-LK1", Some(CHANNEL), None).await.0, StatusCode::NO_CONTENT);
    let after_erasure = lookups_page(&s, "?store_id=1").await.lookups;
    assert_eq!(after_erasure.len(), all.lookups.len(), "the lookups still count");
    assert!(after_erasure.iter().all(|l| l.customer_id.as_deref() != Some("C-LK1")), "{after_erasure:?}");
    assert_eq!(after_erasure[1].outcome, LookupOutcome::Found);
}

/// The hub's clock as its writes read it, moved past the second it stands in now.
async fn next_second() -> i64 {
    let now = omnikiosk_hub::now_secs();
    while omnikiosk_hub::now_secs() == now {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    omnikiosk_hub::now_secs()
}

/// A customer a store knows only from a lookup leaves its kiosks' cache after the days
/// without a visit: detached, their tombstone once in the store's feed, no more of their
/// changes there. One seen there since, or with an order there, stays; looked up again,
/// the customer comes back.
async fn a_customer_attached_by_lookup_leaves_the_store_after_its_days_without_a_visit(db: Db) {
    let s = server(db, small()).await;
    let a = s.kiosk(1).await;
    let ttl = omnikiosk_hub::lookups::DEFAULT_LOOKUP_TTL_SECS;
    let mut cards = Vec::new();
    for (n, id) in ["C-GONE", "C-SEEN", "C-ORDER"].into_iter().enumerate() {
        let card = shopper_of_store_2(&s, id, 900_100 + n as u64).await;
        assert_eq!(s.get(&format!("/v1/lookup?code={card}"), &a.token).await.0, StatusCode::OK);
        cards.push(card);
    }
    let sku = customer_sku(&s).await;
    let (st, v) = s.channel(reqwest::Method::POST, "/v1/orders", json!({"customer_id":"C-ORDER","store_id":1,"lines":[{"sku":sku,"qty":1}]})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let visit = next_second().await;
    assert_eq!(s.push_op(&a, "seen-1", "visit.seen", json!({"customer_id":"C-SEEN"})).await["status"], "applied");
    let (_, cursor) = s.pull_all(&a.token, 10_000).await;

    assert!(s.hub.detach_stale_lookups(visit + ttl - 60, ttl).unwrap().is_empty(), "too early");
    let gone = s.hub.detach_stale_lookups(visit + ttl, ttl).unwrap();
    assert_eq!(gone, [("C-GONE".to_string(), 1)], "seen since, or with an order, they stay");
    let head = s.hub.feed_head().unwrap();
    assert!(s.hub.detach_stale_lookups(visit + ttl, ttl).unwrap().is_empty(), "once");
    assert_eq!(s.hub.feed_head().unwrap(), head);
    let page = s.pull(&a.token, &cursor, 10_000, 0).await;
    let removed: Vec<&str> = page.changes.iter().filter_map(|c| if let Change::CustomerRemoved { id } = c { Some(id.as_str()) } else { None }).collect();
    assert_eq!(removed, ["C-GONE"], "{:?}", page.changes);
    // No longer the store's: their changes go to their own store only.
    put_shopper(&s, "C-GONE", "Olga", "Nowak", 2).await;
    let page = s.pull(&a.token, &page.cursor, 10_000, 0).await;
    assert!(page.changes.iter().all(|c| !matches!(c, Change::Customer(cu) if cu.id == "C-GONE")), "{:?}", page.changes);
    let other = s.kiosk(2).await;
    assert!(s.store_view(&other).await.iter().any(|c| matches!(c, Change::Customer(cu) if cu.id == "C-GONE")), "still their home store's");

    // The visit's customer goes in their turn; the order's customer never does.
    let gone = s.hub.detach_stale_lookups(visit + 100 * ttl, ttl).unwrap();
    assert_eq!(gone, [("C-SEEN".to_string(), 1)]);
    // Looked up again, the customer is the store's again.
    let (st, _) = s.get(&format!("/v1/lookup?code={}", cards[0]), &a.token).await;
    assert_eq!(st, StatusCode::OK);
    let page = s.pull(&a.token, &page.cursor, 10_000, 0).await;
    assert!(page.changes.iter().any(|c| matches!(c, Change::Customer(cu) if cu.id == "C-GONE" && cu.first_name == "Olga")), "{:?}", page.changes);
}

on_both_backends!(lookups_past_a_devices_allowance_are_refused_and_every_lookup_is_audited);
on_both_backends!(a_customer_attached_by_lookup_leaves_the_store_after_its_days_without_a_visit);

/// The badge holder `id` as the store's devices last heard of them: `Some(None)` removed.
fn staff_in(changes: &[Change], id: &str) -> Option<Option<StaffRecord>> {
    changes.iter().rev().find_map(|c| match c {
        Change::Staff(st) if st.id == id => Some(Some(st.clone())),
        Change::StaffRemoved { id: gone } if gone == id => Some(None),
        _ => None,
    })
}

on_both_backends!(colleagues_come_and_go_through_the_channel_api);
/// HR's colleagues over the channel API: a new one has a badge and no PIN, is renamed and
/// given another role, listed; chooses a PIN at a kiosk once (a second is refused, and
/// never at another store); removed, and every device of the store hears of it. Bad input
/// is answered with what is wrong and changes nothing.
async fn colleagues_come_and_go_through_the_channel_api(db: Db) {
    let s = server(db, small()).await;
    let (a, b, other) = (s.kiosk(1).await, s.kiosk(1).await, s.kiosk(2).await);
    let path = |store: i64, id: &str| format!("/v1/stores/{store}/staff/{id}");
    let (st, c) = s.channel(reqwest::Method::PUT, &path(1, "S1-HR7"), json!({"name": "Zofia Wiśniewska", "role": "staff"})).await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!((&c["id"], &c["role"], &c["pin_set"], &c["store_id"]), (&json!("S1-HR7"), &json!("staff"), &json!(false), &json!(1)));
    let claims = omnikiosk_protocol::code::verify(&s.hub.public_key(), c["badge"].as_str().unwrap(), omnikiosk_hub::now_secs()).unwrap();
    assert_eq!((claims.kind, claims.id.as_str()), (CodeKind::Staff, "S1-HR7"));
    let seen = staff_in(&s.store_view(&b).await, "S1-HR7").flatten().expect("the store's devices know the new colleague");
    assert_eq!((seen.role, seen.till, seen.pin_hash.as_str()), (StaffRole::Staff, false, ""));
    assert_eq!(staff_in(&s.store_view(&other).await, "S1-HR7"), None, "another store's devices do not");

    let (st, c) = s.channel(reqwest::Method::PUT, &path(1, "S1-HR7"), json!({"name": "Zofia W.", "role": "till"})).await;
    assert_eq!((st, &c["role"], &c["name"]), (StatusCode::OK, &json!("till"), &json!("Zofia W.")), "{c}");
    let seen = staff_in(&s.store_view(&b).await, "S1-HR7").flatten().unwrap();
    assert_eq!((seen.role, seen.till, seen.name.as_str()), (StaffRole::Staff, true, "Zofia W."));

    let refused: &[(i64, &str, Value, StatusCode, &str)] = &[
        (1, "S1-HR8", json!({"name": "", "role": "staff"}), StatusCode::BAD_REQUEST, "name must be 1-80"),
        (1, "S1-HR8", json!({"name": "Z".repeat(81), "role": "staff"}), StatusCode::BAD_REQUEST, "name must be 1-80"),
        (1, "S1-HR8", json!({"name": "Zofia", "role": "boss"}), StatusCode::BAD_REQUEST, "role"),
        (99, "S99-1", json!({"name": "Zofia", "role": "staff"}), StatusCode::NOT_FOUND, "store 99 does not exist"),
        (2, "S1-HR7", json!({"name": "Zofia", "role": "staff"}), StatusCode::CONFLICT, "works at store 1"),
        (1, "S1 HR8", json!({"name": "Zofia", "role": "staff"}), StatusCode::BAD_REQUEST, "staff id"),
    ];
    for (store, id, body, status, says) in refused {
        let (st, v) = s.channel(reqwest::Method::PUT, &path(*store, &id.replace(' ', "%20")), body.clone()).await;
        assert_eq!(st, *status, "{id} {body}: {v}");
        assert!(v.to_string().contains(says), "{id} {body}: {v}");
    }
    let (st, list) = s.get("/v1/stores/1/staff", CHANNEL).await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["S1-HR7", "S1-MGR", "S1-STAFF"], "nothing refused was written");
    assert_eq!(s.get("/v1/stores/99/staff", CHANNEL).await.0, StatusCode::NOT_FOUND);

    // The colleague chooses a PIN at a kiosk: once, and only at their store.
    let pin_hash = omnikiosk_protocol::pin::hash(&seen.pin_salt, "2580").unwrap();
    let set = json!({"staff_id": "S1-HR7", "pin_hash": pin_hash});
    assert_eq!(s.push_op(&other, "pin-other", "staff.set_pin", set.clone()).await["code"], "unknown_staff");
    assert_eq!(s.push_op(&a, "pin-1", "staff.set_pin", set.clone()).await["status"], "applied");
    assert_eq!(staff_in(&s.store_view(&b).await, "S1-HR7").flatten().unwrap().pin_hash, pin_hash, "every device of the store has it");
    let again = s.push_op(&b, "pin-2", "staff.set_pin", set.clone()).await;
    assert_eq!(again["code"], "pin_already_set", "{again}");
    assert_eq!(s.get("/v1/stores/1/staff", CHANNEL).await.1[0]["pin_set"], true);
    // Reset at the hub: the colleague chooses again.
    s.hub.reset_staff_pin("S1-HR7").unwrap();
    assert_eq!(staff_in(&s.store_view(&b).await, "S1-HR7").flatten().unwrap().pin_hash, "");
    assert_eq!(s.push_op(&b, "pin-3", "staff.set_pin", set).await["status"], "applied");

    let delete = reqwest::Method::DELETE;
    assert_eq!(s.call(delete.clone(), &path(2, "S1-HR7"), Some(CHANNEL), None).await.0, StatusCode::NOT_FOUND, "not a colleague of store 2");
    assert_eq!(s.call(delete.clone(), &path(1, "S1-HR7"), Some(CHANNEL), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(staff_in(&s.store_view(&b).await, "S1-HR7"), Some(None), "the badge stops working at the store's next pull");
    assert_eq!(s.call(delete, &path(1, "S1-HR7"), Some(CHANNEL), None).await.0, StatusCode::NOT_FOUND);
    let r = s.push_op(&a, "pick-after", "help.take", json!({"request_id": "h", "staff_id": "S1-HR7"})).await;
    assert_eq!(r["code"], "unknown_staff", "{r}");
}
/// Every whole-number query parameter at the edges of its range and past them, and
/// customer ids out of shape: in range is served, out of range or not a number is 400
/// `bad_request` naming the range, and the OpenAPI document shows the rule the handler
/// checks (a generated client and a property-based tester then agree with the hub).
/// `wait=9223372036854775808` used to be taken and clamped; a malformed customer id was 404.
async fn parameters_out_of_range_or_shape_are_refused_and_the_document_says_so(db: Db) {
    use omnikiosk_hub::params::{ListLimit, PullLimit, PullWait, TimelineLimit};
    let s = server(db, small()).await;
    let device = s.hub.add_device(1, "k").unwrap();
    // (template, query before the parameter, the parameter's range, the token)
    let cases = [
        ("/v1/sync/pull", "/v1/sync/pull?cursor=&", PullLimit::RANGE, device.as_str()),
        ("/v1/sync/pull", "/v1/sync/pull?cursor=&", PullWait::RANGE, device.as_str()),
        ("/v1/sales", "/v1/sales?", ListLimit::RANGE, CHANNEL),
        ("/v1/shifts", "/v1/shifts?", ListLimit::RANGE, CHANNEL),
        ("/v1/lookups", "/v1/lookups?", ListLimit::RANGE, CHANNEL),
        ("/v1/customers/{id}/timeline", "/v1/customers/C000001/timeline?", TimelineLimit::RANGE, CHANNEL),
    ];
    for (template, query, range, token) in cases {
        let documented = s.document_param(template, range.name);
        assert_eq!((documented["minimum"].as_u64(), documented["maximum"].as_u64()), (Some(range.min), Some(range.max)), "{template} {}", range.name);
        let refused = format!("{} must be {} to {}", range.name, range.min, range.max);
        let mut values = vec![(range.min.to_string(), true), (range.max.to_string(), true), ((range.max + 1).to_string(), false)];
        values.extend([("x".to_string(), false), (String::new(), false), ("9223372036854775808".to_string(), false)]);
        if let Some(below) = range.min.checked_sub(1) {
            values.push((below.to_string(), false));
        }
        for (value, served) in values {
            let path = format!("{query}{}={value}", range.name);
            let (st, v) = s.get(&path, token).await;
            if served {
                assert_eq!(st, StatusCode::OK, "{path}: {v}");
            } else {
                assert_eq!((st, v["error"].as_str(), v["message"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request"), Some(refused.as_str())), "{path}");
            }
        }
    }
    // A customer id in a path: the pattern the document shows is the one every
    // `/v1/customers/{id}…` endpoint holds it to, before looking anyone up.
    let refused = "customer id must be 1-64 letters, digits, '-', '_' or '.'";
    let templates = ["/v1/customers/{id}", "/v1/customers/{id}/timeline"];
    for template in templates {
        let documented = s.document_param(template, "id");
        assert_eq!((documented["pattern"].as_str(), documented["maxLength"].as_u64()), (Some("^[A-Za-z0-9._-]{1,64}$"), Some(64)), "{template}");
    }
    use reqwest::Method as M;
    let long = "C".repeat(65);
    for id in ["bad%20id", "C%C3%A9", long.as_str()] {
        for (method, path) in [(M::GET, format!("/v1/customers/{id}")), (M::DELETE, format!("/v1/customers/{id}")), (M::GET, format!("/v1/customers/{id}/timeline")), (M::POST, format!("/v1/customers/{id}/code"))] {
            let (st, v) = s.call(method.clone(), &path, Some(CHANNEL), None).await;
            assert_eq!((st, v["message"].as_str()), (StatusCode::BAD_REQUEST, Some(refused)), "{method} {path}");
        }
    }
    assert_eq!(s.get(&format!("/v1/customers/{}", "C".repeat(64)), CHANNEL).await.0, StatusCode::NOT_FOUND, "the longest id is an id");
}

impl Server {
    /// The document's query parameter `name` of `GET template`.
    fn document_param(&self, template: &str, name: &str) -> Value {
        let params = contract::CONTRACT.doc()["paths"][template]["get"]["parameters"].as_array().cloned().unwrap_or_default();
        let param = params.into_iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{template} documents no {name}"));
        param["schema"].clone()
    }
}

on_both_backends!(parameters_out_of_range_or_shape_are_refused_and_the_document_says_so);

/// The chain's loyalty rule: put whole, read back, refused with nothing changed when a
/// currency or a number is out of shape, and sent to every store's kiosks in `global`.
async fn the_chain_loyalty_rule_is_set_once_and_reaches_every_kiosk(db: Db) {
    use reqwest::Method as M;
    let s = server(db, small()).await;
    let (one, two) = (s.kiosk(1).await, s.kiosk(2).await);
    let (_, cursor) = s.pull_all(&one.token, 10_000).await;
    let (st, v) = s.get("/v1/loyalty/rule", CHANNEL).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "no rule yet: {v}");
    let rules = json!({"rules": {"PLN": {"earn_per_unit": 1, "point_value_cents": 1}, "GBP": {"earn_per_unit": 5, "point_value_cents": 1}}});
    let (st, v) = s.channel(M::PUT, "/v1/loyalty/rule", rules.clone()).await;
    assert_eq!((st, &v), (StatusCode::OK, &rules));
    assert_eq!(s.get("/v1/loyalty/rule", CHANNEL).await, (StatusCode::OK, rules.clone()));
    assert_eq!(s.get("/v1/loyalty/rule", &one.token).await.0, StatusCode::FORBIDDEN, "a device does not set the chain's rule");
    let head = s.hub.feed_head().unwrap();
    let rule = |currency: &str, earn: i64, value: i64| json!({"rules": {currency: {"earn_per_unit": earn, "point_value_cents": value}}});
    let refused = [
        (json!({"rules": {}}), "rules must name 1 to 200 currencies"),
        (rule("pln", 1, 1), "\"pln\" is not an ISO 4217 currency code (three capital letters)"),
        (rule("PLNX", 1, 1), "\"PLNX\" is not an ISO 4217 currency code (three capital letters)"),
        (rule("PLN", -1, 1), "earn_per_unit of PLN must be 0 to 100"),
        (rule("PLN", 101, 1), "earn_per_unit of PLN must be 0 to 100"),
        (rule("PLN", 1, 0), "point_value_cents of PLN must be 1 to 10000"),
        (rule("PLN", 1, 10_001), "point_value_cents of PLN must be 1 to 10000"),
    ];
    for (body, message) in refused {
        let (st, v) = s.channel(M::PUT, "/v1/loyalty/rule", body.clone()).await;
        assert_eq!((st, v["error"].as_str(), v["message"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request"), Some(message)), "{body}");
    }
    let (st, _) = s.channel(M::PUT, "/v1/loyalty/rule", json!({"rules": {"PLN": {"earn_per_unit": 1}}})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "a rule lacking a number");
    assert_eq!(s.hub.feed_head().unwrap(), head, "a refused rule wrote to the feed");
    assert_eq!(s.get("/v1/loyalty/rule", CHANNEL).await, (StatusCode::OK, rules.clone()), "and left the rule as it was");
    // Every store's kiosks are sent it; a new one replaces it whole.
    let sent = |changes: &[Change]| changes.iter().rev().find_map(|c| if let Change::LoyaltyRule(r) = c { Some(serde_json::to_value(r).unwrap()) } else { None });
    let page = s.pull(&one.token, &cursor, 1000, 0).await;
    assert_eq!(sent(&page.changes), Some(rules.clone()));
    assert_eq!(sent(&s.pull_all(&two.token, 10_000).await.0), Some(rules));
    assert_eq!(s.channel(M::PUT, "/v1/loyalty/rule", rule("PLN", 3, 2)).await.0, StatusCode::OK);
    assert_eq!(sent(&s.pull(&one.token, &page.cursor, 1000, 0).await.changes), Some(rule("PLN", 3, 2)));
    assert_eq!(s.hub.loyalty_rules().unwrap().rules.len(), 1, "GBP is gone: a PUT is the whole set");
}

on_both_backends!(the_chain_loyalty_rule_is_set_once_and_reaches_every_kiosk);
