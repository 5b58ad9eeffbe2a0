//! The touchscreen's behaviour as plain Rust, with no Slint types: one state machine per
//! part, each holding the state its screen shows, unit-tested without a window. The
//! adapters in [`super::adapter`] copy that state into the screens' globals.
//!
//! - [`router`]: [`Kiosk`], the top: routes every scan by what the code is and who is at
//!   the kiosk, picks the screen, runs the idle countdown, and owns the parts below.
//! - [`shopper`]: the shopper's session after a scan.
//! - [`desk`]: "Collect an order" and "Call staff" without a card.
//! - [`staff`]: badge and PIN, the queue, picking, handover, help requests.
//! - [`manager`]: the manager's view of the desk and of sync.
//! - [`till`]: the basket, its shopper, points and tenders, and "Pay"; with [`returns`],
//!   goods taken back against a receipt, and exchanges.
//! - [`shift`]: the till's shift: the float, cash in and out, the close and its Z report.
//!
//! The parts know nothing of each other; the router passes what one needs from another.
//! What a part cannot do itself (change the language, ask the hub, tell the receipt
//! printer) it leaves to the window as an [`Effect`].

mod context;
pub mod desk;
pub mod manager;
pub mod returns;
pub mod router;
pub mod shift;
pub mod shopper;
pub mod staff;
pub mod till;

#[cfg(test)]
pub(crate) mod fixture;

pub use context::{Ctx, DeskSignals, Effect, UiSettings};
pub use router::{AttractNotice, AttractScreen, Kiosk, Screen};
