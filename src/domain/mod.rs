//! Pure types and rules of the shop floor: what a shopper's screen shows, how stock
//! reads for a cart line, whether the till may sell a product. No I/O here: never SQLite, HTTP, Slint or GPIO.

pub mod catalogue;
pub mod desk;
pub mod shopper;
