//! Returns and exchanges: what may come back from a receipt or a collected
//! click-and-collect order, at what price and with which points — decided once, for the
//! device that takes the goods back (over what it knows, offline too) and for the hub that
//! counts the returns of every device of the store.
//!
//! A return is a receipt of kind `return` whose returned lines (negative `qty`, `origin`
//! set) all name one receipt or order; an exchange is the same receipt with sold lines
//! beside them, one balance to pay or to refund.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ops::Rejection;
use crate::till::{
    price, receipt_number, settle, settle_refund, PointsRule, Receipt, ReceiptKind, ReceiptLine, Tender, TenderMethod,
};
use crate::wire::{OrderRecord, OrderStatus};

/// One product as it was bought: how many, at what unit price, at which tax rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoughtLine {
    pub sku: String,
    pub name: String,
    pub qty: i64,
    pub price_cents: i64,
    pub vat_bp: i64,
}

/// What was bought on one receipt or collected order, as a return sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bought {
    /// The receipt number or the order id.
    pub reference: String,
    pub store_id: i64,
    pub customer_id: Option<String>,
    pub lines: Vec<BoughtLine>,
    pub subtotal_cents: i64,
    /// What was paid in money (the subtotal less the points' discount).
    pub total_cents: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
}

/// Returned so far, by product, against one receipt or order.
pub type Returned = BTreeMap<String, i64>;

impl Bought {
    /// The sold lines of a receipt (an exchange's returned lines were not bought on it).
    pub fn of_receipt(r: &Receipt) -> Bought {
        let mut lines: Vec<BoughtLine> = Vec::new();
        for l in r.lines.iter().filter(|l| l.origin.is_none()) {
            match lines.iter_mut().find(|b| b.sku == l.sku) {
                Some(b) => b.qty += l.qty,
                None => lines.push(BoughtLine { sku: l.sku.clone(), name: l.name.clone(), qty: l.qty, price_cents: l.price_cents, vat_bp: l.vat_bp }),
            }
        }
        let subtotal_cents = lines.iter().map(|l| l.qty * l.price_cents).sum();
        Bought {
            reference: r.number.clone(),
            store_id: r.store_id,
            customer_id: r.customer_id.clone(),
            lines,
            subtotal_cents,
            total_cents: subtotal_cents - r.discount_cents,
            points_earned: r.points_earned.max(0),
            points_redeemed: r.points_redeemed.max(0),
        }
    }

    /// What a collected click-and-collect order handed over (the picked quantities), at
    /// the catalogue's price and tax rate (`price_of(sku)`); paid online, so no points
    /// were earned or spent at the till.
    pub fn of_order(order: &OrderRecord, mut price_of: impl FnMut(&str) -> Option<(i64, i64)>) -> Result<Bought, Rejection> {
        if order.status != OrderStatus::Collected {
            return Err(Rejection::new("not_collected", format!("order {} is {}: only a collected order can be returned", order.id, order.status)));
        }
        let mut lines = Vec::new();
        for l in order.lines.iter().filter(|l| l.picked.unwrap_or(l.qty) > 0) {
            let (price_cents, vat_bp) =
                price_of(&l.sku).ok_or_else(|| Rejection::new("unknown_product", format!("{} is not in the catalogue", l.sku)))?;
            lines.push(BoughtLine { sku: l.sku.clone(), name: l.name.clone(), qty: l.picked.unwrap_or(l.qty), price_cents, vat_bp });
        }
        let subtotal_cents = lines.iter().map(|l| l.qty * l.price_cents).sum();
        Ok(Bought {
            reference: order.id.clone(),
            store_id: order.store_id,
            customer_id: Some(order.customer_id.clone()),
            lines,
            subtotal_cents,
            total_cents: subtotal_cents,
            points_earned: 0,
            points_redeemed: 0,
        })
    }

    fn line(&self, sku: &str) -> Option<&BoughtLine> {
        self.lines.iter().find(|l| l.sku == sku)
    }

    /// What one unit of `l` is refunded at: what was paid for it, its price less its
    /// share of the points' discount, rounded down (so the parts never pay out more than
    /// the whole).
    pub fn refund_unit_cents(&self, l: &BoughtLine) -> i64 {
        if self.subtotal_cents <= 0 {
            return 0;
        }
        (i128::from(l.price_cents) * i128::from(self.total_cents) / i128::from(self.subtotal_cents)) as i64
    }

    /// What can still come back, by product, after `returned`.
    pub fn left(&self, returned: &Returned) -> Vec<(String, i64)> {
        self.lines.iter().map(|l| (l.sku.clone(), l.qty - returned.get(&l.sku).copied().unwrap_or(0))).filter(|(_, q)| *q > 0).collect()
    }

    /// The points `qty` units of `l` carried: (earned on them, redeemed for them), each
    /// its share of the receipt's, rounded down.
    fn points_of(&self, l: &BoughtLine, qty: i64) -> (i64, i64) {
        if self.subtotal_cents <= 0 {
            return (0, 0);
        }
        let share = |points: i64| (i128::from(points) * i128::from(qty * l.price_cents) / i128::from(self.subtotal_cents)) as i64;
        (share(self.points_earned), share(self.points_redeemed))
    }
}

/// What `receipts` returned against `reference`, by product. Receipts are counted once
/// each by number, wherever they were learnt.
pub fn returned_so_far<'a>(reference: &str, receipts: impl IntoIterator<Item = &'a Receipt>) -> Returned {
    let mut seen = std::collections::HashSet::new();
    let mut returned = Returned::new();
    for r in receipts {
        if r.kind != ReceiptKind::Return || !seen.insert(r.number.as_str()) {
            continue;
        }
        for l in r.lines.iter().filter(|l| l.origin.as_deref() == Some(reference)) {
            *returned.entry(l.sku.clone()).or_default() += -l.qty;
        }
    }
    returned
}

/// The one receipt or order a return's lines name (a valid return names exactly one).
pub fn origin_of(receipt: &Receipt) -> Option<&str> {
    receipt.lines.iter().find_map(|l| l.origin.as_deref())
}

/// Whether `receipt` may take back what it takes back from `bought`, `returned` being what
/// already came back: only products bought there, at what was paid for them, to the
/// shopper who bought them, never more than was bought less what was returned.
pub fn check_return(bought: &Bought, returned: &Returned, receipt: &Receipt) -> Result<(), Rejection> {
    let reference = &bought.reference;
    if bought.store_id != receipt.store_id {
        return Err(Rejection::new("other_store", format!("{reference} was bought at store {}, not at this store", bought.store_id)));
    }
    if bought.customer_id.is_some() && receipt.customer_id != bought.customer_id {
        return Err(Rejection::new("wrong_customer", format!("{reference} was bought on another shopper's card: the points go back to theirs")));
    }
    let mut asked = Returned::new();
    let (mut giveback, mut clawback) = (0, 0);
    for l in receipt.lines.iter().filter(|l| l.origin.is_some()) {
        if l.origin.as_deref() != Some(reference.as_str()) {
            return Err(Rejection::new("bad_receipt", "one return takes back from one receipt or order"));
        }
        let b = bought
            .line(&l.sku)
            .ok_or_else(|| Rejection::new("not_bought", format!("{} was not bought on {reference}", l.name)))?;
        if l.price_cents != bought.refund_unit_cents(b) || l.vat_bp != b.vat_bp {
            return Err(Rejection::new(
                "refund_price",
                format!("{} is refunded at what was paid for it on {reference}, not at another price", b.name),
            ));
        }
        let (earned, redeemed) = bought.points_of(b, -l.qty);
        clawback += earned;
        giveback += redeemed;
        *asked.entry(l.sku.clone()).or_default() += -l.qty;
    }
    for (sku, qty) in &asked {
        let b = bought.line(sku).expect("checked above");
        let before = returned.get(sku).copied().unwrap_or(0);
        if before + qty > b.qty {
            let left = (b.qty - before).max(0);
            return Err(Rejection::new(
                "over_return",
                format!("{}: {} bought on {reference}, {before} already returned — {left} can come back, not {qty}", b.name, b.qty),
            ));
        }
    }
    if receipt.points_redeemed != -giveback || receipt.points_earned > -clawback + sold_points_cap(receipt) {
        return Err(Rejection::new("bad_receipt", format!("the points of return {} do not follow from {reference}", receipt.number)));
    }
    Ok(())
}

/// The most an exchange's sold lines may earn (one point per minor unit is more than any
/// rule gives): the hub does not know the kiosk's earning rule, only that it is bounded.
fn sold_points_cap(receipt: &Receipt) -> i64 {
    receipt.lines.iter().filter(|l| l.origin.is_none()).map(ReceiptLine::total_cents).sum::<i64>().max(0)
}

/// A return (or exchange) being made, before it is a receipt.
#[derive(Debug, Clone)]
pub struct ReturnDraft<'a> {
    pub store_id: i64,
    pub device_id: &'a str,
    /// The device's next receipt sequence (the same sequence as its sales).
    pub seq: i64,
    pub staff_id: &'a str,
    pub currency: &'a str,
    pub bought: &'a Bought,
    pub returned: &'a Returned,
    /// What comes back: product and quantity.
    pub items: Vec<(String, i64)>,
    /// An exchange: what the shopper takes instead.
    pub sold: Vec<ReceiptLine>,
    pub reason: &'a str,
    /// What is paid (the balance is the shopper's to pay) or refunded (the store's).
    pub tenders: Vec<Tender>,
    pub rule: PointsRule,
    pub at: i64,
    pub prev_hash: &'a str,
}

impl ReturnDraft<'_> {
    /// The returned lines, at what was paid for them.
    fn returned_lines(&self) -> Result<Vec<ReceiptLine>, Rejection> {
        let b = self.bought;
        if self.items.is_empty() {
            return Err(Rejection::new("nothing_to_return", format!("choose what comes back from {}", b.reference)));
        }
        let mut lines = Vec::new();
        for (sku, qty) in &self.items {
            let l = b.line(sku).ok_or_else(|| Rejection::new("not_bought", format!("{sku} was not bought on {}", b.reference)))?;
            lines.push(ReceiptLine {
                sku: sku.clone(),
                name: l.name.clone(),
                qty: -qty,
                price_cents: b.refund_unit_cents(l),
                vat_bp: l.vat_bp,
                from_cart: false,
                origin: Some(b.reference.clone()),
            });
        }
        Ok(lines)
    }

    /// What the shopper pays (positive) or is refunded (negative), before any tender.
    pub fn balance_cents(&self) -> Result<i64, Rejection> {
        let returned: i64 = self.returned_lines()?.iter().map(ReceiptLine::total_cents).sum();
        Ok(returned + self.sold.iter().map(ReceiptLine::total_cents).sum::<i64>())
    }

    /// The return's receipt: its lines priced at what was paid, the points the returned
    /// lines carried taken back or given back, the balance settled — or why it cannot be.
    pub fn receipt(self) -> Result<Receipt, Rejection> {
        let b = self.bought;
        let mut lines = self.returned_lines()?;
        let (mut clawback, mut giveback) = (0, 0);
        for (sku, qty) in &self.items {
            if let Some(l) = b.line(sku).filter(|_| (1..=crate::till::MAX_QTY).contains(qty)) {
                let (earned, redeemed) = b.points_of(l, *qty);
                clawback += earned;
                giveback += redeemed;
            }
        }
        let customer_id = b.customer_id.as_deref();
        let sold_earned = price(&self.sold, 0, self.rule, customer_id.is_some()).points_earned;
        lines.extend(self.sold);
        let priced = price(&lines, 0, self.rule, false);
        let change_cents = match priced.total_cents {
            0 if self.tenders.is_empty() => 0,
            t if t < 0 => settle_refund(&self.tenders, -t, customer_id.is_some()).map(|()| 0)?,
            t => settle(&self.tenders, t)?,
        };
        let as_points: i64 = self.tenders.iter().filter(|t| t.method == TenderMethod::Points).map(|t| t.cents).sum();
        let value = self.rule.point_value_cents.max(1);
        if as_points % value != 0 {
            return Err(Rejection::new("bad_tender", format!("a refund as points is a whole number of points (one point is worth {value})")));
        }
        let receipt = Receipt {
            number: receipt_number(self.store_id, self.device_id, self.seq),
            seq: self.seq,
            kind: ReceiptKind::Return,
            store_id: self.store_id,
            device_id: self.device_id.to_string(),
            staff_id: self.staff_id.to_string(),
            customer_id: customer_id.map(str::to_string),
            currency: self.currency.to_string(),
            lines,
            subtotal_cents: priced.subtotal_cents,
            discount_cents: 0,
            total_cents: priced.total_cents,
            tax: priced.tax,
            tenders: self.tenders,
            change_cents,
            points_earned: sold_earned - clawback,
            points_redeemed: -giveback,
            points_refunded: as_points / value,
            reason: Some(self.reason.trim().to_string()),
            at: self.at,
            prev_hash: self.prev_hash.to_string(),
            hash: String::new(),
        }
        .seal();
        receipt.validate()?;
        check_return(b, self.returned, &receipt)?;
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::till::tests::{card, cash, draft, line};
    use crate::till::{SaleDraft, GENESIS_HASH};

    fn sale() -> Receipt {
        // 2 × 12.30 at 23 % and 1 × 5.25 at 5 %, 300 points redeemed.
        let lines = vec![line("5900000000015", 2, 1230, 2300), line("5900000000022", 1, 525, 500)];
        SaleDraft { points_redeemed: 300, ..draft(lines, vec![cash(3000)]) }.receipt().unwrap()
    }

    fn back<'a>(bought: &'a Bought, returned: &'a Returned, items: &[(&str, i64)], tenders: Vec<Tender>) -> ReturnDraft<'a> {
        ReturnDraft {
            store_id: 1,
            device_id: "kiosk-1-3",
            seq: 1,
            staff_id: "S1-STAFF",
            currency: "PLN",
            bought,
            returned,
            items: items.iter().map(|(s, q)| (s.to_string(), *q)).collect(),
            sold: vec![],
            reason: "wrong size",
            tenders,
            rule: PointsRule::default(),
            at: 0,
            prev_hash: GENESIS_HASH,
        }
    }

    #[test]
    fn a_return_refunds_what_was_paid_and_takes_back_the_points_the_lines_carried() {
        let s = sale();
        assert_eq!((s.subtotal_cents, s.total_cents, s.points_earned), (2985, 2685, 26));
        let b = Bought::of_receipt(&s);
        let none = Returned::new();
        // One of the two 12.30: 12.30 × 2685 / 2985 = 11.06 paid in money.
        let r = back(&b, &none, &[("5900000000015", 1)], vec![cash(1106)]).receipt().unwrap();
        assert_eq!((r.kind, r.total_cents, r.change_cents), (ReceiptKind::Return, -1106, 0));
        assert_eq!(back(&b, &none, &[("5900000000015", 1)], vec![]).balance_cents(), Ok(-1106));
        assert_eq!(r.lines[0].qty, -1);
        assert_eq!(r.lines[0].origin.as_deref(), Some(s.number.as_str()));
        // Its share of the 26 earned (10) is taken back, its share of the 300 redeemed (123) given back.
        assert_eq!((r.points_earned, r.points_redeemed), (-10, -123));
        assert_eq!(r.tax.iter().map(|t| t.gross_cents).sum::<i64>(), -1106);
        assert!(r.tax[0].tax_cents < 0, "a return's tax is negative: {:?}", r.tax);
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn never_more_than_was_bought_less_what_came_back() {
        let s = sale();
        let b = Bought::of_receipt(&s);
        let mut returned = Returned::new();
        returned.insert("5900000000015".into(), 1);
        let err = back(&b, &returned, &[("5900000000015", 2)], vec![cash(2212)]).receipt().unwrap_err();
        assert_eq!(err.code, "over_return");
        assert!(err.message.contains("1 already returned"), "{}", err.message);
        assert_eq!(back(&b, &returned, &[("5900000000015", 1)], vec![cash(1106)]).receipt().map(|r| r.total_cents), Ok(-1106));
        assert_eq!(b.left(&returned), vec![("5900000000015".to_string(), 1), ("5900000000022".to_string(), 1)]);
        assert_eq!(back(&b, &returned, &[("5900000000039", 1)], vec![cash(1)]).receipt().unwrap_err().code, "not_bought");
        assert_eq!(back(&b, &returned, &[], vec![]).receipt().unwrap_err().code, "nothing_to_return");
        assert_eq!(back(&b, &returned, &[("5900000000015", 0)], vec![cash(1)]).receipt().unwrap_err().code, "bad_quantity");
    }

    #[test]
    fn refunds_are_exact_and_a_card_needs_its_reference() {
        let s = sale();
        let b = Bought::of_receipt(&s);
        let none = Returned::new();
        let item = [("5900000000022", 1)];
        assert_eq!(back(&b, &none, &item, vec![cash(500)]).receipt().unwrap_err().code, "refund_mismatch");
        assert_eq!(back(&b, &none, &item, vec![]).receipt().unwrap_err().code, "refund_mismatch");
        assert_eq!(back(&b, &none, &item, vec![card(472, None)]).receipt().unwrap_err().code, "card_reference");
        let to_card = back(&b, &none, &item, vec![card(472, Some("T-7"))]).receipt().unwrap();
        assert_eq!(to_card.total_cents, -472);
        let as_points = back(&b, &none, &item, vec![Tender { method: TenderMethod::Points, cents: 472, reference: None }]).receipt().unwrap();
        assert_eq!(as_points.points_refunded, 472);
        assert_eq!(back(&b, &none, &item, vec![cash(472)]).receipt().map(|r| r.points_refunded), Ok(0));
        assert_eq!(ReturnDraft { reason: " ", ..back(&b, &none, &item, vec![cash(472)]) }.receipt().unwrap_err().code, "return_reason");
    }

    #[test]
    fn an_exchange_is_one_receipt_with_one_balance() {
        let s = sale();
        let b = Bought::of_receipt(&s);
        let none = Returned::new();
        let swap = |sold: Vec<ReceiptLine>, tenders| ReturnDraft { sold, ..back(&b, &none, &[("5900000000015", 1)], tenders) }.receipt();
        // Dearer: the shopper pays the difference (and gets change from cash).
        let dearer = swap(vec![line("5900000000039", 1, 1500, 2300)], vec![cash(500)]).unwrap();
        assert_eq!((dearer.kind, dearer.total_cents, dearer.change_cents), (ReceiptKind::Return, 394, 106));
        // Cheaper: the store refunds it.
        let cheaper = swap(vec![line("5900000000039", 1, 1000, 2300)], vec![cash(106)]).unwrap();
        assert_eq!(cheaper.total_cents, -106);
        // Even: nothing changes hands.
        assert_eq!(swap(vec![line("5900000000039", 1, 1106, 2300)], vec![]).map(|r| r.total_cents), Ok(0));
    }

    #[test]
    fn the_hub_holds_a_return_to_its_receipt() {
        let s = sale();
        let b = Bought::of_receipt(&s);
        let none = Returned::new();
        let r = back(&b, &none, &[("5900000000015", 1)], vec![cash(1106)]).receipt().unwrap();
        assert_eq!(check_return(&b, &none, &r), Ok(()));
        let mut dearer = r.clone();
        dearer.lines[0].price_cents = 1230;
        assert_eq!(check_return(&b, &none, &dearer).unwrap_err().code, "refund_price");
        let mut other = r.clone();
        other.customer_id = Some("C2".into());
        assert_eq!(check_return(&b, &none, &other).unwrap_err().code, "wrong_customer");
        let elsewhere = Bought { store_id: 2, ..b.clone() };
        assert_eq!(check_return(&elsewhere, &none, &r).unwrap_err().code, "other_store");
        assert_eq!(returned_so_far(&s.number, [&r, &r]).get("5900000000015"), Some(&1), "one receipt counts once");
    }
}
