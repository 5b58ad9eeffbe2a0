//! The nightly feeds at chain size (figures, not pass/fail): a Google product data file of
//! N products and the local inventory of S stores (N × S stock rows) imported into an
//! empty hub, then the same product file again (unchanged: nothing may be written). Prints
//! rows per second for each and the process's peak resident memory (the hub is this
//! process). The files are made first, in a temporary directory, and not timed.
//!
//!     cargo bench -p omnikiosk-hub --bench import                                  # 100,000 products, 10 stores, SQLite
//!     cargo bench -p omnikiosk-hub --bench import -- --products 10000 --stores 3 --db postgres

#[path = "../tests/support/pg.rs"]
mod pg;

use std::io::Write;
use std::time::Instant;

use omnikiosk_hub::import::ImportOptions;
use omnikiosk_hub::Hub;
use omnikiosk_protocol::catalogue::StorePut;
use omnikiosk_protocol::gtin::Gtin;

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Peak resident memory of this process, in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

fn main() {
    let products = arg("--products", 100_000) as usize;
    let stores = arg("--stores", 10) as i64;
    let on_postgres = std::env::args().any(|a| a == "postgres");
    let dir = tempfile::tempdir().unwrap();
    let url = if on_postgres {
        assert!(pg::available(), "no PostgreSQL test cluster");
        pg::database()
    } else {
        format!("sqlite:{}", dir.path().join("hub.db").display())
    };

    let made = Instant::now();
    let product_file = dir.path().join("products.tsv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&product_file).unwrap());
    writeln!(f, "id\ttitle\tdescription\tprice\tgtin\tproduct_type\tbrand\ttax_category\tavailability").unwrap();
    for i in 0..products {
        let gtin = Gtin::ean13_from_body(&format!("590{i:09}")).unwrap();
        let (zl, gr) = (1 + i % 300, i % 100);
        writeln!(f, "P{i:07}\tProduct {i} 500 g\tA product of the bench\t{zl}.{gr:02} PLN\t{}\tHome > Kitchen > Set {}\tOmni\tstandard\tin_stock", gtin.as_str(), i % 50).unwrap();
    }
    f.flush().unwrap();
    let inventory_file = dir.path().join("inventory.tsv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&inventory_file).unwrap());
    writeln!(f, "store_code\tid\tquantity\tprice\taisle").unwrap();
    for s in 1..=stores {
        for i in 0..products {
            // One row in a hundred sets the store's own price.
            let price = if i % 100 == 0 { format!("{}.49 PLN", 2 + i % 300) } else { String::new() };
            writeln!(f, "S{s:02}\tP{i:07}\t{}\t{price}\t{}{}", (i * 7 + s as usize) % 60, ["A", "B", "C", "D"][i % 4], 1 + i % 20).unwrap();
        }
    }
    f.flush().unwrap();
    println!("files: {products} products, {} inventory rows, made in {:.1} s", products as i64 * stores, made.elapsed().as_secs_f64());

    let hub = Hub::open(&url).unwrap();
    for s in 1..=stores {
        let body = StorePut {
            code: format!("S{s:02}"),
            name: format!("Store {s}"),
            city: String::new(),
            address: String::new(),
            currency: "PLN".into(),
            language: "pl".into(),
            timezone: "Europe/Warsaw".into(),
            vat: [("standard".to_string(), 2300)].into(),
            opening_hours: String::new(),
            click_collect: true,
            pickup_minutes: 120,
            price_list: String::new(),
        };
        hub.put_store(s, &body).unwrap();
    }
    let opts = ImportOptions::default();
    let run = |what: &str, file: &std::path::Path, rows: f64| {
        let input = std::io::BufReader::new(std::fs::File::open(file).unwrap());
        let started = Instant::now();
        let report = if what.starts_with("products") { hub.import_products(input, opts) } else { hub.import_inventory(input, opts) }.unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{what:<22} {secs:>7.1} s  {:>9.0} rows/s  created {} updated {} unchanged {} errors {}  peak RSS {:.0} MB",
            rows / secs, report.created, report.updated, report.unchanged, report.errors.len(), peak_rss_mb()
        );
        assert!(report.errors.is_empty(), "{:?}", &report.errors[..report.errors.len().min(3)]);
        secs
    };
    let p = run("products", &product_file, products as f64);
    let i = run("inventory", &inventory_file, (products as i64 * stores) as f64);
    let head = hub.feed_head().unwrap();
    run("products, unchanged", &product_file, products as f64);
    assert_eq!(hub.feed_head().unwrap(), head, "an unchanged re-import appended to the feed");
    println!("both feeds: {:.1} s (budget 60 s); peak RSS {:.0} MB (budget 300 MB); backend {}", p + i, peak_rss_mb(), if on_postgres { "PostgreSQL" } else { "SQLite" });
}
