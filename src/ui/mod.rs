//! The touchscreen. The Slint components in `ui/` talk to Rust only through their adapter
//! globals (`AttractAdapter`, `ShopperAdapter`, `DeskAdapter`, `StaffAdapter`,
//! `ManagerAdapter`, `AppAdapter`); the controllers here hold the behaviour. Only this
//! module touches generated Slint types.
//!
//! - [`view`]: pure conversion of domain values into the rows and words the screens show;
//!   tested without a window.
//! - [`kiosk`]: the controller: scan routing, screens and their idle timeout, refresh.
//! - [`display`]: winit on a desktop, DRM/KMS (linuxkms) on the Pi, from `[display]`.
//! - `shopper`, `desk`, `staff`: the shopper's session; "Collect an order" and "Call
//!   staff"; staff sign-in, queue, picking, handover, help requests and the manager view.

slint::include_modules!();

mod desk;
pub mod display;
pub mod kiosk;
mod shopper;
mod staff;
pub mod view;

pub use kiosk::{DeskSignals, KioskUi, UiCloser, UiSettings};
