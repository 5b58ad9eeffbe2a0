//! The hub's HTTP API on a real loopback listener: who may read what, paging and
//! long-poll of the change feed, and bad input that changes nothing. Every test runs on
//! both storage backends: `<test>::sqlite` and `<test>::postgres` (the latter on a
//! throwaway cluster, skipped with a printed reason when PostgreSQL is not installed).

#[path = "support/pg.rs"]
mod pg;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::gtin::LoyaltyCard;
use omnikiosk_protocol::wire::{Change, PullResponse, PROTOCOL_HEADER};
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
    base: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty hub database on the backend.
fn open_hub(db: Db) -> (Hub, Option<tempfile::TempDir>) {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (Hub::open(&format!("sqlite:{}", dir.path().join("hub.db").display())).unwrap(), Some(dir))
        }
        Db::Postgres => (Hub::open(&pg::database()).unwrap(), None),
    }
}

async fn server(db: Db, opts: SeedOptions) -> Server {
    let (hub, dir) = open_hub(db);
    hub.seed(&opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let h = hub.clone();
    tokio::spawn(async move {
        omnikiosk_hub::serve(h, listener, ServeConfig { channel_token: Some(CHANNEL.into()), ..ServeConfig::default() }, std::future::pending()).await.unwrap()
    });
    Server { hub, base, http: reqwest::Client::new(), _dir: dir }
}

fn small() -> SeedOptions {
    SeedOptions { stores: 3, customers: 240, products: 60, orders: 60, seed: 9 }
}

impl Server {
    async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header(PROTOCOL_HEADER, "1");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
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
    assert_eq!(v["protocol_version"], 1);
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
/// commit lets a reader jump past a row that commits later and lose it forever.
async fn concurrent_writers_never_make_a_puller_miss_a_change(db: Db) {
    let s = std::sync::Arc::new(server(db, small()).await);
    let token = s.hub.add_device(1, "k").unwrap();
    let sku = customer_sku(&s).await;
    let (_, start) = s.pull_all(&token, 10_000).await;
    const WRITERS: usize = 8;
    const EACH: usize = 15;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (s, sku) = (s.clone(), sku.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..EACH {
                let (st, v) = s
                    .channel(reqwest::Method::POST, "/v1/orders", json!({"customer_id":format!("C{:06}", w + 1),"store_id":1,"lines":[{"sku":sku,"qty":1}]}))
                    .await;
                assert_eq!(st, StatusCode::CREATED, "{v}");
                ids.push(v["id"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    let puller = {
        let (s, token) = (s.clone(), token.clone());
        tokio::spawn(async move {
            let (mut seen, mut cursor) = (HashSet::new(), start);
            let deadline = Instant::now() + Duration::from_secs(60);
            while seen.len() < WRITERS * EACH && Instant::now() < deadline {
                let page = s.pull(&token, &cursor, 3, 1).await;
                for c in page.changes {
                    if let Change::Order(o) = c {
                        seen.insert(o.id);
                    }
                }
                cursor = page.cursor;
            }
            seen
        })
    };
    let mut placed = HashSet::new();
    for w in writers {
        placed.extend(w.await.unwrap());
    }
    let seen = puller.await.unwrap();
    let missed: Vec<_> = placed.difference(&seen).collect();
    assert!(missed.is_empty(), "the puller missed {missed:?}");
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
        (M::GET, "/v1/customers/C000001%00", None, StatusCode::NOT_FOUND),
        (M::PUT, "/v1/customers/C000001/cart", Some(json!({"lines":[{"sku":"400638\u{0}1333931","qty":1}]})), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders", Some(json!({"customer_id":"C\u{0}1","store_id":1,"lines":[{"sku":sku,"qty":1}]})), StatusCode::BAD_REQUEST),
        (M::POST, "/v1/orders/O-1-1%00/cancel", Some(json!({"reason":"x"})), StatusCode::NOT_FOUND),
        (M::DELETE, "/v1/customers/C000001%00", None, StatusCode::NOT_FOUND),
    ];
    for (method, path, body, expected) in cases {
        let (st, v) = s.call(method.clone(), path, Some(CHANNEL), body.clone()).await;
        assert_eq!(st, expected, "{method} {path} {body:?}: {v}");
    }
    let op = |seq: i64, op_id: &str| json!({"op_id":op_id,"seq":seq,"name":"loyalty.earn","kiosk_time":0,"body":{"customer_id":"C000001","points":5,"reason":"thanks\u{0}"}});
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
    let (hub, _dir) = open_hub(db);
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
