//! A row of Google's product data file: what the product is, what it costs and how it
//! is found (GTINs, product type, brand), the same in every store.

use serde::Serialize;

use super::table::Row;
use super::values::{self, Availability, Money, SaleWindow};
use super::{prices, FeedError, FeedRow};

/// One product of the product data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductRow {
    /// The line of the file the row starts on, for the importer's report.
    pub line: u64,
    /// The retailer's product id (the SKU), unique in the file.
    pub id: String,
    pub title: String,
    /// Empty when the file has none.
    pub description: String,
    pub price: Option<Money>,
    /// In the price's currency, and not above it.
    pub sale_price: Option<Money>,
    pub sale_window: Option<SaleWindow>,
    /// As written, each with a right check digit, none twice.
    pub gtins: Vec<String>,
    pub availability: Option<Availability>,
    /// `Home > Kitchen > Mugs` as `["Home", "Kitchen", "Mugs"]`.
    pub product_type: Vec<String>,
    /// Empty when the file has none.
    pub brand: String,
    /// Which of a store's VAT rates applies.
    pub tax_category: Option<String>,
}

impl FeedRow for ProductRow {
    const REQUIRED: &'static [&'static str] = &["id", "title"];
    type Key = String;

    fn key(row: &Row) -> Result<String, FeedError> {
        row.required("id")
    }

    fn repeated(row: &Row, first_line: u64) -> FeedError {
        row.error("id", format!("the product is already on line {first_line}"))
    }

    fn read(row: &Row, id: String) -> Result<ProductRow, FeedError> {
        let title = row.required("title")?;
        let prices = prices(row)?;
        Ok(ProductRow {
            line: row.line,
            id,
            title,
            description: row.text("description").unwrap_or_default().to_string(),
            price: prices.price,
            sale_price: prices.sale_price,
            sale_window: prices.sale_window,
            gtins: row.parse("gtin", values::gtins)?.unwrap_or_default(),
            availability: row.parse("availability", values::availability)?,
            product_type: row.text("product_type").map(values::product_type).unwrap_or_default(),
            brand: row.text("brand").unwrap_or_default().to_string(),
            tax_category: row.text("tax_category").map(str::to_string),
        })
    }
}
