//! A deterministic, realistic chain for the demo, tests and benchmarks: stores, a
//! catalogue with per-store stock and aisles, customers with names in their own
//! languages and scripts, loyalty cards and points, carts, click-and-collect orders in
//! every state, and a staff member and a manager per store with demo PINs.

use std::collections::{HashMap, HashSet};

use omnikiosk_protocol::gtin::{Gtin, LoyaltyCard, DEFAULT_LOYALTY_PREFIX};
use omnikiosk_protocol::pin;
use omnikiosk_protocol::wire::{
    CartLine, OrderEvent, OrderLine, OrderRecord, OrderStatus, ProductRecord, StaffRecord, StaffRole,
    StockRecord, StoreRecord,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Demo PINs, printed by `seed --json` so a person can try the staff screens.
pub const DEMO_STAFF_PIN: &str = "1234";
pub const DEMO_MANAGER_PIN: &str = "9999";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    pub stores: usize,
    pub customers: usize,
    pub products: usize,
    pub orders: usize,
    pub seed: u64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { stores: 3, customers: 2000, products: 500, orders: 120, seed: 42 }
    }
}

/// One customer as the seed creates them.
#[derive(Debug, Clone)]
pub struct SeedCustomer {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub tier: String,
    pub home_store: i64,
    pub language: String,
    pub email: Option<String>,
    pub card: String,
    pub points: i64,
    pub cart: Vec<CartLine>,
}

/// Everything the seed writes, ready for one storage transaction.
#[derive(Debug, Clone)]
pub struct SeedData {
    pub now: i64,
    pub stores: Vec<StoreRecord>,
    pub products: Vec<ProductRecord>,
    pub stock: Vec<StockRecord>,
    pub staff: Vec<StaffRecord>,
    pub customers: Vec<SeedCustomer>,
    pub orders: Vec<(OrderRecord, Vec<OrderEvent>)>,
    /// Last order number used per store, so orders placed later continue the numbering.
    pub order_counters: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedCounts {
    pub stores: usize,
    pub customers: usize,
    pub products: usize,
    pub orders: usize,
    pub carts: usize,
    pub staff: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerSample {
    pub id: String,
    pub name: String,
    pub loyalty_card: String,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderSample {
    pub id: String,
    pub customer_id: String,
    pub status: OrderStatus,
    pub pickup_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffSample {
    pub id: String,
    pub name: String,
    pub pin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSample {
    pub store_id: i64,
    pub name: String,
    pub customers: Vec<CustomerSample>,
    pub orders: Vec<OrderSample>,
    pub staff: StaffSample,
    pub manager: StaffSample,
}

/// What `seed --json` prints: counts and, per store, a few things to try at a kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedSummary {
    pub counts: SeedCounts,
    pub stores: Vec<StoreSample>,
}

const CITIES: &[&str] = &["Kraków", "London", "Warszawa", "Kyiv", "Shanghai", "Manchester", "Gdańsk", "Lviv"];

/// (language, female first names, male first names, surnames as (male, female)).
type Culture = (&'static str, &'static [&'static str], &'static [&'static str], &'static [(&'static str, &'static str)]);

#[rustfmt::skip]
const CULTURES: &[Culture] = &[
    ("en", &["Amelia", "Olivia", "Isla", "Emily", "Grace", "Ava"], &["Oliver", "George", "Harry", "Jack", "Noah", "Leo"], &[("Smith", "Smith"), ("Jones", "Jones"), ("Taylor", "Taylor"), ("Brown", "Brown"), ("Evans", "Evans"), ("Walker", "Walker")]),
    ("pl", &["Anna", "Zofia", "Katarzyna", "Małgorzata", "Agnieszka", "Julia"], &["Jan", "Piotr", "Tomasz", "Paweł", "Michał", "Łukasz"], &[("Kowalski", "Kowalska"), ("Nowak", "Nowak"), ("Wiśniewski", "Wiśniewska"), ("Wójcik", "Wójcik"), ("Zając", "Zając"), ("Lewandowski", "Lewandowska")]),
    ("ru", &["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна"], &["Иван", "Дмитрий", "Сергей", "Алексей", "Андрей", "Михаил"], &[("Иванов", "Иванова"), ("Петров", "Петрова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"), ("Попов", "Попова"), ("Соколов", "Соколова")]),
    ("uk", &["Олена", "Оксана", "Ірина", "Наталія", "Юлія", "Софія"], &["Андрій", "Тарас", "Богдан", "Олександр", "Василь", "Остап"], &[("Шевченко", "Шевченко"), ("Коваленко", "Коваленко"), ("Бондаренко", "Бондаренко"), ("Ткаченко", "Ткаченко"), ("Мельник", "Мельник"), ("Кравчук", "Кравчук")]),
    ("zh", &["芳", "娜", "敏", "静", "丽", "婷"], &["伟", "磊", "洋", "勇", "军", "杰"], &[("王", "王"), ("李", "李"), ("张", "张"), ("刘", "刘"), ("陈", "陈"), ("杨", "杨")]),
];

/// (category, product names, pack sizes that make sense for them).
const CATALOGUE: &[(&str, &[&str], &[&str])] = &[
    ("Dairy", &["Oat milk", "Whole milk", "Kefir", "Greek yoghurt", "Butter", "Cheddar", "Cottage cheese"], &["", " 250 g", " 500 g", " 1 l", " 2 l"]),
    ("Bakery", &["Sourdough loaf", "Rye bread", "Croissants", "Bagels", "Pretzels"], &["", " 2-pack", " 4-pack", " 6-pack"]),
    ("Pantry", &["Basmati rice", "Penne pasta", "Olive oil", "Buckwheat", "Jasmine tea", "Ground coffee", "Honey"], &["", " 250 g", " 500 g", " 1 kg", " family pack"]),
    ("Produce", &["Apples", "Bananas", "Tomatoes", "Cucumbers", "Avocados", "Blueberries"], &["", " 500 g", " 1 kg", " organic"]),
    ("Household", &["Dish soap", "Laundry capsules", "Paper towels", "Bin bags", "Sponges"], &["", " small", " large", " value pack"]),
    ("Health & beauty", &["Shampoo", "Toothpaste", "Hand cream", "Sunscreen SPF 50", "Vitamin D"], &["", " 50 ml", " 250 ml", " travel size"]),
    ("Home", &["LED bulb", "Storage box", "Mug", "Tea towel", "Scented candle"], &["", " white", " grey", " large"]),
    ("Kids", &["Crayons", "Puzzle", "Picture book", "Plush bear"], &["", " age 3+", " age 6+"]),
];

/// The money of a store in `city`.
/// The city's IANA time zone and its language.
fn locale_of(city: &str) -> (&'static str, &'static str) {
    match city {
        "London" | "Manchester" => ("Europe/London", "en"),
        "Kyiv" | "Lviv" => ("Europe/Kyiv", "uk"),
        "Shanghai" => ("Asia/Shanghai", "zh"),
        _ => ("Europe/Warsaw", "pl"),
    }
}

fn currency_of(city: &str) -> &'static str {
    match city {
        "London" | "Manchester" => "GBP",
        "Kyiv" | "Lviv" => "UAH",
        "Shanghai" => "CNY",
        _ => "PLN",
    }
}

/// VAT of a category, in basis points: food and children's books at the reduced rate.
fn vat_of(category: &str) -> i64 {
    match category {
        "Dairy" | "Bakery" | "Pantry" | "Produce" => 500,
        "Kids" => 800,
        _ => 2300,
    }
}

fn tier(rng: &mut StdRng) -> &'static str {
    match rng.gen_range(0..100) {
        0..=54 => "bronze",
        55..=84 => "silver",
        85..=96 => "gold",
        _ => "platinum",
    }
}

/// Builds the chain. `now` anchors every time so orders are "around now".
pub fn generate(opts: &SeedOptions, now: i64) -> (SeedData, SeedSummary) {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let stores: Vec<StoreRecord> = (1..=opts.stores.max(1) as i64)
        .map(|id| {
            let city = CITIES[(id as usize - 1) % CITIES.len()];
            let branch = (id as usize - 1) / CITIES.len();
            let name = if branch == 0 { format!("Omni Market {city}") } else { format!("Omni Market {city} {}", branch + 1) };
            let (timezone, language) = locale_of(city);
            // The seed's products carry their own VAT (`vat_of`), the same in every store.
            StoreRecord {
                id,
                name,
                code: format!("OM-{id:03}"),
                city: city.to_string(),
                currency: currency_of(city).to_string(),
                language: language.to_string(),
                timezone: timezone.to_string(),
                ..Default::default()
            }
        })
        .collect();

    let products: Vec<ProductRecord> = (0..opts.products)
        .map(|i| {
            let (category, names, sizes) = CATALOGUE[i % CATALOGUE.len()];
            let round = i / CATALOGUE.len();
            let base = names[round % names.len()];
            let size = sizes[(round / names.len()) % sizes.len()];
            let edition = round / (names.len() * sizes.len());
            let name = if edition == 0 { format!("{base}{size}") } else { format!("{base}{size} #{}", edition + 1) };
            // 590… bodies are Polish GS1 numbers; never the loyalty prefix 042.
            let sku = Gtin::ean13_from_body(&format!("590{:09}", i)).expect("12 digits").as_str().to_string();
            ProductRecord { sku, name, price_cents: rng.gen_range(49..=9_999), category: category.to_string(), vat_bp: vat_of(category), ..Default::default() }
        })
        .collect();

    let mut stock = Vec::new();
    for s in &stores {
        for p in &products {
            if rng.gen_bool(0.9) {
                let on_hand = if rng.gen_bool(0.08) { 0 } else { rng.gen_range(1..=60) };
                let aisle = format!("{}{}", (b'A' + rng.gen_range(0..8u8)) as char, rng.gen_range(1..=20));
                stock.push(StockRecord { store_id: s.id, sku: p.sku.clone(), on_hand, aisle });
            }
        }
    }

    let mut staff = Vec::new();
    let mut staff_samples = HashMap::new();
    for s in &stores {
        let mut person = |suffix: &str, name: &str, role: StaffRole, pin: &str, rng: &mut StdRng| {
            let salt = hex::encode(rng.gen::<[u8; 16]>());
            let id = format!("S{}-{suffix}", s.id);
            staff.push(StaffRecord {
                id: id.clone(),
                name: name.to_string(),
                role,
                store_id: s.id,
                pin_hash: pin::hash(&salt, pin).expect("a 16-byte salt"),
                pin_salt: salt,
                till: true,
                badge_version: 0,
            });
            StaffSample { id, name: name.to_string(), pin: pin.to_string() }
        };
        let st = person("STAFF", "Kasia (staff)", StaffRole::Staff, DEMO_STAFF_PIN, &mut rng);
        let mg = person("MGR", "Marek (manager)", StaffRole::Manager, DEMO_MANAGER_PIN, &mut rng);
        staff_samples.insert(s.id, (st, mg));
    }

    let customers: Vec<SeedCustomer> = (0..opts.customers)
        .map(|i| {
            let (language, female, male, surnames) = CULTURES[rng.gen_range(0..CULTURES.len())];
            let is_female = rng.gen_bool(0.5);
            let first = if is_female { female[rng.gen_range(0..female.len())] } else { male[rng.gen_range(0..male.len())] };
            let (m, f) = surnames[rng.gen_range(0..surnames.len())];
            let id = format!("C{:06}", i + 1);
            let cart = if rng.gen_bool(0.5) && !products.is_empty() {
                let n = rng.gen_range(1..=5).min(products.len());
                let mut picked = HashSet::new();
                (0..n)
                    .filter_map(|_| {
                        let p = &products[rng.gen_range(0..products.len())];
                        picked.insert(p.sku.clone()).then(|| CartLine { sku: p.sku.clone(), qty: rng.gen_range(1..=3) })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            SeedCustomer {
                email: Some(format!("{}@example.com", id.to_lowercase())),
                id,
                first_name: first.to_string(),
                last_name: if is_female { f } else { m }.to_string(),
                tier: tier(&mut rng).to_string(),
                home_store: rng.gen_range(1..=stores.len() as i64),
                language: language.to_string(),
                card: LoyaltyCard::generate(DEFAULT_LOYALTY_PREFIX, i as u64 + 1).as_str().to_string(),
                points: rng.gen_range(0..=5_000),
                cart,
            }
        })
        .collect();

    let mut orders = Vec::new();
    let mut counters: HashMap<i64, i64> = HashMap::new();
    let mut open_codes: HashMap<i64, HashSet<String>> = HashMap::new();
    const STATUSES: [(OrderStatus, u32); 6] = [
        (OrderStatus::Placed, 25),
        (OrderStatus::Picking, 15),
        (OrderStatus::Ready, 25),
        (OrderStatus::Collected, 15),
        (OrderStatus::Cancelled, 10),
        (OrderStatus::Expired, 10),
    ];
    if !customers.is_empty() && !products.is_empty() {
        for i in 0..opts.orders {
            let c = &customers[rng.gen_range(0..customers.len())];
            let store_id = if rng.gen_bool(0.8) { c.home_store } else { rng.gen_range(1..=stores.len() as i64) };
            // Cycle through the statuses first so every state exists even in a small seed.
            let status = if let Some((first_round, _)) = STATUSES.get(i) {
                *first_round
            } else {
                let mut roll = rng.gen_range(0..100);
                STATUSES.iter().find(|(_, w)| if roll < *w { true } else { roll -= w; false }).map(|s| s.0).unwrap_or(OrderStatus::Placed)
            };
            let n = counters.entry(store_id).or_insert(0);
            *n += 1;
            let id = format!("O-{store_id}-{n}");
            let code = loop {
                let code = format!("{:06}", rng.gen_range(0..1_000_000));
                if status.is_final() || open_codes.entry(store_id).or_default().insert(code.clone()) {
                    break code;
                }
            };
            let placed_at = match status {
                OrderStatus::Placed | OrderStatus::Picking => now - rng.gen_range(0..3 * 3600),
                OrderStatus::Ready => now - rng.gen_range(3600..72 * 3600),
                _ => now - rng.gen_range(24 * 3600..14 * 24 * 3600),
            };
            let promised_ready_at = placed_at + 2 * 3600;
            let picked = matches!(status, OrderStatus::Ready | OrderStatus::Collected);
            let lines: Vec<OrderLine> = (0..rng.gen_range(1..=4))
                .map(|_| {
                    let p = &products[rng.gen_range(0..products.len())];
                    let qty = rng.gen_range(1..=3);
                    OrderLine { sku: p.sku.clone(), name: p.name.clone(), qty, picked: picked.then_some(qty) }
                })
                .collect();
            let mut history = vec![OrderEvent { at: placed_at, status: OrderStatus::Placed, by: "channel".into(), note: None }];
            let path: &[OrderStatus] = match status {
                OrderStatus::Placed => &[],
                OrderStatus::Picking => &[OrderStatus::Picking],
                OrderStatus::Ready => &[OrderStatus::Picking, OrderStatus::Ready],
                OrderStatus::Collected => &[OrderStatus::Picking, OrderStatus::Ready, OrderStatus::Collected],
                OrderStatus::Cancelled => &[OrderStatus::Cancelled],
                OrderStatus::Expired => &[OrderStatus::Picking, OrderStatus::Ready, OrderStatus::Expired],
            };
            for (k, st) in path.iter().enumerate() {
                let by = match st {
                    OrderStatus::Cancelled => "channel".to_string(),
                    OrderStatus::Expired => "hub".to_string(),
                    _ => format!("S{store_id}-STAFF"),
                };
                history.push(OrderEvent { at: placed_at + 1800 * (k as i64 + 1), status: *st, by, note: None });
            }
            let updated_at = history.last().map(|e| e.at).unwrap_or(placed_at);
            let record = OrderRecord {
                id,
                store_id,
                customer_id: c.id.clone(),
                status,
                pickup_code: code,
                lines,
                placed_at,
                promised_ready_at,
                updated_at,
                version: history.len() as i64,
            };
            orders.push((record, history));
        }
    }

    let summary = SeedSummary {
        counts: SeedCounts {
            stores: stores.len(),
            customers: customers.len(),
            products: products.len(),
            orders: orders.len(),
            carts: customers.iter().filter(|c| !c.cart.is_empty()).count(),
            staff: staff.len(),
        },
        stores: stores
            .iter()
            .map(|s| {
                let (staff, manager) = staff_samples.remove(&s.id).expect("staff per store");
                StoreSample {
                    store_id: s.id,
                    name: s.name.clone(),
                    customers: customers
                        .iter()
                        .filter(|c| c.home_store == s.id)
                        .take(5)
                        .map(|c| CustomerSample {
                            id: c.id.clone(),
                            name: format!("{} {}", c.first_name, c.last_name),
                            loyalty_card: c.card.clone(),
                            language: c.language.clone(),
                        })
                        .collect(),
                    orders: {
                        // One of each open state first: what a person wants to try.
                        let mut sample: Vec<OrderSample> = Vec::new();
                        for want in [OrderStatus::Ready, OrderStatus::Placed, OrderStatus::Picking] {
                            sample.extend(
                                orders
                                    .iter()
                                    .filter(|(o, _)| o.store_id == s.id && o.status == want)
                                    .take(2)
                                    .map(|(o, _)| OrderSample {
                                        id: o.id.clone(),
                                        customer_id: o.customer_id.clone(),
                                        status: o.status,
                                        pickup_code: o.pickup_code.clone(),
                                    }),
                            );
                        }
                        sample
                    },
                    staff,
                    manager,
                }
            })
            .collect(),
    };
    let data = SeedData {
        now,
        order_counters: counters.into_iter().collect(),
        stores,
        products,
        stock,
        staff,
        customers,
        orders,
    };
    (data, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_chain_other_seed_other_chain() {
        let opts = SeedOptions { stores: 3, customers: 300, products: 80, orders: 60, seed: 5 };
        let (a, sa) = generate(&opts, 1_800_000_000);
        let (b, sb) = generate(&opts, 1_800_000_000);
        assert_eq!(sa, sb);
        assert_eq!(a.customers.iter().map(|c| &c.first_name).collect::<Vec<_>>(), b.customers.iter().map(|c| &c.first_name).collect::<Vec<_>>());
        let (_, sc) = generate(&SeedOptions { seed: 6, ..opts }, 1_800_000_000);
        assert_ne!(sa, sc);
    }

    #[test]
    fn every_order_state_exists_and_open_pickup_codes_are_unique_per_store() {
        let (data, _) = generate(&SeedOptions { stores: 2, customers: 200, products: 50, orders: 200, seed: 1 }, 1_800_000_000);
        for st in OrderStatus::ALL {
            assert!(data.orders.iter().any(|(o, _)| o.status == st), "no {st} order");
        }
        let mut seen = HashSet::new();
        for (o, _) in data.orders.iter().filter(|(o, _)| !o.status.is_final()) {
            assert!(seen.insert((o.store_id, o.pickup_code.clone())), "pickup code {} reused in store {}", o.pickup_code, o.store_id);
        }
    }

    #[test]
    fn names_come_in_their_own_scripts() {
        let (data, _) = generate(&SeedOptions { customers: 500, ..SeedOptions::default() }, 1_800_000_000);
        let by_lang = |l: &str| data.customers.iter().find(|c| c.language == l).map(|c| c.first_name.clone()).unwrap();
        assert!(by_lang("ru").chars().all(|c| ('\u{0400}'..='\u{04FF}').contains(&c)));
        assert!(by_lang("zh").chars().all(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)));
        assert!(data.customers.iter().all(|c| Gtin::parse(&c.card).is_ok() && c.card.starts_with("042")));
    }
}
