//! Wire types and the signed scan-code format shared by the Omnikiosk kiosk and hub.
//!
//! Layout:
//! - [`catalogue`]: the retailer's master data (stores, catalogue, prices, stock, imports)
//!   and the rule that prices a catalogue entry for one store.
//! - [`wire`]: JSON bodies of the hub's HTTP API (device, pull, push, lookup, channel).
//! - [`code`]: the `K1.<payload>.<sig>` signed code (customer app QR, order QR, staff badge).
//! - [`gtin`]: EAN-13 / EAN-8 / UPC-A check digits, loyalty cards, pickup codes.
//! - [`scan`]: one function that classifies any scanned string.
//! - [`ops`]: the offline operations a kiosk pushes: their wire form and body rules.
//! - [`rules`]: what an op may do, decided once for the kiosk and the hub alike.
//! - [`till`]: the till's receipt: pricing, tax, tenders, the hash chain.
//! - [`returns`]: returns and exchanges against a receipt or a collected order.
//! - [`shift`]: the till's shift, cash moves and the Z report.
//! - [`money`]: minor units written as the shopper's language writes money.
//! - [`pin`]: how staff PINs are stored (Argon2id), checked and upgraded from legacy hashes.
//!
//! This crate knows nothing of SQLite, HTTP clients or UI.

pub mod catalogue;
pub mod code;
pub mod gtin;
pub mod money;
pub mod ops;
pub mod pin;
pub mod returns;
pub mod rules;
pub mod scan;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod shift;
pub mod till;
pub mod wire;
