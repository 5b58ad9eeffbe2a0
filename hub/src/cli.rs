//! The `omnikiosk-hub` command line (contract in DESIGN.md). Every command takes
//! `--db URL`; `--json` prints exactly one JSON document on stdout; a failure exits
//! non-zero with one line on stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use omnikiosk_protocol::code::CodeKind;
use omnikiosk_protocol::wire::{Colleague, Role, StaffPut};

use crate::simulate::{self, SimulateOptions};
use crate::{Hub, SeedOptions, ServeConfig};

#[derive(Debug, Parser)]
#[command(name = "omnikiosk-hub", version, about = "Omnikiosk hub: the central profile store kiosks sync with")]
pub struct Cli {
    /// Database: sqlite:PATH (embedded) or postgres://USER@HOST/DB (several hubs may share it).
    #[arg(long, global = true, default_value = "sqlite:hub.db", env = "OMNIKIOSK_HUB_DB", hide_env_values = true)]
    db: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8640")]
        listen: String,
        /// Bearer token of the online channel (required unless --dev).
        #[arg(long, env = "OMNIKIOSK_CHANNEL_TOKEN", hide_env_values = true)]
        channel_token: Option<String>,
        /// A development hub: without a channel token its channel API is open to whoever
        /// reaches it (still on loopback only).
        #[arg(long)]
        dev: bool,
        /// Days after its promised time that an uncollected ready order expires.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i64).range(1..=365))]
        no_show_days: i64,
        /// Minutes a shopper's "I'm here" lasts while their order is still open.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(i64).range(1..=7 * 24 * 60))]
        checkin_ttl_minutes: i64,
        /// Minutes a "call staff" request nobody closed stays on the store's screens.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=7 * 24 * 60))]
        help_ttl_minutes: i64,
        /// Database jobs run or queued at once; past it requests are answered 429 with
        /// Retry-After, and kiosks come back later.
        #[arg(long, default_value_t = crate::DEFAULT_MAX_IN_FLIGHT as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_in_flight: u32,
        /// Online lookups a device may make per minute; past it the device is answered 429
        /// with Retry-After (counted per hub process).
        #[arg(long, default_value_t = crate::lookups::DEFAULT_LOOKUPS_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        lookups_per_minute: u32,
        /// Days a customer attached to a store by a lookup alone stays in its kiosks' cache
        /// without a visit there.
        #[arg(long, default_value_t = crate::lookups::DEFAULT_LOOKUP_TTL_SECS / 86400, value_parser = clap::value_parser!(i64).range(1..=3650))]
        lookup_ttl_days: i64,
        /// Serve HTTPS with this certificate (PEM: the hub's, then its intermediates);
        /// read again on SIGHUP, without dropping connections.
        #[arg(long, requires = "tls_key", value_name = "FILE")]
        tls_cert: Option<std::path::PathBuf>,
        /// The private key of --tls-cert (PEM).
        #[arg(long, requires = "tls_cert", value_name = "FILE")]
        tls_key: Option<std::path::PathBuf>,
        /// Points one device may give in an hour (by hand or at the till); past it the hub
        /// refuses a `loyalty.earn` and credits a sale only what is left, as a conflict.
        #[arg(long, default_value_t = crate::DEFAULT_POINTS_PER_DEVICE_HOUR, value_parser = clap::value_parser!(i64).range(1..=100_000_000))]
        points_per_device_hour: i64,
        /// Where `GET /metrics` (Prometheus) is served: its own listener, loopback by
        /// default, never the API's.
        #[arg(long, default_value = "127.0.0.1:8641", value_name = "ADDR")]
        metrics_listen: String,
    },
    /// Make an empty hub: its signing key and schema, no data. A real chain starts here,
    /// then `store put`, `import products`, `import inventory`, `device add`.
    Init {
        #[arg(long)]
        json: bool,
    },
    /// The demo's invented chain: fill an empty hub with made-up stores, products,
    /// customers and colleagues (for the demo, tests and benchmarks; a real chain starts
    /// with `init`).
    Seed {
        #[arg(long, default_value_t = 3)]
        stores: usize,
        #[arg(long, default_value_t = 2000)]
        customers: usize,
        #[arg(long, default_value_t = 500)]
        products: usize,
        #[arg(long, default_value_t = 120)]
        orders: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// The chain's stores, as the retailer's systems describe them.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Load the retailer's catalogue and stock from the files its systems already export.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Colleagues: added with a badge and no PIN (chosen at a kiosk), listed, removed, PIN reset.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Kiosk devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// The chain's loyalty rule: `loyalty rule set --currency PLN --earn-per-unit 1 --point-value-cents 1`.
    Loyalty {
        #[command(subcommand)]
        command: LoyaltyCommand,
    },
    /// Print a signed code (the QR payload): `code customer C000001`.
    Code {
        /// customer, order or staff.
        #[arg(value_parser = parse_kind)]
        kind: CodeKind,
        id: String,
        #[arg(long, default_value_t = 30)]
        ttl_days: i64,
        #[arg(long)]
        json: bool,
    },
    /// The online channel: carts change, orders are placed and cancelled, until Ctrl-C.
    Simulate {
        /// Actions per minute, on average (each gap is jittered ±50 %).
        #[arg(long, default_value_t = simulate::DEFAULT_RATE_PER_MIN)]
        rate: f64,
        /// Seeds every choice: the same seed on the same database does the same actions
        /// (default: a random seed, logged so a run can be replayed).
        #[arg(long)]
        seed: Option<u64>,
        /// Stop after this many actions.
        #[arg(long)]
        count: Option<u64>,
        /// One JSON object per action, one per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// A Google Merchant Center product data file (TSV or CSV): id, title, price
    /// ("12.99 PLN"), sale_price, sale_price_effective_date, gtin, product_type, brand,
    /// tax_category. A product's price is the default of every store in its currency.
    Products {
        file: std::path::PathBuf,
        #[command(flatten)]
        how: ImportFlags,
        /// Withdraw the catalogue's products this (full) feed does not name.
        #[arg(long)]
        prune: bool,
    },
    /// A Google local inventory file: store_code, id, quantity, price, sale_price,
    /// sale_price_effective_date, and our aisle. A price here is that store's own.
    Inventory {
        file: std::path::PathBuf,
        #[command(flatten)]
        how: ImportFlags,
    },
}

#[derive(Debug, clap::Args)]
struct ImportFlags {
    /// Say what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply nothing when any row is bad.
    #[arg(long)]
    all_or_nothing: bool,
    /// The file's text encoding: utf-8 (default) or windows-1250 (a spreadsheet's export).
    #[arg(long, default_value = "utf-8")]
    encoding: crate::feeds::Encoding,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Create or change store ID: `store put 1 --code KRK-01 --name "Kraków Rynek" --currency PLN
    /// --language pl --timezone Europe/Warsaw --vat standard=23 --vat reduced=5`.
    Put {
        id: i64,
        /// The retailer's store code, as its feeds name it.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// ISO 4217: the store sells only in this currency.
        #[arg(long)]
        currency: String,
        /// The store's default screen language: en, pl, ru, uk or zh.
        #[arg(long)]
        language: String,
        /// IANA time zone, e.g. Europe/Warsaw.
        #[arg(long)]
        timezone: String,
        /// A VAT rate: tax category and percent (`standard=23`, `reduced=5.5`); repeat.
        #[arg(long = "vat", value_parser = parse_vat)]
        vat: Vec<(String, i64)>,
        #[arg(long, default_value = "")]
        city: String,
        #[arg(long, default_value = "")]
        address: String,
        /// As shoppers read them, e.g. "Mo-Sa 08:00-21:00; Su 10:00-16:00".
        #[arg(long, default_value = "")]
        opening_hours: String,
        /// The store offers no click & collect.
        #[arg(long)]
        no_click_collect: bool,
        /// Minutes from an online order to its promised pickup.
        #[arg(long, default_value_t = 120)]
        pickup_minutes: i64,
        /// The price list the store sells from (`PUT /v1/price-lists/{list}/prices/{sku}`).
        #[arg(long, default_value = "")]
        price_list: String,
        #[arg(long)]
        json: bool,
    },
    /// Every store of the chain.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// `standard=23` or `reduced=5.5`: a tax category and its rate in basis points.
fn parse_vat(s: &str) -> Result<(String, i64), String> {
    let (category, percent) = s.split_once('=').ok_or_else(|| format!("{s:?}: write CATEGORY=PERCENT, e.g. standard=23"))?;
    let (whole, fraction) = percent.trim().split_once('.').unwrap_or((percent.trim(), ""));
    let bad = || format!("{s:?}: the rate must be a percent from 0 to 100 with at most two decimals");
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let bp = whole.parse::<i64>().map_err(|_| bad())? * 100 + format!("{fraction:0<2}").parse::<i64>().map_err(|_| bad())?;
    if bp > 10_000 {
        return Err(bad());
    }
    Ok((category.trim().to_string(), bp))
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Register a kiosk for a store and print its device token (for `omnikiosk enroll`).
    Add {
        #[arg(long)]
        store: i64,
        #[arg(long, default_value = "kiosk")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a kiosk's token (a stolen or retired device); it can no longer sync.
    Revoke {
        #[arg(long)]
        device: String,
    },
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// A new colleague and their printable badge (`badge-<id>.svg` in --badge-dir).
    Add {
        #[arg(long)]
        store: i64,
        #[arg(long)]
        name: String,
        /// staff (pickup desk), till (also sells, returns, shifts) or manager.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long, default_value = ".")]
        badge_dir: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The store's colleagues.
    List {
        #[arg(long)]
        store: i64,
        #[arg(long)]
        json: bool,
    },
    /// A leaver: their badge stops working at every device of the store at its next pull.
    Remove { id: String },
    /// The colleague chooses a new PIN at a kiosk when they next scan their badge.
    ResetPin { id: String },
    /// A new badge for a lost one: the older badge stops working.
    Reissue {
        id: String,
        #[arg(long, default_value = ".")]
        badge_dir: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LoyaltyCommand {
    /// The points rule per currency, sent to every kiosk.
    Rule {
        #[command(subcommand)]
        command: RuleCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RuleCommand {
    /// Set one currency's rule (the other currencies' stay as they are).
    Set {
        /// ISO 4217 code, e.g. PLN.
        #[arg(long)]
        currency: String,
        /// Points per whole unit of the currency paid (rounded down).
        #[arg(long)]
        earn_per_unit: i64,
        /// What one redeemed point takes off, in minor units.
        #[arg(long)]
        point_value_cents: i64,
    },
    /// Print every currency's rule.
    Show {
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?} is not staff, till or manager"))
}

/// Writes the colleague's printable badge into `dir` and prints them (with the badge's
/// path under `badge_file`).
fn print_badge(hub: &Hub, c: &Colleague, dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let store = hub.store(c.store_id)?.map(|s| s.name).unwrap_or_default();
    let path = dir.join(format!("badge-{}.svg", c.id));
    std::fs::write(&path, crate::staff::badge_svg(c, &store)?).map_err(|e| anyhow::anyhow!("cannot write the badge to {}: {e}", path.display()))?;
    if json {
        let mut v = serde_json::to_value(c)?;
        v["badge_file"] = path.display().to_string().into();
        print_json(&v)
    } else {
        out(&format!("{} {} ({}) at store {}: badge {}", c.id, c.name, c.role.as_str(), c.store_id, path.display()));
        Ok(())
    }
}

fn parse_kind(s: &str) -> Result<CodeKind, String> {
    CodeKind::parse_word(s).ok_or_else(|| format!("{s:?} is not customer, order or staff"))
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("OMNIKIOSK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rusqlite_migration=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("omnikiosk-hub: {line}");
            ExitCode::FAILURE
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    out(&serde_json::to_string_pretty(v)?);
    Ok(())
}

/// One block of output on stdout; a closed pipe (`| head`) is not worth a panic.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|_| stdout.flush());
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            channel_token,
            no_show_days,
            checkin_ttl_minutes,
            help_ttl_minutes,
            max_in_flight,
            lookups_per_minute,
            lookup_ttl_days,
            tls_cert,
            tls_key,
            metrics_listen,
            dev,
            points_per_device_hour,
        } => {
            // A proxy on the same host would open a token-less channel to the internet.
            if channel_token.is_none() && !dev {
                anyhow::bail!(
                    "refusing to serve without a channel token: give --channel-token or OMNIKIOSK_CHANNEL_TOKEN \
                     (or --dev on a development machine)"
                );
            }
            let hub = Hub::open(&cli.db)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
                let tls = tls_cert.zip(tls_key).map(|(cert, key)| crate::tls::TlsFiles { cert, key });
                let scheme = if tls.is_some() { "https" } else { "http" };
                tracing::info!(addr = %listener.local_addr()?, scheme, db = %crate::redact(&cli.db), "hub serving");
                let metrics = tokio::net::TcpListener::bind(&metrics_listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {metrics_listen} (--metrics-listen): {e}"))?;
                tracing::info!(addr = %metrics.local_addr()?, "metrics at /metrics");
                let (stopped, metrics_stop) = tokio::sync::watch::channel(false);
                let mut metrics_stop_rx = metrics_stop.clone();
                tokio::spawn(crate::metrics::serve(metrics, async move {
                    let _ = metrics_stop_rx.wait_for(|s| *s).await;
                }));
                let stop = async move {
                    shutdown_signal().await;
                    tracing::info!("hub stopping");
                    let _ = stopped.send(true);
                };
                let cfg = ServeConfig {
                    channel_token,
                    no_show_secs: Some(no_show_days * 86400),
                    checkin_ttl_secs: Some(checkin_ttl_minutes * 60),
                    help_ttl_secs: Some(help_ttl_minutes * 60),
                    max_in_flight: Some(max_in_flight as usize),
                    lookups_per_minute: Some(lookups_per_minute),
                    lookup_ttl_secs: Some(lookup_ttl_days * 86400),
                    tls,
                    points_per_device_hour: Some(points_per_device_hour),
                    ..ServeConfig::default()
                };
                Ok(crate::serve(hub, listener, cfg, stop).await?)
            })
        }
        Command::Init { json } => {
            let hub = Hub::open(&cli.db)?;
            let stores = hub.stores()?.len();
            let key = omnikiosk_protocol::code::encode_public_key(&hub.public_key());
            if json {
                return print_json(&serde_json::json!({ "db": crate::redact(&cli.db), "stores": stores, "hub_key": key }));
            }
            if stores == 0 {
                out(&format!("an empty hub is ready: key {key}; next: omnikiosk-hub store put …"));
            } else {
                out(&format!("this hub is already set up ({stores} stores), nothing changed: key {key}"));
            }
            Ok(())
        }
        Command::Store { command: StoreCommand::Put { id, code, name, currency, language, timezone, vat, city, address, opening_hours, no_click_collect, pickup_minutes, price_list, json } } => {
            let hub = Hub::open(&cli.db)?;
            let body = omnikiosk_protocol::catalogue::StorePut {
                code,
                name,
                city,
                address,
                currency,
                language,
                timezone,
                vat: vat.into_iter().collect(),
                opening_hours,
                click_collect: !no_click_collect,
                pickup_minutes,
                price_list,
            };
            let (store, outcome) = hub.put_store(id, &body)?;
            if json {
                print_json(&serde_json::json!({ "store": store, "outcome": outcome }))
            } else {
                out(&format!("store {} {} ({}): {}", store.id, store.code, store.name, serde_json::to_value(outcome)?.as_str().unwrap_or_default()));
                Ok(())
            }
        }
        Command::Store { command: StoreCommand::List { json } } => {
            let stores = Hub::open(&cli.db)?.stores()?;
            if json {
                return print_json(&stores);
            }
            for s in stores {
                out(&format!("{}\t{}\t{}\t{}\t{}\t{}", s.id, s.code, s.name, s.currency, s.language, s.timezone));
            }
            Ok(())
        }
        Command::Import { command } => {
            let hub = Hub::open(&cli.db)?;
            let (file, how, prune) = match command {
                ImportCommand::Products { file, how, prune } => (file, how, Some(prune)),
                ImportCommand::Inventory { file, how } => (file, how, None),
            };
            let input = std::fs::File::open(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let opts = crate::import::ImportOptions { dry_run: how.dry_run, prune: prune.unwrap_or(false), all_or_nothing: how.all_or_nothing, encoding: how.encoding };
            let report = match prune {
                Some(_) => hub.import_products(std::io::BufReader::new(input), opts)?,
                None => hub.import_inventory(std::io::BufReader::new(input), opts)?,
            };
            if how.json {
                print_json(&report)?;
            } else {
                let would = if report.dry_run { "would be " } else { "" };
                out(&format!(
                    "{}: {would}created {}, updated {}, unchanged {}, withdrawn {}; {} rows not applied",
                    file.display(), report.created, report.updated, report.unchanged, report.withdrawn, report.errors.len()
                ));
                for e in &report.errors {
                    let column = e.column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default();
                    eprintln!("{}: line {}{column}: {}", file.display(), e.line, e.message);
                }
            }
            anyhow::ensure!(report.errors.is_empty(), "{} rows of {} were not applied{}", report.errors.len(), file.display(), if how.all_or_nothing { " (nothing was: --all-or-nothing)" } else { "" });
            Ok(())
        }
        Command::Seed { stores, customers, products, orders, seed, json } => {
            let hub = Hub::open(&cli.db)?;
            let summary = hub.seed(&SeedOptions { stores, customers, products, orders, seed })?;
            if json {
                print_json(&summary)
            } else {
                let c = &summary.counts;
                out(&format!(
                    "seeded {} stores, {} customers ({} carts), {} products, {} orders, {} staff",
                    c.stores, c.customers, c.carts, c.products, c.orders, c.staff
                ));
                for s in &summary.stores {
                    let cust = s.customers.first().map(|c| format!("{} ({}, card {})", c.id, c.name, c.loyalty_card)).unwrap_or_default();
                    out(&format!(
                        "  store {} {}: try customer {cust}; staff {} PIN {}, manager {} PIN {}",
                        s.store_id, s.name, s.staff.id, s.staff.pin, s.manager.id, s.manager.pin
                    ));
                }
                Ok(())
            }
        }
        Command::Staff { command } => {
            let hub = Hub::open(&cli.db)?;
            match command {
                StaffCommand::Add { store, name, role, badge_dir, json } => {
                    let c = hub.add_staff(store, &StaffPut { name, role })?;
                    print_badge(&hub, &c, &badge_dir, json)
                }
                StaffCommand::Reissue { id, badge_dir, json } => print_badge(&hub, &hub.reissue_badge(&id)?, &badge_dir, json),
                StaffCommand::List { store, json } => {
                    let staff = hub.staff_of_store(store)?;
                    if json {
                        return print_json(&staff);
                    }
                    for c in staff {
                        let pin = if c.pin_set { "PIN set" } else { "no PIN yet" };
                        out(&format!("{}\t{}\t{}\t{pin}", c.id, c.name, c.role.as_str()));
                    }
                    Ok(())
                }
                StaffCommand::Remove { id } => {
                    let c = hub.remove_staff(None, &id)?;
                    out(&format!("removed {} ({}): the badge stops working at store {}'s devices at their next pull", c.id, c.name, c.store_id));
                    Ok(())
                }
                StaffCommand::ResetPin { id } => {
                    let c = hub.reset_staff_pin(&id)?;
                    out(&format!("{} ({}) chooses a new PIN at a kiosk with their badge", c.id, c.name));
                    Ok(())
                }
            }
        }
        Command::Device { command: DeviceCommand::Add { store, label, json } } => {
            let hub = Hub::open(&cli.db)?;
            let token = hub.add_device(store, &label)?;
            // For `omnikiosk enroll --hub-key-fingerprint`: the token stays the last word
            // on standard output, for scripts.
            let fingerprint = omnikiosk_protocol::code::key_fingerprint(&hub.public_key());
            if json {
                print_json(&serde_json::json!({ "store_id": store, "token": token, "hub_key_fingerprint": fingerprint }))
            } else {
                eprintln!("hub key fingerprint: {fingerprint}");
                out(&token);
                Ok(())
            }
        }
        Command::Device { command: DeviceCommand::Revoke { device } } => {
            Hub::open(&cli.db)?.revoke_device(&device)?;
            out(&format!("revoked {device}"));
            Ok(())
        }
        Command::Loyalty { command: LoyaltyCommand::Rule { command } } => {
            let hub = Hub::open(&cli.db)?;
            let json = match command {
                RuleCommand::Set { currency, earn_per_unit, point_value_cents } => {
                    let mut rules = match hub.loyalty_rules() {
                        Err(crate::HubError::NotFound(_)) => Default::default(),
                        found => found?,
                    };
                    rules.rules.insert(currency, omnikiosk_protocol::till::PointsRule { earn_per_unit, point_value_cents });
                    hub.set_loyalty_rules(&rules)?;
                    false
                }
                RuleCommand::Show { json } => json,
            };
            let rules = hub.loyalty_rules()?;
            if json {
                return print_json(&rules);
            }
            for (currency, r) in &rules.rules {
                out(&format!("{currency}: earn_per_unit {}, point_value_cents {}", r.earn_per_unit, r.point_value_cents));
            }
            Ok(())
        }
        Command::Code { kind, id, ttl_days, json } => {
            anyhow::ensure!((1..=3650).contains(&ttl_days), "--ttl-days must be 1..=3650");
            let hub = Hub::open(&cli.db)?;
            let code = hub.sign_code(kind, &id, ttl_days * 86400)?;
            if json {
                print_json(&omnikiosk_protocol::wire::SignedCodeResponse { code })
            } else {
                out(&code);
                Ok(())
            }
        }
        Command::Simulate { rate, seed, count, json } => {
            let hub = Hub::open(&cli.db)?;
            let seed = seed.unwrap_or_else(rand::random);
            let mut sim = simulate::spawn(hub, SimulateOptions { rate_per_min: rate, seed, count }, move |action| {
                if json {
                    out(&serde_json::to_string(action).expect("an action serialises"));
                } else {
                    out(&action.to_string());
                }
            })?;
            tracing::info!(seed, rate, "online channel simulating (Ctrl-C stops)");
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                tokio::select! {
                    _ = shutdown_signal() => {}
                    _ = sim.ended() => {}
                }
            });
            let done = sim.stop()?;
            tracing::info!(
                carts_changed = done.carts_changed,
                orders_placed = done.orders_placed,
                orders_cancelled = done.orders_cancelled,
                skipped = done.skipped,
                "online channel stopped"
            );
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
