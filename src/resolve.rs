//! A scanned or typed code → what the kiosk shows. The local store answers first (it
//! works offline, in well under a millisecond); only a customer this store has not
//! cached is asked of the hub, and only when the hub is reachable.

use omnikiosk_protocol::code::decode_public_key;
use omnikiosk_protocol::scan::{classify, NotRecognised, Scan, ScanContext};
use omnikiosk_protocol::wire::{LookupResponse, OrderRecord};
use serde::Serialize;

use crate::domain::shopper::ShopperView;
use crate::store::{LocalStore, ProductView, StaffMember, StoreError};
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
            ScanError::Store(StoreError::NotEnrolled) => "not_enrolled",
            ScanError::Store(_) => "local_store_error",
        }
    }
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
        Some(outcome) => Ok(outcome),
        None => resolve_at_hub(store, hub, input).await,
    }
}

/// The local half of a scan, which never waits on the network: `Ok(None)` means a
/// customer this store has not cached, whom only the hub can know.
pub fn resolve_local(store: &LocalStore, loyalty_prefix: &str, input: &str, now: i64) -> Result<Option<ScanOutcome>, ScanError> {
    let enrolment = store.require_enrolment()?;
    let key = decode_public_key(&enrolment.hub_public_key)
        .map_err(|e| StoreError::Corrupt { what: "hub public key", detail: e.to_string() })?;
    let scan = classify(input, &ScanContext { hub_key: Some(&key), now, loyalty_prefix })?;
    let code_kind = scan.kind_name();
    let local = |resolution| Ok(Some(ScanOutcome { code_kind, source: Source::Local, resolution }));
    match &scan {
        Scan::Customer(claims) => {
            if let Some(view) = store.shopper_view(&claims.id)? {
                return local(Resolution::Shopper(view));
            }
        }
        Scan::LoyaltyCard(card) => {
            if let Some(id) = store.customer_id_for_card(card.as_str())? {
                if let Some(view) = store.shopper_view(&id)? {
                    return local(Resolution::Shopper(view));
                }
            }
        }
        Scan::Order(claims) => {
            return match store.order(&claims.id)? {
                Some(order) => local(Resolution::Order(order)),
                None => Err(ScanError::NotFound("this order")),
            };
        }
        Scan::PickupCode(code) => {
            return match store.open_order_by_pickup_code(code.as_str())? {
                Some(order) => local(Resolution::Order(order)),
                None => Err(ScanError::NotFound("no open order with this pickup code; it")),
            };
        }
        Scan::Staff(claims) => {
            return match store.staff_member(&claims.id)? {
                Some(staff) => local(Resolution::Staff(staff)),
                None => Err(ScanError::NotFound("this staff badge")),
            };
        }
        Scan::Product(gtin) => {
            return match store.product(gtin.as_str())? {
                Some(p) => local(Resolution::Product(p)),
                None => Err(ScanError::NotFound("this product")),
            };
        }
    }
    Ok(None)
}

/// A customer not cached here: the hub knows them if anyone does.
pub async fn resolve_at_hub(store: &LocalStore, hub: Option<&HubClient>, input: &str) -> Result<ScanOutcome, ScanError> {
    let Some(hub) = hub else { return Err(ScanError::OfflineNotCached) };
    let code_kind = if input.trim().starts_with("K1.") { "customer" } else { "loyalty_card" };
    match hub.lookup(input.trim()).await {
        Ok(Some(found)) => Ok(ScanOutcome {
            code_kind,
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
