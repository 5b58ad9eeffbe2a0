//! The touchscreen. The Slint components in `ui/` talk to Rust only through their adapter
//! globals (`AttractAdapter`, `ShopperAdapter`, `DeskAdapter`, `StaffAdapter`,
//! `ManagerAdapter`, `TillAdapter`, `ShiftAdapter`, `AppAdapter`); the controllers hold
//! the behaviour, with no Slint types. Only `adapter/` and `kiosk.rs` touch generated
//! Slint types.
//!
//! - [`controller`]: one state machine per part (router, shopper, desk, staff, manager,
//!   till, shift), plain Rust over the local store, tested without a window.
//! - `adapter`: one small file per screen: the controller's state into the screen's
//!   global, the global's callbacks into the controller.
//! - [`kiosk`]: [`KioskUi`], the window: runs actions, effects, timers.
//! - [`view`]: pure conversion of domain values into the rows and words the screens show.
//! - `generated`: the Slint compiler's types for `ui/*.slint` (re-exported here).
//! - [`display`]: winit on a desktop, DRM/KMS (linuxkms) on the Pi, from `[display]`.

mod adapter;
pub mod controller;
pub mod display;
mod generated;
pub mod kiosk;
pub mod view;

pub use controller::{DeskSignals, UiSettings};
pub use generated::*;
pub use kiosk::{KioskUi, UiCloser};
