//! JSON bodies of the hub's HTTP API, shared by the hub (which serves them) and the
//! kiosk (which calls them). Times are Unix seconds (UTC); money is integer cents;
//! SKUs are GTIN strings (EAN-13, EAN-8 or UPC-A digits).

use serde::{Deserialize, Serialize};

/// Protocol version this build speaks. The hub serves this one and the previous one.
/// Version 2: the store's shared desk state (check-ins, help requests, NPS answers, PIN
/// counts, devices) in the store feed — see [`Change::since_protocol`]. Version 5: the
/// chain's loyalty rule (`Change::LoyaltyRule`).
pub const PROTOCOL_VERSION: u32 = 5;
/// Oldest protocol version the hub still serves.
pub const OLDEST_SUPPORTED_PROTOCOL: u32 = 1;
/// Request header that carries the caller's protocol version.
pub const PROTOCOL_HEADER: &str = "x-omnikiosk-protocol";

/// Error body of every non-2xx answer of the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `unauthorized`, `not_found`, `bad_request`.
    pub error: String,
    /// One human-readable sentence.
    pub message: String,
}

/// `GET /v1/device`: who the calling device is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    pub device_id: String,
    pub store_id: i64,
    pub store_name: String,
    /// The hub's Ed25519 public key, base64url without padding (32 bytes).
    pub hub_public_key: String,
    pub server_time: i64,
    pub protocol_version: u32,
    /// The last op sequence number the hub applied for this device: a reinstalled kiosk
    /// numbers its ops after it.
    #[serde(default)]
    pub last_seq: i64,
    /// The last receipt the hub has of this device (sequence and hash): a reinstalled
    /// kiosk numbers its receipts after it and chains onto it.
    #[serde(default)]
    pub last_receipt: Option<ReceiptLink>,
}

/// Where a device's receipt chain stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptLink {
    pub seq: i64,
    pub hash: String,
}

/// `GET /v1/sync/pull?cursor=C&limit=N&wait=S`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// Changes after the request's cursor, in feed order; whole server transactions only.
    pub changes: Vec<Change>,
    /// Cursor to send next time. Opaque to the kiosk.
    pub cursor: String,
    /// More changes are waiting right now: pull again without waiting.
    pub has_more: bool,
    /// How many changes remain after this page, counted up to ten pages' worth (for
    /// progress: at least this many remain); present when `has_more`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// One entry of a store's change feed: the new full state of one entity, or its removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Change {
    Store(StoreRecord),
    Customer(CustomerRecord),
    /// The customer is no longer relevant to this store, or was erased at the hub:
    /// the kiosk removes profile, identifiers, cart and links from history.
    CustomerRemoved { id: String },
    Cart(CartRecord),
    Product(ProductRecord),
    Stock(StockRecord),
    Order(OrderRecord),
    Staff(StaffRecord),
    StaffRemoved { id: String },
    /// A shopper's "I'm here" at one of the store's devices, until their order ends: every
    /// device of the store counts them as waiting.
    Checkin(CheckinRecord),
    /// The checked-in order ended (collected, cancelled, expired) or the check-in ran
    /// out of time: nobody waits for it.
    CheckinEnded { order_id: String },
    /// A "call staff" request of one of the store's devices, as it stands: raised, or
    /// taken by a colleague who is on the way.
    Help(HelpRecord),
    /// The request was seen to, or ran out of time: it leaves every screen of the store.
    HelpEnded { id: String },
    /// One NPS answer given at one of the store's devices: the manager's numbers are the store's.
    Feedback(FeedbackRecord),
    /// A badge's wrong PINs counted over every device of the store.
    PinFailures(PinFailuresRecord),
    /// One of the store's devices as the hub last saw it: the manager's device list.
    Device(DeviceHealth),
    /// A receipt of one of the store's devices, as the hub recorded it: the manager's
    /// sales are the store's.
    Sale(SaleRecord),
    /// A shift closed at one of the store's devices: its Z report, for every manager view.
    Shift(crate::shift::ZReport),
    /// The chain's points rule of every currency (`global`): each till earns and redeems by
    /// its store's currency's rule, or by its own config where the chain set none.
    LoyaltyRule(LoyaltyRules),
}

impl Change {
    /// The protocol version that introduced the change kind named `kind` (its wire tag): a
    /// device speaking an older version is not sent it, so it keeps syncing what it knows.
    pub fn since_protocol(kind: &str) -> u32 {
        match kind {
            "checkin" | "checkin_ended" | "help" | "help_ended" | "feedback" | "pin_failures" | "device" => 2,
            "sale" => 3,
            "shift" => 4,
            "loyalty_rule" => 5,
            _ => 1,
        }
    }

    /// The protocol version a stored change needs, from its wire tag and, for a product,
    /// its `status`: a product a store may not sell needs 5, the first version whose till
    /// reads `status` (an older one would sell it — at 0 when unpriced). Such a device
    /// keeps its last sellable record of the product instead.
    pub fn needs_protocol(kind: &str, status: Option<&str>) -> u32 {
        match (kind, status) {
            ("product", Some(s)) if s != ProductStatus::Active.as_str() => 5,
            _ => Change::since_protocol(kind),
        }
    }
}

/// A check-in as the store's devices share it (the name comes from the customer record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckinRecord {
    /// The `visit.checkin` op that made it: a device that made it knows it by this.
    pub op_id: String,
    pub store_id: i64,
    pub order_id: String,
    pub customer_id: String,
    /// The device it was made at.
    pub device_id: String,
    /// Hub time when it arrived.
    pub at: i64,
}

/// A "call staff" request as the store's devices share it: the shopper by first name and
/// initial only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HelpRecord {
    /// The `help.request` op that raised it.
    pub id: String,
    pub store_id: i64,
    /// The device it was raised at: that device shows who is coming.
    pub device_id: String,
    pub customer_id: Option<String>,
    /// "Anna K.", when a shopper was signed in.
    pub shopper: Option<String>,
    /// Hub time when it arrived.
    pub raised_at: i64,
    /// The colleague on the way, by staff id and first name.
    pub taken_by: Option<String>,
    pub taken_by_name: Option<String>,
    pub taken_at: Option<i64>,
}

/// One NPS answer (no customer: the store's numbers need none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackRecord {
    /// The `feedback.nps` op that gave it.
    pub op_id: String,
    pub store_id: i64,
    pub device_id: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::nps_score))]
    pub score: i64,
    pub csat: Option<String>,
    pub at: i64,
}

/// A receipt in a store's feed: what the manager's numbers need, and (protocol 4) the
/// receipt itself, so any device of the store can take its goods back and knows what
/// the store's other devices already took back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleRecord {
    pub number: String,
    pub store_id: i64,
    pub device_id: String,
    pub kind: crate::till::ReceiptKind,
    pub total_cents: i64,
    /// Kiosk time of the sale.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Box<crate::till::Receipt>>,
}

/// `GET /v1/shifts?store_id=S&after=CURSOR&limit=N` (channel): Z reports in the order the
/// hub recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShiftsPage {
    pub shifts: Vec<crate::shift::ZReport>,
    /// Pass as `after` for the next page; it stays valid when nothing new was recorded.
    pub cursor: String,
    pub has_more: bool,
}

/// `GET /v1/sales?store_id=S&after=CURSOR&limit=N` (channel): receipts in the order the
/// hub recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesPage {
    pub sales: Vec<crate::till::Receipt>,
    /// Pass as `after` for the next page; it stays valid when nothing new was recorded.
    pub cursor: String,
    pub has_more: bool,
}

/// A badge's wrong PINs in a row at the store's devices, as the hub counted them
/// ([`crate::rules::pin_step`]); `locked_until` is set once they reached the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinState {
    pub failures: i64,
    pub locked_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinFailuresRecord {
    pub store_id: i64,
    pub staff_id: String,
    #[serde(flatten)]
    pub state: PinState,
}

/// A store as the retailer's systems describe it (`PUT /v1/stores/{id}`, `store put`), in
/// the `global` feed: every device knows every store's name and code; its own store's
/// record gives its money, language, time zone and VAT rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreRecord {
    pub id: i64,
    pub name: String,
    pub city: String,
    /// ISO 4217 code of the store's money; the till prices in it.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The retailer's own code for the store, as its feeds name it (`store_code` of
    /// Google's local inventory feed), e.g. `KRK-01`. Empty for a store of an older hub.
    #[serde(default)]
    pub code: String,
    /// The store's default UI language (`en`, `pl`, `ru`, `uk`, `zh`).
    #[serde(default = "default_language")]
    pub language: String,
    /// IANA time zone (`Europe/Warsaw`): every time the store's devices show, and what
    /// "today" is there, is local time in it, summer time included.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Postal address, one line.
    #[serde(default)]
    pub address: String,
    /// VAT rates by tax category, basis points (`standard` → 2300 = 23 %). A product's
    /// `tax_category` picks its rate here; a product without one takes `standard`.
    #[serde(default)]
    pub vat: std::collections::BTreeMap<String, i64>,
    /// Opening hours as shoppers read them (`Mo-Sa 08:00-21:00; Su 10:00-16:00`).
    #[serde(default)]
    pub opening_hours: String,
    /// Whether the store offers click & collect.
    #[serde(default = "default_true")]
    pub click_collect: bool,
    /// The pickup promise: an order placed online is ready this many minutes later.
    #[serde(default = "default_pickup_minutes")]
    pub pickup_minutes: i64,
    /// The price list the store sells from (several stores of a region may share one);
    /// empty: none. A store's own price comes first, the list's next, the catalogue's
    /// default in the store's currency last.
    #[serde(default)]
    pub price_list: String,
}

/// What a record without these fields means (serde's defaults, for literals too).
impl Default for StoreRecord {
    fn default() -> Self {
        StoreRecord {
            id: 0,
            name: String::new(),
            city: String::new(),
            currency: default_currency(),
            code: String::new(),
            language: default_language(),
            timezone: default_timezone(),
            address: String::new(),
            vat: Default::default(),
            opening_hours: String::new(),
            click_collect: true,
            pickup_minutes: default_pickup_minutes(),
            price_list: String::new(),
        }
    }
}

fn default_language() -> String {
    "en".to_string()
}

/// The time zone of a store recorded before stores had one.
pub fn default_timezone() -> String {
    "UTC".to_string()
}

fn default_true() -> bool {
    true
}

fn default_pickup_minutes() -> i64 {
    120
}

/// The currency of a store recorded before stores had one.
pub fn default_currency() -> String {
    "PLN".to_string()
}

/// What a kiosk may cache of a customer: no e-mail, phone or address, last name as initial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerRecord {
    pub id: String,
    pub first_name: String,
    pub last_initial: String,
    pub tier: String,
    /// Preferred UI language: `en`, `pl`, `ru`, `uk` or `zh`.
    pub language: String,
    /// Loyalty balance at the hub (sum of the ledger).
    pub points: i64,
    pub home_store: Option<i64>,
    /// Loyalty-card numbers (EAN-13 with the chain's prefix).
    pub loyalty_cards: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartLine {
    pub sku: String,
    pub qty: i64,
}

/// The customer's online cart, owned by the online channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartRecord {
    pub customer_id: String,
    pub lines: Vec<CartLine>,
    pub updated_at: i64,
}

/// A product as one store sells it. A catalogue fed by the retailer (`PUT
/// /v1/products/{sku}`, `import products`) is published per store, in the store's feed:
/// the store's own price in the store's currency and its own VAT rate for the product's
/// tax category. The demo's seed publishes one chain-wide record in `global`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductRecord {
    pub sku: String,
    pub name: String,
    /// Tax included, in `currency` (the store's).
    pub price_cents: i64,
    pub category: String,
    /// VAT rate in basis points (2300 = 23 %), from the product's category.
    #[serde(default)]
    pub vat_bp: i64,
    /// The product's barcodes (EAN-13, EAN-8, UPC-A; check digits checked at the hub):
    /// a scan of any of them is this product. Empty: the SKU is its barcode (the seed's).
    #[serde(default)]
    pub gtins: Vec<String>,
    #[serde(default)]
    pub brand: String,
    /// What the product is, for the shopper (from the catalogue; empty when it has none,
    /// and in a record of an older hub).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether the store may sell it now.
    #[serde(default)]
    pub status: ProductStatus,
    /// ISO 4217 code `price_cents` is in; empty in an older record (the store's).
    #[serde(default)]
    pub currency: String,
}

/// Whether a store may sell a product. A receipt keeps a product whatever it becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// Priced in the store's currency and on sale.
    #[default]
    Active,
    /// Taken out of the catalogue (`DELETE /v1/products/{sku}`, `import --prune`).
    Withdrawn,
    /// In the catalogue, but the store has no price for it in its own currency (or no
    /// VAT rate for its tax category): its till cannot sell it.
    Unpriced,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Withdrawn => "withdrawn",
            ProductStatus::Unpriced => "unpriced",
        }
    }

    pub fn parse(s: &str) -> Option<ProductStatus> {
        [ProductStatus::Active, ProductStatus::Withdrawn, ProductStatus::Unpriced].into_iter().find(|k| k.as_str() == s)
    }
}

/// A product's stock and shelf place in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockRecord {
    pub store_id: i64,
    pub sku: String,
    pub on_hand: i64,
    pub aisle: String,
}

/// Click-and-collect order states. `Placed → Picking → Ready → Collected`, plus
/// `Cancelled` and `Expired` (a no-show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Picking,
    Ready,
    Collected,
    Cancelled,
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Placed,
        OrderStatus::Picking,
        OrderStatus::Ready,
        OrderStatus::Collected,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Picking => "picking",
            OrderStatus::Ready => "ready",
            OrderStatus::Collected => "collected",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The order is finished: nothing more happens to it in the store.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Collected | OrderStatus::Cancelled | OrderStatus::Expired)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub qty: i64,
    /// Quantity picked so far; `None` until the line is picked.
    #[serde(default)]
    pub picked: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderRecord {
    pub id: String,
    pub store_id: i64,
    pub customer_id: String,
    pub status: OrderStatus,
    /// Six digits the shopper types or reads out at handover.
    pub pickup_code: String,
    pub lines: Vec<OrderLine>,
    pub placed_at: i64,
    pub promised_ready_at: i64,
    pub updated_at: i64,
    /// Incremented by the hub on every change; ops carry it as their base version.
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Staff,
    Manager,
}

impl StaffRole {
    /// The role's name, as stored by the kiosk and the hub.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Staff => "staff",
            StaffRole::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Option<StaffRole> {
        [StaffRole::Staff, StaffRole::Manager].into_iter().find(|r| r.as_str() == s)
    }
}

/// A colleague's role as the retailer's HR names it, each including the one before:
/// `staff` (the pickup desk: pick, ready, hand over, help requests), `till` (also sells,
/// returns, runs a shift), `manager` (also the manager view, PIN resets, conflicts). On the
/// wire a [`StaffRecord`] keeps the older pair of [`StaffRole`] and `till`, which older
/// kiosks understand; [`Role::wire`] and [`Role::of`] are the one mapping between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Staff,
    Till,
    Manager,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Staff, Role::Till, Role::Manager];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Till => "till",
            Role::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The wire pair: the badge's [`StaffRole`] and whether it may work the till.
    pub fn wire(self) -> (StaffRole, bool) {
        match self {
            Role::Staff => (StaffRole::Staff, false),
            Role::Till => (StaffRole::Staff, true),
            Role::Manager => (StaffRole::Manager, true),
        }
    }

    /// The role a wire pair stands for (a manager always may work the till).
    pub fn of(role: StaffRole, till: bool) -> Role {
        match (role, till) {
            (StaffRole::Manager, _) => Role::Manager,
            (StaffRole::Staff, true) => Role::Till,
            (StaffRole::Staff, false) => Role::Staff,
        }
    }
}

/// Longest colleague name the hub keeps (characters): what a badge and a screen can show.
pub const MAX_STAFF_NAME: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffRecord {
    pub id: String,
    pub name: String,
    pub role: StaffRole,
    pub store_id: i64,
    /// Hex salt and the stored PIN value ([`crate::pin`]: Argon2id, or a legacy SHA-256
    /// hex from a hub not yet migrated): lets the kiosk check a PIN offline.
    pub pin_salt: String,
    pub pin_hash: String,
    /// May sell at the till (a manager always may).
    #[serde(default)]
    pub till: bool,
    /// The badge's version: a reissued badge gets the next one, and a kiosk refuses a badge
    /// code older than the record's. 0: the seed's and older hubs' badges, unversioned.
    #[serde(default)]
    pub badge_version: i64,
}

impl StaffRecord {
    /// The colleague's role as HR names it.
    pub fn role(&self) -> Role {
        Role::of(self.role, self.till)
    }

    /// Whether the colleague has chosen a PIN (a new colleague chooses it at a kiosk).
    pub fn has_pin(&self) -> bool {
        !self.pin_hash.is_empty()
    }
}

/// `PUT /v1/stores/{id}/staff/{staff_id}` body: a colleague as HR names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffPut {
    /// 1 to [`MAX_STAFF_NAME`] printable characters, as the badge and the screens show it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 80))]
    pub name: String,
    pub role: Role,
}

/// A colleague as the channel API and `omnikiosk-hub staff` answer: never their PIN's
/// value, only whether they chose one, and their badge's signed code (the QR payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Colleague {
    pub id: String,
    pub name: String,
    pub store_id: i64,
    pub role: Role,
    /// false: the colleague chooses their PIN at a kiosk when they first scan their badge.
    pub pin_set: bool,
    pub badge_version: i64,
    /// `K1.…` with `"k":"s"`: what the badge's QR holds.
    pub badge: String,
}

/// `POST /v1/sync/push` body. Ops are in device-sequence order starting at `device_seq_from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub device_seq_from: i64,
    pub ops: Vec<Op>,
    /// Operations still waiting in the kiosk's outbox (fleet health).
    #[serde(default)]
    pub outbox_len: u64,
    /// Kiosk time of the oldest of them.
    #[serde(default)]
    pub oldest_unsent_at: Option<i64>,
    /// The public key (base64url) the device signs its receipts' QR codes with: the hub
    /// shares it with the store's devices and checks e-receipt codes with it.
    #[serde(default)]
    pub receipt_key: Option<String>,
}

/// A named local action made at a kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Op {
    /// UUID, the idempotency key.
    pub op_id: String,
    /// Gapless per-device sequence number.
    pub seq: i64,
    /// e.g. `order.ready`, `loyalty.earn`, `visit.checkin`.
    pub name: String,
    /// Version of the entity the op was made against, where it has one.
    #[serde(default)]
    pub base_version: Option<i64>,
    /// The kiosk's clock when the op was made: audit only, never ordering.
    pub kiosk_time: i64,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<OpResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpResult {
    pub op_id: String,
    pub seq: i64,
    #[serde(flatten)]
    pub outcome: OpOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OpOutcome {
    Applied,
    Duplicate,
    Rejected {
        code: String,
        message: String,
        /// The hub's side of the story (e.g. who cancelled the order, and why).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facts: Option<serde_json::Value>,
    },
    /// The hub expected another sequence number: resend from `expected_seq`.
    ExpectedSeq { expected_seq: i64 },
}

/// `POST /v1/lookup`: a scanned code to look up at the hub — in the body, not the URL,
/// so that no proxy's or server's access log keeps a shopper's card number or app code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupRequest {
    /// A scanned customer app code (`K1.…`) or loyalty card number.
    pub code: String,
}

/// `POST /v1/lookup` (or the older `GET /v1/lookup?code=CODE`): a customer this store had
/// not cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupResponse {
    pub customer: CustomerRecord,
    pub cart: Option<CartRecord>,
    /// The customer's orders for pickup at the calling device's store.
    pub orders: Vec<OrderRecord>,
}

/// `PUT /v1/customers/{id}` (channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerUpsert {
    pub first_name: String,
    pub last_name: String,
    pub tier: String,
    pub home_store: Option<i64>,
    pub language: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// `PUT /v1/customers/{id}/identifiers` (channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentifiersPut {
    pub loyalty_cards: Vec<String>,
}

/// `PUT /v1/customers/{id}/cart` (channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartPut {
    pub lines: Vec<CartLine>,
}

/// `GET /v1/customers/{id}` (channel): the full profile as the hub holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerProfile {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub tier: String,
    pub home_store: Option<i64>,
    pub language: String,
    pub email: Option<String>,
    pub points: i64,
    pub loyalty_cards: Vec<String>,
    pub cart: Vec<CartLine>,
}

/// `POST /v1/customers/{id}/code` answer, and `omnikiosk-hub code` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedCodeResponse {
    pub code: String,
}

/// `POST /v1/orders` (channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderCreate {
    pub customer_id: String,
    pub store_id: i64,
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub promised_ready_at: Option<i64>,
}

/// `POST /v1/orders/{id}/cancel` (channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderCancel {
    pub reason: String,
}

/// One step of an order's history, as `GET /v1/orders/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderEvent {
    pub at: i64,
    pub status: OrderStatus,
    /// Who made the change: `channel`, or a device id.
    pub by: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /v1/orders/{id}` (channel) and `POST /v1/orders` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderRecord,
    pub history: Vec<OrderEvent>,
}

/// `GET /v1/conflicts` (channel): an op the hub rejected, with both sides' facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictRecord {
    pub op_id: String,
    pub device_id: String,
    pub store_id: i64,
    pub name: String,
    /// The kiosk's side: the op as it was made, and when (kiosk clock).
    pub op: serde_json::Value,
    pub kiosk_time: i64,
    pub code: String,
    pub message: String,
    /// The hub's side, when it has one to tell.
    pub hub_facts: Option<serde_json::Value>,
    pub at: i64,
}

/// What happened in store for a customer, as `GET /v1/customers/{id}/timeline` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Touch {
    /// Identified at a device (card or app QR scanned).
    Visit,
    /// "I'm here" for a pickup order.
    Checkin { order_id: String },
    /// The order handed over at the desk.
    Pickup { order_id: String },
    /// "Call staff".
    Help,
    /// An NPS answer.
    Feedback {
        #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::nps_score))]
        score: i64,
        csat: Option<String>,
    },
    /// A product saved for later into the online cart.
    CartAdd { sku: String },
    /// A receipt at the till.
    Sale { receipt: String, total_cents: i64 },
    /// Goods brought back at the till (a return or exchange; its total negative when money
    /// went back to the shopper).
    Return { receipt: String, total_cents: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// The op that made it.
    pub id: String,
    pub at: i64,
    pub store_id: i64,
    #[serde(flatten)]
    pub touch: Touch,
}

/// `GET /v1/customers/{id}/timeline?after=CURSOR&limit=N` (channel): newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timeline {
    pub entries: Vec<TimelineEntry>,
    /// Pass as `after` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

/// `PUT` and `GET /v1/loyalty/rule` (channel), and `Change::LoyaltyRule`: the chain's
/// points rule per currency (ISO 4217). A PUT replaces the whole set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoyaltyRules {
    /// By currency: `{"PLN": {"earn_per_unit": 1, "point_value_cents": 1}}`. A till whose
    /// store's currency is not here earns and redeems by its own config.
    #[cfg_attr(feature = "openapi", schema(schema_with = loyalty_rules_schema))]
    pub rules: std::collections::BTreeMap<String, crate::till::PointsRule>,
}

/// Most currencies the chain's rule may name.
pub const MAX_RULE_CURRENCIES: usize = 200;

impl LoyaltyRules {
    /// What the hub takes: one currency at least, each an ISO 4217 code, each rule in range.
    pub fn validate(&self) -> Result<(), String> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULE_CURRENCIES {
            return Err(format!("rules must name 1 to {MAX_RULE_CURRENCIES} currencies"));
        }
        for (currency, rule) in &self.rules {
            if !is_currency_code(currency) {
                return Err(format!("{currency:?} is not an ISO 4217 currency code (three capital letters)"));
            }
            rule.validate(currency)?;
        }
        Ok(())
    }
}

/// The shape of an ISO 4217 code: three capital letters (`PLN`, `GBP`).
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(feature = "openapi")]
fn loyalty_rules_schema() -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("By ISO 4217 currency code; a till whose store's currency is not here earns and redeems by its own config"))
        .property_names(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Z]{3}$"))))
        .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("PointsRule")))
        .min_properties(Some(1))
        .max_properties(Some(MAX_RULE_CURRENCIES))
}

/// `GET /v1/devices` (channel): fleet health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceHealth {
    pub device_id: String,
    pub store_id: i64,
    pub label: String,
    pub revoked: bool,
    pub last_seen_at: Option<i64>,
    pub protocol_version: Option<u32>,
    /// Changes in the device's feed after the cursor of its last pull.
    pub cursor_lag: Option<i64>,
    pub outbox_len: Option<u64>,
    /// Kiosk time of the oldest op in its outbox at its last push.
    #[serde(default)]
    pub oldest_unsent_at: Option<i64>,
    /// The key its receipts' QR codes are signed with (base64url), once it pushed one.
    #[serde(default)]
    pub receipt_key: Option<String>,
    /// Keys it signed receipts with before (a reinstalled device makes a new one): its
    /// older receipts still open with them.
    #[serde(default)]
    pub earlier_receipt_keys: Vec<String>,
}

impl DeviceHealth {
    /// Every key the device has signed receipts with, newest first.
    pub fn receipt_keys(&self) -> impl Iterator<Item = &str> {
        self.receipt_key.iter().chain(self.earlier_receipt_keys.iter().rev()).map(String::as_str)
    }

    /// Reads the stored list of a device's receipt keys (oldest first, space-separated).
    pub fn set_receipt_keys(&mut self, stored: Option<&str>) {
        let mut keys: Vec<String> = stored.unwrap_or_default().split_whitespace().map(str::to_string).collect();
        self.receipt_key = keys.pop();
        self.earlier_receipt_keys = keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_wire_form_is_kind_and_data() {
        let c = Change::CustomerRemoved { id: "C1".into() };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"kind":"customer_removed","data":{"id":"C1"}}"#);
        assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), c);
    }

    #[test]
    fn a_change_kind_is_known_to_the_protocol_that_introduced_it() {
        let help = Change::HelpEnded { id: "h".into() };
        let kind = serde_json::to_value(&help).unwrap()["kind"].as_str().unwrap().to_string();
        assert_eq!((kind.as_str(), Change::since_protocol(&kind)), ("help_ended", 2));
        assert_eq!(Change::since_protocol("order"), 1);
        assert!(Change::since_protocol("checkin") <= PROTOCOL_VERSION);
        let rule = Change::LoyaltyRule(LoyaltyRules::default());
        let kind = serde_json::to_value(&rule).unwrap()["kind"].as_str().unwrap().to_string();
        assert_eq!((kind.as_str(), Change::since_protocol(&kind)), ("loyalty_rule", PROTOCOL_VERSION));
    }

    #[test]
    fn op_outcome_wire_form_is_flat() {
        let r = OpResult {
            op_id: "u".into(),
            seq: 3,
            outcome: OpOutcome::Rejected { code: "order_cancelled".into(), message: "m".into(), facts: None },
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "rejected");
        assert_eq!(v["code"], "order_cancelled");
        assert_eq!(serde_json::from_value::<OpResult>(v).unwrap(), r);
    }

    #[test]
    fn order_status_round_trips_through_its_name() {
        for st in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(st.as_str()), Some(st));
        }
        assert_eq!(OrderStatus::parse("shipped"), None);
    }
}
