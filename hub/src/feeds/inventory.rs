//! A row of Google's local inventory file: how one product stands in one store — stock,
//! the store's own price when it differs, and (our column) the aisle it is in.

use serde::Serialize;

use super::table::Row;
use super::values::{self, Availability, Money, SaleWindow};
use super::{prices, FeedError, FeedRow};

/// One product in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryRow {
    /// The line of the file the row starts on, for the importer's report.
    pub line: u64,
    /// The store's code, as the hub's store records carry it (`KRK-01`).
    pub store_code: String,
    /// The product's id in the product data file.
    pub id: String,
    /// Items on hand, zero or more.
    pub quantity: Option<i64>,
    /// The store's own price, when it is not the product's.
    pub price: Option<Money>,
    pub sale_price: Option<Money>,
    pub sale_window: Option<SaleWindow>,
    pub availability: Option<Availability>,
    /// Where the product is in the store (our column, not Google's): the price check shows it.
    pub aisle: Option<String>,
}

impl FeedRow for InventoryRow {
    const REQUIRED: &'static [&'static str] = &["store_code", "id"];
    type Key = (String, String);

    fn key(row: &Row) -> Result<(String, String), FeedError> {
        Ok((row.required("store_code")?, row.required("id")?))
    }

    fn repeated(row: &Row, first_line: u64) -> FeedError {
        row.error("id", format!("the product is already listed for this store on line {first_line}"))
    }

    fn read(row: &Row, (store_code, id): (String, String)) -> Result<InventoryRow, FeedError> {
        let prices = prices(row)?;
        Ok(InventoryRow {
            line: row.line,
            store_code,
            id,
            quantity: row.parse("quantity", values::quantity)?,
            price: prices.price,
            sale_price: prices.sale_price,
            sale_window: prices.sale_window,
            availability: row.parse("availability", values::availability)?,
            aisle: row.text("aisle").map(str::to_string),
        })
    }
}
