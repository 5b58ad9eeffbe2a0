//! Regression tests, each named after the bug it pins down; each runs on both storage
//! backends (`<test>::sqlite`, `<test>::postgres`, the latter skipped with a printed
//! reason when PostgreSQL is not installed).

#[path = "support/pg.rs"]
mod pg;

use std::collections::HashSet;

use omnikiosk_hub::{Hub, HubError, SeedOptions};
use omnikiosk_protocol::gtin::LoyaltyCard;
use omnikiosk_protocol::wire::{CartLine, Change, IdentifiersPut, OrderCreate};

#[derive(Debug, Clone, Copy)]
enum Db {
    Sqlite,
    Postgres,
}

/// Runs `fn $name(db: Db)` as `$name::sqlite` and `$name::postgres`.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Db::Sqlite)
            }
            #[test]
            fn postgres() {
                if super::pg::available() {
                    super::$name(super::Db::Postgres)
                }
            }
        }
    };
}

fn seeded(db: Db, opts: SeedOptions) -> (Hub, Option<tempfile::TempDir>) {
    let (hub, dir) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (Hub::open(&format!("sqlite:{}", dir.path().join("hub.db").display())).unwrap(), Some(dir))
        }
        Db::Postgres => (Hub::open(&pg::database()).unwrap(), None),
    };
    hub.seed(&opts).unwrap();
    (hub, dir)
}

/// The seed stored the *next* order number per store and the counter then added one
/// more, so the first order placed after seeding skipped a number (O-1-10 → O-1-12).
fn the_first_order_after_seeding_continues_the_numbering_without_a_gap(db: Db) {
    let (hub, _dir) = seeded(db, SeedOptions { stores: 1, customers: 50, products: 20, orders: 10, seed: 1 });
    let seeded: HashSet<String> = (1..=10).map(|n| format!("O-1-{n}")).filter(|id| hub.get_order(id).is_ok()).collect();
    assert_eq!(seeded.len(), 10, "the seed numbers orders O-1-1..O-1-10");
    let sku = hub.get_order("O-1-1").unwrap().order.lines[0].sku.clone();
    let placed = hub
        .place_order(&OrderCreate { customer_id: "C000001".into(), store_id: 1, lines: vec![CartLine { sku, qty: 1 }], promised_ready_at: None })
        .unwrap();
    assert_eq!(placed.order.id, "O-1-11");
}

/// Every seeded stock row (and the staff) shared the last product's feed transaction, so
/// the page that reached it grew to the whole store's stock (45,000 rows for 50,000
/// products) whatever limit the kiosk asked for.
fn a_first_sync_page_stays_near_the_limit_it_was_asked_for(db: Db) {
    let (hub, _dir) = seeded(db, SeedOptions { stores: 2, customers: 300, products: 1500, orders: 40, seed: 3 });
    const LIMIT: u32 = 200;
    let (mut after, mut stock) = (0, 0);
    loop {
        let page = hub.pull(1, after, LIMIT).unwrap();
        // A page may grow by the rest of its last transaction: a customer, their cart and an order at most.
        assert!(page.changes.len() <= LIMIT as usize + 3, "a page of {} changes for limit {LIMIT}", page.changes.len());
        stock += page.changes.iter().filter(|b| matches!(serde_json::from_str(b), Ok(Change::Stock(_)))).count();
        after = page.last_seq;
        if !page.has_more {
            break;
        }
    }
    assert!(stock > 1000, "the store's stock arrives in full ({stock} rows)");
}

/// A card listed twice in one request hit the table's primary key and answered 500.
fn a_card_listed_twice_in_one_request_is_a_bad_request(db: Db) {
    let (hub, _dir) = seeded(db, SeedOptions { stores: 1, customers: 10, products: 10, orders: 2, seed: 1 });
    let before = hub.get_customer("C000001").unwrap();
    let card = LoyaltyCard::generate("042", 777_777).as_str().to_string();
    let err = hub.put_identifiers("C000001", &IdentifiersPut { loyalty_cards: vec![card.clone(), card] }).unwrap_err();
    assert!(matches!(err, HubError::BadRequest(_)), "{err:?}");
    assert_eq!(hub.get_customer("C000001").unwrap(), before);
}

on_both_backends!(the_first_order_after_seeding_continues_the_numbering_without_a_gap);
on_both_backends!(a_first_sync_page_stays_near_the_limit_it_was_asked_for);
on_both_backends!(a_card_listed_twice_in_one_request_is_a_bad_request);

/// Hubs seeded before Argon2id kept staff PINs as bare SHA-256(salt‖PIN), so a copied
/// database gave every 4-digit PIN away in microseconds. Opening such a database upgrades
/// every row without knowing a PIN, and the store's kiosks are sent the new value.
fn a_hub_database_with_sha256_pins_upgrades_them_when_opened(db: Db) {
    let (url, _dir) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite:{}", dir.path().join("hub.db").display()), Some(dir))
        }
        Db::Postgres => (pg::database(), None),
    };
    let hub = Hub::open(&url).unwrap();
    let summary = hub.seed(&SeedOptions { stores: 1, customers: 10, products: 10, orders: 2, seed: 1 }).unwrap();
    let badge = summary.stores[0].staff.clone();
    let salt = staff_in_feed(&hub, 0, &badge.id).expect("the seed publishes its staff").pin_salt;
    let head = hub.feed_head().unwrap();
    drop(hub);

    // What an older release wrote for this badge.
    use sha2::Digest;
    let legacy = hex::encode(sha2::Sha256::digest(format!("{salt}{}", badge.pin)));
    match db {
        Db::Sqlite => {
            let c = rusqlite::Connection::open(url.trim_start_matches("sqlite:")).unwrap();
            c.execute("UPDATE staff SET pin_hash = ?1 WHERE id = ?2", [&legacy, &badge.id]).unwrap();
        }
        Db::Postgres => {
            let (url, id, legacy) = (url.clone(), badge.id.clone(), legacy.clone());
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                c.execute("UPDATE staff SET pin_hash = $1 WHERE id = $2", &[&legacy, &id]).unwrap();
            })
            .join()
            .unwrap();
        }
    }

    let hub = Hub::open(&url).unwrap();
    let sent = staff_in_feed(&hub, head, &badge.id).expect("the upgraded badge is published again");
    assert!(sent.pin_hash.starts_with("$argon2id$"), "{}", sent.pin_hash);
    assert_ne!(sent.pin_hash, legacy);
    assert!(omnikiosk_protocol::pin::verify(&sent.pin_salt, &badge.pin, &sent.pin_hash).unwrap(), "the demo PIN still signs in");
    assert!(!omnikiosk_protocol::pin::verify(&sent.pin_salt, "0000", &sent.pin_hash).unwrap());
    let head = hub.feed_head().unwrap();
    drop(hub);
    let hub = Hub::open(&url).unwrap();
    assert_eq!(hub.feed_head().unwrap(), head, "an upgraded database is left alone");
}

/// The newest record of a badge holder in store 1's feed after `after`.
fn staff_in_feed(hub: &Hub, after: i64, id: &str) -> Option<omnikiosk_protocol::wire::StaffRecord> {
    let page = hub.pull(1, after, 1_000_000).unwrap();
    page.changes.iter().filter_map(|b| match serde_json::from_str(b).unwrap() {
        Change::Staff(st) if st.id == id => Some(st),
        _ => None,
    }).next_back()
}

on_both_backends!(a_hub_database_with_sha256_pins_upgrades_them_when_opened);
