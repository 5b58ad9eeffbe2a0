//! The `omnikiosk-hub` command line (contract in DESIGN.md). Every command takes
//! `--db URL`; `--json` prints exactly one JSON document on stdout; a failure exits
//! non-zero with one line on stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use omnikiosk_protocol::code::CodeKind;

use crate::simulate::{self, SimulateOptions};
use crate::{Hub, SeedOptions, ServeConfig};

#[derive(Debug, Parser)]
#[command(name = "omnikiosk-hub", version, about = "Omnikiosk hub: the central profile store kiosks sync with")]
pub struct Cli {
    /// Database: sqlite:PATH (embedded) or postgres://USER@HOST/DB (several hubs may share it).
    #[arg(long, global = true, default_value = "sqlite:hub.db", env = "OMNIKIOSK_HUB_DB")]
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
        /// Bearer token of the online channel (required off loopback).
        #[arg(long, env = "OMNIKIOSK_CHANNEL_TOKEN", hide_env_values = true)]
        channel_token: Option<String>,
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
    },
    /// Fill an empty hub with a realistic, deterministic chain.
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
        Command::Serve { listen, channel_token, no_show_days, checkin_ttl_minutes, help_ttl_minutes, max_in_flight, lookups_per_minute, lookup_ttl_days } => {
            let hub = Hub::open(&cli.db)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
                tracing::info!(addr = %listener.local_addr()?, db = %cli.db, "hub serving");
                let stop = async {
                    shutdown_signal().await;
                    tracing::info!("hub stopping");
                };
                let cfg = ServeConfig {
                    channel_token,
                    no_show_secs: Some(no_show_days * 86400),
                    checkin_ttl_secs: Some(checkin_ttl_minutes * 60),
                    help_ttl_secs: Some(help_ttl_minutes * 60),
                    max_in_flight: Some(max_in_flight as usize),
                    lookups_per_minute: Some(lookups_per_minute),
                    lookup_ttl_secs: Some(lookup_ttl_days * 86400),
                    ..ServeConfig::default()
                };
                Ok(crate::serve(hub, listener, cfg, stop).await?)
            })
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
        Command::Device { command: DeviceCommand::Add { store, label, json } } => {
            let hub = Hub::open(&cli.db)?;
            let token = hub.add_device(store, &label)?;
            if json {
                print_json(&serde_json::json!({ "store_id": store, "token": token }))
            } else {
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
