//! A scanned or typed code → what the kiosk shows. The local store answers first (it
//! works offline, in well under a millisecond); only a customer this store has not
//! cached is asked of the hub, and only when the hub is reachable.

use omnikiosk_protocol::code::decode_public_key;
use omnikiosk_protocol::scan::{classify, NotRecognised, Scan, ScanContext};
use omnikiosk_protocol::wire::{LookupResponse, OrderRecord};
use serde::Serialize;

use crate::domain::shopper::ShopperView;
use crate::store::{LocalStore, ProductView, ScannedReceipt, StaffMember, StoreError};
use crate::sync::{HubClient, SyncError};

/// Where the answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Local,
    Hub,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolution {
    Shopper(ShopperView),
    Order(OrderRecord),
    Staff(StaffMember),
    Product(ProductView),
    /// A receipt of this device, by its QR.
    Receipt(Box<omnikiosk_protocol::till::Receipt>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanOutcome {
    /// What the code is: customer, order, staff, loyalty_card, pickup_code, product.
    pub code_kind: &'static str,
    pub source: Source,
    #[serde(flatten)]
    pub resolution: Resolution,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    NotRecognised(#[from] NotRecognised),
    #[error("{0} is not known at this store")]
    NotFound(&'static str),
    #[error("offline, and this customer is not cached here: try again when the network is back")]
    OfflineNotCached,
    #[error("this customer is not cached here and the hub could not answer: {0}")]
    Hub(SyncError),
    #[error("receipt {number} was printed at {device_id} of this store: it can be returned here, or reprinted there")]
    ReceiptElsewhere { number: String, device_id: String },
    #[error("this receipt's code does not match the till that printed it: not a receipt of this store")]
    ForgedReceipt,
    #[error("this badge was replaced by a newer one: use the newest badge, or ask a manager")]
    ReplacedBadge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ScanError {
    /// Stable machine-readable reason for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::NotRecognised(n) => n.code(),
            ScanError::NotFound(_) => "not_found",
            ScanError::OfflineNotCached => "offline_not_cached",
            ScanError::Hub(_) => "hub_error",
            ScanError::ReceiptElsewhere { .. } => "receipt_elsewhere",
            ScanError::ForgedReceipt => "forged_receipt",
            ScanError::ReplacedBadge => "replaced_badge",
            ScanError::Store(StoreError::NotEnrolled) => "not_enrolled",
            ScanError::Store(_) => "local_store_error",
        }
    }
}

/// What the local store makes of a code.
// Made once per scan and taken apart at once: boxing the larger side would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum LocalAnswer {
    /// Known here: answered without the network.
    Found(ScanOutcome),
    /// A customer this store has not cached, whom only the hub can know.
    AskHub(HubQuery),
}

/// A customer's code to look up at the hub, with what kind of code it is, so the answer
/// names it without guessing again from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubQuery {
    /// `customer` (a signed app code) or `loyalty_card`, as [`Scan::kind_name`] says.
    pub kind: &'static str,
    /// The code as scanned, trimmed: what the hub's lookup takes.
    pub code: String,
}

/// Resolves `input` as if scanned at the kiosk. `hub` is `None` when the caller knows
/// it is offline (or must not wait for the network).
pub async fn resolve_scan(
    store: &LocalStore,
    hub: Option<&HubClient>,
    loyalty_prefix: &str,
    input: &str,
    now: i64,
) -> Result<ScanOutcome, ScanError> {
    match resolve_local(store, loyalty_prefix, input, now)? {
        LocalAnswer::Found(outcome) => Ok(outcome),
        LocalAnswer::AskHub(query) => resolve_at_hub(store, hub, &query).await,
    }
}

/// The local half of a scan, which never waits on the network.
pub fn resolve_local(store: &LocalStore, loyalty_prefix: &str, input: &str, now: i64) -> Result<LocalAnswer, ScanError> {
    let enrolment = store.require_enrolment()?;
    let key = decode_public_key(&enrolment.hub_public_key)
        .map_err(|e| StoreError::Corrupt { what: "hub public key", detail: e.to_string() })?;
    let scan = classify(input, &ScanContext { hub_key: Some(&key), now, loyalty_prefix })?;
    let code_kind = scan.kind_name();
    let local = |resolution| Ok(LocalAnswer::Found(ScanOutcome { code_kind, source: Source::Local, resolution }));
    let found_or = |found: Option<Resolution>, missing: &'static str| match found {
        Some(resolution) => local(resolution),
        None => Err(ScanError::NotFound(missing)),
    };
    let customer = |id: Option<String>| -> Result<LocalAnswer, ScanError> {
        match id.map(|id| store.shopper_view(&id)).transpose()?.flatten() {
            Some(view) => local(Resolution::Shopper(view)),
            None => Ok(LocalAnswer::AskHub(HubQuery { kind: code_kind, code: input.trim().to_string() })),
        }
    };
    match &scan {
        Scan::Customer(claims) => customer(Some(claims.id.clone())),
        Scan::LoyaltyCard(card) => customer(store.customer_id_for_card(card.as_str())?),
        Scan::Order(claims) => found_or(store.order(&claims.id)?.map(Resolution::Order), "this order"),
        Scan::PickupCode(code) => found_or(
            store.open_order_by_pickup_code(code.as_str())?.map(Resolution::Order),
            "no open order with this pickup code; it",
        ),
        Scan::Staff(claims) => match store.staff_member(&claims.id)? {
            Some(member) if claims.version < member.badge_version => Err(ScanError::ReplacedBadge),
            member => found_or(member.map(Resolution::Staff), "this staff badge"),
        },
        Scan::Product(gtin) => found_or(store.product_by_code(gtin.as_str())?.map(Resolution::Product), "this product"),
        Scan::Receipt { number, code } => match store.scanned_receipt(number, code)? {
            ScannedReceipt::Here(receipt) => local(Resolution::Receipt(receipt)),
            ScannedReceipt::Elsewhere { number, device_id } => Err(ScanError::ReceiptElsewhere { number, device_id }),
            ScannedReceipt::Unknown => Err(ScanError::NotFound("this receipt")),
            ScannedReceipt::Forged => Err(ScanError::ForgedReceipt),
        },
    }
}

/// A customer not cached here: the hub knows them if anyone does.
pub async fn resolve_at_hub(store: &LocalStore, hub: Option<&HubClient>, query: &HubQuery) -> Result<ScanOutcome, ScanError> {
    let Some(hub) = hub else { return Err(ScanError::OfflineNotCached) };
    match hub.lookup(&query.code).await {
        Ok(Some(found)) => Ok(ScanOutcome {
            code_kind: query.kind,
            source: Source::Hub,
            resolution: Resolution::Shopper(shopper_from_lookup(store, found)?),
        }),
        Ok(None) => Err(ScanError::NotFound("this customer")),
        Err(e) if e.is_offline() => Err(ScanError::OfflineNotCached),
        Err(e) => Err(ScanError::Hub(e)),
    }
}

/// The shopper screen for a customer the hub just sent, with this store's catalogue
/// and shelves from the local store.
fn shopper_from_lookup(store: &LocalStore, found: LookupResponse) -> Result<ShopperView, StoreError> {
    let lines = found.cart.map(|c| c.lines).unwrap_or_default();
    let cart = store.cart_view(&lines)?;
    Ok(ShopperView::new(found.customer, cart, found.orders))
}
