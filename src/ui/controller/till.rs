//! The till on the staff screen: products scanned or typed into a basket, a shopper's card
//! attaching the sale to them (and "buy here" taking their online cart in), points
//! redeemed within the balance and this device's offline allowance, cash, card and split
//! tenders, and "Pay" — one `LocalStore::complete_sale`, which records the sale and its
//! receipt in one transaction or refuses it with nothing recorded.
//!
//! "Return" takes goods back against a receipt or collected order ([`super::returns`]);
//! what is scanned into the basket meanwhile is sold in exchange, on the return's receipt.
//!
//! Prices, tax and change are `protocol::till`'s, the same arithmetic the receipt uses, so
//! what the screen shows before paying is what the receipt says.

use omnikiosk_protocol::money;
use omnikiosk_protocol::till::{price, settle, Priced, Receipt, ReceiptKind, ReceiptLine, Tender, TenderMethod};

use super::context::{refusal, Ctx, STAFF_LANGUAGE};
use super::returns::{Refund, Return, ReturnScreen};
use crate::domain::catalogue::{sellable, NotSold};
use crate::domain::shopper::ShopperView;
use crate::store::{Basket, BasketItem, OpError, ProductView, StaffMember};

/// What the till's keypad is typing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Entry {
    /// A product's barcode number.
    #[default]
    Code,
    /// Points to redeem.
    Points,
    /// Cash taken, in minor units.
    Cash,
    /// What the card terminal charges, in minor units.
    CardAmount,
    /// The card terminal's reference for the amount typed before.
    CardReference,
    /// The number of the receipt goods come back on.
    Receipt,
    /// The card terminal's reference for a return's card refund.
    RefundReference,
}

/// The line under the basket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TillNotice {
    #[default]
    None,
    /// A product code this store's catalogue does not have.
    UnknownProduct,
    /// A customer code this store has not cached (the till does not ask the hub).
    UnknownShopper,
    /// "Buy here" with nothing in the shopper's online cart.
    CartEmpty,
    /// The sale was refused; `notice_detail` says why. Nothing was recorded.
    Refused,
    /// The basket was voided before payment.
    Voided,
    /// Nothing can come back from that receipt, or the return was refused; `notice_detail`
    /// says why. Nothing was recorded.
    ReturnRefused,
    /// A product this store no longer sells (`notice_detail`: its name).
    Withdrawn,
    /// A product without a price at this store.
    Unpriced,
    /// A product priced in another currency than the store's.
    OtherCurrency,
}

impl From<NotSold> for TillNotice {
    fn from(why: NotSold) -> TillNotice {
        match why {
            NotSold::Withdrawn => TillNotice::Withdrawn,
            NotSold::Unpriced => TillNotice::Unpriced,
            NotSold::OtherCurrency => TillNotice::OtherCurrency,
        }
    }
}

/// One line of the basket or of a receipt, as shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TillRow {
    pub name: String,
    pub qty: i64,
    pub unit_price: String,
    pub total: String,
    pub from_cart: bool,
}

/// Tax of one rate: "23 %" and the amount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxRow {
    pub rate: String,
    pub tax: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenderRow {
    pub method: &'static str,
    pub amount: String,
    pub reference: String,
}

/// The receipt of the sale or return just made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptScreen {
    pub number: String,
    /// A return's receipt, and why the goods came back.
    pub is_return: bool,
    pub reason: String,
    pub lines: Vec<TillRow>,
    pub discount: String,
    pub total: String,
    pub tax: Vec<TaxRow>,
    pub tenders: Vec<TenderRow>,
    pub change: String,
    pub points_earned: i64,
    pub points_redeemed: i64,
}

/// What the till shows; empty when it is not open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TillScreen {
    pub lines: Vec<TillRow>,
    pub subtotal: String,
    pub discount: String,
    pub total: String,
    pub tax: Vec<TaxRow>,
    /// The shopper attached ("Anna K."), their points, and what may be redeemed now.
    pub shopper: String,
    pub shopper_points: i64,
    pub allowance: i64,
    pub max_redeem: i64,
    pub points_redeemed: i64,
    pub points_earned: i64,
    /// Lines in the attached shopper's online cart ("buy here").
    pub cart_lines: usize,
    pub tenders: Vec<TenderRow>,
    pub paid: String,
    /// What is still to pay (zero once paid in full).
    pub due: String,
    pub change: String,
    /// Why the tenders do not settle the total yet, in the rules' words ("" when they do).
    pub unsettled: String,
    pub can_pay: bool,
    pub entry: Entry,
    /// The amount being typed, as money ("£12.50").
    pub typed: String,
    /// The card amount waiting for its reference.
    pub card_amount: String,
    pub confirm_void: bool,
    pub notice: TillNotice,
    pub notice_detail: String,
    /// Shown after "Pay" until the next sale starts.
    pub receipt: Option<ReceiptScreen>,
    /// The return being put together, if one is.
    pub ret: Option<ReturnScreen>,
}

/// The shopper a sale is for.
struct Shopper {
    id: String,
    name: String,
    points: i64,
    cart: Vec<(String, i64)>,
}

/// The sale being rung up.
#[derive(Default)]
struct Sale {
    lines: Vec<ReceiptLine>,
    shopper: Option<Shopper>,
    points_redeemed: i64,
    tenders: Vec<Tender>,
    /// A card amount typed, waiting for the terminal's reference.
    card_cents: Option<i64>,
}

#[derive(Default)]
pub struct TillPart {
    /// The colleague selling, once the till is open.
    staff: Option<StaffMember>,
    sale: Sale,
    /// The store's currency (read when the till opens).
    currency: String,
    entry: Entry,
    typed_cents: i64,
    confirm_void: bool,
    notice: TillNotice,
    notice_detail: String,
    receipt: Option<Receipt>,
    /// A return under way: the basket's lines are its exchange.
    back: Option<Return>,
    screen: TillScreen,
}

impl TillPart {
    pub fn screen(&self) -> &TillScreen {
        &self.screen
    }

    pub fn is_open(&self) -> bool {
        self.staff.is_some()
    }

    /// Opens the till for `staff`, with a fresh basket.
    pub fn open(&mut self, ctx: &Ctx, staff: StaffMember) {
        *self = TillPart { staff: Some(staff), currency: ctx.currency(), ..TillPart::default() };
        self.show(ctx);
    }

    /// The receipt of the last sale stays on screen until something starts the next one.
    fn next_sale(&mut self) {
        if self.receipt.take().is_some() {
            self.sale = Sale::default();
        }
        self.notice = TillNotice::None;
        self.confirm_void = false;
    }

    /// "Next sale": the receipt goes, a fresh basket shows.
    pub fn start_next(&mut self, ctx: &Ctx) {
        self.next_sale();
        self.show(ctx);
    }

    /// A product scanned or typed: one more of it — unless the store may not sell it
    /// (withdrawn, unpriced here, priced in another currency), which the till says.
    pub fn add_product(&mut self, ctx: &Ctx, p: &ProductView) {
        self.next_sale();
        let p = &p.product;
        if let Err(why) = sellable(p, &self.currency) {
            self.notice = why.into();
            self.notice_detail = p.name.clone();
            return self.show(ctx);
        }
        match self.sale.lines.iter_mut().find(|l| l.sku == p.sku && !l.from_cart) {
            Some(line) => line.qty += 1,
            None => self.sale.lines.push(ReceiptLine {
                sku: p.sku.clone(),
                name: p.name.clone(),
                qty: 1,
                price_cents: p.price_cents,
                vat_bp: p.vat_bp,
                from_cart: false,
                origin: None,
            }),
        }
        self.show(ctx);
    }

    /// A code the till cannot use (an unknown product, an uncached shopper).
    pub fn not_found(&mut self, ctx: &Ctx, notice: TillNotice, code: &str) {
        self.next_sale();
        self.notice = notice;
        self.notice_detail = code.trim().to_string();
        self.show(ctx);
    }

    /// One more (`delta` 1) or one less (−1) of the basket's line `index`; none left
    /// removes it.
    pub fn change_qty(&mut self, ctx: &Ctx, index: usize, delta: i64) {
        self.next_sale();
        if let Some(line) = self.sale.lines.get_mut(index) {
            line.qty += delta;
            if line.qty <= 0 {
                self.sale.lines.remove(index);
            }
        }
        self.show(ctx);
    }

    pub fn remove_line(&mut self, ctx: &Ctx, index: usize) {
        self.next_sale();
        if index < self.sale.lines.len() {
            self.sale.lines.remove(index);
        }
        self.show(ctx);
    }

    /// A shopper's card or app QR: the sale is theirs (points, "buy here").
    pub fn attach(&mut self, ctx: &Ctx, view: ShopperView) {
        self.next_sale();
        let c = &view.customer;
        self.sale.shopper = Some(Shopper {
            id: c.id.clone(),
            name: format!("{} {}.", c.first_name, c.last_initial),
            points: c.points,
            cart: view.cart.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect(),
        });
        self.sale.points_redeemed = 0;
        self.show(ctx);
    }

    /// "Buy here": the shopper's online cart into the basket; the lines bought leave the
    /// cart at the hub once the sale is made.
    pub fn buy_here(&mut self, ctx: &Ctx) {
        self.next_sale();
        let Some(shopper) = &self.sale.shopper else { return };
        let cart: Vec<(String, i64)> =
            shopper.cart.iter().filter(|(sku, _)| !self.sale.lines.iter().any(|l| l.from_cart && &l.sku == sku)).cloned().collect();
        if cart.is_empty() {
            self.notice = TillNotice::CartEmpty;
        }
        for (sku, qty) in cart {
            match ctx.store.product(&sku) {
                Ok(Some(p)) => match sellable(&p.product, &self.currency) {
                    Ok(()) => self.sale.lines.push(ReceiptLine {
                        sku,
                        name: p.product.name,
                        qty,
                        price_cents: p.product.price_cents,
                        vat_bp: p.product.vat_bp,
                        from_cart: true,
                        origin: None,
                    }),
                    Err(why) => {
                        self.notice = why.into();
                        self.notice_detail = p.product.name;
                    }
                },
                _ => {
                    self.notice = TillNotice::UnknownProduct;
                    self.notice_detail = sku;
                }
            }
        }
        self.show(ctx);
    }

    /// What the keypad types next.
    pub fn choose_entry(&mut self, ctx: &Ctx, entry: Entry) {
        self.next_sale();
        self.entry = entry;
        self.typed_cents = 0;
        if entry != Entry::CardReference {
            self.sale.card_cents = None;
        }
        self.show(ctx);
    }

    /// The digits on the keypad so far (shown as money while an amount is typed).
    pub fn typing(&mut self, ctx: &Ctx, digits: &str) {
        self.typed_cents = digits.parse().unwrap_or(0);
        self.show(ctx);
    }

    /// The keypad's submit key, for the points or an amount (a product code goes through
    /// the scan path instead).
    pub fn entered(&mut self, ctx: &Ctx, digits: &str) {
        self.next_sale();
        let n: i64 = digits.trim().parse().unwrap_or(0);
        self.typed_cents = 0;
        match self.entry {
            Entry::Code => {}
            Entry::Points => {
                self.sale.points_redeemed = n;
                self.entry = Entry::Code;
            }
            Entry::Cash => self.pay(TenderMethod::Cash, n, None),
            Entry::CardAmount => {
                self.sale.card_cents = Some(n);
                self.entry = Entry::CardReference;
            }
            Entry::CardReference => {
                let cents = self.sale.card_cents.take().unwrap_or(0);
                self.pay(TenderMethod::Card, cents, Some(digits.trim().to_string()));
            }
            Entry::Receipt => return self.find_return(ctx, digits),
            Entry::RefundReference => {
                if let Some(back) = &mut self.back {
                    back.card_reference(digits);
                }
                self.entry = Entry::Code;
            }
        }
        self.show(ctx);
    }

    /// The rest of the total, exactly: in cash, or as the card's amount (its reference next).
    pub fn exact(&mut self, ctx: &Ctx) {
        self.next_sale();
        let due = self.due(&self.priced(ctx));
        match self.entry {
            Entry::CardAmount | Entry::CardReference => {
                self.sale.card_cents = Some(due);
                self.entry = Entry::CardReference;
            }
            _ => self.pay(TenderMethod::Cash, due, None),
        }
        self.show(ctx);
    }

    fn pay(&mut self, method: TenderMethod, cents: i64, reference: Option<String>) {
        if cents > 0 {
            self.sale.tenders.push(Tender { method, cents, reference });
        }
        self.entry = Entry::Code;
    }

    /// Takes back the payments entered (before "Pay").
    pub fn clear_tenders(&mut self, ctx: &Ctx) {
        self.next_sale();
        self.sale.tenders.clear();
        self.sale.card_cents = None;
        self.show(ctx);
    }

    /// "Void": asks first; `confirmed` cancels the basket. Nothing is recorded and no
    /// receipt number is used.
    pub fn void(&mut self, ctx: &Ctx, confirmed: Option<bool>) {
        match confirmed {
            None => {
                self.next_sale();
                self.confirm_void = !self.sale.lines.is_empty() || self.sale.shopper.is_some();
            }
            Some(true) => {
                self.sale = Sale::default();
                self.entry = Entry::Code;
                self.confirm_void = false;
                self.notice = TillNotice::Voided;
            }
            Some(false) => self.confirm_void = false,
        }
        self.show(ctx);
    }

    /// "Pay": the sale and its receipt recorded together, or refused with nothing
    /// recorded. Returns the receipt (for the printer).
    pub fn complete(&mut self, ctx: &Ctx) -> Option<Receipt> {
        let staff = self.staff.as_ref()?;
        let basket = Basket {
            staff_id: staff.id.clone(),
            customer_id: self.sale.shopper.as_ref().map(|s| s.id.clone()),
            items: self.sale.lines.iter().map(|l| BasketItem { sku: l.sku.clone(), qty: l.qty, from_cart: l.from_cart }).collect(),
            points_redeemed: self.sale.points_redeemed,
            tenders: self.sale.tenders.clone(),
        };
        let done = ctx.store.complete_sale(&basket, &ctx.settings.loyalty, ctx.now());
        self.recorded(ctx, done, TillNotice::Refused)
    }

    /// A sale or return recorded: its receipt shows (and is returned, for the printer); or
    /// refused, and `refused` says why.
    fn recorded(&mut self, ctx: &Ctx, done: Result<Receipt, OpError>, refused: TillNotice) -> Option<Receipt> {
        let receipt = match done {
            Ok(receipt) => {
                self.notice = TillNotice::None;
                self.receipt = Some(receipt.clone());
                self.back = None;
                self.entry = Entry::Code;
                Some(receipt)
            }
            Err(e) => {
                self.notice = refused;
                self.notice_detail = refusal(e);
                None
            }
        };
        self.show(ctx);
        receipt
    }

    /// "Return": the keypad takes the receipt's number (or a receipt's QR is scanned).
    pub fn start_return(&mut self, ctx: &Ctx) {
        self.choose_entry(ctx, Entry::Receipt);
    }

    /// The receipt or order goods come back on: its lines, or why nothing can come back.
    pub fn find_return(&mut self, ctx: &Ctx, origin: &str) {
        self.next_sale();
        self.entry = Entry::Code;
        match Return::find(ctx, origin) {
            Ok(back) => self.back = Some(back),
            Err(e) => {
                self.notice = TillNotice::ReturnRefused;
                self.notice_detail = refusal(e);
            }
        }
        self.show(ctx);
    }

    /// The return on screen, to change; nothing when none is under way.
    fn with_return(&mut self, ctx: &Ctx, change: impl FnOnce(&mut Return)) {
        self.next_sale();
        if let Some(back) = &mut self.back {
            change(back);
        }
        self.show(ctx);
    }

    pub fn return_qty(&mut self, ctx: &Ctx, index: usize, delta: i64) {
        self.with_return(ctx, |b| b.change_qty(index, delta));
    }

    pub fn return_reason(&mut self, ctx: &Ctx, index: usize) {
        self.with_return(ctx, |b| b.choose_reason(index));
    }

    /// How the balance goes back; a card's reference is typed next.
    pub fn return_refund(&mut self, ctx: &Ctx, refund: Refund) {
        self.entry = if refund == Refund::Card { Entry::RefundReference } else { Entry::Code };
        self.with_return(ctx, |b| b.choose_refund(refund));
    }

    /// Leaves the return; the basket stays a sale.
    pub fn cancel_return(&mut self, ctx: &Ctx) {
        self.back = None;
        self.entry = Entry::Code;
        self.start_next(ctx);
    }

    /// "Complete return": the return's receipt and op recorded together, or refused with
    /// nothing recorded. Returns the receipt (for the printer).
    pub fn complete_return(&mut self, ctx: &Ctx) -> Option<Receipt> {
        let (staff, back) = (self.staff.as_ref()?, self.back.as_ref()?);
        let sold = self.sale.lines.iter().map(|l| BasketItem { sku: l.sku.clone(), qty: l.qty, from_cart: false }).collect();
        let done = ctx.store.complete_return(&back.request(ctx, &staff.id, sold), &ctx.settings.loyalty, ctx.now());
        self.recorded(ctx, done, TillNotice::ReturnRefused)
    }

    pub fn end(&mut self) {
        *self = TillPart::default();
    }

    fn priced(&self, ctx: &Ctx) -> Priced {
        price(&self.sale.lines, self.sale.points_redeemed, ctx.points_rule(), self.sale.shopper.is_some())
    }

    fn due(&self, priced: &Priced) -> i64 {
        (priced.total_cents - self.sale.tenders.iter().map(|t| t.cents).sum::<i64>()).max(0)
    }

    /// The most points this sale may take: the balance, the device's allowance, and no
    /// more than the basket costs.
    fn max_redeem(&self, ctx: &Ctx, subtotal_cents: i64) -> i64 {
        let Some(shopper) = &self.sale.shopper else { return 0 };
        let point = ctx.settings.loyalty.point_value_cents.max(1);
        let covers = (subtotal_cents + point - 1) / point;
        shopper.points.min(ctx.settings.loyalty.offline_redeem_allowance).min(covers).max(0)
    }

    fn money(&self, cents: i64) -> String {
        money::format(cents, &self.currency, STAFF_LANGUAGE)
    }

    fn show(&mut self, ctx: &Ctx) {
        let subtotal: i64 = self.sale.lines.iter().map(ReceiptLine::total_cents).sum();
        let max_redeem = self.max_redeem(ctx, subtotal);
        self.sale.points_redeemed = self.sale.points_redeemed.clamp(0, max_redeem);
        let priced = self.priced(ctx);
        let paid: i64 = self.sale.tenders.iter().map(|t| t.cents).sum();
        let settled = settle(&self.sale.tenders, priced.total_cents);
        let shopper = self.sale.shopper.as_ref();
        let m = |c| self.money(c);
        let ret = self.back.as_ref().map(|b| b.screen(ctx, subtotal, m));
        self.screen = TillScreen {
            lines: self.sale.lines.iter().map(|l| self.row(l)).collect(),
            subtotal: m(priced.subtotal_cents),
            discount: m(priced.discount_cents),
            total: m(priced.total_cents),
            tax: self.tax_rows(&priced.tax),
            shopper: shopper.map(|s| s.name.clone()).unwrap_or_default(),
            shopper_points: shopper.map_or(0, |s| s.points),
            allowance: ctx.settings.loyalty.offline_redeem_allowance,
            max_redeem,
            points_redeemed: self.sale.points_redeemed,
            points_earned: priced.points_earned,
            cart_lines: shopper.map_or(0, |s| s.cart.len()),
            tenders: self.sale.tenders.iter().map(|t| self.tender_row(t)).collect(),
            paid: m(paid),
            due: m(self.due(&priced)),
            change: m(settled.as_ref().copied().unwrap_or(0)),
            unsettled: match &settled {
                // Short is said by "Still to pay"; anything else in the rules' words.
                Err(r) if !self.sale.tenders.is_empty() && r.code != "payment_short" => r.message.clone(),
                _ => String::new(),
            },
            can_pay: settled.is_ok() && !self.sale.lines.is_empty(),
            entry: self.entry,
            typed: m(self.typed_cents),
            card_amount: self.sale.card_cents.map(m).unwrap_or_default(),
            confirm_void: self.confirm_void,
            notice: self.notice,
            notice_detail: self.notice_detail.clone(),
            ret,
            receipt: self.receipt.as_ref().map(|r| ReceiptScreen {
                number: r.number.clone(),
                is_return: r.kind == ReceiptKind::Return,
                reason: r.reason.clone().unwrap_or_default(),
                lines: r.lines.iter().map(|l| self.row(l)).collect(),
                discount: m(r.discount_cents),
                total: m(r.total_cents),
                tax: self.tax_rows(&r.tax),
                tenders: r.tenders.iter().map(|t| self.tender_row(t)).collect(),
                change: m(r.change_cents),
                points_earned: r.points_earned,
                points_redeemed: r.points_redeemed,
            }),
        };
    }

    fn row(&self, l: &ReceiptLine) -> TillRow {
        TillRow {
            name: l.name.clone(),
            qty: l.qty,
            unit_price: self.money(l.price_cents),
            total: self.money(l.total_cents()),
            from_cart: l.from_cart,
        }
    }

    fn tax_rows(&self, tax: &[omnikiosk_protocol::till::TaxLine]) -> Vec<TaxRow> {
        tax.iter().map(|t| TaxRow { rate: rate(t.vat_bp), tax: self.money(t.tax_cents) }).collect()
    }

    fn tender_row(&self, t: &Tender) -> TenderRow {
        TenderRow {
            method: t.method.as_str(),
            amount: self.money(t.cents),
            reference: t.reference.clone().unwrap_or_default(),
        }
    }
}

/// A VAT rate in basis points as a percentage: 2300 → "23 %", 550 → "5.5 %".
pub(super) fn rate(bp: i64) -> String {
    if bp % 100 == 0 {
        format!("{} %", bp / 100)
    } else {
        format!("{}.{} %", bp / 100, format!("{:02}", bp % 100).trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    fn till(f: &Fixture, ctx: &Ctx, badge: &str) -> TillPart {
        let mut till = TillPart::default();
        till.open(ctx, f.store.staff_member(badge).unwrap().unwrap());
        till
    }

    fn scan(till: &mut TillPart, ctx: &Ctx, sku: &str) {
        till.add_product(ctx, &ctx.store.product(sku).unwrap().unwrap());
    }

    #[test]
    fn a_basket_counts_up_and_down_and_prices_as_the_receipt_will() {
        let (f, ctx) = Fixture::start();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        scan(&mut t, &ctx, "5901234123457");
        scan(&mut t, &ctx, "4006381333931");
        let s = t.screen();
        assert_eq!(s.lines.iter().map(|l| (l.name.as_str(), l.qty)).collect::<Vec<_>>(), [("Tea", 2), ("Pen", 1)]);
        assert_eq!((s.total.as_str(), s.lines[0].total.as_str()), ("zł\u{a0}14.97", "zł\u{a0}9.98"));
        assert_eq!(s.tax, [TaxRow { rate: "5 %".into(), tax: "zł\u{a0}0.71".into() }]);
        assert!(!s.can_pay, "nothing paid yet");
        t.change_qty(&ctx, 1, -1);
        t.change_qty(&ctx, 0, 1);
        assert_eq!(t.screen().lines.iter().map(|l| l.qty).collect::<Vec<_>>(), [3], "a line at none is gone");
        t.remove_line(&ctx, 0);
        assert!(t.screen().lines.is_empty());
    }

    /// The retailer's feed decides what the till sells: a product found by any of its
    /// barcodes goes in the basket; a withdrawn one, one without a price here and one
    /// priced in another currency are refused in the till's words, the basket unchanged.
    /// What was sold before it was withdrawn still comes back against its receipt.
    #[test]
    fn the_till_sells_what_the_feed_lets_it_and_takes_back_what_it_sold() {
        use omnikiosk_protocol::till::{Tender, TenderMethod};
        use omnikiosk_protocol::wire::{ProductRecord, ProductStatus};
        let (f, ctx) = Fixture::start();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        t.exact(&ctx);
        let sold = t.complete(&ctx).expect("Tea sold while active");
        let product = |sku: &str, name: &str, gtin: &str, status, currency: &str| ProductRecord {
            sku: sku.into(),
            name: name.into(),
            price_cents: 899,
            category: "food".into(),
            vat_bp: 500,
            gtins: vec![gtin.into()],
            status,
            currency: currency.into(),
            ..Default::default()
        };
        f.sells(product("5901234123457", "Tea", "5901234123457", ProductStatus::Withdrawn, "PLN"));
        f.sells(product("KAWA-1", "Coffee", "5900000000011", ProductStatus::Active, "PLN"));
        f.sells(product("KAWA-2", "Decaf", "5900000000028", ProductStatus::Unpriced, ""));
        f.sells(product("KAWA-3", "Espresso", "5900000000035", ProductStatus::Active, "EUR"));
        let by_code = |t: &mut TillPart, code: &str| t.add_product(&ctx, &ctx.store.product_by_code(code).unwrap().expect(code));
        for (code, notice, detail) in [
            ("5900000000011", TillNotice::None, ""),
            ("5901234123457", TillNotice::Withdrawn, "Tea"),
            ("5900000000028", TillNotice::Unpriced, "Decaf"),
            ("5900000000035", TillNotice::OtherCurrency, "Espresso"),
            ("KAWA-1", TillNotice::None, ""),
        ] {
            by_code(&mut t, code);
            assert_eq!(t.screen().notice, notice, "{code}");
            if notice != TillNotice::None {
                assert_eq!(t.screen().notice_detail, detail, "{code}: the product named");
            }
        }
        assert_eq!(t.screen().lines.iter().map(|l| (l.name.as_str(), l.qty)).collect::<Vec<_>>(), [("Coffee", 2)], "only what may be sold");

        // The command line's way in: the whole basket refused, no receipt number used.
        let basket = |sku: &str| crate::store::Basket {
            staff_id: "S1-STAFF".into(),
            customer_id: None,
            items: vec![BasketItem { sku: sku.into(), qty: 1, from_cart: false }],
            points_redeemed: 0,
            tenders: vec![Tender { method: TenderMethod::Cash, cents: 10_000, reference: None }],
        };
        for (sku, said) in [("5901234123457", "Tea is no longer sold"), ("KAWA-2", "Decaf has no price at this store"), ("KAWA-3", "Espresso is priced in EUR, not in this store's PLN")] {
            match ctx.store.complete_sale(&basket(sku), &ctx.settings.loyalty, ctx.now()) {
                Err(OpError::Refused(r)) => assert_eq!(r.message, said),
                other => panic!("{sku} sold: {other:?}"),
            }
        }
        assert_eq!(ctx.store.receipts(10).unwrap().len(), 1, "only the first sale has a receipt");

        let back = crate::store::ReturnRequest {
            staff_id: "S1-STAFF".into(),
            origin: sold.number.clone(),
            items: vec![],
            sold: vec![],
            reason: "damaged".into(),
            tenders: vec![Tender { method: TenderMethod::Cash, cents: 0, reference: None }],
        };
        let returned = ctx.store.complete_return(&back, &ctx.settings.loyalty, ctx.now()).expect("a withdrawn product comes back");
        assert_eq!((returned.lines[0].name.as_str(), returned.total_cents), ("Tea", -499));
    }

    #[test]
    fn pay_needs_the_whole_total_and_a_card_needs_its_reference() {
        let (f, ctx) = Fixture::start();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        t.choose_entry(&ctx, Entry::Cash);
        t.entered(&ctx, "300");
        let s = t.screen();
        assert!(!s.can_pay);
        assert_eq!((s.due.as_str(), s.unsettled.as_str()), ("zł\u{a0}1.99", ""), "short: \"still to pay\" says it");
        t.choose_entry(&ctx, Entry::CardAmount);
        t.exact(&ctx);
        assert_eq!((t.screen().entry, t.screen().card_amount.as_str()), (Entry::CardReference, "zł\u{a0}1.99"));
        t.entered(&ctx, "4711");
        assert!(t.screen().can_pay);
        let receipt = t.complete(&ctx).expect("paid in full");
        assert_eq!(receipt.tenders.len(), 2);
        assert_eq!(t.screen().receipt.as_ref().map(|r| r.number.as_str()), Some(receipt.number.as_str()));
        scan(&mut t, &ctx, "4006381333931");
        assert!(t.screen().receipt.is_none() && t.screen().lines.len() == 1, "the next scan starts a fresh basket");
        assert!(t.screen().tenders.is_empty());
    }

    #[test]
    fn points_are_bounded_by_the_balance_and_the_allowance_and_buy_here_takes_the_cart() {
        let (f, mut ctx) = Fixture::start();
        ctx.settings.loyalty.offline_redeem_allowance = 100;
        ctx.record(omnikiosk_protocol::ops::OpBody::CartAdd { customer_id: "C-ANNA".into(), sku: "4006381333931".into() }).unwrap();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        t.attach(&ctx, ctx.store.shopper_view("C-ANNA").unwrap().unwrap());
        assert_eq!((t.screen().shopper.as_str(), t.screen().shopper_points, t.screen().cart_lines), ("Anna K.", 120, 1));
        t.buy_here(&ctx);
        t.buy_here(&ctx);
        let lines = &t.screen().lines;
        assert_eq!(lines.iter().map(|l| (l.name.as_str(), l.from_cart)).collect::<Vec<_>>(), [("Tea", false), ("Pen", true)], "taken once");
        t.choose_entry(&ctx, Entry::Points);
        t.entered(&ctx, "500");
        assert_eq!((t.screen().points_redeemed, t.screen().max_redeem), (100, 100), "the allowance bounds it");
        assert_eq!(t.screen().total, "zł\u{a0}8.98");
        t.exact(&ctx);
        let receipt = t.complete(&ctx).unwrap();
        assert_eq!((receipt.points_redeemed, receipt.points_earned, receipt.customer_id.as_deref()), (100, 8, Some("C-ANNA")));
    }

    /// The chain's rule pulled from the hub is what the till prices and earns by for the
    /// store's currency; a rule for another currency leaves the config's in force.
    #[test]
    fn the_till_earns_and_redeems_by_the_chains_rule_once_pulled() {
        use omnikiosk_protocol::till::PointsRule;
        use omnikiosk_protocol::wire::{Change, LoyaltyRules};
        let (f, ctx) = Fixture::start();
        let rule = |currency: &str| {
            Change::LoyaltyRule(LoyaltyRules { rules: [(currency.to_string(), PointsRule { earn_per_unit: 3, point_value_cents: 2 })].into() })
        };
        ctx.store.apply_page(&[rule("GBP")], "c1", super::super::fixture::NOW).unwrap();
        assert_eq!(ctx.points_rule(), ctx.settings.loyalty.points_rule(), "no rule for the złoty: the config's");
        ctx.store.apply_page(&[rule("PLN")], "c2", super::super::fixture::NOW).unwrap();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        scan(&mut t, &ctx, "5901234123457");
        scan(&mut t, &ctx, "4006381333931");
        t.attach(&ctx, ctx.store.shopper_view("C-ANNA").unwrap().unwrap());
        t.choose_entry(&ctx, Entry::Points);
        t.entered(&ctx, "10");
        assert_eq!(t.screen().total, "zł\u{a0}14.77", "10 points at 2 grosze take 0.20 off 14.97");
        t.exact(&ctx);
        let receipt = t.complete(&ctx).unwrap();
        assert_eq!((receipt.points_redeemed, receipt.points_earned), (10, 42), "14 whole złoty paid (rounded down) at 3 points each");
    }

    #[test]
    fn a_void_uses_no_receipt_number_and_a_badge_without_the_till_sees_why() {
        let (f, ctx) = Fixture::start();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        t.void(&ctx, None);
        assert!(t.screen().confirm_void);
        t.void(&ctx, Some(false));
        assert_eq!(t.screen().lines.len(), 1, "kept");
        t.void(&ctx, None);
        t.void(&ctx, Some(true));
        assert!(t.screen().lines.is_empty());
        assert_eq!(t.screen().notice, TillNotice::Voided);
        assert!(ctx.store.receipts(10).unwrap().is_empty());

        let mut t = till(&f, &ctx, "S1-HELPER");
        scan(&mut t, &ctx, "5901234123457");
        t.exact(&ctx);
        assert!(t.complete(&ctx).is_none());
        assert_eq!((t.screen().notice, t.screen().notice_detail.as_str()), (TillNotice::Refused, "staff S1-HELPER may not work the till"));
        assert!(ctx.store.receipts(10).unwrap().is_empty(), "nothing recorded");
    }

    #[test]
    fn a_return_takes_back_no_more_than_was_bought_and_an_unknown_receipt_says_why() {
        let (f, ctx) = Fixture::start();
        let mut t = till(&f, &ctx, "S1-STAFF");
        scan(&mut t, &ctx, "5901234123457");
        t.exact(&ctx);
        let sale = t.complete(&ctx).unwrap();
        t.start_return(&ctx);
        t.entered(&ctx, "1");
        assert_eq!(t.screen().ret.as_ref().map(|r| r.reference.as_str()), Some(sale.number.as_str()), "found by its sequence");
        t.return_qty(&ctx, 0, 1);
        t.return_qty(&ctx, 0, 1);
        let r = t.screen().ret.clone().unwrap();
        assert_eq!((r.lines[0].qty, r.balance.as_str(), r.refunding), (1, "zł\u{a0}4.99", true));
        assert!(!r.can_complete, "no reason yet");
        t.return_reason(&ctx, 0);
        t.return_refund(&ctx, Refund::Card);
        assert!(!t.screen().ret.as_ref().unwrap().can_complete, "a card needs its reference");
        t.entered(&ctx, "4711");
        let back = t.complete_return(&ctx).expect("returned");
        assert_eq!((back.total_cents, back.tenders[0].reference.as_deref()), (-499, Some("4711")));
        assert!(t.screen().receipt.as_ref().is_some_and(|r| r.is_return && r.reason == "damaged"));
        t.start_return(&ctx);
        t.entered(&ctx, "99");
        assert_eq!(t.screen().notice, TillNotice::ReturnRefused);
        assert!(t.screen().ret.is_none());
        assert_eq!(ctx.store.receipts(10).unwrap().len(), 2, "nothing more recorded");
    }

    #[test]
    fn rates_read_as_percentages() {
        assert_eq!([rate(2300), rate(550), rate(0), rate(805)], ["23 %", "5.5 %", "0 %", "8.05 %"]);
    }
}
