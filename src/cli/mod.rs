//! The `omnikiosk` command line (contract in DESIGN.md): every command takes
//! `--data-dir`; every command that prints state takes `--json` and then prints exactly
//! one JSON document on stdout. Errors: non-zero exit and one line on stderr.

#[cfg(feature = "demo-hub")]
mod demo;
mod print;
mod till;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use omnikiosk_protocol::wire::{OrderRecord, OrderStatus};
use serde::Serialize;
use tokio::sync::watch;

use crate::clock::unix_now;
use crate::config::{self, Config};
use crate::resolve::resolve_scan;
use crate::store::{Counts, LocalStore, OpError, StoreError};
use omnikiosk_protocol::ops::{OpBody, PickedLine, Verification};
use crate::sync::{self, DaemonEvent, PullProgress};

#[derive(Debug, Parser)]
#[command(name = "omnikiosk", version, disable_help_subcommand = true, about = "In-store kiosk and click-and-collect app that keeps working offline")]
pub struct Cli {
    /// Directory of the local store (default: $OMNIKIOSK_DATA_DIR, the config's data_dir,
    /// the service's state directory, else ./omnikiosk-data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file (default: /etc/omnikiosk/kiosk.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The kiosk app with background sync.
    Run,
    /// Pair with the hub: learns the store and the hub's public key.
    Enroll {
        #[arg(long)]
        hub: String,
        /// The device token (`omnikiosk-hub device add`). Other users of the machine see
        /// it in the process list: --token-file keeps it out.
        #[arg(long, required_unless_present = "token_file", conflicts_with = "token_file")]
        token: Option<String>,
        /// Read the device token from this file ("-": standard input).
        #[arg(long, value_name = "FILE")]
        token_file: Option<std::path::PathBuf>,
        /// Trust the private CA that signed the hub's certificate (PEM); kept, so every
        /// later command and the daemon trust it too.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<std::path::PathBuf>,
        /// The hub key's fingerprint as `omnikiosk-hub device add` printed it: enrolment
        /// is refused when the hub answers with another key.
        #[arg(long, value_name = "FP")]
        hub_key_fingerprint: Option<String>,
        /// Allow plain http:// to a hub that is not on this machine.
        #[arg(long)]
        insecure: bool,
        #[arg(long)]
        json: bool,
    },
    /// Headless sync: one full round with --once, else a daemon.
    Sync {
        #[arg(long)]
        once: bool,
        #[arg(long)]
        json: bool,
    },
    /// Online/offline, cursor, last pull and push, outbox, conflicts, cached counts.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Resolve a code as if scanned at the kiosk (local first, hub fallback).
    Scan {
        code: String,
        /// Answer from the local store only; never ask the hub.
        #[arg(long)]
        offline: bool,
        #[arg(long)]
        json: bool,
    },
    /// The store's click-and-collect queue from the local store.
    Orders {
        /// placed, picking, ready, collected, cancelled or expired.
        #[arg(long, value_parser = parse_status)]
        status: Option<OrderStatus>,
        #[arg(long)]
        json: bool,
    },
    /// Act on a click-and-collect order (works offline; the hub confirms later).
    Order {
        id: String,
        #[arg(value_enum)]
        action: OrderAction,
        /// The staff member acting (a manager to cancel).
        #[arg(long)]
        staff: Option<String>,
        /// The shopper's pickup code, or the order QR, for `collect`.
        #[arg(long)]
        code: Option<String>,
        /// Why: the short-pick reason for `pick`, the cancellation reason for `cancel`.
        #[arg(long)]
        reason: Option<String>,
        /// A line picked short, as SKU=QTY (repeatable); other lines count as fully picked.
        #[arg(long, value_name = "SKU=QTY")]
        picked: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Loyalty points at the till (works offline; the hub confirms later).
    Loyalty {
        customer_id: String,
        #[arg(value_enum)]
        action: LoyaltyAction,
        points: i64,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Operations the hub rejected, with what each needs.
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// "I'm here" for a ready pickup order, as the kiosk's button does (works offline).
    Checkin {
        order_id: String,
        #[arg(long)]
        json: bool,
    },
    /// The store's shoppers waiting now, checked in at any device of the store.
    Waiting {
        #[arg(long)]
        json: bool,
    },
    /// "Call staff" requests of the store, raised and answered at any of its devices.
    Help {
        #[command(subcommand)]
        action: HelpAction,
    },
    /// An NPS answer (0-10), as the shopper screen takes it (works offline).
    Feedback {
        score: i64,
        /// The shopper who answered, if signed in.
        #[arg(long)]
        customer: Option<String>,
        /// The satisfaction answer given beside the score.
        #[arg(long)]
        csat: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The shopper's online cart.
    Cart {
        #[command(subcommand)]
        action: CartAction,
    },
    /// The manager's numbers for the store today: queue, overdue, waiting, NPS, devices.
    Today {
        #[arg(long)]
        json: bool,
    },
    /// One completed sale at the till (works offline; the hub records it once): prints its receipt.
    Sale {
        /// The colleague at the till (a badge with the till role, or a manager).
        #[arg(long)]
        staff: String,
        /// The shopper's loyalty card, app code or customer id.
        #[arg(long, value_name = "CODE")]
        customer: Option<String>,
        /// A product: its EAN-13/EAN-8/UPC-A, times how many (repeatable): 5901234123457x2.
        #[arg(long = "item", value_name = "CODE[xQTY]")]
        items: Vec<String>,
        /// "Buy here": the shopper's online cart into the basket.
        #[arg(long)]
        cart: bool,
        /// Points redeemed as a discount.
        #[arg(long, value_name = "POINTS")]
        redeem: Option<i64>,
        /// A payment in minor units (repeatable, for a split tender): cash:5000, card:2300:REF.
        #[arg(long = "pay", value_name = "cash:CENTS|card:CENTS[:REF]")]
        pay: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// This device's receipts, newest first.
    Receipts {
        #[arg(long)]
        json: bool,
    },
    /// One receipt of this device; --print reprints it, marked as a copy.
    Receipt {
        number: String,
        #[arg(long)]
        print: bool,
        #[arg(long)]
        json: bool,
    },
    /// Goods taken back against a receipt or a collected click-and-collect order (works
    /// offline; the hub counts returns across the store's devices): prints the return's receipt.
    Return {
        /// The receipt number (as printed, or read from its QR) or the order id.
        #[arg(value_name = "RECEIPT_NUMBER|ORDER_ID")]
        origin: String,
        /// The colleague at the till.
        #[arg(long)]
        staff: String,
        /// What comes back (repeatable): 5901234123457x1. None: everything not yet returned.
        #[arg(long = "item", value_name = "SKUxQTY")]
        items: Vec<String>,
        /// An exchange: what the shopper takes instead (repeatable), one receipt, one balance.
        #[arg(long = "take", value_name = "CODE[xQTY]")]
        take: Vec<String>,
        /// How the money goes back (or a dearer exchange is paid): cash, card or points.
        #[arg(long, value_name = "cash|card|points")]
        refund: String,
        /// The card terminal's reference of a card refund.
        #[arg(long, value_name = "REF")]
        reference: Option<String>,
        /// Why it came back (one of `[till] return_reasons` when that list is set).
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The store's colleagues, and a manager's reset of a colleague's PIN.
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
    /// The till's shift: open with a float, cash in or out, close with the count (the Z report).
    Shift {
        #[command(subcommand)]
        action: ShiftAction,
    },
    /// The demo: an embedded hub with a living store, and this kiosk enrolled to it.
    Demo {
        /// Kiosks of store 1 (1-3): the entrance, the pickup desk, a staff tablet, each with
        /// its own window and data, syncing through the demo's hub.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
        devices: u8,
    },
}

#[derive(Debug, Subcommand)]
enum HelpAction {
    /// "Call staff", as the kiosk's button does.
    Request {
        /// The shopper asking, if signed in.
        #[arg(long)]
        customer: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The store's open requests, wherever raised.
    List {
        #[arg(long)]
        json: bool,
    },
    /// "On my way": the device that asked shows who is coming.
    Take {
        id: String,
        #[arg(long)]
        staff: String,
        #[arg(long)]
        json: bool,
    },
    /// The shopper was helped: the request leaves every screen of the store.
    Done {
        id: String,
        #[arg(long)]
        staff: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StaffAction {
    /// The store's colleagues: id, name, role, and whether they have chosen a PIN.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A manager resets a colleague's PIN (works offline; the hub confirms later): the
    /// colleague chooses a new one at their next badge scan, at every device of the store.
    ResetPin {
        /// The colleague whose PIN is reset.
        id: String,
        /// The manager resetting it.
        #[arg(long)]
        staff: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ShiftAction {
    /// Opens the till's shift with the float in the drawer.
    Open {
        #[arg(long)]
        staff: String,
        /// The float, in minor units (20000 for 200.00).
        #[arg(long, value_name = "CENTS")]
        float: i64,
        #[arg(long)]
        json: bool,
    },
    /// Cash into (positive) or out of (negative) the drawer, with the reason.
    Cash {
        #[arg(long)]
        staff: String,
        #[arg(long, value_name = "CENTS", allow_negative_numbers = true)]
        cents: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Closes the shift with the cash counted: prints the Z report (works offline, and says so).
    Close {
        #[arg(long)]
        staff: String,
        /// The cash counted in the drawer, in minor units.
        #[arg(long, value_name = "CENTS")]
        counted: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CartAction {
    /// "Save for later": a scanned product into the shopper's online cart.
    Add {
        customer_id: String,
        /// The product's EAN-13, EAN-8 or UPC-A.
        code: String,
        #[arg(long)]
        json: bool,
    },
}

/// One shopper waiting, as `waiting --json` lists them (contract: order_id, customer,
/// since, device).
#[derive(Debug, Serialize)]
struct WaitingEntry {
    order_id: String,
    /// First name only: all a waiting list shows of anyone.
    customer: String,
    since: i64,
    device: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OrderAction {
    Pick,
    Ready,
    Collect,
    Cancel,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LoyaltyAction {
    Earn,
    Redeem,
}

fn parse_status(s: &str) -> Result<OrderStatus, String> {
    OrderStatus::parse(s).ok_or_else(|| {
        let all: Vec<_> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown status {s:?}; one of {}", all.join(", "))
    })
}

#[cfg(feature = "demo-hub")]
async fn run_demo(dir: &Path, cfg: &Config, devices: u8) -> CmdResult {
    demo::run(dir, cfg, devices).await
}

/// A kiosk package is built without the demo's embedded hub: say so, and what to do.
#[cfg(not(feature = "demo-hub"))]
async fn run_demo(_dir: &Path, _cfg: &Config, _devices: u8) -> CmdResult {
    Err(Failure { message: NO_DEMO.into(), code: 1 })
}

/// What `omnikiosk` with nothing set up says when built without the `demo-hub` feature.
#[cfg(not(feature = "demo-hub"))]
const NO_DEMO: &str = "this build has no demo (built without the demo-hub feature); install and run the hub \
     (omnikiosk-hub) separately, then `omnikiosk enroll --hub URL --token TOKEN`, or give --config FILE";

/// A command failed: print this one line, exit with this code.
#[derive(Debug)]
struct Failure {
    message: String,
    code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure { message: e.to_string(), code: 1 }
    }
}

type CmdResult = Result<(), Failure>;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = !matches!(cli.command, Some(Command::Run) | Some(Command::Sync { once: false, .. }) | None);
    init_logging(quiet);
    // The display's rotation and output reach Slint through the environment, which may
    // only change while this is the one thread (a bad file is reported by `dispatch`).
    if matches!(cli.command, Some(Command::Run) | Some(Command::Demo { .. }) | None) {
        if let Ok(cfg) = load_config(&cli) {
            crate::ui::display::prepare(&cfg.display);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}"), 1),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(&f.message, f.code),
    }
}

fn fail(message: &str, code: u8) -> ExitCode {
    // One line: collapse anything multi-line a library handed us.
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("omnikiosk: {line}");
    ExitCode::from(code)
}

/// Logs go to stderr, or to journald (with their fields) when stderr is the journal, as
/// under systemd.
fn init_logging(quiet: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = if quiet { "warn" } else { "info,rusqlite_migration=warn" };
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("OMNIKIOSK_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
    };
    if crate::service::stderr_is_journal() {
        if let Ok(journal) = tracing_journald::layer() {
            let _ = tracing_subscriber::registry().with(filter()).with(journal.with_syslog_identifier("omnikiosk".into())).try_init();
            return;
        }
    }
    let _ = tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr).try_init();
}

/// The configuration file in force: `--config`, else the default path if it exists, else
/// the built-in defaults.
fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    match &cli.config {
        Some(path) => Config::load(path),
        None if Path::new(config::DEFAULT_CONFIG_PATH).exists() => Config::load(Path::new(config::DEFAULT_CONFIG_PATH)),
        None => Ok(Config::default()),
    }
}

async fn dispatch(cli: Cli) -> CmdResult {
    let explicit_config = cli.config.is_some();
    let config_path = cli.config.clone().unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_PATH));
    let cfg = load_config(&cli)?;
    for ignored in cfg.ignored() {
        tracing::warn!("{ignored}");
    }
    let dir = config::data_dir(cli.data_dir.as_deref(), &cfg);

    let command = match cli.command {
        Some(c) => c,
        // No command: the demo when nothing is set up, else the app.
        None if !explicit_config && !config_path.exists() && !is_enrolled(&dir) => Command::Demo { devices: 1 },
        None => Command::Run,
    };
    match command {
        Command::Demo { devices } => run_demo(&dir, &cfg, devices).await,
        Command::Run => run_app(&open(&dir, &cfg)?, &cfg, &dir).await,
        Command::Enroll { hub, token, token_file, ca_file, hub_key_fingerprint, insecure, json } => {
            let token = match (token, token_file) {
                (Some(t), _) => t,
                (None, Some(file)) => read_token(&file)?,
                (None, None) => return Err(Failure { message: "give the device token: --token TOKEN or --token-file FILE".into(), code: 1 }),
            };
            let hub_ca = match &ca_file {
                // Checked here, to name the file; the client reads it again as the kept CA.
                Some(path) => Some(sync::read_ca(path).and_then(|pem| sync::certificates(&format!("--ca-file {}", path.display()), &pem).map(|_| pem))?),
                None => None,
            };
            if insecure {
                tracing::warn!("--insecure: plain http:// to the hub; anyone on this network can read the device token");
            }
            let store = open(&dir, &cfg)?;
            let trust = sync::Trust { insecure, hub_ca, hub_key_fingerprint };
            let e = sync::enroll(&store, &hub, &token, trust, &cfg.sync).await?;
            emit(json, &e, || {
                format!("enrolled: device {} of store {} ({}) at {}", e.device_id, e.store_id, e.store_name, e.hub_url)
            })
        }
        Command::Sync { once: true, json } => {
            let store = open(&dir, &cfg)?;
            let summary = sync_once(&store, &cfg).await?;
            emit(json, &summary, || {
                format!(
                    "in sync: pushed {} ops ({} rejected), pulled {} changes in {} pages",
                    summary.pushed.applied + summary.pushed.duplicate + summary.pushed.rejected,
                    summary.pushed.rejected,
                    summary.pulled.changes,
                    summary.pulled.pages
                )
            })
        }
        Command::Sync { once: false, .. } => sync_daemon(&open(&dir, &cfg)?, &cfg).await,
        Command::Status { json } => {
            let report = status(&open(&dir, &cfg)?, &cfg, &dir).await?;
            emit(json, &report, || print::status(&report))
        }
        Command::Scan { code, offline, json } => scan(&open(&dir, &cfg)?, &cfg, &code, offline, json).await,
        Command::Order { id, action, staff, code, reason, picked, json } => {
            let store = open(&dir, &cfg)?;
            let op = order_op(&store, &id, action, staff, code, reason, &picked)?;
            let receipt = receipt_for(&store, &op, &cfg);
            record(&store, &cfg, op, json)?;
            if let Some(receipt) = receipt {
                print_receipt(&cfg.printer, &receipt);
            }
            Ok(())
        }
        Command::Loyalty { customer_id, action, points, reason, json } => {
            let store = open(&dir, &cfg)?;
            let op = match action {
                LoyaltyAction::Earn => OpBody::LoyaltyEarn {
                    customer_id,
                    points,
                    reason: reason.unwrap_or_else(|| "purchase in store".into()),
                },
                LoyaltyAction::Redeem => OpBody::LoyaltyRedeem {
                    customer_id,
                    points,
                    reason: reason.unwrap_or_else(|| "redeemed at the till".into()),
                },
            };
            record(&store, &cfg, op, json)
        }
        Command::Conflicts { json } => {
            let store = open(&dir, &cfg)?;
            let list = store.conflicts()?;
            emit(json, &list, || print::conflicts(&list))
        }
        Command::Checkin { order_id, json } => {
            let store = open(&dir, &cfg)?;
            let order = store
                .order(&order_id)?
                .ok_or_else(|| Failure { message: format!("order {order_id} is not known at this store"), code: 3 })?;
            record(&store, &cfg, OpBody::VisitCheckin { order_id, customer_id: order.customer_id }, json)
        }
        Command::Waiting { json } => {
            let store = open(&dir, &cfg)?;
            let now = unix_now();
            let list: Vec<WaitingEntry> = store
                .waiting()?
                .into_iter()
                .map(|w| WaitingEntry { order_id: w.order.id, customer: w.first_name, since: w.since, device: w.device_id })
                .collect();
            emit(json, &list, || print::waiting(&list.iter().map(|w| (w.order_id.as_str(), w.customer.as_str(), w.since)).collect::<Vec<_>>(), now))
        }
        Command::Help { action } => {
            let store = open(&dir, &cfg)?;
            match action {
                HelpAction::Request { customer, json } => record(&store, &cfg, OpBody::HelpRequest { customer_id: customer }, json),
                HelpAction::List { json } => {
                    let list = store.open_help()?;
                    emit(json, &list, || print::help(&list, unix_now()))
                }
                HelpAction::Take { id, staff, json } => {
                    record(&store, &cfg, OpBody::HelpTake { request_id: help_id(&store, &id)?, staff_id: staff }, json)
                }
                HelpAction::Done { id, staff, json } => {
                    record(&store, &cfg, OpBody::HelpDone { request_id: help_id(&store, &id)?, staff_id: staff }, json)
                }
            }
        }
        Command::Feedback { score, customer, csat, json } => {
            record(&open(&dir, &cfg)?, &cfg, OpBody::FeedbackNps { score, csat, customer_id: customer }, json)
        }
        Command::Cart { action: CartAction::Add { customer_id, code, json } } => {
            let store = open(&dir, &cfg)?;
            // Any of the product's barcodes saves its SKU; a code the catalogue lacks is
            // refused by the rules in their words.
            let sku = match store.product_by_code(&code)? {
                Some(p) => p.product.sku,
                // Digits are a scanned barcode: a wrong check digit is a misread, not a SKU.
                None if code.trim().bytes().all(|b| b.is_ascii_digit()) => {
                    omnikiosk_protocol::gtin::Gtin::parse(code.trim())
                        .map_err(|e| Failure { message: format!("{}: not a product code ({e})", code.trim()), code: 3 })?
                        .as_str()
                        .to_string()
                }
                None => code.trim().to_string(),
            };
            record(&store, &cfg, OpBody::CartAdd { customer_id, sku }, json)
        }
        Command::Today { json } => {
            let store = open(&dir, &cfg)?;
            let ui = crate::ui::controller::UiSettings::from_config(&cfg);
            let today = store.today(unix_now(), &store.time_zone()?, ui.no_show_secs)?;
            emit(json, &today, || print::today(&today, unix_now()))
        }
        Command::Sale { staff, customer, items, cart, redeem, pay, json } => {
            let args = till::SaleArgs { staff, customer, items, cart, redeem, pay };
            till::sale(&open(&dir, &cfg)?, &cfg, args, json)
        }
        Command::Receipts { json } => till::receipts(&open(&dir, &cfg)?, &cfg, json),
        Command::Return { origin, staff, items, take, refund, reference, reason, json } => {
            let args = till::ReturnArgs { origin, staff, items, take, refund, reference, reason };
            till::take_back(&open(&dir, &cfg)?, &cfg, args, json)
        }
        Command::Staff { action } => {
            let store = open(&dir, &cfg)?;
            match action {
                StaffAction::List { json } => {
                    let list = store.colleagues()?;
                    emit(json, &list, || print::colleagues(&list))
                }
                StaffAction::ResetPin { id, staff, json } => record(&store, &cfg, OpBody::ResetPin { staff_id: staff, colleague_id: id }, json),
            }
        }
        Command::Shift { action } => {
            let store = open(&dir, &cfg)?;
            match action {
                ShiftAction::Open { staff, float, json } => till::shift_open(&store, &cfg, &staff, float, json),
                ShiftAction::Cash { staff, cents, reason, json } => till::shift_cash(&store, &cfg, &staff, cents, &reason, json),
                ShiftAction::Close { staff, counted, json } => till::shift_close(&store, &cfg, &staff, counted, json),
            }
        }
        Command::Receipt { number, print, json } => till::receipt(&open(&dir, &cfg)?, &cfg, &number, print, json),
        Command::Orders { status, json } => {
            let store = open(&dir, &cfg)?;
            let orders = store.orders(status)?;
            emit(json, &orders, || print::orders(&orders, unix_now()))
        }
    }
}

/// Builds an order op from the command line; a full pick unless lines are named short.
fn order_op(
    store: &LocalStore,
    id: &str,
    action: OrderAction,
    staff: Option<String>,
    code: Option<String>,
    reason: Option<String>,
    picked: &[String],
) -> Result<OpBody, Failure> {
    store.require_enrolment()?;
    let staff_id = staff.ok_or_else(|| Failure { message: "--staff ID is required for order actions".into(), code: 2 })?;
    let order_id = id.to_string();
    Ok(match action {
        OrderAction::Pick => {
            let order = store.order(id)?.ok_or_else(|| Failure { message: format!("order {id} is not known at this store"), code: 3 })?;
            let mut short = std::collections::HashMap::new();
            for p in picked {
                let (sku, qty) = p
                    .split_once('=')
                    .and_then(|(s, q)| Some((s.to_string(), q.parse::<i64>().ok()?)))
                    .ok_or_else(|| Failure { message: format!("--picked {p:?}: expected SKU=QTY"), code: 2 })?;
                short.insert(sku, qty);
            }
            let lines = order
                .lines
                .iter()
                .map(|l| PickedLine { sku: l.sku.clone(), picked: short.get(&l.sku).copied().unwrap_or(l.qty) })
                .collect();
            OpBody::OrderPick { order_id, staff_id, lines, short_reason: reason }
        }
        OrderAction::Ready => OpBody::OrderReady { order_id, staff_id },
        OrderAction::Collect => {
            let code = code.ok_or_else(|| Failure { message: "--code PICKUP_CODE (or the order QR) is required to hand over".into(), code: 2 })?;
            let verification =
                if code.starts_with("K1.") { Verification::OrderQr(code) } else { Verification::PickupCode(code) };
            OpBody::OrderCollect { order_id, staff_id, verification }
        }
        OrderAction::Cancel => OpBody::OrderCancel {
            order_id,
            staff_id,
            reason: reason.ok_or_else(|| Failure { message: "--reason TEXT is required to cancel".into(), code: 2 })?,
        },
    })
}

/// The receipt of a handover, when the printer is to print one.
fn receipt_for(store: &LocalStore, op: &OpBody, cfg: &Config) -> Option<crate::peripherals::printer::Receipt> {
    let OpBody::OrderCollect { order_id, staff_id, .. } = op else { return None };
    let order = store.order(order_id).ok().flatten()?;
    receipt(store, &order, staff_id, cfg)
}

/// The handover receipt of `order`, when the configuration wants one printed: handed over
/// now, on the store's clock.
fn receipt(store: &LocalStore, order: &OrderRecord, staff_id: &str, cfg: &Config) -> Option<crate::peripherals::printer::Receipt> {
    if !(cfg.printer.enabled && cfg.printer.receipt_on_collect) {
        return None;
    }
    let zone = store.time_zone().unwrap_or(jiff::tz::TimeZone::UTC);
    Some(crate::peripherals::printer::Receipt {
        order_id: order.id.clone(),
        lines: order.lines.iter().map(|l| format!("{} × {}", l.qty, l.name)).collect(),
        handed_over_at: crate::clock::date_time(unix_now(), &zone),
        staff_id: staff_id.to_string(),
    })
}

/// Prints a handover receipt. The handover itself is already recorded: a printer that
/// is off or out of paper is a warning, not a failure.
fn print_receipt(cfg: &config::PrinterConfig, receipt: &crate::peripherals::printer::Receipt) {
    let printed = crate::peripherals::printer::open(cfg).and_then(|mut p| p.receipt(receipt));
    if let Err(e) = printed {
        eprintln!("omnikiosk: handed over; {e}");
    }
}

/// Records an op durably; exit 3 when the kiosk's rules refuse it (nothing is written).
fn record(store: &LocalStore, cfg: &Config, op: OpBody, json: bool) -> CmdResult {
    match store.record_op(op, &cfg.loyalty, unix_now()) {
        Ok(done) => emit(json, &done, || format!("{} queued as op {} (#{}); the hub confirms when online", done.name, done.op_id, done.seq)),
        Err(OpError::Refused(r)) => {
            if json {
                out(&serde_json::to_string_pretty(&ScanFailure { error: r.code, message: r.message.clone() })?);
            }
            Err(Failure { message: r.message, code: 3 })
        }
        Err(OpError::Store(e)) => Err(e.into()),
    }
}

/// A help request named on the command line by its id or an unambiguous start of it (as
/// `help list` prints it).
fn help_id(store: &LocalStore, given: &str) -> Result<String, Failure> {
    let open = store.open_help()?;
    let matching: Vec<&str> = open.iter().map(|h| h.id.as_str()).filter(|id| id.starts_with(given)).collect();
    match matching[..] {
        [id] => Ok(id.to_string()),
        // Unknown here (or already closed): the rules say so in their words.
        [] => Ok(given.to_string()),
        _ => Err(Failure { message: format!("{given:?} names {} open help requests; give more of the id", matching.len()), code: 2 }),
    }
}

fn is_enrolled(dir: &Path) -> bool {
    dir.join(crate::store::DB_FILE).exists()
}

fn open(dir: &Path, cfg: &Config) -> Result<LocalStore, StoreError> {
    LocalStore::open(dir, &cfg.store)
}

/// Prints `value` as one JSON document, or the human text.
fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> CmdResult {
    let text = if json { serde_json::to_string_pretty(value)? } else { human() };
    out(&text);
    Ok(())
}

/// One block of output on stdout. A closed pipe (`| head`) is the reader's choice, not
/// an error worth a panic.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|_| stdout.flush());
}

/// One full pull round with progress on the terminal (stderr).
/// What `sync --once` did.
#[derive(Debug, Serialize)]
pub struct SyncOnce {
    pub pushed: sync::PushSummary,
    pub pulled: sync::PullSummary,
}

async fn sync_once(store: &LocalStore, cfg: &Config) -> Result<SyncOnce, Failure> {
    let enrolment = store.require_enrolment()?;
    let client = sync::client_for(&enrolment, &cfg.sync)?;
    let tty = std::io::stderr().is_terminal();
    let report = |p: PullProgress| {
        if p.total == 0 {
            return;
        }
        if tty {
            eprint!("\rpulled {} of {} changes", p.done, p.total);
        } else {
            eprintln!("pulled {} of {} changes", p.done, p.total);
        }
    };
    // Push first: the pull then brings the hub's truth with this kiosk's actions in it.
    let result = match sync::push_pending(store, &client, cfg.sync.push_batch).await {
        Ok(pushed) => sync::pull_until_current(store, &client, &cfg.sync, Duration::ZERO, report)
            .await
            .map(|pulled| SyncOnce { pushed, pulled }),
        Err(e) => Err(e),
    };
    if tty {
        eprintln!();
    }
    match result {
        Ok(summary) => {
            store.record_sync_error(None, unix_now())?;
            Ok(summary)
        }
        Err(e) => {
            // Keep the reason for `status`; a page that failed was not applied at all.
            let _ = store.record_sync_error(Some(&e.to_string()), unix_now());
            Err(e.into())
        }
    }
}

async fn sync_daemon(store: &LocalStore, cfg: &Config) -> CmdResult {
    let enrolment = store.require_enrolment()?;
    let client = sync::client_for(&enrolment, &cfg.sync)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let notifier = crate::service::Notifier::Systemd;
    let n = notifier.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        n.stopping();
        let _ = stop_tx.send(true);
    });
    // The daemon's watchdog pings come from the tokio loop: a wedged runtime stops them.
    if let Some(every) = crate::service::watchdog_interval() {
        let n = notifier.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                n.watchdog();
            }
        });
    }
    tracing::info!(store = enrolment.store_id, hub = %enrolment.hub_url, "sync daemon started");
    notifier.ready();
    sync::run_daemon(store.clone(), client, cfg.sync.clone(), stop_rx, |event| match event {
        DaemonEvent::Synced(s) if s.changes > 0 => tracing::info!(changes = s.changes, "pulled"),
        DaemonEvent::Synced(_) => {}
        DaemonEvent::Pushed(p) => tracing::info!(applied = p.applied, rejected = p.rejected, "pushed"),
        DaemonEvent::Failed { error, retry_in } => tracing::warn!(%error, ?retry_in, "offline"),
    })
    .await;
    tracing::info!("sync daemon stopped");
    Ok(())
}

/// The kiosk app: the window on this (main) thread, sync on tokio's threads, the
/// peripherals on threads of their own. Under systemd: READY=1 once the window shows,
/// watchdog pings from the UI thread, and on SIGTERM no more scans, STOPPING=1, the window
/// closes, the sync loops stop between pages (a page in flight commits whole), and
/// `main` returns normally.
async fn run_app(store: &LocalStore, cfg: &Config, data_dir: &Path) -> CmdResult {
    use crate::service::{desk::DeskFollower, window, Notifier};
    let enrolment = store.require_enrolment()?;
    let client = sync::client_for(&enrolment, &cfg.sync)?;
    // GPIO and config problems stop the start before a window opens.
    let mut devices = crate::peripherals::Peripherals::start(cfg)?;
    crate::ui::display::select(&cfg.display).map_err(|message| Failure { message, code: 1 })?;
    let ui = std::rc::Rc::new(
        crate::ui::KioskUi::new(
            store.clone(),
            crate::ui::UiSettings::from_config(cfg),
            Some((client.clone(), tokio::runtime::Handle::current())),
        )
        .map_err(window_error)?,
    );
    let mut desk = DeskFollower::start(devices.indicator.clone(), devices.printer.clone(), store.clone(), cfg.printer.clone());
    let signals = desk.sender();
    ui.on_desk_signals(move |s| signals.send(s));
    // A handover at the desk prints its receipt off the UI thread.
    let (receipt_cfg, rt, receipt_store) = (cfg.clone(), tokio::runtime::Handle::current(), store.clone());
    ui.on_handover(move |order, staff_id| {
        if let Some(r) = receipt(&receipt_store, order, staff_id, &receipt_cfg) {
            let printer = receipt_cfg.printer.clone();
            rt.spawn_blocking(move || print_receipt(&printer, &r));
        }
    });
    let service = window::attach(&ui, devices.scans.take(), Notifier::Systemd, crate::service::watchdog_interval());

    let (stop_tx, stop_rx) = watch::channel(false);
    let daemon = tokio::spawn(sync::run_daemon(store.clone(), client, cfg.sync.clone(), stop_rx.clone(), |_| {}));
    let stopper = service.stopper();
    let on_signal = stopper.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.stop();
    });
    let report = tokio::spawn(report_peripherals(devices.report_source(), data_dir.to_path_buf(), stop_rx));

    let result = show_until_closed(&ui);
    stopper.stop(); // closed some other way: still an orderly stop
    let _ = stop_tx.send(true);
    let _ = daemon.await;
    let _ = report.await;
    devices.stop();
    service.finish();
    desk.stop();
    let _ = std::fs::remove_file(crate::service::report_path(data_dir));
    tracing::info!("kiosk stopped");
    result
}

/// Keeps `peripherals.json` in the data dir current for `omnikiosk status`.
async fn report_peripherals(
    source: crate::peripherals::ReportSource,
    data_dir: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = None;
    loop {
        let report = source.report();
        let key = (report.scanner.clone(), report.indicator.clone());
        if last.as_ref() != Some(&key) || report.updated_at % 60 == 0 {
            let dir = data_dir.clone();
            let written = tokio::task::spawn_blocking(move || report.write(&dir)).await;
            if let Ok(Err(e)) = written {
                tracing::warn!(error = %e, "cannot write the peripherals report");
            }
            last = Some(key);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The window could not open (the display was chosen and found): say why in one line.
fn window_error(e: slint::PlatformError) -> Failure {
    Failure { message: format!("cannot open the kiosk window: {e}"), code: 1 }
}

/// Runs the window until it is closed (or the service is told to stop).
fn show_until_closed(ui: &crate::ui::KioskUi) -> CmdResult {
    ui.run().map_err(|e| Failure { message: format!("the kiosk window failed: {e}"), code: 1 })
}

/// SIGTERM (systemd stopping the service) or SIGINT (Ctrl-C at a terminal).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} },
        // Without signal handlers the process runs until it is killed.
        _ => std::future::pending().await,
    }
}

/// `status --json` (contract: store_id, online, cursor, last_pull_at, last_push_at,
/// outbox, conflicts, counts).
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub store_id: i64,
    pub store_name: String,
    pub device_id: String,
    pub hub: String,
    pub online: bool,
    /// Why the hub could not be reached just now, when it could not.
    pub offline_reason: Option<String>,
    pub cursor: String,
    pub last_pull_at: Option<i64>,
    pub last_push_at: Option<i64>,
    /// Operations waiting to be pushed.
    pub outbox: u64,
    /// Kiosk time of the oldest waiting operation, and its age in seconds.
    pub outbox_oldest_at: Option<i64>,
    pub outbox_oldest_age_secs: Option<i64>,
    /// Operations the hub rejected (`omnikiosk conflicts`).
    pub conflicts: u64,
    /// Why the last sync round failed, if it did (e.g. "disk full").
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub counts: Counts,
    /// The scanner, light and printer of the kiosk app running now (`null` when
    /// `omnikiosk run` is not running).
    pub peripherals: Option<crate::service::PeripheralsReport>,
}

async fn status(store: &LocalStore, cfg: &Config, dir: &Path) -> Result<StatusReport, Failure> {
    let e = store.require_enrolment()?;
    let state = store.sync_state()?;
    let counts = store.counts()?;
    let outbox = store.outbox_stats()?;
    let probe = match sync::client_for(&e, &cfg.sync) {
        Ok(client) => client.probe(Duration::from_secs(3)).await.map(|_| ()),
        Err(err) => Err(err),
    };
    Ok(StatusReport {
        store_id: e.store_id,
        store_name: e.store_name,
        device_id: e.device_id,
        hub: e.hub_url,
        online: probe.is_ok(),
        offline_reason: probe.err().map(|e| e.to_string()),
        cursor: state.cursor,
        last_pull_at: state.last_pull_at,
        last_push_at: state.last_push_at,
        outbox: outbox.pending,
        outbox_oldest_at: outbox.oldest_at,
        outbox_oldest_age_secs: outbox.oldest_at.map(|t| (unix_now() - t).max(0)),
        conflicts: outbox.conflicts,
        last_error: state.last_error,
        last_error_at: state.last_error_at,
        counts,
        peripherals: crate::service::PeripheralsReport::read_current(dir),
    })
}

#[derive(Serialize)]
struct ScanFailure<'a> {
    error: &'a str,
    message: String,
}

async fn scan(store: &LocalStore, cfg: &Config, code: &str, offline: bool, json: bool) -> CmdResult {
    let enrolment = store.require_enrolment()?;
    let client = if offline { None } else { sync::client_for(&enrolment, &cfg.sync).ok() };
    match resolve_scan(store, client.as_ref(), &cfg.scan.loyalty_prefix, code, unix_now()).await {
        Ok(outcome) => emit(json, &outcome, || print::scan(&outcome)),
        Err(e) => {
            if json {
                out(&serde_json::to_string_pretty(&ScanFailure { error: e.code(), message: e.to_string() })?);
            }
            Err(Failure { message: e.to_string(), code: 3 })
        }
    }
}

/// A device token from a file or standard input ("-"): its first line, trimmed.
fn read_token(file: &std::path::Path) -> anyhow::Result<String> {
    let text = if file == std::path::Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("--token-file {}: {e}", file.display()))?
    };
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    anyhow::ensure!(!token.is_empty(), "--token-file {}: no token in it", file.display());
    Ok(token)
}
