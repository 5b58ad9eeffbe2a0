//! `omnikiosk sale`, `receipts` and `receipt`: the till from the command line, through the
//! same `LocalStore::complete_sale` as the touchscreen's "Pay".

use omnikiosk_protocol::gtin::Gtin;
use omnikiosk_protocol::money;
use omnikiosk_protocol::till::{Receipt, ReceiptKind, Tender, TenderMethod};

use super::{emit, out, CmdResult, Failure, ScanFailure};
use crate::clock::unix_now;
use crate::config::Config;
use crate::resolve::{resolve_local, LocalAnswer, Resolution};
use crate::store::{Basket, BasketItem, LocalStore, OpError};

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

/// `CODE` or `CODExQTY`: a product code with a right check digit, and how many.
fn parse_item(text: &str) -> Result<BasketItem, Failure> {
    let (code, qty) = match text.trim().rsplit_once(['x', 'X', '*']) {
        Some((code, qty)) => {
            let qty = qty.parse::<i64>().map_err(|_| usage(format!("--item {text:?}: the quantity after x must be a whole number")))?;
            (code, qty)
        }
        None => (text.trim(), 1),
    };
    let gtin = Gtin::parse(code).map_err(|e| usage(format!("--item {text:?}: {e}")))?;
    Ok(BasketItem { sku: gtin.as_str().to_string(), qty, from_cart: false })
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
        let item = parse_item(text)?;
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
    match store.complete_sale(&basket, &cfg.loyalty, unix_now()) {
        Ok(receipt) => {
            print_if_configured(store, cfg, &receipt);
            let out = Printed { receipt: &receipt, qr: store.receipt_code(&receipt)? };
            emit(json, &out, || text(&receipt, &cfg.ui.language, false))
        }
        Err(OpError::Refused(r)) => {
            if json {
                out(&serde_json::to_string_pretty(&ScanFailure { error: r.code, message: r.message.clone() })?);
            }
            Err(Failure { message: format!("no sale: {}", r.message), code: 3 })
        }
        Err(OpError::Store(e)) => Err(e.into()),
    }
}

pub fn receipts(store: &LocalStore, cfg: &Config, json: bool) -> CmdResult {
    let list = store.receipts(1000)?;
    let lang = &cfg.ui.language;
    emit(json, &list, || {
        if list.is_empty() {
            return "no receipts at this device yet".into();
        }
        list.iter()
            .map(|r| {
                let sent = if r.sent { "" } else { "  (not yet at the hub)" };
                let kind = match r.kind {
                    ReceiptKind::Sale => "sale",
                    ReceiptKind::Return => "return",
                };
                format!("{}  {kind}  {}{sent}", r.number, money::format(r.total_cents, &r.currency, lang))
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
    emit(json, &out, || text(&receipt, &cfg.ui.language, print))
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
    let printed = crate::peripherals::printer::open(&cfg.printer).and_then(|mut p| p.sale_receipt(receipt, &qr, copy));
    printed.map_err(|e| Failure { message: e.to_string(), code: 4 })
}

/// The receipt as the terminal shows it.
fn text(r: &Receipt, lang: &str, copy: bool) -> String {
    let m = |cents| money::format(cents, &r.currency, lang);
    let mut s = format!("receipt {}{}\n", r.number, if copy { " (copy)" } else { "" });
    for l in &r.lines {
        s += &format!("  {} x {}  {}  {}\n", l.qty, l.name, m(l.price_cents), m(l.total_cents()));
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
        s += &format!("  paid {method}{reference}: {}\n", m(t.cents));
    }
    if r.change_cents > 0 {
        s += &format!("change {}\n", m(r.change_cents));
    }
    if r.points_earned > 0 {
        s += &format!("points earned: {}\n", r.points_earned);
    }
    s += &format!("hash {}", &r.hash[..16]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_tenders_parse_as_the_contract_writes_them() {
        assert_eq!(parse_item("4006381333931x3").unwrap(), BasketItem { sku: "4006381333931".into(), qty: 3, from_cart: false });
        assert_eq!(parse_item("4006381333931").unwrap().qty, 1);
        assert_eq!(parse_item("4006381333932").unwrap_err().code, 2, "wrong check digit");
        assert_eq!(parse_item("4006381333931xlots").unwrap_err().code, 2);
        assert_eq!(parse_item("4006381333931x0").unwrap().qty, 0, "the rules refuse 0, with their words");
        assert_eq!(parse_tender("cash:5000").unwrap(), Tender { method: TenderMethod::Cash, cents: 5000, reference: None });
        assert_eq!(parse_tender("card:2300:T-1:x").unwrap().reference.as_deref(), Some("T-1:x"));
        assert_eq!(parse_tender("card:2300").unwrap().reference, None, "refused later, by the rules");
        assert!(parse_tender("bitcoin:1").is_err());
        assert!(parse_tender("cash:12.40").is_err());
    }
}
