//! Touchscreen benchmarks (figures, not pass/fail), with 1,000,000 customers cached, on
//! Slint's software renderer drawing whole frames into memory (the renderer the Pi falls
//! back to; the desktop and the Pi normally draw with FemtoVG on the GPU):
//!
//! - cold start → first frame: a new process (this benchmark binary run again as a child)
//!   opens the kiosk's store, builds the kiosk window and draws the idle screen; timed in
//!   the parent from spawning the child to the child saying the frame is drawn. The store
//!   file is dropped from the page cache before each start.
//! - scan → new frame: in that child, from `KioskUi::scan` of a loyalty card at the idle
//!   screen to the end of drawing the shopper's screen, for different shoppers.
//! - resident memory of that child on the shopper screen.
//!
//! The child never filled the store, so its memory is what a kiosk holds, not what the
//! fill left behind.
//!
//!     cargo bench --bench ui                                   # the budgets' sizes
//!     cargo bench --bench ui -- --customers 100000 --ready-orders 500 --scans 50 --starts 3
//!
//! `--ready-orders` (default 1,250: a quarter of DESIGN's 5,000 orders a store, the share
//! the seed makes ready) matters: the screens read the store's ready orders on every scan.
//!
//! Results go to BENCHMARKS.md by hand, with the machine.

mod support;
use support::{arg, percentile};

#[path = "../tests/support/headless.rs"]
mod headless;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use omnikiosk::config::{Config, StoreConfig};
use omnikiosk::store::LocalStore;
use omnikiosk::ui::{KioskUi, ShopperAdapter, UiSettings};
use rand::{Rng, SeedableRng};
use slint::platform::software_renderer::PremultipliedRgbaColor;
use slint::ComponentHandle;

/// Set in the child: the kiosk data directory to start from.
const CHILD_ENV: &str = "OMNIKIOSK_BENCH_UI_STORE";
/// Set in the child that measures scans and memory after its first frame.
const FULL_ENV: &str = "OMNIKIOSK_BENCH_UI_FULL";
/// What the child prints once its first frame is drawn.
const FIRST_FRAME: &str = "first-frame";

fn main() {
    match std::env::var_os(CHILD_ENV) {
        Some(dir) => child(Path::new(&dir)),
        None => parent(),
    }
}

fn parent() {
    let customers = arg("--customers", 1_000_000);
    let ready = arg("--ready-orders", 1_250);
    let starts = arg("--starts", 5).max(1);
    println!("# omnikiosk touchscreen benchmarks ({customers} customers cached, {ready} orders ready for pickup, software renderer)");
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let store = support::fill_store(dir.path(), customers, ready);
    let db = store.path().to_path_buf();
    drop(store);
    println!("store filled in {:.1} s ({:.0} MiB)", t.elapsed().as_secs_f64(), std::fs::metadata(&db).unwrap().len() as f64 / 1048576.0);

    println!("\n## cold start → first frame (1280×800), {starts} starts");
    let mut times = Vec::new();
    // What the last child measured after its first frame.
    let mut rest: Vec<String> = Vec::new();
    for run in 0..starts {
        let full = run + 1 == starts;
        drop_from_page_cache(&db);
        let t = Instant::now();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(std::env::args().skip(1))
            .env(CHILD_ENV, dir.path())
            .env(FULL_ENV, if full { "1" } else { "0" })
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the child reports its first frame").unwrap();
        let elapsed = t.elapsed();
        assert!(first.starts_with(FIRST_FRAME), "{first}");
        println!("start {}: {:?} (in the child, from main to the frame: {})", run + 1, elapsed, &first[FIRST_FRAME.len()..].trim());
        times.push(elapsed);
        if full {
            rest = lines.collect::<Result<_, _>>().unwrap();
        }
        assert!(child.wait().unwrap().success());
    }
    times.sort();
    println!("cold start → first frame: median {:?}, max {:?}", percentile(&times, 0.5), times[times.len() - 1]);
    for line in rest {
        println!("{line}");
    }
}

/// Asks the kernel to forget the cached pages of the store file, so the child reads it from
/// the disk (GNU dd: `iflag=nocache count=0` drops the whole file's cache).
fn drop_from_page_cache(db: &Path) {
    let mut files: Vec<PathBuf> = vec![db.to_path_buf()];
    files.extend(["-wal", "-shm"].iter().map(|s| PathBuf::from(format!("{}{s}", db.display()))).filter(|p| p.exists()));
    for f in files {
        let done = Command::new("dd").arg(format!("if={}", f.display())).args(["iflag=nocache", "count=0", "status=none"]).status();
        if !done.is_ok_and(|s| s.success()) {
            println!("(could not drop {} from the page cache: this start is warm)", f.display());
        }
    }
}

/// The kiosk's side: open the store, show the idle screen, say so; then, for the last
/// start, time scans and report memory.
fn child(dir: &Path) {
    let started = Instant::now();
    let platform = headless::Headless::install();
    let store = LocalStore::open(dir, &StoreConfig::default()).unwrap();
    let settings = UiSettings { language: Some("en".into()), ..UiSettings::from_config(&Config::default()) };
    let ui = KioskUi::new(store, settings, None).unwrap();
    let (width, height) = (1280, 800);
    ui.window().window().set_size(slint::PhysicalSize::new(width, height));
    ui.window().show().unwrap();
    let window = platform.window();
    let mut frame = vec![PremultipliedRgbaColor::default(); width as usize * height as usize];
    let drawn = window.draw_if_needed(|r| {
        r.render(&mut frame, width as usize);
    });
    assert!(drawn, "the first frame was drawn");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{FIRST_FRAME} {:?}", started.elapsed()).unwrap();
    out.flush().unwrap();
    if std::env::var_os(FULL_ENV).is_none_or(|v| v != "1") {
        return;
    }

    let customers = arg("--customers", 1_000_000);
    let scans = arg("--scans", 200).max(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for (w, h) in [(1280u32, 800u32), (800, 480)] {
        ui.window().window().set_size(slint::PhysicalSize::new(w, h));
        let mut frame = vec![PremultipliedRgbaColor::default(); w as usize * h as usize];
        let mut draw = || window.draw_if_needed(|r| {
            r.render(&mut frame, w as usize);
        });
        draw();
        let mut times = Vec::with_capacity(scans);
        for _ in 0..scans {
            let card = support::card(rng.gen_range(0..customers));
            let t = Instant::now();
            ui.scan(&card);
            let drawn = draw();
            times.push(t.elapsed());
            assert!(drawn, "the scan changed the screen");
            // "Done": back to the idle screen (in English) for the next shopper, untimed.
            ui.window().global::<ShopperAdapter>().invoke_done();
            draw();
        }
        let first = times[0];
        times.sort();
        writeln!(
            out,
            "\n## scan → new frame ({w}×{h}, whole frame, idle screen → a shopper's screen in Polish)\n\
             p50 {:?}  p95 {:?}  p99 {:?}  max {:?}  first {:?}  ({scans} scans of different shoppers)",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
            times[times.len() - 1],
            first,
        )
        .unwrap();
    }
    // A last shopper stays on screen while memory is read.
    ui.scan(&support::card(rng.gen_range(0..customers)));
    window.draw_if_needed(|r| {
        r.render(&mut vec![PremultipliedRgbaColor::default(); 800 * 480], 800);
    });
    let (rss, peak) = headless::resident_kib();
    writeln!(out, "\n## resident memory on the shopper screen\nVmRSS {} MiB, peak (VmHWM) {} MiB", rss / 1024, peak / 1024).unwrap();
}
