//! The till at this device: a paid basket becomes one `sale.complete` op and its receipt,
//! written in one durable transaction with the receipt number taken in it — so a basket
//! that is refused, voided or never paid uses no number, and a crash leaves either the
//! whole sale or nothing. Pricing, tax and the receipt's own rules are
//! `protocol::till`; whether the sale may be made is `protocol::rules::judge`, through the
//! same door as every other op.

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::shift::ZReport;
use omnikiosk_protocol::till::{PointsRule, Receipt, ReceiptKind, SaleDraft, Tender, GENESIS_HASH};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::orders::{enrolled_store_id, from_json, store_currency};
use super::outbox::{judge_and_queue, OpError};
use super::{meta_get, meta_set, LocalStore, Result, StoreError};
use crate::config::LoyaltyConfig;

/// A product in the basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketItem {
    pub sku: String,
    pub qty: i64,
    /// Taken from the shopper's online cart ("buy here").
    pub from_cart: bool,
}

/// A basket at the moment "Pay" is pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    pub staff_id: String,
    pub customer_id: Option<String>,
    pub items: Vec<BasketItem>,
    pub points_redeemed: i64,
    pub tenders: Vec<Tender>,
}

/// How long a receipt's QR opens its e-receipt: the years a shop keeps its books.
const RECEIPT_CODE_SECS: i64 = 10 * 366 * 86_400;

/// What a scanned receipt QR turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum ScannedReceipt {
    /// A receipt of this device, signature checked.
    Here(Box<Receipt>),
    /// Printed at another device of the store, whose key checked it.
    Elsewhere { number: String, device_id: String },
    /// A receipt code this store does not know (or whose device's key it has not learnt yet).
    Unknown,
    /// The signature does not match the device that printed the receipt.
    Forged,
}

/// A receipt in `receipts` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptSummary {
    pub number: String,
    pub kind: ReceiptKind,
    pub total_cents: i64,
    pub currency: String,
    pub customer_id: Option<String>,
    pub at: i64,
    /// Whether the hub has confirmed it (its op left the outbox).
    pub sent: bool,
}

impl LocalStore {
    /// Records a paid basket: its receipt, numbered next in this device's gapless sequence
    /// and chained to the one before, and its `sale.complete` op, in one transaction.
    pub fn complete_sale(&self, basket: &Basket, loyalty: &LoyaltyConfig, now: i64) -> Result<Receipt, OpError> {
        let enrolment = self.require_enrolment()?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let currency = store_currency(&tx)?;
        let mut lines = Vec::with_capacity(basket.items.len());
        for item in &basket.items {
            lines.push(super::returns::catalogue_line(&tx, item, &currency)?);
        }
        let store_id = enrolled_store_id(&tx)?;
        let (last_seq, prev_hash) = last_receipt(&tx)?;
        let receipt = SaleDraft {
            store_id,
            device_id: &enrolment.device_id,
            seq: last_seq + 1,
            staff_id: &basket.staff_id,
            customer_id: basket.customer_id.as_deref(),
            currency: &currency,
            lines,
            points_redeemed: basket.points_redeemed,
            tenders: basket.tenders.clone(),
            rule: points_rule(&tx, &currency, loyalty)?,
            at: now,
            prev_hash: &prev_hash,
        }
        .receipt()?;
        let op = OpBody::SaleComplete { receipt };
        let recorded = judge_and_queue(&tx, &op, &enrolment, loyalty, now)?;
        let OpBody::SaleComplete { receipt } = op else { unreachable!("built above") };
        insert_receipt(&tx, &receipt, &recorded.op_id)?;
        tx.commit()?;
        self.tell_op_recorded();
        Ok(receipt)
    }

    /// The store's currency (ISO 4217): every amount on screen is in it.
    pub fn currency(&self) -> Result<String> {
        store_currency(&self.reader())
    }

    /// The points rule a sale here earns and redeems by: the chain's for the store's
    /// currency, or `loyalty`'s where the hub has sent none.
    pub fn points_rule(&self, loyalty: &LoyaltyConfig) -> Result<PointsRule> {
        let conn = self.reader();
        points_rule(&conn, &store_currency(&conn)?, loyalty)
    }

    /// This device's receipts, newest first.
    pub fn receipts(&self, limit: usize) -> Result<Vec<ReceiptSummary>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT r.body, EXISTS(SELECT 1 FROM outbox o WHERE o.op_id = r.op_id) FROM receipts r ORDER BY r.seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (body, pending) = row?;
            let r: Receipt = from_json("receipt", &body)?;
            out.push(ReceiptSummary {
                number: r.number,
                kind: r.kind,
                total_cents: r.total_cents,
                currency: r.currency,
                customer_id: r.customer_id,
                at: r.at,
                sent: !pending,
            });
        }
        Ok(out)
    }

    /// One of this device's receipts by its number (or by its sequence alone: `42`).
    pub fn receipt(&self, number: &str) -> Result<Option<Receipt>> {
        let conn = self.reader();
        let body: Option<String> = conn
            .prepare_cached("SELECT body FROM receipts WHERE number = ?1 OR (?1 GLOB '[0-9]*' AND ?1 NOT GLOB '*[^0-9]*' AND seq = CAST(?1 AS INTEGER))")?
            .query_row([number.trim()], |r| r.get(0))
            .optional()?;
        body.map(|b| from_json("receipt", &b)).transpose()
    }

    /// Counts a reprint: the printed copy says which copy it is.
    pub fn count_copy(&self, number: &str) -> Result<i64> {
        let conn = self.writer();
        conn.prepare_cached("UPDATE receipts SET copies = copies + 1 WHERE number = ?1")?.execute([number])?;
        let copies = conn.prepare_cached("SELECT copies FROM receipts WHERE number = ?1")?.query_row([number], |r| r.get(0))?;
        Ok(copies)
    }

    /// The key this device signs its receipts' QR codes with, made on first use and kept
    /// in the store's file (mode 0600) for as long as the device is this device.
    pub fn receipt_signing_key(&self) -> Result<omnikiosk_protocol::code::SigningKey> {
        let conn = self.writer();
        let secret = match meta_get(&conn, "receipt_key")? {
            Some(hex_secret) => hex::decode(&hex_secret).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or(StoreError::Corrupt {
                what: "receipt key",
                detail: "not 32 bytes of hex".into(),
            })?,
            None => {
                let fresh: [u8; 32] = rand::random();
                meta_set(&conn, "receipt_key", &hex::encode(fresh))?;
                fresh
            }
        };
        Ok(omnikiosk_protocol::code::signing_key(&secret))
    }

    /// The public half of [`Self::receipt_signing_key`], as pushes tell the hub.
    pub fn receipt_public_key(&self) -> Result<String> {
        Ok(omnikiosk_protocol::code::encode_public_key(&self.receipt_signing_key()?.verifying_key()))
    }

    /// The QR of a receipt of this device: `K1.…` with `"k":"r"` and its number, signed with
    /// this device's receipt key; good for ten years from the sale.
    pub fn receipt_code(&self, receipt: &Receipt) -> Result<String> {
        let claims = omnikiosk_protocol::code::CodeClaims {
            kind: omnikiosk_protocol::code::CodeKind::Receipt,
            id: receipt.number.clone(),
            iat: receipt.at,
            exp: receipt.at + RECEIPT_CODE_SECS,
            version: 0,
        };
        Ok(omnikiosk_protocol::code::sign(&self.receipt_signing_key()?, &claims))
    }

    /// A scanned receipt QR checked with the key of the device that printed it: this
    /// device's own receipt in full, or who printed it (the hub has its lines).
    pub fn scanned_receipt(&self, number: &str, code: &str) -> Result<ScannedReceipt> {
        if let Some(own) = self.receipt(number)? {
            let key = self.receipt_signing_key()?.verifying_key();
            return Ok(match omnikiosk_protocol::code::verify(&key, code, own.at) {
                Ok(c) if c.id == own.number => ScannedReceipt::Here(Box::new(own)),
                _ => ScannedReceipt::Forged,
            });
        }
        let conn = self.reader();
        let sale: Option<(String, i64)> = conn
            .prepare_cached("SELECT device_id, at FROM store_sales WHERE number = ?1")?
            .query_row([number], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((device_id, at)) = sale else { return Ok(ScannedReceipt::Unknown) };
        let record: Option<String> =
            conn.prepare_cached("SELECT record FROM devices WHERE id = ?1")?.query_row([&device_id], |r| r.get(0)).optional()?;
        let Some(device) = record.and_then(|r| serde_json::from_str::<omnikiosk_protocol::wire::DeviceHealth>(&r).ok()) else {
            return Ok(ScannedReceipt::Unknown);
        };
        let keys: Vec<_> = device.receipt_keys().filter_map(|k| omnikiosk_protocol::code::decode_public_key(k).ok()).collect();
        if keys.is_empty() {
            return Ok(ScannedReceipt::Unknown);
        }
        let signed = keys.iter().any(|k| omnikiosk_protocol::code::verify(k, code, at).is_ok_and(|c| c.id == number));
        Ok(if signed { ScannedReceipt::Elsewhere { number: number.to_string(), device_id } } else { ScannedReceipt::Forged })
    }

    /// After enrolment: receipts continue after the last one the hub has of this device
    /// (a reinstalled kiosk never gives a number twice), chained onto its hash.
    pub(crate) fn raise_receipt_seq(&self, hub_last: Option<&omnikiosk_protocol::wire::ReceiptLink>) -> Result<()> {
        let Some(link) = hub_last else { return Ok(()) };
        let conn = self.writer();
        let (local, _) = last_receipt(&conn)?;
        if link.seq > local {
            meta_set(&conn, "receipt_floor_seq", &link.seq.to_string())?;
            meta_set(&conn, "receipt_floor_hash", &link.hash)?;
        }
        Ok(())
    }
}

/// The sequence and hash of this device's last receipt: its own, or the hub's last
/// after a reinstall, or none yet.
/// The till's points rule in `currency`: the chain's as the hub last sent it
/// (`Change::LoyaltyRule`), else the config's.
pub(super) fn points_rule(conn: &rusqlite::Connection, currency: &str, loyalty: &LoyaltyConfig) -> Result<PointsRule> {
    Ok(conn
        .prepare_cached("SELECT earn_per_unit, point_value_cents FROM loyalty_rules WHERE currency = ?1")?
        .query_row([currency], |r| Ok(PointsRule { earn_per_unit: r.get(0)?, point_value_cents: r.get(1)? }))
        .optional()?
        .unwrap_or_else(|| loyalty.points_rule()))
}

pub(super) fn last_receipt(conn: &rusqlite::Connection) -> Result<(i64, String)> {
    let own: Option<(i64, String)> =
        conn.prepare_cached("SELECT seq, hash FROM receipts ORDER BY seq DESC LIMIT 1")?.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let floor_seq = meta_get(conn, "receipt_floor_seq")?.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    match own {
        Some((seq, hash)) if seq >= floor_seq => Ok((seq, hash)),
        _ if floor_seq > 0 => {
            let hash = meta_get(conn, "receipt_floor_hash")?
                .ok_or(StoreError::Corrupt { what: "receipt chain", detail: "a receipt floor without its hash".into() })?;
            Ok((floor_seq, hash))
        }
        _ => Ok((0, GENESIS_HASH.to_string())),
    }
}

pub(super) fn insert_receipt(tx: &Transaction<'_>, r: &Receipt, op_id: &str) -> Result<()> {
    let body = to_json("receipt", r)?;
    tx.prepare_cached(
        "INSERT INTO receipts(seq, number, op_id, kind, customer_id, total_cents, at, hash, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![r.seq, r.number, op_id, r.kind.as_str(), r.customer_id, r.total_cents, r.at, r.hash, body])?;
    // The store's numbers count it at once; the hub's record replaces it when pulled.
    share_receipt(tx, r)
}

fn to_json(what: &'static str, v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}

/// A receipt of the store (this device's, or another's from the feed) among the store's:
/// counted in the manager's numbers, and with its lines, so a return here can take back
/// from it and knows what other returns took.
pub(crate) fn share_receipt(tx: &Transaction<'_>, r: &Receipt) -> Result<()> {
    let body = to_json("receipt", r)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO store_sales(number, device_id, kind, total_cents, at, body, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![r.number, r.device_id, r.kind.as_str(), r.total_cents, r.at, body, omnikiosk_protocol::returns::origin_of(r)])?;
    Ok(())
}

/// A Z report of the store (this device's, or another's from the feed).
pub(crate) fn share_z_report(tx: &Transaction<'_>, z: &ZReport) -> Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO store_shifts(device_id, z_number, closed_at, report) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![z.device_id, z.z_number, z.closed_at, to_json("Z report", z)?])?;
    Ok(())
}
