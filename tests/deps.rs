//! The kiosk binary carries no server: without the `demo-hub` feature (the Pi build and
//! its package) the kiosk's dependency tree holds neither the hub nor axum nor a
//! PostgreSQL client. Read from `cargo tree` over the workspace's lockfile, offline, for
//! this machine's platform: the features decide what links, and a fresh clone's
//! `cargo test` has downloaded exactly this platform's crates of the default build
//! (`--target all` would need every platform's, which only a `cargo fetch` gets). So the
//! Pi's configuration is read without its display feature: `linuxkms` only switches on
//! Slint's own backend (`slint/backend-linuxkms-noseat`), whose crates a fresh clone has
//! not downloaded.

use std::path::Path;
use std::process::Command;

/// What a kiosk on a Pi must not link (the hub's OpenAPI and metrics crates included: the
/// wire types derive `ToSchema` only behind the protocol crate's `openapi` feature).
const SERVER_CRATES: [&str; 5] = ["omnikiosk-hub", "axum", "postgres", "utoipa", "metrics-exporter-prometheus"];

/// The crate names in `cargo tree -p omnikiosk -e normal` for this platform, or `None`
/// (with the reason printed) when there is no cargo to ask.
fn kiosk_tree(features: &[&str]) -> Option<Vec<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(&cargo)
        .args(["tree", "--offline", "--locked", "-p", "omnikiosk", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}", "--manifest-path"])
        .arg(&manifest)
        .args(features)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED: cannot run {}: {e}", Path::new(&cargo).display());
            return None;
        }
    };
    assert!(out.status.success(), "cargo tree {features:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let names = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    Some(names)
}

#[test]
fn the_kiosk_without_demo_hub_links_no_server() {
    let Some(tree) = kiosk_tree(&["--no-default-features"]) else { return };
    assert!(tree.iter().any(|n| n == "omnikiosk-protocol"), "not the kiosk's tree: {tree:?}");
    let servers: Vec<_> = tree.iter().filter(|n| SERVER_CRATES.contains(&n.as_str())).collect();
    assert!(servers.is_empty(), "the Pi build links server crates: {servers:?}");
}

#[test]
fn the_default_build_has_the_demo_hub() {
    // The other side of the test above: the tree does show the hub when it is linked.
    let Some(tree) = kiosk_tree(&[]) else { return };
    for name in SERVER_CRATES {
        assert!(tree.iter().any(|n| n == name), "the demo build lacks {name}");
    }
}
