//! The till's receipt: what a sale is, priced and taxed the same way at the kiosk that
//! makes it and at the hub that records it. Money is integer minor units of the store's
//! currency; prices are tax-inclusive; the tax of each rate is taken out of what was paid
//! at that rate. A receipt names the previous receipt of its device by hash, so a
//! device's receipts form a chain nobody can edit without it showing.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ops::{Rejection, MAX_POINTS_PER_OP};

/// `prev_hash` of a device's first receipt.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Most of one product on one line ("quantity 10,000" is a slip of the finger).
pub const MAX_QTY: i64 = 999;
/// Most lines on one receipt.
pub const MAX_LINES: usize = 200;
/// Longest product name on a receipt (the catalogue's own limit), in characters.
pub const MAX_TEXT_CHARS: usize = 150;
/// Longest id or card reference on a receipt, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Most one unit may cost (100,000.00 in any currency with cents).
pub const MAX_UNIT_CENTS: i64 = 10_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Sale,
    Return,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Sale => "sale",
            ReceiptKind::Return => "return",
        }
    }
}

/// One line of a receipt: a product at the price it was sold for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptLine {
    pub sku: String,
    pub name: String,
    pub qty: i64,
    /// One unit, tax included.
    pub price_cents: i64,
    /// VAT rate in basis points (2300 = 23 %).
    pub vat_bp: i64,
    /// Taken from the shopper's online cart ("buy here"): it leaves the cart at the hub.
    #[serde(default)]
    pub from_cart: bool,
    /// A returned line: the receipt number or click-and-collect order it was bought on.
    /// Its `qty` is negative and its `price_cents` what was paid for one unit there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl ReceiptLine {
    pub fn total_cents(&self) -> i64 {
        self.qty * self.price_cents
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TenderMethod {
    Cash,
    /// On the store's external card terminal; its reference is recorded.
    Card,
    /// A refund credited to the shopper's points (returns only; `Receipt::points_refunded`).
    Points,
}

impl TenderMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TenderMethod::Cash => "cash",
            TenderMethod::Card => "card",
            TenderMethod::Points => "points",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tender {
    pub method: TenderMethod,
    pub cents: i64,
    /// The card terminal's reference (required for a card).
    pub reference: Option<String>,
}

/// The tax of one rate: of `gross_cents` paid at this rate, `tax_cents` is tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaxLine {
    pub vat_bp: i64,
    pub gross_cents: i64,
    pub net_cents: i64,
    pub tax_cents: i64,
}

/// A receipt as printed, pushed in its `sale.complete` op, kept by the hub and listed for
/// the ERP. Everything but `hash` is hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// `<store>-<device>-<seq>`: gapless per device.
    pub number: String,
    pub seq: i64,
    pub kind: ReceiptKind,
    pub store_id: i64,
    pub device_id: String,
    pub staff_id: String,
    pub customer_id: Option<String>,
    /// ISO 4217 code of the store's currency.
    pub currency: String,
    pub lines: Vec<ReceiptLine>,
    /// Sum of the lines.
    pub subtotal_cents: i64,
    /// Paid with points.
    pub discount_cents: i64,
    /// What the shopper pays: subtotal less discount.
    pub total_cents: i64,
    pub tax: Vec<TaxLine>,
    pub tenders: Vec<Tender>,
    pub change_cents: i64,
    /// Earned by the sold lines, less what the returned lines had earned (a return's may
    /// be negative).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::points_moved))]
    pub points_earned: i64,
    /// Spent as the discount; on a return, negative: the returned lines' share given back.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::points_moved))]
    pub points_redeemed: i64,
    /// A refund given as points (the `points` tender's value in points).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::points_given))]
    pub points_refunded: i64,
    /// Why the goods came back (returns only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Kiosk time of the sale (audit only).
    pub at: i64,
    pub prev_hash: String,
    pub hash: String,
}

impl Receipt {
    /// The points this receipt may credit its shopper by `rule`, whatever its till wrote:
    /// a sale, the rule's points for what was paid; a return, never more than nothing (it
    /// takes back what the returned lines had earned). The hub credits this, not the
    /// device's number.
    pub fn points_by_rule(&self, rule: PointsRule) -> i64 {
        match self.kind {
            ReceiptKind::Sale => price(&self.lines, self.points_redeemed, rule, self.customer_id.is_some()).points_earned,
            ReceiptKind::Return => self.points_earned.min(0),
        }
    }

    /// The receipt as a shopper's phone may see it (the public e-receipt): what was bought,
    /// paid and earned, without the colleague who sold it, the shopper's id or a card
    /// terminal's reference — the paper receipt's QR is the only proof the holder gives.
    pub fn for_the_shopper(mut self) -> Receipt {
        self.staff_id = String::new();
        self.customer_id = None;
        for tender in &mut self.tenders {
            tender.reference = None;
        }
        self
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The chain's loyalty rule at the till, in one currency: points earned per whole unit of
/// the currency paid (100 minor units; what is paid is rounded down to whole units, so
/// 12.99 earns as 12), and what one redeemed point takes off, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsRule {
    /// Points per whole unit paid (rounded down), 0 (none) to [`MAX_EARN_PER_UNIT`].
    #[cfg_attr(feature = "openapi", schema(schema_with = earn_per_unit_schema))]
    pub earn_per_unit: i64,
    /// What one redeemed point takes off, in minor units: 1 to [`MAX_POINT_VALUE_CENTS`].
    #[cfg_attr(feature = "openapi", schema(schema_with = point_value_schema))]
    pub point_value_cents: i64,
}

/// Most points a rule may give per whole unit paid.
pub const MAX_EARN_PER_UNIT: i64 = 100;
/// Most a point may be worth, in minor units.
pub const MAX_POINT_VALUE_CENTS: i64 = 10_000;

impl PointsRule {
    /// Whether the rule is within its ranges; why not, naming `currency`.
    pub fn validate(&self, currency: &str) -> Result<(), String> {
        if !(0..=MAX_EARN_PER_UNIT).contains(&self.earn_per_unit) {
            return Err(format!("earn_per_unit of {currency} must be 0 to {MAX_EARN_PER_UNIT}"));
        }
        if !(1..=MAX_POINT_VALUE_CENTS).contains(&self.point_value_cents) {
            return Err(format!("point_value_cents of {currency} must be 1 to {MAX_POINT_VALUE_CENTS}"));
        }
        Ok(())
    }
}

#[cfg(feature = "openapi")]
fn earn_per_unit_schema() -> utoipa::openapi::schema::ObjectBuilder {
    crate::schema::integer(0, MAX_EARN_PER_UNIT).description(Some("Points per whole unit of the currency paid, rounded down (0: none)"))
}

#[cfg(feature = "openapi")]
fn point_value_schema() -> utoipa::openapi::schema::ObjectBuilder {
    crate::schema::integer(1, MAX_POINT_VALUE_CENTS).description(Some("What one redeemed point takes off, in minor units"))
}

impl Default for PointsRule {
    fn default() -> Self {
        PointsRule { earn_per_unit: 1, point_value_cents: 1 }
    }
}

/// A receipt's number: the store, the device's own number, the device's sequence.
pub fn receipt_number(store_id: i64, device_id: &str, seq: i64) -> String {
    let short = device_id.strip_prefix(&format!("kiosk-{store_id}-")).unwrap_or(device_id);
    format!("{store_id}-{short}-{seq:06}")
}

/// The store a receipt number names (`3-2-000017` is store 3's), if it is one.
pub fn receipt_store(number: &str) -> Option<i64> {
    let mut parts = number.split('-');
    let store = parts.next()?.parse().ok()?;
    (parts.count() == 2).then_some(store)
}

/// The basket priced: what a sale of `lines` with `points_redeemed` costs and earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub tax: Vec<TaxLine>,
    pub points_earned: i64,
}

/// Prices `lines`: the discount of the redeemed points (never more than the subtotal) is
/// shared between the tax rates in proportion to what each rate's lines cost, and each
/// rate's tax is taken out of what is paid at it (rounded half up).
pub fn price(lines: &[ReceiptLine], points_redeemed: i64, rule: PointsRule, earns: bool) -> Priced {
    let subtotal_cents: i64 = lines.iter().map(ReceiptLine::total_cents).sum();
    let discount_cents = (points_redeemed * rule.point_value_cents).min(subtotal_cents.max(0));
    let total_cents = subtotal_cents - discount_cents;
    let mut rates: Vec<(i64, i64)> = Vec::new();
    for l in lines {
        match rates.iter_mut().find(|(bp, _)| *bp == l.vat_bp) {
            Some((_, gross)) => *gross += l.total_cents(),
            None => rates.push((l.vat_bp, l.total_cents())),
        }
    }
    rates.sort_by_key(|&(bp, _)| std::cmp::Reverse(bp));
    // Each rate's share of the discount, the remainder to the rate that costs most.
    let mut shares: Vec<i64> = rates.iter().map(|(_, g)| if subtotal_cents == 0 { 0 } else { discount_cents * g / subtotal_cents }).collect();
    if let Some(biggest) = (0..rates.len()).max_by_key(|&i| (rates[i].1, std::cmp::Reverse(i))) {
        shares[biggest] += discount_cents - shares.iter().sum::<i64>();
    }
    let tax = rates
        .iter()
        .zip(shares)
        .map(|(&(vat_bp, gross), share)| {
            let gross_cents = gross - share;
            // Half up on the size, so a return's tax mirrors the sale's.
            let size = (2 * gross_cents.abs() * 10_000 + 10_000 + vat_bp) / (2 * (10_000 + vat_bp));
            let net_cents = size * gross_cents.signum();
            TaxLine { vat_bp, gross_cents, net_cents, tax_cents: gross_cents - net_cents }
        })
        .collect();
    let points_earned = if earns { total_cents.max(0) / 100 * rule.earn_per_unit } else { 0 };
    Priced { subtotal_cents, discount_cents, total_cents, tax, points_earned: points_earned.min(MAX_POINTS_PER_OP) }
}

/// What the tenders come to against `total_cents`: the change, or why the sale cannot
/// complete (payment short, a card without its reference, change asked of a card).
pub fn settle(tenders: &[Tender], total_cents: i64) -> Result<i64, Rejection> {
    if tenders.is_empty() {
        return Err(Rejection::new("payment_short", format!("nothing paid yet; {} to pay", plain(total_cents))));
    }
    for t in tenders {
        if t.cents <= 0 || t.cents > 100 * MAX_UNIT_CENTS {
            return Err(Rejection::new("bad_tender", "each payment must be more than zero"));
        }
        if t.method == TenderMethod::Points {
            return Err(Rejection::new("bad_tender", "points pay for a sale by being redeemed, not as a tender"));
        }
        if t.method == TenderMethod::Card && t.reference.as_deref().is_none_or(|r| r.trim().is_empty() || r.chars().count() > MAX_ID_CHARS) {
            return Err(Rejection::new("card_reference", "a card payment needs the terminal's reference (1-64 characters)"));
        }
    }
    let paid: i64 = tenders.iter().map(|t| t.cents).sum();
    if paid < total_cents {
        return Err(Rejection::new(
            "payment_short",
            format!("{} paid, {} to pay: {} short", plain(paid), plain(total_cents), plain(total_cents - paid)),
        ));
    }
    let cash: i64 = tenders.iter().filter(|t| t.method == TenderMethod::Cash).map(|t| t.cents).sum();
    let change = paid - total_cents;
    if change > cash {
        return Err(Rejection::new("card_overpaid", "a card cannot be charged more than is left to pay"));
    }
    Ok(change)
}

/// How `refund_cents` goes back to the shopper: exactly, in cash, to the card (its
/// terminal's reference) or as points (to a known shopper). Nothing is "change" on a refund.
pub fn settle_refund(tenders: &[Tender], refund_cents: i64, customer: bool) -> Result<(), Rejection> {
    if tenders.is_empty() {
        return Err(Rejection::new("refund_mismatch", format!("nothing refunded yet; {} to refund", plain(refund_cents))));
    }
    for t in tenders {
        if t.cents <= 0 || t.cents > 100 * MAX_UNIT_CENTS {
            return Err(Rejection::new("bad_tender", "each refund must be more than zero"));
        }
        if t.method == TenderMethod::Card && t.reference.as_deref().is_none_or(|r| r.trim().is_empty() || r.chars().count() > MAX_ID_CHARS) {
            return Err(Rejection::new("card_reference", "a refund to a card needs the terminal's reference (1-64 characters)"));
        }
        if t.method == TenderMethod::Points && !customer {
            return Err(Rejection::new("no_customer", "a refund as points needs the shopper's card or app code"));
        }
    }
    let given: i64 = tenders.iter().map(|t| t.cents).sum();
    if given != refund_cents {
        return Err(Rejection::new("refund_mismatch", format!("{} is to be refunded, not {}", plain(refund_cents), plain(given))));
    }
    Ok(())
}

/// Minor units as `12.40` in a message (the screen formats money in the shopper's locale).
fn plain(cents: i64) -> String {
    format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
}

/// A basket being paid for, before it is a receipt.
#[derive(Debug, Clone)]
pub struct SaleDraft<'a> {
    pub store_id: i64,
    pub device_id: &'a str,
    /// The device's next receipt sequence.
    pub seq: i64,
    pub staff_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub currency: &'a str,
    pub lines: Vec<ReceiptLine>,
    pub points_redeemed: i64,
    pub tenders: Vec<Tender>,
    pub rule: PointsRule,
    pub at: i64,
    /// The hash of the device's previous receipt ([`GENESIS_HASH`] for its first).
    pub prev_hash: &'a str,
}

impl SaleDraft<'_> {
    /// The receipt of this sale: priced, settled, numbered and sealed — or why it cannot
    /// be (an empty basket, a bad quantity, payment short, …).
    pub fn receipt(self) -> Result<Receipt, Rejection> {
        if self.customer_id.is_none() && self.points_redeemed > 0 {
            return Err(Rejection::new("no_customer", "points need the shopper's card or app code"));
        }
        let priced = price(&self.lines, self.points_redeemed, self.rule, self.customer_id.is_some());
        if self.points_redeemed > 0 && priced.discount_cents < self.points_redeemed * self.rule.point_value_cents {
            return Err(Rejection::new(
                "redeem_over_total",
                format!("{} points are worth more than the basket: redeem at most {}", self.points_redeemed, priced.subtotal_cents / self.rule.point_value_cents.max(1)),
            ));
        }
        let change_cents = settle(&self.tenders, priced.total_cents)?;
        let receipt = Receipt {
            number: receipt_number(self.store_id, self.device_id, self.seq),
            seq: self.seq,
            kind: ReceiptKind::Sale,
            store_id: self.store_id,
            device_id: self.device_id.to_string(),
            staff_id: self.staff_id.to_string(),
            customer_id: self.customer_id.map(str::to_string),
            currency: self.currency.to_string(),
            lines: self.lines,
            subtotal_cents: priced.subtotal_cents,
            discount_cents: priced.discount_cents,
            total_cents: priced.total_cents,
            tax: priced.tax,
            tenders: self.tenders,
            change_cents,
            points_earned: priced.points_earned,
            points_redeemed: self.points_redeemed,
            points_refunded: 0,
            reason: None,
            at: self.at,
            prev_hash: self.prev_hash.to_string(),
            hash: String::new(),
        }
        .seal();
        receipt.validate()?;
        Ok(receipt)
    }
}

impl Receipt {
    /// SHA-256 (hex) of the receipt with `hash` left empty.
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        hex::encode(Sha256::digest(serde_json::to_vec(&unhashed).expect("a receipt serialises")))
    }

    /// Fills `hash`; the last step of making a receipt.
    pub fn seal(mut self) -> Receipt {
        self.hash = self.compute_hash();
        self
    }

    pub fn paid_cents(&self) -> i64 {
        self.tenders.iter().map(|t| t.cents).sum()
    }

    /// The receipt's own rules, before any state is looked at: its lines, that its totals,
    /// tax and change follow from them, its number, and its hash.
    pub fn validate(&self) -> Result<(), Rejection> {
        let bad = |m: String| Err(Rejection::new("bad_receipt", m));
        if self.lines.is_empty() {
            return Err(Rejection::new("empty_basket", "the basket is empty"));
        }
        if self.lines.len() > MAX_LINES {
            return bad(format!("at most {MAX_LINES} lines on one receipt"));
        }
        let returning = self.lines.iter().any(|l| l.origin.is_some());
        if returning != (self.kind == ReceiptKind::Return) {
            return bad(format!("a receipt with returned lines is a return; receipt {} is a {:?}", self.number, self.kind));
        }
        for l in &self.lines {
            // The retailer's SKU: a barcode in the seed's catalogue, any id in a real one.
            if !crate::catalogue::is_id(&l.sku) {
                return Err(Rejection::new("bad_product", format!("{:?} is not a product's SKU", l.sku)));
            }
            if l.origin.is_some() && !(1..=MAX_QTY).contains(&-l.qty) {
                return Err(Rejection::new("bad_quantity", format!("the returned quantity of {} must be 1 to {MAX_QTY}, not {}", l.name, -l.qty)));
            }
            if l.origin.is_none() && !(1..=MAX_QTY).contains(&l.qty) {
                return Err(Rejection::new("bad_quantity", format!("the quantity of {} must be 1 to {MAX_QTY}, not {}", l.name, l.qty)));
            }
            if l.origin.as_deref().is_some_and(|o| o.trim().is_empty() || o.len() > 64) || (l.origin.is_some() && l.from_cart) {
                return bad(format!("returned line {} names no receipt or order", l.sku));
            }
            if !(0..=MAX_UNIT_CENTS).contains(&l.price_cents) || !(0..=10_000).contains(&l.vat_bp) {
                return bad(format!("{} has a price or tax rate out of range", l.sku));
            }
            if l.name.chars().count() > MAX_TEXT_CHARS {
                return bad(format!("the name of {} is longer than {MAX_TEXT_CHARS} characters", l.sku));
            }
        }
        // Every text on a receipt is bounded (a card reference where the tenders settle): a
        // device cannot make the hub keep a novel.
        let ids = [Some(self.staff_id.as_str()), self.customer_id.as_deref(), Some(self.device_id.as_str()), Some(self.currency.as_str())];
        if ids.into_iter().flatten().any(|t| t.chars().count() > MAX_ID_CHARS) || self.tenders.len() > MAX_LINES {
            return bad(format!("an id is longer than {MAX_ID_CHARS} characters, or there are more than {MAX_LINES} tenders"));
        }
        let points = 0..=MAX_POINTS_PER_OP;
        let points_ok = if returning {
            (-MAX_POINTS_PER_OP..=MAX_POINTS_PER_OP).contains(&self.points_earned)
                && (-MAX_POINTS_PER_OP..=0).contains(&self.points_redeemed)
                && points.contains(&self.points_refunded)
        } else {
            points.contains(&self.points_redeemed) && points.contains(&self.points_earned) && self.points_refunded == 0
        };
        if !points_ok {
            return bad(format!("points out of range (at most {MAX_POINTS_PER_OP} per receipt)"));
        }
        if self.customer_id.is_none() && (self.points_redeemed != 0 || self.points_earned != 0 || self.points_refunded != 0) {
            return Err(Rejection::new("no_customer", "points need the shopper's card or app code"));
        }
        match (&self.reason, returning) {
            (Some(r), true) if !r.trim().is_empty() && r.chars().count() <= 200 => {}
            (None, false) => {}
            (_, true) => return Err(Rejection::new("return_reason", "a return needs its reason (1-200 characters)")),
            (Some(_), false) => return bad("only a return has a reason".into()),
        }
        let subtotal: i64 = self.lines.iter().map(ReceiptLine::total_cents).sum();
        if self.subtotal_cents != subtotal
            || self.total_cents != self.subtotal_cents - self.discount_cents
            || !(0..=self.subtotal_cents.max(0)).contains(&self.discount_cents)
            || (returning && self.discount_cents != 0)
        {
            return bad("the totals do not add up to the lines".into());
        }
        let mut tax_sum = 0;
        for t in &self.tax {
            if t.net_cents + t.tax_cents != t.gross_cents || !self.lines.iter().any(|l| l.vat_bp == t.vat_bp) {
                return bad(format!("the tax at {} bp does not add up", t.vat_bp));
            }
            tax_sum += t.gross_cents;
        }
        if tax_sum != self.total_cents {
            return bad("the tax breakdown does not add up to the total".into());
        }
        let change = match self.total_cents {
            // An exchange that comes out even pays nothing either way.
            0 if returning && self.tenders.is_empty() => 0,
            t if t < 0 => settle_refund(&self.tenders, -t, self.customer_id.is_some()).map(|()| 0)?,
            t => settle(&self.tenders, t)?,
        };
        if change != self.change_cents {
            return bad(format!("the change is {}, not {}", plain(change), plain(self.change_cents)));
        }
        let as_points = self.tenders.iter().any(|t| t.method == TenderMethod::Points);
        if as_points != (self.points_refunded > 0) {
            return bad("a refund as points names the points it credits".into());
        }
        if self.seq < 1 || self.number != receipt_number(self.store_id, &self.device_id, self.seq) {
            return bad(format!("receipt number {} does not match its store, device and sequence", self.number));
        }
        if self.prev_hash.len() != 64 || !self.prev_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bad("the previous receipt's hash is not a SHA-256".into());
        }
        if self.hash != self.compute_hash() {
            return Err(Rejection::new("receipt_tampered", format!("receipt {} does not match its hash", self.number)));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn line(sku: &str, qty: i64, price_cents: i64, vat_bp: i64) -> ReceiptLine {
        ReceiptLine { sku: sku.into(), name: sku.into(), qty, price_cents, vat_bp, from_cart: false, origin: None }
    }

    pub(crate) fn cash(cents: i64) -> Tender {
        Tender { method: TenderMethod::Cash, cents, reference: None }
    }

    pub(crate) fn card(cents: i64, reference: Option<&str>) -> Tender {
        Tender { method: TenderMethod::Card, cents, reference: reference.map(Into::into) }
    }

    #[test]
    fn tax_is_taken_out_of_what_each_rate_paid() {
        // 2 × 12.30 at 23 % and 1 × 5.25 at 5 %: 24.60 holds 4.60 tax, 5.25 holds 0.25.
        let lines = [line("5900000000015", 2, 1230, 2300), line("5900000000022", 1, 525, 500)];
        let p = price(&lines, 0, PointsRule::default(), true);
        assert_eq!((p.subtotal_cents, p.total_cents, p.points_earned), (2985, 2985, 29));
        assert_eq!(p.tax[0], TaxLine { vat_bp: 2300, gross_cents: 2460, net_cents: 2000, tax_cents: 460 });
        assert_eq!(p.tax[1], TaxLine { vat_bp: 500, gross_cents: 525, net_cents: 500, tax_cents: 25 });
    }

    #[test]
    fn a_discount_is_shared_by_the_rates_and_never_exceeds_the_basket() {
        let lines = [line("5900000000015", 1, 3000, 2300), line("5900000000022", 1, 1000, 800)];
        let p = price(&lines, 400, PointsRule::default(), true);
        assert_eq!((p.discount_cents, p.total_cents), (400, 3600));
        assert_eq!(p.tax.iter().map(|t| t.gross_cents).collect::<Vec<_>>(), [2700, 900]);
        assert_eq!(p.tax.iter().map(|t| t.gross_cents).sum::<i64>(), p.total_cents);
        let all = price(&lines, 99_999, PointsRule::default(), true);
        assert_eq!((all.discount_cents, all.total_cents, all.points_earned), (4000, 0, 0));
        // Odd cents go to the rate that costs most, so the breakdown always adds up.
        let odd = price(&[line("5900000000015", 1, 101, 2300), line("5900000000022", 1, 101, 800)], 3, PointsRule::default(), true);
        assert_eq!(odd.tax.iter().map(|t| t.gross_cents).sum::<i64>(), 199);
    }

    #[test]
    fn tenders_settle_with_change_from_cash_only() {
        assert_eq!(settle(&[cash(5000)], 4321), Ok(679));
        assert_eq!(settle(&[card(2000, Some("A1")), cash(3000)], 4321), Ok(679));
        assert_eq!(settle(&[cash(4000)], 4321).unwrap_err().code, "payment_short");
        assert_eq!(settle(&[], 1).unwrap_err().code, "payment_short");
        assert_eq!(settle(&[card(4321, None)], 4321).unwrap_err().code, "card_reference");
        assert_eq!(settle(&[card(4321, Some("  "))], 4321).unwrap_err().code, "card_reference");
        assert_eq!(settle(&[card(5000, Some("A1"))], 4321).unwrap_err().code, "card_overpaid");
        assert_eq!(settle(&[cash(0)], 0).unwrap_err().code, "bad_tender");
    }

    pub(crate) fn draft(lines: Vec<ReceiptLine>, tenders: Vec<Tender>) -> SaleDraft<'static> {
        SaleDraft {
            store_id: 1,
            device_id: "kiosk-1-2",
            seq: 7,
            staff_id: "S1-STAFF",
            customer_id: Some("C1"),
            currency: "PLN",
            lines,
            points_redeemed: 0,
            tenders,
            rule: PointsRule::default(),
            at: 0,
            prev_hash: GENESIS_HASH,
        }
    }

    fn receipt() -> Receipt {
        draft(vec![line("5900000000015", 2, 1230, 2300)], vec![cash(3000)]).receipt().unwrap()
    }

    #[test]
    fn a_receipts_texts_are_bounded() {
        let mut long_name = line("5900000000015", 1, 1230, 2300);
        long_name.name = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(draft(vec![long_name], vec![cash(3000)]).receipt().unwrap_err().code, "bad_receipt");
        let l = vec![line("5900000000015", 1, 1230, 2300)];
        let long_id = "S".repeat(MAX_ID_CHARS + 1);
        assert_eq!(SaleDraft { staff_id: &long_id, ..draft(l.clone(), vec![cash(3000)]) }.receipt().unwrap_err().code, "bad_receipt");
        let reference = "R".repeat(MAX_ID_CHARS + 1);
        assert_eq!(draft(l.clone(), vec![card(1230, Some(&reference))]).receipt().unwrap_err().code, "card_reference");
        let longest = "R".repeat(MAX_ID_CHARS);
        assert!(draft(l, vec![card(1230, Some(&longest))]).receipt().is_ok(), "the longest reference is taken");
    }

    #[test]
    fn a_draft_that_cannot_be_paid_makes_no_receipt() {
        let l = || vec![line("5900000000015", 2, 1230, 2300)];
        assert_eq!(draft(vec![], vec![cash(1)]).receipt().unwrap_err().code, "empty_basket");
        assert_eq!(draft(l(), vec![cash(2000)]).receipt().unwrap_err().code, "payment_short");
        assert_eq!(draft(vec![line("5900000000015", 0, 1230, 2300)], vec![cash(1)]).receipt().unwrap_err().code, "bad_quantity");
        assert_eq!(SaleDraft { points_redeemed: 3000, ..draft(l(), vec![cash(1)]) }.receipt().unwrap_err().code, "redeem_over_total");
        assert_eq!(SaleDraft { customer_id: None, points_redeemed: 5, ..draft(l(), vec![cash(3000)]) }.receipt().unwrap_err().code, "no_customer");
        let r = SaleDraft { points_redeemed: 460, ..draft(l(), vec![card(2000, Some("T-991"))]) }.receipt().unwrap();
        assert_eq!((r.total_cents, r.change_cents, r.points_earned), (2000, 0, 20));
        let anonymous = SaleDraft { customer_id: None, ..draft(l(), vec![cash(3000)]) }.receipt().unwrap();
        assert_eq!(anonymous.points_earned, 0, "no shopper, no points");
    }

    #[test]
    fn a_sealed_receipt_is_valid_and_any_edit_shows() {
        let r = receipt();
        assert_eq!(r.number, "1-2-000007");
        assert_eq!(r.validate(), Ok(()));
        let mut edited = r.clone();
        edited.lines[0].price_cents = 1;
        assert_eq!(edited.validate().unwrap_err().code, "bad_receipt");
        let mut edited = r.clone();
        edited.tenders[0].cents = 2999;
        edited.change_cents = 539;
        assert_eq!(edited.validate().unwrap_err().code, "receipt_tampered");
        let mut edited = r.clone();
        edited.lines[0].qty = 0;
        assert_eq!(edited.validate().unwrap_err().code, "bad_quantity");
        let mut edited = r;
        edited.lines[0].qty = 10_000;
        assert_eq!(edited.validate().unwrap_err().code, "bad_quantity");
    }
}
