//! `omnikiosk sale`, `receipts`, `receipt`, `return` and `shift`: the till from the
//! command line, through the same `LocalStore` calls as the touchscreen's till.

use omnikiosk_protocol::gtin::Gtin;
use omnikiosk_protocol::money;
use omnikiosk_protocol::till::{Receipt, ReceiptKind, Tender, TenderMethod};

use super::{emit, out, CmdResult, Failure, ScanFailure};
use crate::clock::{self, unix_now};
use crate::config::Config;
use crate::resolve::{resolve_local, LocalAnswer, Resolution};
use crate::store::{Basket, BasketItem, CashMoveRequest, LocalStore, OpError, ReturnRequest};

/// A receipt as `sale --json` and `receipt --json` print it: the receipt, and the signed
/// code its QR holds (what opens the e-receipt).
#[derive(serde::Serialize)]
struct Printed<'a> {
    #[serde(flatten)]
    receipt: &'a Receipt,
    qr: String,
}

/// What `sale` was given, as typed.
pub struct SaleArgs {
    pub staff: String,
    pub customer: Option<String>,
    pub items: Vec<String>,
    pub cart: bool,
    pub redeem: Option<i64>,
    pub pay: Vec<String>,
}

fn usage(message: String) -> Failure {
    Failure { message, code: 2 }
}

/// `CODE` or `CODExQTY`: a product by any of its barcodes or its SKU, and how many. A code
/// the catalogue does not know must at least be a barcode with a right check digit (the
/// sale or return then says it is not in the catalogue).
fn parse_item(store: &LocalStore, text: &str) -> Result<BasketItem, Failure> {
    // A retailer's SKU may hold an x itself (`BOX-12`): the whole text first.
    if let Some(found) = store.product_by_code(text.trim())? {
        return Ok(BasketItem { sku: found.product.sku, qty: 1, from_cart: false });
    }
    let (code, qty) = match text.trim().rsplit_once(['x', 'X', '*']) {
        Some((code, qty)) => {
            let qty = qty.parse::<i64>().map_err(|_| usage(format!("--item {text:?}: the quantity after x must be a whole number")))?;
            (code, qty)
        }
        None => (text.trim(), 1),
    };
    let sku = match store.product_by_code(code)? {
        Some(found) => found.product.sku,
        None => Gtin::parse(code).map_err(|e| usage(format!("--item {text:?}: {e}")))?.as_str().to_string(),
    };
    Ok(BasketItem { sku, qty, from_cart: false })
}

/// `cash:CENTS`, `card:CENTS` or `card:CENTS:REF`.
fn parse_tender(text: &str) -> Result<Tender, Failure> {
    let mut parts = text.splitn(3, ':');
    let method = match parts.next() {
        Some("cash") => TenderMethod::Cash,
        Some("card") => TenderMethod::Card,
        _ => return Err(usage(format!("--pay {text:?}: expected cash:CENTS or card:CENTS[:REF]"))),
    };
    let cents = parts
        .next()
        .and_then(|c| c.parse::<i64>().ok())
        .ok_or_else(|| usage(format!("--pay {text:?}: the amount must be whole minor units (1240 for 12.40)")))?;
    let reference = parts.next().map(str::to_string);
    if method == TenderMethod::Cash && reference.is_some() {
        return Err(usage(format!("--pay {text:?}: cash takes no reference")));
    }
    Ok(Tender { method, cents, reference })
}

/// The shopper a code names, from what this device knows (a sale needs their points and
/// cart here, so a shopper the store has not cached yet must sync first).
fn shopper(store: &LocalStore, cfg: &Config, code: &str) -> Result<crate::domain::shopper::ShopperView, Failure> {
    if let Some(view) = store.shopper_view(code.trim())? {
        return Ok(view);
    }
    match resolve_local(store, &cfg.scan.loyalty_prefix, code, unix_now()) {
        Ok(LocalAnswer::Found(found)) => match found.resolution {
            Resolution::Shopper(view) => Ok(view),
            _ => Err(Failure { message: format!("{code:?} is a {} code, not a shopper's card or app code", found.code_kind), code: 3 }),
        },
        Ok(LocalAnswer::AskHub(_)) => Err(Failure {
            message: "this shopper is not cached at this store yet: scan their code at the kiosk (or sync) first".into(),
            code: 3,
        }),
        Err(e) => Err(Failure { message: e.to_string(), code: 3 }),
    }
}

pub fn sale(store: &LocalStore, cfg: &Config, args: SaleArgs, json: bool) -> CmdResult {
    store.require_enrolment()?;
    let mut items: Vec<BasketItem> = Vec::new();
    for text in &args.items {
        let item = parse_item(store, text)?;
        match items.iter_mut().find(|i| i.sku == item.sku && !i.from_cart) {
            Some(same) => same.qty += item.qty,
            None => items.push(item),
        }
    }
    let customer = args.customer.as_deref().map(|code| shopper(store, cfg, code)).transpose()?;
    if args.cart {
        let view = customer.as_ref().ok_or_else(|| usage("--cart takes the shopper's online cart: give --customer CODE".into()))?;
        if view.cart.lines.is_empty() {
            return Err(Failure { message: format!("{}'s online cart is empty", view.customer.first_name), code: 3 });
        }
        for line in &view.cart.lines {
            items.push(BasketItem { sku: line.sku.clone(), qty: line.qty, from_cart: true });
        }
    }
    let tenders = args.pay.iter().map(|t| parse_tender(t)).collect::<Result<Vec<_>, _>>()?;
    let basket = Basket {
        staff_id: args.staff,
        customer_id: customer.map(|c| c.customer.id),
        items,
        points_redeemed: args.redeem.unwrap_or(0),
        tenders,
    };
    let made = store.complete_sale(&basket, &cfg.loyalty, unix_now());
    receipt_made(store, cfg, made, "no sale", json)
}

/// A new receipt printed (when a printer is set) and shown, or why none was made.
fn receipt_made(store: &LocalStore, cfg: &Config, made: Result<Receipt, OpError>, what: &str, json: bool) -> CmdResult {
    let receipt = refused_as(made, what, json)?;
    print_if_configured(store, cfg, &receipt);
    let out = Printed { receipt: &receipt, qr: store.receipt_code(&receipt)? };
    emit(json, &out, || text(&receipt, &Local::of(store, cfg), false))
}

/// A refusal as the command line says it: the rules' words (and code, in JSON), exit 3.
fn refused_as<T>(made: Result<T, OpError>, what: &str, json: bool) -> Result<T, Failure> {
    match made {
        Ok(v) => Ok(v),
        Err(OpError::Refused(r)) => {
            if json {
                out(&serde_json::to_string_pretty(&ScanFailure { error: r.code, message: r.message.clone() })?);
            }
            Err(Failure { message: format!("{what}: {}", r.message), code: 3 })
        }
        Err(OpError::Store(e)) => Err(e.into()),
    }
}

/// What `return` was given, as typed.
pub struct ReturnArgs {
    pub origin: String,
    pub staff: String,
    pub items: Vec<String>,
    pub take: Vec<String>,
    pub refund: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
}

/// `cash`, `card` (with the terminal's `--reference`) or `points`: the whole balance goes
/// back that way.
fn parse_refund(text: &str, reference: Option<String>) -> Result<Tender, Failure> {
    let method = match text.trim() {
        "cash" => TenderMethod::Cash,
        "card" => TenderMethod::Card,
        "points" => TenderMethod::Points,
        _ => return Err(usage(format!("--refund {text:?}: expected cash, card or points"))),
    };
    if method != TenderMethod::Card && reference.is_some() {
        return Err(usage(format!("--reference is the card terminal's: a {text} refund takes none")));
    }
    Ok(Tender { method, cents: 0, reference })
}

/// `omnikiosk return`: the goods back, the return's receipt printed.
pub fn take_back(store: &LocalStore, cfg: &Config, args: ReturnArgs, json: bool) -> CmdResult {
    store.require_enrolment()?;
    let items = args.items.iter().map(|t| parse_item(store, t).map(|i| (i.sku, i.qty))).collect::<Result<Vec<_>, _>>()?;
    let sold = args.take.iter().map(|t| parse_item(store, t)).collect::<Result<Vec<_>, _>>()?;
    let tender = parse_refund(&args.refund, args.reference)?;
    let reason = refused_as(cfg.till.return_reason(args.reason.as_deref()).map_err(OpError::from), "no return", json)?;
    let origin = refused_as(scanned_origin(store, &args.origin), "no return", json)?;
    let req = ReturnRequest { staff_id: args.staff, origin, items, sold, reason, tenders: vec![tender] };
    let made = store.complete_return(&req, &cfg.loyalty, unix_now());
    receipt_made(store, cfg, made, "no return", json)
}

/// A typed receipt number or order id as it is; a receipt QR read only when the device
/// that printed it signed it.
fn scanned_origin(store: &LocalStore, text: &str) -> Result<String, OpError> {
    let text = text.trim();
    let Some(number) = omnikiosk_protocol::code::receipt_kind_of(text) else { return Ok(text.to_string()) };
    match store.scanned_receipt(&number, text)? {
        crate::store::ScannedReceipt::Here(_) | crate::store::ScannedReceipt::Elsewhere { .. } => Ok(number),
        crate::store::ScannedReceipt::Unknown => {
            Err(omnikiosk_protocol::ops::Rejection::new("unknown_receipt", format!("receipt {number} is not known at this store")).into())
        }
        crate::store::ScannedReceipt::Forged => Err(omnikiosk_protocol::ops::Rejection::new(
            "forged_receipt",
            format!("this QR says receipt {number}, but the till that printed it did not sign it"),
        )
        .into()),
    }
}

/// The open shift as `shift open` and `shift cash` print it.
#[derive(serde::Serialize)]
struct ShiftOut<'a> {
    #[serde(flatten)]
    shift: &'a crate::store::ShiftState,
    /// What the drawer should hold now, before today's receipts.
    cash_moved_cents: i64,
}

fn shift_out(cfg: &Config, store: &LocalStore, shift: &crate::store::ShiftState, json: bool) -> CmdResult {
    let moved = shift.cash_moves.iter().map(|c| c.cents).sum();
    let currency = store.currency()?;
    let lang = Local::of(store, cfg).language;
    let m = |cents| money::format(cents, &currency, &lang);
    emit(json, &ShiftOut { shift, cash_moved_cents: moved }, || {
        format!("shift Z{} open (by {}), float {}, cash moved {}", shift.z_number, shift.opened_by, m(shift.float_cents), m(moved))
    })
}

pub fn shift_open(store: &LocalStore, cfg: &Config, staff: &str, float: i64, json: bool) -> CmdResult {
    let shift = refused_as(store.start_shift(staff, float, unix_now()), "no shift opened", json)?;
    shift_out(cfg, store, &shift, json)
}

pub fn shift_cash(store: &LocalStore, cfg: &Config, staff: &str, cents: i64, reason: &str, json: bool) -> CmdResult {
    let req = CashMoveRequest { staff_id: staff.to_string(), cents, reason: reason.to_string() };
    let shift = refused_as(store.move_cash(&req, unix_now()), "no cash moved", json)?;
    shift_out(cfg, store, &shift, json)
}

/// `shift close`: the Z report recorded, printed when a printer is set, and shown.
pub fn shift_close(store: &LocalStore, cfg: &Config, staff: &str, counted: i64, json: bool) -> CmdResult {
    let z = refused_as(store.close_shift(staff, counted, &cfg.loyalty, unix_now()), "shift not closed", json)?;
    if cfg.printer.enabled {
        if let Err(e) = crate::peripherals::printer::open(&cfg.printer).and_then(|mut p| p.z_report(&z, &Local::of(store, cfg).zone)) {
            eprintln!("omnikiosk: shift closed; the Z report was not printed: {e}");
        }
    }
    emit(json, &z, || z_text(&z, &Local::of(store, cfg)))
}

/// The Z report as the terminal shows it.
fn z_text(z: &omnikiosk_protocol::shift::ZReport, local: &Local) -> String {
    let m = |cents| money::format(cents, &z.currency, &local.language);
    let when = |at| clock::date_time(at, &local.zone);
    let mut s = format!(
        "Z report {} (shift opened by {} {}, closed by {} {})
",
        z.number(),
        z.opened_by,
        when(z.opened_at),
        z.closed_by,
        when(z.closed_at)
    );
    if let (Some(first), Some(last)) = (&z.first_receipt, &z.last_receipt) {
        s += &format!("  receipts {first} to {last}
");
    }
    s += &format!("  sales: {} for {}
  returns: {} for {}
", z.sales.count, m(z.sales.total_cents), z.returns.count, m(z.returns.total_cents));
    for t in &z.tenders {
        s += &format!("  {}: {} taken, {} refunded
", t.method.as_str(), m(t.taken_cents), m(t.refunded_cents));
    }
    for t in &z.tax {
        s += &format!("  VAT {}%: {} of {}
", t.vat_bp as f64 / 100.0, m(t.tax_cents), m(t.gross_cents));
    }
    for c in &z.cash_moves {
        s += &format!("  cash {}: {} ({})
", if c.cents > 0 { "in" } else { "out" }, m(c.cents), c.reason);
    }
    s += &format!(
        "  expected cash {}, counted {}, difference {}
",
        m(z.expected_cash_cents),
        m(z.counted_cash_cents),
        m(z.difference_cents)
    );
    if z.unsent_ops > 0 {
        s += &format!("  closed offline: {} of this device's operations are not at the hub yet", z.unsent_ops);
    } else {
        s += "  everything of this device is at the hub";
    }
    s
}

pub fn receipts(store: &LocalStore, cfg: &Config, json: bool) -> CmdResult {
    let list = store.receipts(1000)?;
    let local = Local::of(store, cfg);
    emit(json, &list, || {
        if list.is_empty() {
            return "no receipts at this device yet".into();
        }
        list.iter()
            .map(|r| {
                let sent = if r.sent { "" } else { "  (not yet at the hub)" };
                let (at, total) = (clock::date_time(r.at, &local.zone), money::format(r.total_cents, &r.currency, &local.language));
                format!("{}  {at}  {}  {total}{sent}", r.number, r.kind.as_str())
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

pub fn receipt(store: &LocalStore, cfg: &Config, number: &str, print: bool, json: bool) -> CmdResult {
    let receipt = store
        .receipt(number)?
        .ok_or_else(|| Failure { message: format!("receipt {number} was not made at this device"), code: 3 })?;
    if print {
        if !cfg.printer.enabled {
            return Err(Failure { message: "no printer is configured ([printer] enabled = true)".into(), code: 3 });
        }
        let copy = store.count_copy(&receipt.number)?;
        print_receipt(store, cfg, &receipt, Some(copy))?;
    }
    let out = Printed { receipt: &receipt, qr: store.receipt_code(&receipt)? };
    emit(json, &out, || text(&receipt, &Local::of(store, cfg), print))
}

/// Prints a new receipt when a printer is configured. The sale is already recorded: a
/// printer that is off is a warning (the receipt can be reprinted), never a lost sale.
fn print_if_configured(store: &LocalStore, cfg: &Config, receipt: &Receipt) {
    if cfg.printer.enabled {
        if let Err(e) = print_receipt(store, cfg, receipt, None) {
            eprintln!("omnikiosk: sale recorded; {} (reprint with `omnikiosk receipt {} --print`)", e.message, receipt.number);
        }
    }
}

fn print_receipt(store: &LocalStore, cfg: &Config, receipt: &Receipt, copy: Option<i64>) -> Result<(), Failure> {
    let qr = store.receipt_code(receipt)?;
    let printed = crate::peripherals::printer::open(&cfg.printer).and_then(|mut p| p.sale_receipt(receipt, &qr, copy, &Local::of(store, cfg).zone));
    printed.map_err(|e| Failure { message: e.to_string(), code: 4 })
}

/// How the store writes money and reads its clock, for what the terminal shows.
struct Local {
    /// The config's `[ui] language`, else the store record's.
    language: String,
    zone: jiff::tz::TimeZone,
}

impl Local {
    fn of(store: &LocalStore, cfg: &Config) -> Local {
        let store_locale = store.store_locale().unwrap_or_default();
        Local {
            language: cfg.ui.language.clone().unwrap_or(store_locale.language),
            zone: clock::store_zone(&store_locale.timezone),
        }
    }
}

/// The receipt as the terminal shows it.
fn text(r: &Receipt, local: &Local, copy: bool) -> String {
    let m = |cents| money::format(cents, &r.currency, &local.language);
    let kind = if r.kind == ReceiptKind::Return { "return" } else { "receipt" };
    let mut s = format!("{kind} {}{}, {}\n", r.number, if copy { " (copy)" } else { "" }, clock::date_time(r.at, &local.zone));
    if let Some(reason) = &r.reason {
        s += &format!("  reason: {reason}\n");
    }
    for l in &r.lines {
        let from = l.origin.as_deref().map(|o| format!("  (from {o})")).unwrap_or_default();
        s += &format!("  {} x {}  {}  {}{from}\n", l.qty, l.name, m(l.price_cents), m(l.total_cents()));
    }
    if r.discount_cents > 0 {
        s += &format!("  points redeemed: {}  -{}\n", r.points_redeemed, m(r.discount_cents));
    }
    s += &format!("total {}\n", m(r.total_cents));
    for t in &r.tax {
        s += &format!("  VAT {}%: {} of {}\n", t.vat_bp as f64 / 100.0, m(t.tax_cents), m(t.gross_cents));
    }
    for t in &r.tenders {
        let reference = t.reference.as_deref().map(|x| format!(" ({x})")).unwrap_or_default();
        let method = t.method.as_str();
        let verb = if r.total_cents < 0 { "refunded" } else { "paid" };
        s += &format!("  {verb} {method}{reference}: {}\n", m(t.cents));
    }
    if r.change_cents > 0 {
        s += &format!("change {}\n", m(r.change_cents));
    }
    if r.points_earned != 0 {
        s += &format!("points earned: {}\n", r.points_earned);
    }
    if r.points_redeemed < 0 || r.points_refunded > 0 {
        s += &format!("points given back: {}\n", r.points_refunded - r.points_redeemed);
    }
    s += &format!("hash {}", &r.hash[..16]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_tenders_parse_as_the_contract_writes_them() {
        let f = crate::ui::controller::fixture::Fixture::new();
        f.sells(omnikiosk_protocol::wire::ProductRecord {
            sku: "KAWA-250".into(),
            name: "Coffee".into(),
            gtins: vec!["5900000000011".into(), "12345670".into()],
            ..Default::default()
        });
        let parse_item = |text: &str| parse_item(&f.store, text);
        assert_eq!(parse_item("4006381333931x3").unwrap(), BasketItem { sku: "4006381333931".into(), qty: 3, from_cart: false });
        assert_eq!(parse_item("4006381333931").unwrap().qty, 1);
        assert_eq!(parse_item("4006381333932").unwrap_err().code, 2, "wrong check digit");
        assert_eq!(parse_item("4006381333931xlots").unwrap_err().code, 2);
        assert_eq!(parse_item("4006381333931x0").unwrap().qty, 0, "the rules refuse 0, with their words");
        for code in ["5900000000011x2", "12345670x2", "KAWA-250x2"] {
            assert_eq!(parse_item(code).unwrap(), BasketItem { sku: "KAWA-250".into(), qty: 2, from_cart: false }, "{code}: by a GTIN or the SKU");
        }
        assert_eq!(parse_item("KAWA-999").unwrap_err().code, 2, "neither a product here nor a barcode");
        assert_eq!(parse_tender("cash:5000").unwrap(), Tender { method: TenderMethod::Cash, cents: 5000, reference: None });
        assert_eq!(parse_tender("card:2300:T-1:x").unwrap().reference.as_deref(), Some("T-1:x"));
        assert_eq!(parse_tender("card:2300").unwrap().reference, None, "refused later, by the rules");
        assert!(parse_tender("bitcoin:1").is_err());
        assert!(parse_tender("cash:12.40").is_err());
    }
}
