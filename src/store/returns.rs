//! Returns and exchanges at this device: goods taken back against a receipt (this
//! device's, or another device's of the store, learnt from the store's feed) or a
//! collected click-and-collect order. A return is its own `return.complete` op and its own
//! receipt, numbered in the same gapless sequence and hash chain as the sales, written in
//! one durable transaction — so a refused return uses no number. What may come back, and
//! at what price, is `protocol::returns`; offline it is judged over what this device knows.

use omnikiosk_protocol::ops::{OpBody, Rejection};
use omnikiosk_protocol::returns::{returned_so_far, Bought, ReturnDraft, Returned};
use omnikiosk_protocol::till::{Receipt, ReceiptLine, Tender};
use rusqlite::{Connection, OptionalExtension};

use super::orders::{enrolled_store_id, from_json, overlaid_order, store_currency};
use super::outbox::{judge_and_queue, OpError};
use super::till::{insert_receipt, last_receipt, points_rule, BasketItem};
use super::{LocalStore, Result};
use crate::config::LoyaltyConfig;
use crate::domain::catalogue::sellable;

/// Goods coming back, as staff chose them at the till.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRequest {
    pub staff_id: String,
    /// The receipt number or click-and-collect order id the goods were bought on.
    pub origin: String,
    /// What comes back, product and quantity; empty: everything not yet returned.
    pub items: Vec<(String, i64)>,
    /// An exchange: what the shopper takes instead.
    pub sold: Vec<BasketItem>,
    pub reason: String,
    /// How the balance is refunded (or paid, for a dearer exchange); one tender whose
    /// amount is 0 stands for "the whole balance".
    pub tenders: Vec<Tender>,
}

/// What a receipt or order bought and what already came back from it, as this device knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returnable {
    pub bought: Bought,
    pub returned: Returned,
    /// What can still come back, by product.
    pub left: Vec<(String, i64)>,
}

impl LocalStore {
    /// What `origin` (a receipt number or an order id) bought and what is left to return,
    /// or why nothing can come back from it here.
    pub fn returnable(&self, origin: &str) -> Result<Returnable, OpError> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let (bought, returned) = find_origin(&conn, store_id, origin.trim())?;
        let left = bought.left(&returned);
        Ok(Returnable { bought, returned, left })
    }

    /// Takes goods back: the return's receipt, next in this device's sequence, and its
    /// `return.complete` op, in one transaction.
    pub fn complete_return(&self, req: &ReturnRequest, loyalty: &LoyaltyConfig, now: i64) -> Result<Receipt, OpError> {
        let enrolment = self.require_enrolment()?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let store_id = enrolled_store_id(&tx)?;
        let (bought, returned) = find_origin(&tx, store_id, req.origin.trim())?;
        let items = if req.items.is_empty() { bought.left(&returned) } else { req.items.clone() };
        if items.is_empty() {
            return Err(Rejection::new("nothing_to_return", format!("everything bought on {} has already come back", bought.reference)).into());
        }
        let currency = store_currency(&tx)?;
        let mut sold = Vec::with_capacity(req.sold.len());
        for item in &req.sold {
            sold.push(catalogue_line(&tx, item, &currency)?);
        }
        let (last_seq, prev_hash) = last_receipt(&tx)?;
        let mut draft = ReturnDraft {
            store_id,
            device_id: &enrolment.device_id,
            seq: last_seq + 1,
            staff_id: &req.staff_id,
            currency: &currency,
            bought: &bought,
            returned: &returned,
            items,
            sold,
            reason: &req.reason,
            tenders: req.tenders.clone(),
            rule: points_rule(&tx, &currency, loyalty)?,
            at: now,
            prev_hash: &prev_hash,
        };
        // "Refund to cash" without an amount: the whole balance (an even exchange: none).
        if matches!(draft.tenders.as_slice(), [t] if t.cents == 0) {
            match draft.balance_cents()?.abs() {
                0 => draft.tenders.clear(),
                balance => draft.tenders[0].cents = balance,
            }
        }
        let receipt = draft.receipt()?;
        let op = OpBody::ReturnComplete { receipt };
        let recorded = judge_and_queue(&tx, &op, &enrolment, loyalty, now)?;
        let OpBody::ReturnComplete { receipt } = op else { unreachable!("built above") };
        insert_receipt(&tx, &receipt, &recorded.op_id)?;
        tx.commit()?;
        self.tell_op_recorded();
        Ok(receipt)
    }
}

/// A product of the catalogue as a receipt line (shared by sales and exchanges), or why
/// the till may not sell it (withdrawn, unpriced here, priced in another currency).
pub(super) fn catalogue_line(conn: &Connection, item: &BasketItem, store_currency: &str) -> Result<ReceiptLine, OpError> {
    let store_id = enrolled_store_id(conn)?;
    let p = super::read::product_view(conn, &item.sku, store_id)?
        .ok_or_else(|| Rejection::new("unknown_product", format!("{} is not in the catalogue", item.sku)))?
        .product;
    sellable(&p, store_currency).map_err(|why| why.rejection(&p, store_currency))?;
    Ok(ReceiptLine { sku: p.sku, name: p.name, qty: item.qty, price_cents: p.price_cents, vat_bp: p.vat_bp, from_cart: item.from_cart, origin: None })
}

/// What `reference` bought and what came back from it, from this device's receipts, the
/// store's receipts it learnt, and its orders — or why it is not returnable here.
pub(super) fn find_origin(conn: &Connection, store_id: i64, reference: &str) -> Result<(Bought, Returned), OpError> {
    match origin_facts(conn, reference)? {
        Some(found) => Ok(found),
        None => {
            let other = omnikiosk_protocol::till::receipt_store(reference).filter(|&s| s != store_id);
            Err(match other {
                Some(s) => Rejection::new("other_store", format!("receipt {reference} was printed at store {s}: return it there")),
                None => Rejection::new("unknown_receipt", format!("{reference} is not a receipt or collected order known at this store")),
            }
            .into())
        }
    }
}

/// The facts a return is judged on at this device, `None` when `reference` is unknown here.
pub(super) fn origin_facts(conn: &Connection, reference: &str) -> Result<Option<(Bought, Returned)>, OpError> {
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM receipts WHERE number = ?1
             UNION ALL SELECT body FROM store_sales WHERE number = ?1 AND body IS NOT NULL LIMIT 1",
        )?
        .query_row([reference], |r| r.get(0))
        .optional()?;
    let bought = match body {
        Some(b) => Bought::of_receipt(&from_json::<Receipt>("receipt", &b)?),
        None => match overlaid_order(conn, reference)? {
            Some(order) => {
                let mut price = conn.prepare_cached("SELECT price_cents, vat_bp FROM products WHERE sku = ?1")?;
                Bought::of_order(&order, |sku| price.query_row([sku], |r| Ok((r.get(0)?, r.get(1)?))).ok())?
            }
            None => return Ok(None),
        },
    };
    let mut stmt = conn.prepare_cached("SELECT body FROM store_sales WHERE origin = ?1 AND body IS NOT NULL")?;
    let returns = stmt
        .query_map([reference], |r| r.get::<_, String>(0))?
        .map(|b| from_json::<Receipt>("receipt", &b?))
        .collect::<Result<Vec<_>>>()?;
    let returned = returned_so_far(reference, &returns);
    Ok(Some((bought, returned)))
}
