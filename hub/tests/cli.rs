//! The `omnikiosk-hub` command line: what an operator types, and what they see.

#[path = "support/pg.rs"]
mod pg;

use std::process::{Command, Output};

use omnikiosk_protocol::code::{decode_public_key, verify, CodeKind};
use serde_json::Value;

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite:{}", dir.join("hub.db").display())
}

fn hub(dir: &std::path::Path, args: &[&str]) -> Output {
    hub_on(&sqlite_url(dir), args)
}

fn hub_on(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("OMNIKIOSK_CHANNEL_TOKEN")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn seed_json_names_things_a_person_can_try_and_codes_verify() {
    let dir = tempfile::tempdir().unwrap();
    seed_device_and_code(&sqlite_url(dir.path()));
}

#[test]
fn seed_device_and_code_on_postgres() {
    if pg::available() {
        seed_device_and_code(&pg::database());
    }
}

fn seed_device_and_code(db: &str) {
    let summary: Value =
        serde_json::from_str(&ok(&hub_on(db, &["seed", "--stores", "2", "--customers", "50", "--json"]))).unwrap();
    assert_eq!(summary["counts"]["stores"], 2);
    assert_eq!(summary["counts"]["customers"], 50);
    let store = &summary["stores"][0];
    assert_eq!(store["staff"]["pin"], "1234");
    assert_eq!(store["manager"]["pin"], "9999");
    let customer = store["customers"][0]["id"].as_str().unwrap();
    assert!(store["customers"][0]["loyalty_card"].as_str().unwrap().starts_with("042"));

    // Seeding twice is refused: it would duplicate the chain.
    let again = hub_on(db, &["seed"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has stores"));

    let token = ok(&hub_on(db, &["device", "add", "--store", "1"])).trim().to_string();
    assert!(token.starts_with("okd_"));
    let unknown = hub_on(db, &["device", "add", "--store", "7"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("store 7 does not exist"));

    let code = ok(&hub_on(db, &["code", "customer", customer])).trim().to_string();
    let h = omnikiosk_hub::Hub::open(db).unwrap();
    let key = decode_public_key(&omnikiosk_protocol::code::encode_public_key(&h.public_key())).unwrap();
    let claims = verify(&key, &code, omnikiosk_hub::now_secs()).unwrap();
    assert_eq!((claims.kind, claims.id.as_str()), (CodeKind::Customer, customer));
    let missing = hub_on(db, &["code", "staff", "S9-NOBODY"]);
    assert!(!missing.status.success());
}

/// No channel token: refused on loopback too (a proxy on the same host would open the
/// channel to the internet) unless `--dev`, and off loopback even with `--dev`.
#[test]
fn serve_refuses_an_open_channel_unless_dev_and_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (&["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"][..], "--dev"),
        (&["serve", "--dev", "--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0"][..], "without a channel token"),
    ] {
        let out = hub(dir.path(), args);
        assert!(!out.status.success(), "{args:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("without a channel token") && err.contains(says), "{args:?}: {err}");
    }
}

/// The lookups' limit and expiry are policy with a floor: no limit of zero lookups, no
/// expiry of zero days; `serve` says which flag and starts nothing.
#[test]
fn serve_refuses_a_lookup_policy_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [("--lookups-per-minute", "0"), ("--lookup-ttl-days", "0"), ("--lookups-per-minute", "many")] {
        let out = hub(dir.path(), &["serve", "--dev", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", flag, value]);
        assert!(!out.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

#[test]
fn an_unknown_database_url_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub")).args(["--db", "mysql://x", "seed"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown database URL"));
}

#[test]
fn an_unreachable_postgres_is_a_clear_error() {
    let out = hub_on("postgresql://postgres@/nope?host=/nonexistent-omnikiosk&port=1", &["seed"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database") && err.contains("connect"), "{err}");
}

/// `simulate --json` lines, parsed.
fn simulate(db: &str, seed: &str) -> Vec<Value> {
    let out = ok(&hub_on(db, &["simulate", "--count", "30", "--rate", "6000", "--seed", seed, "--json"]));
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn simulate_places_and_cancels_orders_and_changes_carts_and_replays_with_its_seed() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    simulated_channel(&sqlite_url(a.path()), &sqlite_url(b.path()));
}

#[test]
fn simulate_on_postgres() {
    if pg::available() {
        simulated_channel(&pg::database(), &pg::database());
    }
}

fn simulated_channel(db: &str, twin: &str) {
    for d in [db, twin] {
        ok(&hub_on(d, &["seed", "--stores", "2", "--customers", "200", "--products", "80", "--orders", "40"]));
    }
    let actions = simulate(db, "7");
    assert_eq!(actions.len(), 30, "one line per action");
    let of = |kind: &str| actions.iter().filter(|a| a["action"] == kind).collect::<Vec<_>>();
    let (placed, cancelled, carts) = (of("order_placed"), of("order_cancelled"), of("cart_changed"));
    assert!(!placed.is_empty() && !cancelled.is_empty() && !carts.is_empty(), "{actions:#?}");

    let hub = omnikiosk_hub::Hub::open(db).unwrap();
    let in_stock = |store: i64| -> std::collections::HashSet<String> {
        let page = hub.pull(store, 0, 1_000_000).unwrap();
        page.changes
            .iter()
            .filter_map(|c| match serde_json::from_str(c).unwrap() {
                omnikiosk_protocol::wire::Change::Stock(s) if s.on_hand > 0 => Some(s.sku),
                _ => None,
            })
            .collect()
    };
    for p in &placed {
        let id = p["order_id"].as_str().unwrap();
        let order = hub.get_order(id).unwrap().order;
        assert_eq!(order.customer_id, p["customer_id"].as_str().unwrap());
        assert_eq!(order.store_id, p["store_id"].as_i64().unwrap());
        assert_eq!(order.pickup_code, p["pickup_code"].as_str().unwrap());
        let lines: Vec<(String, i64)> = order.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect();
        let printed: Vec<(String, i64)> =
            p["lines"].as_array().unwrap().iter().map(|l| (l["sku"].as_str().unwrap().to_string(), l["qty"].as_i64().unwrap())).collect();
        assert_eq!(lines, printed);
        assert!((1..=4).contains(&lines.len()));
        let stocked = in_stock(order.store_id);
        assert!(lines.iter().all(|(sku, _)| stocked.contains(sku)), "{id} holds a product the store does not have on the shelf");
        let ready_in = order.promised_ready_at - order.placed_at;
        assert!((30 * 60 - 5..=120 * 60 + 5).contains(&ready_in), "{id} promised in {ready_in} s");
        assert!((ready_in - p["ready_in_min"].as_i64().unwrap() * 60).abs() <= 5);
        let expected = if cancelled.iter().any(|c| c["order_id"] == id) { "cancelled" } else { "placed" };
        assert_eq!(order.status.as_str(), expected, "{id}");
    }
    for c in &cancelled {
        let detail = hub.get_order(c["order_id"].as_str().unwrap()).unwrap();
        let last = detail.history.last().unwrap();
        assert_eq!((last.status.as_str(), last.by.as_str()), ("cancelled", "channel"));
        assert_eq!(last.note.as_deref(), c["reason"].as_str());
        // Only orders nobody had started picking are cancelled.
        assert_eq!(detail.history.iter().filter(|e| e.status.as_str() == "picking").count(), 0);
    }
    // A cart's last printed state is what the hub holds, unless a later checkout took lines.
    let mut last_cart = std::collections::BTreeMap::new();
    for a in &actions {
        match a["action"].as_str().unwrap() {
            "cart_changed" => {
                last_cart.insert(a["customer_id"].as_str().unwrap(), &a["lines"]);
            }
            "order_placed" if a["from_cart"] == true => {
                last_cart.remove(a["customer_id"].as_str().unwrap());
            }
            _ => {}
        }
    }
    assert!(!last_cart.is_empty());
    for (customer, lines) in last_cart {
        let held: Vec<Value> =
            hub.get_customer(customer).unwrap().cart.iter().map(|l| serde_json::json!({"sku": l.sku, "qty": l.qty})).collect();
        assert_eq!(&Value::Array(held), lines, "{customer}'s cart");
    }

    // The same seed on an identical database does the same things (pickup codes are the
    // hub's own random draw).
    let strip = |mut v: Vec<Value>| {
        v.iter_mut().for_each(|a| {
            a.as_object_mut().unwrap().remove("pickup_code");
        });
        v
    };
    assert_eq!(strip(simulate(twin, "7")), strip(actions));
}

#[test]
fn simulate_on_an_empty_hub_says_to_seed_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = hub(dir.path(), &["simulate", "--count", "3"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the hub has no stores; run `omnikiosk-hub seed` first"), "{err}");

    ok(&hub(dir.path(), &["seed", "--stores", "1", "--customers", "10"]));
    let out = hub(dir.path(), &["simulate", "--rate", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate must be above 0"));
}

#[test]
fn simulate_runs_until_sigterm_and_stops_cleanly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    ok(&hub(dir.path(), &["seed", "--stores", "1", "--customers", "20"]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub"))
        .args(["--db", &sqlite_url(dir.path()), "simulate", "--rate", "600"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("store 1"), "{first}");
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    // Generous: it stops at its next wait (0.1 s at this rate), not after a timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "simulate did not stop on SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn colleagues_are_added_with_a_printable_badge_listed_reset_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    colleagues_from_hr(&sqlite_url(dir.path()), dir.path());
}

#[test]
fn colleagues_from_hr_on_postgres() {
    if pg::available() {
        let dir = tempfile::tempdir().unwrap();
        colleagues_from_hr(&pg::database(), dir.path());
    }
}

fn colleagues_from_hr(db: &str, dir: &std::path::Path) {
    ok(&hub_on(db, &["seed", "--stores", "2", "--customers", "10", "--orders", "0"]));
    let badges = dir.to_str().unwrap();
    let add = |name: &str, role: &str| hub_on(db, &["staff", "add", "--store", "1", "--name", name, "--role", role, "--badge-dir", badges, "--json"]);
    let added: Value = serde_json::from_str(&ok(&add("Zofia Wiśniewska", "till"))).unwrap();
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(id, "S1-1", "beside the seed's S1-STAFF and S1-MGR");
    assert_eq!((&added["role"], &added["pin_set"]), (&Value::from("till"), &Value::from(false)));
    let h = omnikiosk_hub::Hub::open(db).unwrap();
    let claims = verify(&h.public_key(), added["badge"].as_str().unwrap(), omnikiosk_hub::now_secs()).unwrap();
    assert_eq!((claims.kind, claims.id.as_str()), (CodeKind::Staff, "S1-1"));
    let svg = std::fs::read_to_string(added["badge_file"].as_str().unwrap()).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Zofia Wiśniewska") && svg.contains("S1-1") && svg.contains("<path d=\"M"), "{svg}");
    let second: Value = serde_json::from_str(&ok(&add("Ola", "staff"))).unwrap();
    assert_eq!(second["id"], "S1-2");

    // Bad input: a clear reason, nothing added.
    let refused: &[(&[&str], &str)] = &[
        (&["staff", "add", "--store", "9", "--name", "Ola", "--role", "staff"], "store 9 does not exist"),
        (&["staff", "add", "--store", "1", "--name", "", "--role", "staff"], "name must be 1-80"),
        (&["staff", "add", "--store", "1", "--name", &"x".repeat(81), "--role", "staff"], "name must be 1-80"),
        (&["staff", "add", "--store", "1", "--name", "Ola", "--role", "boss"], "is not staff, till or manager"),
        (&["staff", "remove", "S1-99"], "staff S1-99 does not exist"),
        (&["staff", "reset-pin", "S1-99"], "staff S1-99 does not exist"),
        (&["staff", "list", "--store", "9"], "store 9 does not exist"),
    ];
    for (args, says) in refused {
        let out = hub_on(db, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{args:?}: {err}");
    }
    let list: Value = serde_json::from_str(&ok(&hub_on(db, &["staff", "list", "--store", "1", "--json"]))).unwrap();
    let rows: Vec<(&str, &str, bool)> =
        list.as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap(), c["role"].as_str().unwrap(), c["pin_set"].as_bool().unwrap())).collect();
    assert_eq!(rows, [("S1-1", "till", false), ("S1-2", "staff", false), ("S1-MGR", "manager", true), ("S1-STAFF", "till", true)]);

    assert!(ok(&hub_on(db, &["staff", "reset-pin", "S1-STAFF"])).contains("chooses a new PIN"));
    let reissued: Value = serde_json::from_str(&ok(&hub_on(db, &["staff", "reissue", "S1-1", "--badge-dir", badges, "--json"]))).unwrap();
    assert_eq!(reissued["badge_version"], 1);
    assert_eq!(verify(&h.public_key(), reissued["badge"].as_str().unwrap(), omnikiosk_hub::now_secs()).unwrap().version, 1);
    assert!(ok(&hub_on(db, &["staff", "remove", "S1-2"])).contains("removed S1-2"));
    let list = ok(&hub_on(db, &["staff", "list", "--store", "1"]));
    assert!(!list.contains("S1-2") && list.contains("S1-STAFF\tKasia (staff)\ttill\tno PIN yet"), "{list}");
}

/// `loyalty rule set` sets one currency and keeps the others; `show` prints what every
/// kiosk is sent; a bad currency is refused in one line and changes nothing.
#[test]
fn loyalty_rule_set_adds_a_currency_and_show_prints_the_chains_rule() {
    let dir = tempfile::tempdir().unwrap();
    let nothing = hub(dir.path(), &["loyalty", "rule", "show"]);
    assert!(!nothing.status.success() && String::from_utf8_lossy(&nothing.stderr).contains("no loyalty rule yet"));
    ok(&hub(dir.path(), &["loyalty", "rule", "set", "--currency", "PLN", "--earn-per-unit", "1", "--point-value-cents", "1"]));
    let shown = ok(&hub(dir.path(), &["loyalty", "rule", "set", "--currency", "GBP", "--earn-per-unit", "5", "--point-value-cents", "1"]));
    assert_eq!(shown.lines().collect::<Vec<_>>(), [
        "GBP: earn_per_unit 5, point_value_cents 1",
        "PLN: earn_per_unit 1, point_value_cents 1"
    ]);
    let bad = hub(dir.path(), &["loyalty", "rule", "set", "--currency", "zl", "--earn-per-unit", "1", "--point-value-cents", "1"]);
    assert_eq!(String::from_utf8_lossy(&bad.stderr).trim(), "omnikiosk-hub: \"zl\" is not an ISO 4217 currency code (three capital letters)");
    let json: Value = serde_json::from_str(&ok(&hub(dir.path(), &["loyalty", "rule", "show", "--json"]))).unwrap();
    assert_eq!(json, serde_json::json!({"rules": {"GBP": {"earn_per_unit": 5, "point_value_cents": 1}, "PLN": {"earn_per_unit": 1, "point_value_cents": 1}}}));
}

/// `--help` never shows the database URL from the environment: it may hold a password.
#[test]
fn help_hides_the_database_url_of_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub")).args(["serve", "--help"]).env("OMNIKIOSK_HUB_DB", "postgres://hub:s3cret@db/chain").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--db") && !help.contains("s3cret"), "{help}");
}
