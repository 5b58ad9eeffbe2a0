//! A small store for the controllers' tests: a real `LocalStore` on a temporary SQLite
//! file, enrolled to store 1 and filled by one page of the hub's feed, as a pull would.

use ed25519_dalek::SigningKey;
use omnikiosk_protocol::code::{self, CodeClaims, CodeKind};
use omnikiosk_protocol::gtin::{LoyaltyCard, DEFAULT_LOYALTY_PREFIX};
use omnikiosk_protocol::wire::{
    Change, CustomerRecord, OrderLine, OrderRecord, OrderStatus, ProductRecord, StaffRecord, StaffRole,
    StockRecord, StoreRecord,
};

use super::context::{Ctx, UiSettings};
use crate::config::{Config, StoreConfig};
use crate::store::{Enrolment, LocalStore};

/// The fixed time every test runs at.
pub const NOW: i64 = 1_800_000_000;

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub store: LocalStore,
    key: SigningKey,
}

fn order(id: &str, status: OrderStatus, pickup_code: &str, promised_ready_at: i64) -> Change {
    Change::Order(OrderRecord {
        id: id.into(),
        store_id: 1,
        customer_id: "C-ANNA".into(),
        status,
        pickup_code: pickup_code.into(),
        lines: vec![
            OrderLine { sku: "5901234123457".into(), name: "Tea".into(), qty: 2, picked: None },
            OrderLine { sku: "4006381333931".into(), name: "Pen".into(), qty: 1, picked: None },
        ],
        placed_at: NOW - 7200,
        promised_ready_at,
        updated_at: NOW - 3600,
        version: 1,
    })
}

/// A badge holder of store 1; `pin` empty: a new colleague, who has not chosen one yet.
pub fn staff(id: &str, name: &str, role: StaffRole, pin: &str, till: bool) -> Change {
    Change::Staff(StaffRecord {
        id: id.into(),
        name: name.into(),
        role,
        store_id: 1,
        pin_salt: "00ff00ff00ff00ff00ff00ff00ff00ff".into(),
        pin_hash: match pin {
            "" => String::new(),
            pin => omnikiosk_protocol::pin::hash("00ff00ff00ff00ff00ff00ff00ff00ff", pin).expect("a hex salt"),
        },
        till,
        badge_version: 0,
    })
}

impl Fixture {
    /// Store 1 with Anna (Polish, card [`Fixture::card`]), two products, her order
    /// `O-1-1` ready (pickup code 111111) and `O-1-2` placed (222222, due in an hour),
    /// a colleague `S1-STAFF` (PIN 1234), a manager `S1-MGR` (PIN 9999), and `S1-HELPER`
    /// (PIN 5555), who may not sell at the till; `S1-NEW` (Zofia) is new and has no PIN yet.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), &StoreConfig::default()).unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        store
            .save_enrolment(&Enrolment {
                hub_url: "http://127.0.0.1:9".into(),
                device_token: "okd_test".into(),
                device_id: "kiosk-1-1".into(),
                store_id: 1,
                store_name: "Test".into(),
                hub_public_key: code::encode_public_key(&key.verifying_key()),
                insecure: false,
                hub_ca: None,
            })
            .unwrap();
        let mut changes = vec![
            Change::Store(StoreRecord { id: 1, name: "Test".into(), city: "Kraków".into(), currency: "PLN".into(), ..Default::default() }),
            Change::Customer(CustomerRecord {
                id: "C-ANNA".into(),
                first_name: "Anna".into(),
                last_initial: "K".into(),
                tier: "gold".into(),
                language: "pl".into(),
                points: 120,
                home_store: Some(1),
                loyalty_cards: vec![Fixture::card()],
            }),
            order("O-1-1", OrderStatus::Ready, "111111", NOW - 600),
            order("O-1-2", OrderStatus::Placed, "222222", NOW + 3600),
            staff("S1-STAFF", "Kasia", StaffRole::Staff, "1234", true),
            staff("S1-MGR", "Marek", StaffRole::Manager, "9999", true),
            staff("S1-HELPER", "Ola", StaffRole::Staff, "5555", false),
            staff("S1-NEW", "Zofia", StaffRole::Staff, "", false),
        ];
        for (sku, name, aisle) in [("5901234123457", "Tea", "A3"), ("4006381333931", "Pen", "B1")] {
            changes.push(Change::Product(ProductRecord { sku: sku.into(), name: name.into(), price_cents: 499, category: "food".into(), vat_bp: 500, ..Default::default() }));
            changes.push(Change::Stock(StockRecord { store_id: 1, sku: sku.into(), on_hand: 5, aisle: aisle.into() }));
        }
        store.apply_page(&changes, "1.1", NOW).unwrap();
        Fixture { _dir: dir, store, key }
    }

    /// The store's record again, in `timezone` and `language` (as a pull brings it).
    pub fn store_in(&self, timezone: &str, language: &str) {
        let record = StoreRecord { id: 1, name: "Test".into(), city: "Kraków".into(), currency: "PLN".into(), timezone: timezone.into(), language: language.into(), ..Default::default() };
        self.store.apply_page(&[Change::Store(record)], "1.2", NOW).unwrap();
    }

    /// One more product in the catalogue (as the store's feed brings it), five on aisle C1.
    pub fn sells(&self, p: ProductRecord) {
        let stock = StockRecord { store_id: 1, sku: p.sku.clone(), on_hand: 5, aisle: "C1".into() };
        self.store.apply_page(&[Change::Product(p), Change::Stock(stock)], "1.3", NOW).unwrap();
    }

    /// Anna's loyalty card.
    pub fn card() -> String {
        LoyaltyCard::generate(DEFAULT_LOYALTY_PREFIX, 4242).as_str().to_string()
    }

    /// A code signed by the store's hub, valid at [`NOW`].
    pub fn code(&self, kind: CodeKind, id: &str) -> String {
        code::sign(&self.key, &CodeClaims { kind, id: id.into(), iat: NOW - 60, exp: NOW + 86_400, version: 0 })
    }

    /// The controllers' context over this store, at [`NOW`], with the default settings.
    /// A fixture and the context its controllers run in.
    pub fn start() -> (Fixture, Ctx) {
        let f = Fixture::new();
        let ctx = f.ctx();
        (f, ctx)
    }

    pub fn ctx(&self) -> Ctx {
        let mut settings = UiSettings::from_config(&Config::default());
        settings.clock = || NOW;
        Ctx::new(self.store.clone(), settings)
    }
}
