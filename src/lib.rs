//! Omnikiosk: the in-store kiosk and click-and-collect edge app.
//!
//! Layout:
//! - [`domain`]: pure types and rules (shopper view, availability); no I/O.
//! - [`store`]: the local SQLite copy of what this store needs; the only module with SQL.
//! - [`sync`]: the hub client, pull rounds and the background sync daemon.
//! - [`resolve`]: a scanned code → what the kiosk shows (local first, hub fallback).
//! - [`config`]: `kiosk.toml` and the data-directory rule.
//! - [`backoff`], [`clock`]: retry delays with jitter and the Unix clock, used by sync and
//!   peripherals alike.
//! - [`peripherals`]: scanners, the pickup light and buzzer, the receipt printer.
//! - [`service`]: running under systemd: readiness, watchdog, journald, orderly stop.
//! - [`ui`]: the touchscreen (Slint), its controllers and view models.
//! - [`cli`]: the `omnikiosk` command line, including the demo.
//!
//! Data flows one way: scan → domain → store → screen; the sync engine writes to the
//! store and screens read the store.

pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod peripherals;
pub mod resolve;
pub mod service;
pub mod store;
pub mod sync;
pub mod ui;
