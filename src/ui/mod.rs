//! The touchscreen. The Slint components in `ui/` talk to Rust only through their adapter
//! globals (`AttractAdapter`, `ShopperAdapter`, `AppAdapter`); the controllers here hold
//! the behaviour. Only this module touches generated Slint types.
//!
//! - [`view`]: pure conversion of a [`ShopperView`](crate::domain::shopper::ShopperView)
//!   into the rows the screen shows; tested without a window.
//! - [`kiosk`]: the controller behind the window: scans, the shopper session and its idle
//!   timeout, "I'm here", feedback.

slint::include_modules!();

pub mod kiosk;
pub mod view;

pub use kiosk::{KioskUi, UiCloser, UiSettings};
