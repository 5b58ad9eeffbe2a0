//! The feed readers from the outside: whole files in, rows and errors out, as the
//! importer will see them.

use std::io::Read;

use super::*;

/// Each product as `line id title`, each error as displayed.
fn read_products(file: &[u8]) -> Vec<String> {
    let show = |row: ProductRow| format!("{} {} {}", row.line, row.id, row.title);
    products(file, Encoding::Utf8).map(|r| r.map(show).unwrap_or_else(|e| e.to_string())).collect()
}

/// Each inventory row as `line store_code id`, each error as displayed.
fn read_inventory(file: &[u8]) -> Vec<String> {
    let show = |row: InventoryRow| format!("{} {} {}", row.line, row.store_code, row.id);
    inventory(file, Encoding::Utf8).map(|r| r.map(show).unwrap_or_else(|e| e.to_string())).collect()
}

/// `expected` entries are exact, except an error written `line 3, column price: …part`:
/// it starts with what is before `…` and contains what is after.
fn assert_rows(case: &str, got: &[String], expected: &[&str]) {
    let matches = |got: &String, want: &&str| match want.split_once('…') {
        Some((start, part)) => got.starts_with(start) && got.contains(part),
        None => got == want,
    };
    let same = got.len() == expected.len() && got.iter().zip(expected).all(|(g, w)| matches(g, w));
    assert!(same, "{case}:\n got {got:#?}\nwant {expected:#?}");
}

#[test]
fn rows_are_found_whatever_the_layout_and_tagged_with_their_physical_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("tsv, lf", "id\ttitle\nA\tMug\nB\tCup\n", &["2 A Mug", "3 B Cup"]),
        ("csv, crlf", "id,title\r\nA,Mug\r\nB,Cup\r\n", &["2 A Mug", "3 B Cup"]),
        ("no newline at the end", "id,title\nA,Mug\nB,Cup", &["2 A Mug", "3 B Cup"]),
        ("semicolons, as a Polish spreadsheet writes", "id;title\nA;Mug, big\n", &["2 A Mug, big"]),
        ("blank lines before the header", "\r\n\nid,title\nA,Mug\n", &["4 A Mug"]),
        ("blank lines count", "id,title\n\nA,Mug\r\n\r\n\nB,Cup\n\n", &["3 A Mug", "6 B Cup"]),
        ("a quoted field over three lines", "id,title,description\nA,Mug,\"one\ntwo\nthree\"\nB,Cup,x\n", &["2 A Mug", "5 B Cup"]),
        ("the same with crlf", "id,title,description\r\nA,Mug,\"one\r\ntwo\"\r\nB,Cup,x\r\n", &["2 A Mug", "4 B Cup"]),
        ("quotes, doubled quotes, delimiters inside", "id,title\nA,\"Mug, \"\"big\"\"\"\n", &["2 A Mug, \"big\""]),
        ("a tab inside a quoted tsv field", "id\ttitle\nA\t\"Mug\twide\"\n", &["2 A Mug\twide"]),
        ("utf-8 bom", "\u{feff}id\ttitle\nA\tKubek Żółć\n", &["2 A Kubek Żółć"]),
        ("header case, spaces, unknown columns", " ID \tTitle\tColour\nA\tMug\tred\n", &["2 A Mug"]),
        ("unnamed columns are unknown columns", "id,title,,\nA,Mug,,x\n", &["2 A Mug"]),
        ("fields are trimmed", "id,title\n A , Mug \n", &["2 A Mug"]),
        ("a spreadsheet's empty rows are skipped", "id,title\nA,Mug\n,\n , \nB,Cup\n", &["2 A Mug", "5 B Cup"]),
        (
            "more or fewer fields than the header",
            "id,title\nA,Mug,extra\nB\nC,Cup\n",
            &["line 2: …the row has 3 fields but the header has 2", "line 3: …has 1 fields", "4 C Cup"],
        ),
        ("an empty id", "id,title\n,Mug\nB,Cup\n", &["line 2, column id: …the id is empty", "3 B Cup"]),
        ("an empty title", "id,title\nA,\nB,Cup\n", &["line 2, column title: …the title is empty", "3 B Cup"]),
        (
            "the same id twice: the second is refused, naming the first",
            "id,title,description\nA,Mug,\"two\nlines\"\nB,Cup,\nA,Mug again,\n",
            &["2 A Mug", "4 B Cup", "line 5, column id: …already on line 2"],
        ),
        ("a refused row still takes its id", "id,title,price\nA,Mug,12.99\nA,Mug,12.99 PLN\n", &["line 2, column price: …", "line 3, column id: …on line 2"]),
    ];
    for (case, file, expected) in cases {
        assert_rows(case, &read_products(file.as_bytes()), expected);
    }
}

#[test]
fn files_that_cannot_be_read_say_why_and_where() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("empty", "", &["line 1: the file is empty"]),
        ("only a bom", "\u{feff}", &["line 1: the file is empty"]),
        ("only blank lines", "\n\r\n\n", &["line 1: the file is empty"]),
        ("no id column", "title,price\nMug,1 PLN\n", &["line 1, column id: the header lacks the required column(s) id (it has: title, price)"]),
        ("neither id nor title", "sku\tname\nA\tMug\n", &["line 1, column id: …required column(s) id, title"]),
        ("a column twice", "id,title,ID\nA,Mug,A\n", &["line 1, column ID: the column ID is in the header twice"]),
        (
            "cut short inside a quoted field: the line the field began on",
            "id,title,description\nA,Mug,ok\nB,Cup,\"starts here\nand never\nends\n",
            &["2 A Mug", "line 3, column description: …the file ends inside this quoted field"],
        ),
        ("the open field starts lines after its row", "id,description,title\nA,\"two\nlines\",\"open\n", &["line 3, column title: …ends inside"]),
        ("cut after a doubled quote", "id,title\nA,\"Mug \"\"\n", &["line 2, column title: …ends inside"]),
        ("a closed quote at the very end is fine", "id,title\nA,\"Mug\"", &["2 A Mug"]),
        ("cut inside the header", "id,\"title\n", &["line 1: …ends inside"]),
    ];
    for (case, file, expected) in cases {
        assert_rows(case, &read_products(file.as_bytes()), expected);
    }
}

#[test]
fn a_bad_value_refuses_its_row_and_the_next_row_is_read() {
    // price, sale_price, sale_price_effective_date, gtin, availability
    let cases: &[([&str; 5], &str)] = &[
        (["12.99", "", "", "", ""], "column price: …has no currency"),
        (["12.99 PLX", "", "", "", ""], "column price: …PLX is not an ISO 4217 currency code"),
        (["12.999 PLN", "", "", "", ""], "column price: …PLN has 2 decimal places and 12.999 has 3"),
        (["-1.00 PLN", "", "", "", ""], "column price: …negative"),
        (["10000000.01 PLN", "", "", "", ""], "column price: …more than any price"),
        (["", "12.99", "", "", ""], "column sale_price: …has no currency"),
        (["12.99 PLN", "9.99 GBP", "", "", ""], "column sale_price: …the sale price is in GBP and the price in PLN"),
        (["12.99 PLN", "13.99 PLN", "", "", ""], "column sale_price: …higher than the price"),
        // 2026 is not a leap year.
        (["12.99 PLN", "9.99 PLN", "2026-02-24T13:00-0800/2026-02-29T15:30-0800", "", ""], "column sale_price_effective_date: …is not a date and time"),
        (["", "", "from monday", "", ""], "column sale_price_effective_date: …separated by /"),
        (["", "", "", "5901234000018", ""], "column gtin: …the check digit is 8 but should be 7"),
        (["", "", "", "5901234000017,5901234000017", ""], "column gtin: …5901234000017 is listed twice"),
        (["", "", "", "", "available"], "column availability: …not an availability"),
    ];
    let header = "id\ttitle\tprice\tsale_price\tsale_price_effective_date\tgtin\tavailability\n";
    for (fields, error) in cases {
        let file = format!("{header}X\tMug\t{}\nB\tCup\t\t\t\t\t\n", fields.join("\t"));
        assert_rows(&file, &read_products(file.as_bytes()), &[&format!("line 2, {error}"), "3 B Cup"]);
    }
}

#[test]
fn inventory_rows_are_keyed_by_store_and_product() {
    let header = "store_code\tid\tquantity\tprice\taisle\n";
    let cases: &[(&str, &[&str])] = &[
        ("KRK-01\tA\t3\t\tA1\nLON-01\tA\t0\t\t\n", &["2 KRK-01 A", "3 LON-01 A"]),
        ("KRK-01\tA\t3\t\t\nLON-01\tA\t1\t\t\nKRK-01\tA\t4\t\t\n", &["2 KRK-01 A", "3 LON-01 A", "line 4, column id: …already listed for this store on line 2"]),
        ("KRK-01\tA\t2.5\t\t\nKRK-01\tB\t1\t\t\n", &["line 2, column quantity: …not a whole number", "3 KRK-01 B"]),
        ("KRK-01\tA\t-3\t\t\n", &["line 2, column quantity: …negative"]),
        ("KRK-01\tA\t\t12.99\t\n", &["line 2, column price: …has no currency"]),
        ("\tA\t1\t\t\n", &["line 2, column store_code: …the store code is empty"]),
        ("KRK-01\t\t1\t\t\n", &["line 2, column id: …is empty"]),
    ];
    for (rows, expected) in cases {
        assert_rows(rows, &read_inventory(format!("{header}{rows}").as_bytes()), expected);
    }
    assert_rows("no store column", &read_inventory(b"id,quantity\nA,1\n"), &["line 1, column store_code: …lacks the required column(s) store_code"]);
}

#[test]
fn errors_name_the_column_as_the_header_writes_it() {
    let got: Vec<FeedError> = products(&b"ID,Title,Sale Price\nA,Mug,9.99\n"[..], Encoding::Utf8).filter_map(Result::err).collect();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].line, got[0].column.as_deref()), (2, Some("Sale Price")));
    assert_eq!(got[0].to_string(), format!("line 2, column Sale Price: {}", got[0].message));
    let json = serde_json::to_value(&got[0]).ok();
    assert_eq!(json, Some(serde_json::json!({"line": 2, "column": "Sale Price", "message": got[0].message})));
    let whole_row = FeedError::new(7, None, "the row has 3 fields but the header has 2".into());
    assert_eq!(whole_row.to_string(), "line 7: the row has 3 fields but the header has 2");
}

#[test]
fn windows_1250_files_read_with_the_option_and_say_so_without_it() {
    let text = "id\ttitle\nA\tKubek Żółć\n";
    let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode(text);
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let bom_utf8 = format!("\u{feff}{text}");
    let cases: &[(&str, &[u8], Encoding, &[&str])] = &[
        ("cp1250 as cp1250", &cp1250, Encoding::Windows1250, &["2 A Kubek Żółć"]),
        ("cp1250 as utf-8", &cp1250, Encoding::Utf8, &["line 2, column title: …it says \"Kubek Żółć\": if that is right, pass --encoding windows-1250"]),
        ("utf-8 as utf-8", text.as_bytes(), Encoding::Utf8, &["2 A Kubek Żółć"]),
        ("a utf-8 bom wins over the option", bom_utf8.as_bytes(), Encoding::Windows1250, &["2 A Kubek Żółć"]),
        ("excel's unicode text (utf-16 with a bom)", &utf16, Encoding::Utf8, &["2 A Kubek Żółć"]),
    ];
    for (case, file, encoding, expected) in cases {
        let got: Vec<String> = products(*file, *encoding).map(|r| r.map(|p| format!("{} {} {}", p.line, p.id, p.title)).unwrap_or_else(|e| e.to_string())).collect();
        assert_rows(case, &got, expected);
    }
}

#[test]
fn encodings_by_their_command_line_names() {
    let cases = [
        ("utf-8", Ok(Encoding::Utf8)),
        ("UTF8", Ok(Encoding::Utf8)),
        ("windows-1250", Ok(Encoding::Windows1250)),
        ("cp1250", Ok(Encoding::Windows1250)),
        ("latin2", Err("unknown encoding latin2: use utf-8 or windows-1250".to_string())),
    ];
    for (name, expected) in cases {
        assert_eq!(name.parse::<Encoding>(), expected, "{name}");
    }
}

/// A product file without end, made as it is read, that counts what was taken from it.
struct EndlessFile {
    made: Vec<u8>,
    at: usize,
    rows: u64,
    taken: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Read for EndlessFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.made.len() {
            self.rows += 1;
            self.made = format!("P{}\tProduct {}\t\"a description\nover two lines\"\t12.99 PLN\n", self.rows, self.rows).into_bytes();
            self.at = 0;
        }
        let n = buf.len().min(self.made.len() - self.at);
        buf[..n].copy_from_slice(&self.made[self.at..self.at + n]);
        self.at += n;
        self.taken.set(self.taken.get() + n);
        Ok(n)
    }
}

#[test]
fn rows_come_as_they_are_read_not_after_the_whole_file() {
    let taken = std::rc::Rc::new(std::cell::Cell::new(0));
    let file = EndlessFile { made: b"id\ttitle\tdescription\tprice\n".to_vec(), at: 0, rows: 0, taken: taken.clone() };
    let rows: Vec<_> = products(file, Encoding::Utf8).skip(99_999).take(1).collect();
    let Some(Ok(row)) = rows.first() else { panic!("{rows:?}") };
    // Each row takes two lines, after the header's.
    assert_eq!((row.id.as_str(), row.line), ("P100000", 2 * 99_999 + 2));
    let needed: usize = 27 + (1..=100_000).map(|n| 2 * n.to_string().len() + 52).sum::<usize>();
    assert!(taken.get() - needed < 256 * 1024, "read {} bytes ahead of the rows", taken.get() - needed);
}

#[test]
fn a_row_too_long_to_hold_is_refused_and_the_next_is_read() {
    let long = "x".repeat(MAX_ROW_BYTES + 1);
    let file = format!("id,title,description\nA,Mug,\"{long}\"\nB,Cup,\n");
    assert_rows("long row", &read_products(file.as_bytes()), &["line 2: …longer than", "3 B Cup"]);
    // A quote left open near the top swallows the rest of the file without holding it.
    let rest = "C,Cup,\n".repeat(MAX_ROW_BYTES / 4);
    let file = format!("id,title,description\nA,Mug,\"oops\n{rest}");
    assert_rows("open quote", &read_products(file.as_bytes()), &["line 2: …the file ends inside this quoted field"]);
}

#[test]
fn the_example_product_file_reads_whole() {
    let file = include_bytes!("../../../docs/examples/products.tsv");
    let rows: Vec<ProductRow> = products(&file[..], Encoding::Utf8).collect::<Result<_, _>>().unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<(u64, &str)> = rows.iter().map(|r| (r.line, r.id.as_str())).collect();
    assert_eq!(
        lines,
        [(2, "PL-KUB-001"), (3, "PL-KAW-002"), (4, "PL-CZE-003"), (6, "PL-HER-004"), (7, "UK-MUG-001"), (8, "UK-TEA-002"), (9, "UK-KET-003"), (10, "UK-TOA-004"), (11, "OM-MUG-350")]
    );
    let coffee = &rows[1];
    assert_eq!(
        *coffee,
        ProductRow {
            line: 3,
            id: "PL-KAW-002".into(),
            title: "Kawa ziarnista Arabica 1 kg".into(),
            description: "Palona w Krakowie, średnio palona.".into(),
            price: Some(Money { minor: 8999, currency: "PLN".into() }),
            sale_price: Some(Money { minor: 6999, currency: "PLN".into() }),
            // 2026-12-01T00:00+0100 to 2026-12-24T23:59+0100.
            sale_window: Some(SaleWindow { from: 1_796_079_600, until: 1_798_153_140 }),
            gtins: vec!["5901234000024".into(), "50123452".into()],
            availability: Some(Availability::InStock),
            product_type: vec!["Spożywcze".into(), "Kawa".into()],
            brand: "Kawiarnia Rynek".into(),
            tax_category: Some("reduced".into()),
        }
    );
    assert_eq!(rows[2].description, "Czajnik \"Retro\" ze stali nierdzewnej.\nMoc 2200 W, automatyczne wyłączanie.");
    assert_eq!(rows[3].availability, Some(Availability::OutOfStock));
    assert_eq!(rows[4].price, Some(Money { minor: 850, currency: "GBP".into() }));
    assert_eq!(rows[4].product_type, ["Home", "Kitchen", "Mugs"]);
    assert_eq!(rows[6].availability, Some(Availability::Preorder));
}

#[test]
fn the_example_inventory_file_reads_whole() {
    let file = include_bytes!("../../../docs/examples/inventory.tsv");
    let rows: Vec<InventoryRow> = inventory(&file[..], Encoding::Utf8).collect::<Result<_, _>>().unwrap_or_else(|e| panic!("{e}"));
    let stores: Vec<&str> = rows.iter().map(|r| r.store_code.as_str()).collect();
    assert_eq!(stores, ["KRK-01", "KRK-01", "KRK-01", "KRK-01", "LON-01", "LON-01", "LON-01", "LON-01", "KRK-01", "LON-01"]);
    assert_eq!(
        rows[2],
        InventoryRow {
            line: 4,
            store_code: "KRK-01".into(),
            id: "PL-CZE-003".into(),
            quantity: Some(2),
            price: Some(Money { minor: 13900, currency: "PLN".into() }),
            sale_price: None,
            sale_window: None,
            availability: Some(Availability::LimitedAvailability),
            aisle: Some("C2".into()),
        }
    );
    let toaster = &rows[7];
    assert_eq!((toaster.quantity, toaster.sale_price.as_ref().map(|m| m.minor)), (Some(5), Some(2500)));
    // 2026-12-05T09:00Z to 2026-12-07T17:00Z.
    assert_eq!(toaster.sale_window, Some(SaleWindow { from: 1_796_461_200, until: 1_796_662_800 }));
    assert_eq!((rows[3].quantity, rows[3].aisle.as_deref()), (Some(0), Some("B2")));
}

#[test]
fn a_cut_field_is_caught_whatever_its_length() {
    // Around the sizes where the reader's buffers grow: the end must not slip through there.
    for n in (1000..1050).chain(2030..2060).chain(65_500..65_560) {
        let file = format!("id,title\nA,\"{}", "x".repeat(n));
        assert_rows(&format!("{n} bytes"), &read_products(file.as_bytes()), &["line 2, column title: …ends inside"]);
        let whole = format!("{file}\"");
        assert_rows(&format!("{n} bytes, closed"), &read_products(whole.as_bytes()), &[&format!("2 A {}", "x".repeat(n))]);
    }
}
