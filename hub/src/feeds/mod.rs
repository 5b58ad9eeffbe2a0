//! The retailer's nightly catalogue as Google Merchant Center files: the product data
//! file (`omnikiosk-hub import products`) and the local inventory file (`import
//! inventory`), read row by row into checked values. Stores nothing.
//!
//! Layout:
//! - [`products()`] and [`inventory()`]: the two readers, each an iterator of rows or of the
//!   reason a row was refused; reading goes on past a bad row.
//! - `table`: the file as a header and rows (delimiter, encoding, quoting, line numbers).
//! - `values`: the values inside the fields (prices, sale windows, GTINs, …).
//!
//! Memory stays bounded however big the file: one row is held at a time, plus the keys
//! seen so far (to refuse a repeated product).

mod inventory;
mod products;
mod table;
mod values;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::io::{BufRead, Read};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::Serialize;

pub use inventory::InventoryRow;
pub use products::ProductRow;
pub use table::MAX_ROW_BYTES;
pub use values::{Availability, Money, SaleWindow, MAX_PRICE_MINOR};

use table::{Peeked, Row, Table};

/// The text encoding of a feed file (`--encoding`). A BOM, when the file has one, wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Google's own, and what a file is unless said otherwise.
    #[default]
    Utf8,
    /// What Excel on a Polish Windows saves "CSV" and "Text" files in.
    Windows1250,
}

impl FromStr for Encoding {
    type Err = String;

    /// `utf-8` (`utf8`), `windows-1250` (`cp1250`), in any case.
    fn from_str(s: &str) -> Result<Encoding, String> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1250" | "cp1250" | "windows1250" => Ok(Encoding::Windows1250),
            _ => Err(format!("unknown encoding {s}: use utf-8 or windows-1250")),
        }
    }
}

/// Why a row (or the whole file) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedError {
    /// Physical 1-based line of the file the row starts on; the header is line 1.
    pub line: u64,
    /// The column as the file's header names it, when one field is at fault.
    pub column: Option<String>,
    /// Why, in words a retailer's IT team can act on.
    pub message: String,
}

impl FeedError {
    fn new(line: u64, column: Option<String>, message: String) -> FeedError {
        FeedError { line, column, message }
    }
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for FeedError {}

/// The rows of a Google product data file (TSV or CSV), one at a time. The first error
/// may be the file's own (empty, or no `id` or `title` column), and then there are no rows.
pub fn products<R: Read>(input: R, encoding: Encoding) -> impl Iterator<Item = Result<ProductRow, FeedError>> {
    Feed::<_, ProductRow>::open(table::decode(input, encoding))
}

/// The rows of a Google local inventory file (TSV or CSV), one at a time. The first error
/// may be the file's own (empty, or no `store_code` or `id` column), and then there are no rows.
pub fn inventory<R: Read>(input: R, encoding: Encoding) -> impl Iterator<Item = Result<InventoryRow, FeedError>> {
    Feed::<_, InventoryRow>::open(table::decode(input, encoding))
}

/// A row type of one kind of feed.
trait FeedRow: Sized {
    /// Columns without which the file is refused (normalized names).
    const REQUIRED: &'static [&'static str];
    /// What no two rows may share.
    type Key: Hash + Eq + Clone;
    /// The row's key, read first so that a repeated row is refused as such.
    fn key(row: &Row) -> Result<Self::Key, FeedError>;
    /// Why a second row with the key of the row at `first_line` is refused.
    fn repeated(row: &Row, first_line: u64) -> FeedError;
    /// The rest of the row.
    fn read(row: &Row, key: Self::Key) -> Result<Self, FeedError>;
}

/// A feed being read: its table, or why it could not be opened, and the keys seen.
struct Feed<B, T: FeedRow> {
    table: Result<Table<Peeked<B>>, Option<FeedError>>,
    /// Each key's first line: the only thing that grows with the file.
    seen: HashMap<T::Key, u64>,
    rows: PhantomData<T>,
}

impl<B: BufRead, T: FeedRow> Feed<B, T> {
    fn open(input: B) -> Self {
        Feed { table: Table::open(input, T::REQUIRED).map_err(Some), seen: HashMap::new(), rows: PhantomData }
    }
}

impl<B: BufRead, T: FeedRow> Iterator for Feed<B, T> {
    type Item = Result<T, FeedError>;

    fn next(&mut self) -> Option<Self::Item> {
        let table = match &mut self.table {
            Ok(table) => table,
            Err(error) => return error.take().map(Err),
        };
        let row = match table.next_row()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let key = match T::key(&row) {
            Ok(key) => key,
            Err(e) => return Some(Err(e)),
        };
        if let Some(&first) = self.seen.get(&key) {
            return Some(Err(T::repeated(&row, first)));
        }
        self.seen.insert(key.clone(), row.line);
        Some(T::read(&row, key))
    }
}

/// A row's price, sale price and sale window, the same columns in both feeds.
struct Prices {
    price: Option<Money>,
    sale_price: Option<Money>,
    sale_window: Option<SaleWindow>,
}

fn prices(row: &Row) -> Result<Prices, FeedError> {
    let price = row.parse("price", values::money)?;
    let sale_price = row.parse("sale_price", values::money)?;
    if let (Some(price), Some(sale)) = (&price, &sale_price) {
        if price.currency != sale.currency {
            let message = format!("the sale price is in {} and the price in {}", sale.currency, price.currency);
            return Err(row.error("sale_price", message));
        }
        if sale.minor > price.minor {
            return Err(row.error("sale_price", "the sale price is higher than the price".into()));
        }
    }
    let sale_window = row.parse("sale_price_effective_date", values::sale_window)?;
    Ok(Prices { price, sale_price, sale_window })
}
