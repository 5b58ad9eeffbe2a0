//! A retailer's own chain through the command line, as its IT team would set it up: `init`,
//! `store put`, then the nightly `import products` and `import inventory` of the files its
//! systems already export (Google Merchant Center product data, Google local inventory).
//! Bad rows are named by line and column and the good ones applied; `--all-or-nothing`,
//! `--dry-run` and an unchanged re-import change nothing. SQLite and PostgreSQL.

#[path = "support/pg.rs"]
mod pg;

use std::process::{Command, Output};

use omnikiosk_hub::Hub;
use serde_json::Value;

fn hub(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub")).arg("--db").arg(db).args(args).env_remove("OMNIKIOSK_CHANNEL_TOKEN").output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The import's `--json` report, whatever its exit code.
fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn example(name: &str) -> String {
    format!("{}/../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An empty hub with the examples' two stores: Kraków in złoty, London in pounds.
fn two_stores(db: &str) {
    ok(&hub(db, &["init"]));
    ok(&hub(db, &["store", "put", "1", "--code", "KRK-01", "--name", "Omni Kraków Rynek", "--currency", "PLN", "--language", "pl", "--timezone", "Europe/Warsaw", "--vat", "standard=23", "--vat", "reduced=5"]));
    ok(&hub(db, &["store", "put", "2", "--code", "LON-01", "--name", "Omni London Soho", "--currency", "GBP", "--language", "en", "--timezone", "Europe/London", "--vat", "standard=20", "--vat", "zero=0"]));
}

fn counts(r: &Value) -> [u64; 4] {
    ["created", "updated", "unchanged", "withdrawn"].map(|k| r[k].as_u64().unwrap())
}

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("hub.db").display())
}

#[test]
fn a_chain_from_init_to_its_feeds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    from_init_to_feeds(&sqlite(&dir), dir.path());
}

#[test]
fn a_chain_from_init_to_its_feeds_on_postgres() {
    if pg::available() {
        let dir = tempfile::tempdir().unwrap();
        from_init_to_feeds(&pg::database(), dir.path());
    }
}

fn from_init_to_feeds(db: &str, dir: &std::path::Path) {
    two_stores(db);
    let products = report(&hub(db, &["import", "products", &example("products.tsv"), "--json"]));
    assert_eq!(counts(&products), [9, 0, 0, 0], "{products}");
    let inventory = report(&hub(db, &["import", "inventory", &example("inventory.tsv"), "--json"]));
    assert_eq!(counts(&inventory), [10, 0, 0, 0], "{inventory}");
    let head = Hub::open(db).unwrap().feed_head().unwrap();

    // The same files tomorrow: nothing is written, no kiosk is woken.
    assert_eq!(counts(&report(&hub(db, &["import", "products", &example("products.tsv"), "--json"]))), [0, 0, 9, 0]);
    assert_eq!(counts(&report(&hub(db, &["import", "inventory", &example("inventory.tsv"), "--json"]))), [0, 0, 10, 0]);
    assert_eq!(Hub::open(db).unwrap().feed_head().unwrap(), head, "an unchanged re-import appended to a feed");

    // One price changed, one product gone from a full feed: a dry run says so and changes nothing.
    let full = std::fs::read_to_string(example("products.tsv")).unwrap();
    let changed: String = full.replace("29.99 PLN", "27.99 PLN").lines().filter(|l| !l.starts_with("UK-TOA-004")).map(|l| format!("{l}\n")).collect();
    let file = dir.join("changed.tsv");
    std::fs::write(&file, changed).unwrap();
    let file = file.to_str().unwrap();
    let dry = report(&hub(db, &["import", "products", file, "--prune", "--dry-run", "--json"]));
    assert_eq!((counts(&dry), &dry["dry_run"]), ([0, 1, 7, 1], &Value::Bool(true)), "{dry}");
    assert_eq!(Hub::open(db).unwrap().feed_head().unwrap(), head, "a dry run appended to a feed");
    let done = report(&hub(db, &["import", "products", file, "--prune", "--json"]));
    assert_eq!(counts(&done), [0, 1, 7, 1], "{done}");
    let h = Hub::open(db).unwrap();
    assert!(h.product("UK-TOA-004").unwrap().withdrawn);
    assert_eq!(h.product("PL-KUB-001").unwrap().entry.prices["PLN"].price_cents, 2799);

    // The command a person reads: counts, and exit 0.
    let text = ok(&hub(db, &["import", "products", file]));
    assert!(text.contains("unchanged 8"), "{text}");
}

#[test]
fn bad_rows_are_named_by_line_and_column_and_the_good_rows_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    two_stores(&db);
    let file = dir.path().join("products.tsv");
    #[rustfmt::skip]
    let rows = [
        // line 2: good
        "GOOD-1\tMug\t12.99 PLN\t5901234000017",
        "NO-CUR\tMug\t12.99\t",                          // line 3
        "ABSURD\tMug\t99999999999.00 PLN\t",             // line 4
        "CHECK\tMug\t1.00 PLN\t5901234000018",           // line 5
        "TWICE\tMug\t1.00 PLN\t5901234000017",           // line 6: GTIN of GOOD-1
        "GOOD-1\tMug again\t1.00 PLN\t",                 // line 7: the same id again
        "NEG\tMug\t-1.00 PLN\t",                         // line 8
        "GOOD-2\tCup\t4.50 GBP\t96385074",               // line 9: good
    ];
    let text = format!("id\ttitle\tprice\tgtin\n{}\n", rows.join("\n"));
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();

    // All or nothing: nothing applied, every bad row named.
    let out = hub(&db, &["import", "products", path, "--all-or-nothing", "--json"]);
    assert!(!out.status.success(), "a file with bad rows is a failure for cron");
    let r = report(&out);
    assert_eq!(counts(&r), [0, 0, 0, 0]);
    let errors: Vec<(u64, String)> = r["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap_or("").to_string())).collect();
    let expected = [(3, "price"), (4, "price"), (5, "gtin"), (6, "gtin"), (7, "id"), (8, "price")];
    assert_eq!(errors, expected.map(|(l, c)| (l, c.to_string())), "{r}");
    assert!(Hub::open(&db).unwrap().product("GOOD-1").is_err(), "all or nothing applied a row");

    // By default the good rows are applied, the bad ones reported on stderr with line and column.
    let out = hub(&db, &["import", "products", path]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 6, column gtin") && stderr.contains("GOOD-1"), "{stderr}");
    assert!(stderr.contains("6 rows of"), "{stderr}");
    let h = Hub::open(&db).unwrap();
    assert_eq!(h.product("GOOD-2").unwrap().entry.gtins, ["96385074"]);
    assert!(h.product("NO-CUR").is_err() && h.product("TWICE").is_err());
}

#[test]
fn inventory_rows_must_name_a_store_a_product_and_the_stores_money() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    two_stores(&db);
    ok(&hub(&db, &["import", "products", &example("products.tsv")]));
    let file = dir.path().join("inventory.tsv");
    #[rustfmt::skip]
    let rows = [
        "KRK-01\tOM-MUG-350\t5\t\tA1",           // line 2: good
        "WAW-09\tOM-MUG-350\t5\t\tA1",           // line 3: no such store
        "LON-01\tOM-MUG-350\t5\t25.00 PLN\tA1",  // line 4: złoty in London
        "KRK-01\tPL-KUB-001\tfive\t\tA1",        // line 5: not a number
        "KRK-01\tNOPE\t5\t\tA1",                 // line 6: not in the catalogue
        "LON-01\tUK-MUG-001\t\t7.50 GBP\t",      // line 7: good, a price alone
    ];
    std::fs::write(&file, format!("store_code\tid\tquantity\tprice\taisle\n{}\n", rows.join("\n"))).unwrap();
    let r = report(&hub(&db, &["import", "inventory", file.to_str().unwrap(), "--json"]));
    let errors: Vec<(u64, String)> = r["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap_or("").to_string())).collect();
    assert_eq!(errors, [(3, "store_code"), (4, "price"), (5, "quantity"), (6, "id")].map(|(l, c)| (l, c.to_string())), "{r}");
    assert_eq!(counts(&r), [2, 0, 0, 0], "{r}");
}

#[test]
fn a_spreadsheets_windows_1250_file_is_refused_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    two_stores(&db);
    let file = dir.path().join("cp1250.csv");
    // "Kubek Żółć" in Windows-1250.
    let mut bytes = b"id;title;price\nKUB-1;Kubek ".to_vec();
    bytes.extend([0xAF, 0xF3, 0xB3, 0xE6]);
    bytes.extend(b";12,99 PLN\n".iter().map(|b| if *b == b',' { b'.' } else { *b }));
    std::fs::write(&file, &bytes).unwrap();
    let path = file.to_str().unwrap();
    let r = report(&hub(&db, &["import", "products", path, "--json"]));
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("windows-1250"), "{r}");
    let r = report(&hub(&db, &["import", "products", path, "--encoding", "windows-1250", "--json"]));
    assert_eq!(counts(&r), [1, 0, 0, 0], "{r}");
    assert_eq!(Hub::open(&db).unwrap().product("KUB-1").unwrap().entry.name, "Kubek Żółć");
}

#[test]
fn an_empty_feed_never_prunes_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    two_stores(&db);
    ok(&hub(&db, &["import", "products", &example("products.tsv")]));
    let empty = dir.path().join("empty.tsv");
    std::fs::write(&empty, "").unwrap();
    let out = hub(&db, &["import", "products", empty.to_str().unwrap(), "--prune"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("whole catalogue"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!Hub::open(&db).unwrap().product("OM-MUG-350").unwrap().withdrawn);
}

/// Every change a store's kiosks would pull, in order.
fn store_feed(h: &Hub, store_id: i64) -> Vec<Value> {
    let (mut after, mut all) = (0, Vec::new());
    loop {
        let page = h.pull(store_id, after, 1000).unwrap();
        all.extend(page.changes.iter().map(|c| serde_json::from_str::<Value>(c).unwrap()));
        after = page.last_seq;
        if !page.has_more {
            return all;
        }
    }
}

/// The PostgreSQL hub reads what an import batch will read at once and writes the batch
/// at once; the SQLite hub goes row by row. Given the same files, with rows that depend
/// on earlier rows of the same batch (a GTIN given up, then claimed; an aisle without a
/// count), both answer the same reports and feed the stores the same changes.
#[test]
fn a_postgres_hub_imports_a_batch_as_the_sqlite_hub_does_row_by_row() {
    if !pg::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let [g1, g2, g3] = [1, 2, 3].map(|n| omnikiosk_protocol::gtin::Gtin::ean13_from_body(&format!("59012345000{n}")).unwrap().as_str().to_string());
    let files = [
        ("products", format!("id\ttitle\tprice\tgtin\tbrand\nA\tApple\t1.00 PLN\t{g1}\tOrchard\nB\tBread\t2.00 PLN\t{g2}\t\nC\tCup\t3.00 PLN\t{g3}\t\nD\tDish\t4.00 PLN\t\t\nE\tEgg cup\t5.00 GBP\t\t\n")),
        ("inventory", "store_code\tid\tquantity\tprice\taisle\nKRK-01\tA\t5\t\tA1\nKRK-01\tB\t3\t2.50 PLN\t\nLON-01\tE\t2\t5.00 GBP\t\nKRK-01\tC\t\t\tC9\n".to_string()),
        // A gives up g1 and B claims it further down; F wants C's GTIN (refused); C renamed and repriced.
        ("products", format!("id\ttitle\tprice\tgtin\tbrand\nA\tApple\t1.00 PLN\t\tOrchard\nB\tBread\t2.00 PLN\t{g2},{g1}\t\nC\tTea cup\t3.50 PLN\t{g3}\t\nD\tDish\t4.00 PLN\t\t\nF\tFork\t1.50 PLN\t{g3}\t\nE\tEgg cup\t5.00 GBP\t\t\n")),
        // An aisle alone keeps the count; a count alone keeps the store's own price.
        ("inventory", "store_code\tid\tquantity\tprice\taisle\nKRK-01\tA\t\t\tA2\nKRK-01\tB\t4\t\t\nLON-01\tE\t\t5.50 GBP\t\nKRK-01\tC\t1\t\t\nLON-01\tA\t9\t\tB1\n".to_string()),
    ];
    let run = |db: &str| {
        two_stores(db);
        let mut reports: Vec<Value> = files
            .iter()
            .enumerate()
            .map(|(i, (kind, text))| {
                let file = dir.path().join(format!("{i}.tsv"));
                std::fs::write(&file, text).unwrap();
                report(&hub(db, &["import", kind, file.to_str().unwrap(), "--json"]))
            })
            .collect();
        let head = Hub::open(db).unwrap().feed_head().unwrap();
        reports.push(report(&hub(db, &["import", "products", dir.path().join("2.tsv").to_str().unwrap(), "--json"])));
        let h = Hub::open(db).unwrap();
        assert_eq!(h.feed_head().unwrap(), head, "an unchanged re-import appended to a feed");
        let products: Vec<Value> = ["A", "B", "C", "D", "E", "F"].iter().map(|sku| h.product(sku).map(|p| serde_json::to_value(p).unwrap()).unwrap_or(Value::Null)).collect();
        (reports, products, store_feed(&h, 1), store_feed(&h, 2))
    };
    let lite = run(&sqlite(&dir));
    let postgres = run(&pg::database());
    assert_eq!(lite.0[2]["errors"][0]["line"], 6, "F's GTIN is C's: {}", lite.0[2]);
    assert_eq!(lite.1[1]["gtins"], serde_json::json!([g2, g1]), "B did not get the GTIN A gave up: {}", lite.1[1]);
    assert_eq!(postgres.0, lite.0, "the reports differ");
    assert_eq!(postgres.1, lite.1, "the catalogue differs");
    assert_eq!(postgres.2, lite.2, "Kraków's feed differs");
    assert_eq!(postgres.3, lite.3, "London's feed differs");
}

/// The feed's `description` is kept as the product's description; one longer than the hub
/// takes is named by its line and column, and its row alone is not applied.
#[test]
fn a_products_description_comes_from_the_feed_and_a_too_long_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    two_stores(&db);
    let file = dir.path().join("products.csv");
    let long = "x".repeat(omnikiosk_protocol::catalogue::MAX_DESCRIPTION_CHARS + 1);
    let text = format!("id,title,price,description\nMUG,Mug,12.99 PLN,\"Stoneware.\nDishwasher safe.\"\nLONG,Cup,1.00 PLN,{long}\n");
    std::fs::write(&file, &text).unwrap();
    let out = hub(&db, &["import", "products", file.to_str().unwrap(), "--json"]);
    let r = report(&out);
    assert_eq!(counts(&r)[0], 1, "{r}");
    let errors: Vec<(u64, &str)> = r["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap_or(""))).collect();
    assert_eq!(errors, [(4, "description")], "{r}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("at most 5000 characters"), "{r}");
    let h = Hub::open(&db).unwrap();
    assert_eq!(h.product("MUG").unwrap().entry.description, "Stoneware.\nDishwasher safe.");
    assert!(h.product("LONG").is_err());
}
