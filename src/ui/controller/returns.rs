//! A return at the till: the receipt (scanned, or its number typed) or collected order the
//! goods were bought on, how many of each line come back (never more than is left), the
//! reason from the store's list, and how the balance is refunded. Products scanned into the
//! basket meanwhile are an exchange. The rules — what may come back, at what price — are
//! `LocalStore::complete_return`'s; this only gathers the choice and shows the balance.

use omnikiosk_protocol::returns::Bought;
use omnikiosk_protocol::till::{receipt_number, Tender, TenderMethod};

use super::context::Ctx;
use crate::store::{BasketItem, OpError, ReturnRequest, Returnable};

/// How the balance is settled: refunded (or, for a dearer exchange, paid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refund {
    Cash,
    Card,
    Points,
}

/// One line bought, as the return shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnRow {
    pub name: String,
    pub bought: i64,
    pub returned: i64,
    /// Coming back now (0 up to `left`).
    pub qty: i64,
    pub left: i64,
}

/// What the return shows; `reference` is the receipt or order the goods were bought on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnScreen {
    pub reference: String,
    pub lines: Vec<ReturnRow>,
    pub reasons: Vec<String>,
    /// The reason chosen ("" before one is).
    pub reason: String,
    pub refund: Option<Refund>,
    /// The card terminal's reference for a card refund.
    pub card_reference: String,
    /// The receipt has a shopper: the refund may go back as points.
    pub points: bool,
    /// The balance as money, and whether it is the shopper's (a refund) or the store's to take.
    pub balance: String,
    pub refunding: bool,
    pub can_complete: bool,
}

/// The return being put together.
pub struct Return {
    bought: Bought,
    /// Per bought line: already returned, still returnable, coming back now.
    returned: Vec<i64>,
    left: Vec<i64>,
    qty: Vec<i64>,
    reason: Option<usize>,
    refund: Option<Refund>,
    card_reference: Option<String>,
}

impl Return {
    /// What `origin` bought, if anything can come back from it here. Digits alone are the
    /// number of one of this device's receipts (the keypad types no dashes).
    pub fn find(ctx: &Ctx, origin: &str) -> Result<Return, OpError> {
        let origin = origin.trim();
        let origin = match (origin.parse::<i64>(), ctx.store.require_enrolment()) {
            (Ok(seq), Ok(e)) => receipt_number(e.store_id, &e.device_id, seq),
            _ => origin.to_string(),
        };
        let Returnable { bought, returned, left } = ctx.store.returnable(&origin)?;
        let of = |sku: &str, list: &[(String, i64)]| list.iter().find(|(s, _)| s == sku).map_or(0, |(_, q)| *q);
        let left: Vec<i64> = bought.lines.iter().map(|l| of(&l.sku, &left)).collect();
        Ok(Return {
            returned: bought.lines.iter().map(|l| returned.get(&l.sku).copied().unwrap_or(0)).collect(),
            qty: vec![0; left.len()],
            left,
            bought,
            reason: None,
            refund: None,
            card_reference: None,
        })
    }

    /// One more (`delta` 1) or one less (−1) of line `index` back, within what is left.
    pub fn change_qty(&mut self, index: usize, delta: i64) {
        if let (Some(q), Some(left)) = (self.qty.get_mut(index), self.left.get(index)) {
            *q = (*q + delta).clamp(0, *left);
        }
    }

    pub fn choose_reason(&mut self, index: usize) {
        self.reason = Some(index);
    }

    /// Cash or points settle at once; a card waits for its reference.
    pub fn choose_refund(&mut self, refund: Refund) {
        self.refund = Some(refund);
        self.card_reference = None;
    }

    pub fn card_reference(&mut self, reference: &str) {
        self.card_reference = Some(reference.trim().to_string()).filter(|r| !r.is_empty());
    }

    pub fn wants_card_reference(&self) -> bool {
        self.refund == Some(Refund::Card) && self.card_reference.is_none()
    }

    /// What the shopper is refunded (positive) for the lines chosen, less the exchange.
    fn refund_cents(&self, sold_cents: i64) -> i64 {
        let back: i64 = self.bought.lines.iter().zip(&self.qty).map(|(l, q)| q * self.bought.refund_unit_cents(l)).sum();
        back - sold_cents
    }

    /// The return as the store takes it: the whole balance on the one tender chosen.
    pub fn request(&self, ctx: &Ctx, staff_id: &str, sold: Vec<BasketItem>) -> ReturnRequest {
        let method = match self.refund {
            Some(Refund::Cash) => Some(TenderMethod::Cash),
            Some(Refund::Card) => Some(TenderMethod::Card),
            Some(Refund::Points) => Some(TenderMethod::Points),
            None => None,
        };
        ReturnRequest {
            staff_id: staff_id.to_string(),
            origin: self.bought.reference.clone(),
            items: self.bought.lines.iter().zip(&self.qty).filter(|(_, q)| **q > 0).map(|(l, q)| (l.sku.clone(), *q)).collect(),
            sold,
            reason: self.reason.and_then(|i| ctx.settings.till.return_reasons.get(i)).cloned().unwrap_or_default(),
            tenders: method.map(|method| Tender { method, cents: 0, reference: self.card_reference.clone() }).into_iter().collect(),
        }
    }

    pub fn screen(&self, ctx: &Ctx, sold_cents: i64, money: impl Fn(i64) -> String) -> ReturnScreen {
        let refund = self.refund_cents(sold_cents);
        let reasons = &ctx.settings.till.return_reasons;
        ReturnScreen {
            reference: self.bought.reference.clone(),
            lines: self
                .bought
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| ReturnRow { name: l.name.clone(), bought: l.qty, returned: self.returned[i], qty: self.qty[i], left: self.left[i] })
                .collect(),
            reasons: reasons.clone(),
            reason: self.reason.and_then(|i| reasons.get(i)).cloned().unwrap_or_default(),
            refund: self.refund,
            card_reference: self.card_reference.clone().unwrap_or_default(),
            points: self.bought.customer_id.is_some(),
            balance: money(refund.abs()),
            refunding: refund >= 0,
            can_complete: self.qty.iter().any(|q| *q > 0)
                && self.reason.is_some()
                && (refund == 0 || self.refund.is_some())
                && !self.wants_card_reference(),
        }
    }
}
