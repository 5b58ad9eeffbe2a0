//! A catalogue batch read at once and written at once (`HubTx::read_ahead`). Over
//! PostgreSQL every statement is a round trip: an import row by row would take some 25
//! per product. Instead, the rows a batch is about to read are read with one statement
//! per table ([`read`]) and answered from memory ([`Ahead`]), and the batch's writes of
//! those tables are held back ([`Behind`]) and written with one statement per table
//! ([`write`]) before the next statement that might see them — so every answer is what
//! reading and writing one row at a time would have given.

use std::collections::{BTreeMap, HashMap};

use omnikiosk_protocol::wire::StockRecord;

use super::tx::PgTx;
use crate::store::{ReadAhead, Stored};

/// Rows read ahead, as the transaction last wrote them. A key a map lacks was not read
/// ahead (the database answers); a key it holds with `None` has no row.
#[derive(Default)]
pub struct Ahead {
    /// By SKU: the product's name and its catalogue entry.
    pub products: HashMap<String, Option<(String, Option<String>)>>,
    /// By GTIN: its product.
    pub gtins: HashMap<String, Option<String>>,
    pub store_prices: HashMap<(i64, String), Option<String>>,
    pub list_prices: HashMap<(String, String), Option<String>>,
    pub stock: HashMap<(i64, String), Option<StockRecord>>,
    /// By (scope, entity key): the body of the numbered feed row.
    pub feed: HashMap<(String, String), Option<String>>,
    /// Feed transaction ids taken from their sequence for the batch's feed transactions.
    pub txids: Vec<i64>,
}

/// Writes held back: the last of each row, in key order (rows locked in one order).
#[derive(Default)]
pub struct Behind {
    /// By SKU: name, category, catalogue entry.
    pub products: BTreeMap<String, (String, String, String)>,
    /// By SKU: its GTINs, all of them.
    pub gtins: BTreeMap<String, Vec<String>>,
    pub store_prices: BTreeMap<(i64, String), String>,
    /// By (store, SKU): on hand and aisle.
    pub stock: BTreeMap<(i64, String), (i64, String)>,
}

impl Behind {
    pub fn is_empty(&self) -> bool {
        self.products.is_empty() && self.gtins.is_empty() && self.store_prices.is_empty() && self.stock.is_empty()
    }
}

impl Ahead {
    /// Takes what `known` holds over what was just read.
    fn keep(&mut self, known: Ahead) {
        self.products.extend(known.products);
        self.gtins.extend(known.gtins);
        self.store_prices.extend(known.store_prices);
        self.list_prices.extend(known.list_prices);
        self.stock.extend(known.stock);
        self.feed.extend(known.feed);
        self.txids.extend(known.txids);
    }

    /// Notes that `sku` now has exactly `gtins`: the GTINs read ahead as its own that it
    /// no longer has are nobody's.
    pub fn set_gtins(&mut self, sku: &str, gtins: &[String]) {
        for owner in self.gtins.values_mut() {
            if owner.as_deref() == Some(sku) {
                *owner = None;
            }
        }
        for gtin in gtins {
            self.gtins.insert(gtin.clone(), Some(sku.to_string()));
        }
    }
}

/// Reads what `a` names into `ahead`, with one statement per table. A row `ahead`
/// already holds is kept as it is: it may hold a write the database has not seen.
pub fn read(tx: &mut PgTx<'_>, a: &ReadAhead, known: Ahead) -> Stored<Ahead> {
    let mut ahead = Ahead::default();
    // A batch's statements take arrays whose size a generic plan cannot know, over tables
    // an import grows from empty: each is planned for its own arguments.
    tx.run("SET LOCAL plan_cache_mode = force_custom_plan", &[])?;
    let skus: Vec<&str> = a.skus.iter().map(String::as_str).filter(|k| super::tx::storable(k)).collect();
    ahead.products.extend(skus.iter().map(|s| (s.to_string(), None)));
    for r in tx.all("SELECT sku, name, catalogue FROM products WHERE sku = ANY($1)", &[&skus])? {
        ahead.products.insert(r.get(0), Some((r.get(1), r.get(2))));
    }
    let gtins: Vec<&str> = a.gtins.iter().map(String::as_str).filter(|k| super::tx::storable(k)).collect();
    ahead.gtins.extend(gtins.iter().map(|g| (g.to_string(), None)));
    for r in tx.all("SELECT gtin, sku FROM gtins WHERE gtin = ANY($1)", &[&gtins])? {
        ahead.gtins.insert(r.get(0), Some(r.get(1)));
    }
    let sql = "SELECT p.store_id, p.sku, p.price FROM store_prices p
               JOIN unnest($1::BIGINT[], $2::TEXT[]) AS u(store_id, sku) ON p.store_id = u.store_id AND p.sku = u.sku";
    let (ids, skus) = store_skus(&a.store_prices);
    ahead.store_prices.extend(ids.iter().zip(&skus).map(|(i, s)| ((*i, s.to_string()), None)));
    if !ids.is_empty() {
        for r in tx.all(sql, &[&ids, &skus])? {
            ahead.store_prices.insert((r.get(0), r.get(1)), Some(r.get(2)));
        }
    }
    let sql = "SELECT s.store_id, s.sku, s.on_hand, s.aisle FROM stock s
               JOIN unnest($1::BIGINT[], $2::TEXT[]) AS u(store_id, sku) ON s.store_id = u.store_id AND s.sku = u.sku";
    let (ids, skus) = store_skus(&a.stock);
    ahead.stock.extend(ids.iter().zip(&skus).map(|(i, s)| ((*i, s.to_string()), None)));
    if !ids.is_empty() {
        for r in tx.all(sql, &[&ids, &skus])? {
            let stock = StockRecord { store_id: r.get(0), sku: r.get(1), on_hand: r.get(2), aisle: r.get(3) };
            ahead.stock.insert((stock.store_id, stock.sku.clone()), Some(stock));
        }
    }
    let (lists, list_skus): (Vec<&str>, Vec<&str>) =
        a.list_skus.iter().filter(|(l, s)| super::tx::storable(l) && super::tx::storable(s)).map(|(l, s)| (l.as_str(), s.as_str())).unzip();
    ahead.list_prices.extend(lists.iter().zip(&list_skus).map(|(l, s)| ((l.to_string(), s.to_string()), None)));
    if !lists.is_empty() {
        let sql = "SELECT p.list, p.sku, p.price FROM list_prices p
                   JOIN unnest($1::TEXT[], $2::TEXT[]) AS u(list, sku) ON p.list = u.list AND p.sku = u.sku";
        for r in tx.all(sql, &[&lists, &list_skus])? {
            ahead.list_prices.insert((r.get(0), r.get(1)), Some(r.get(2)));
        }
    }
    let (scopes, keys): (Vec<&str>, Vec<&str>) =
        a.feed.iter().filter(|(s, k)| super::tx::storable(s) && super::tx::storable(k)).map(|(s, k)| (s.as_str(), k.as_str())).unzip();
    ahead.feed.extend(scopes.iter().zip(&keys).map(|(s, k)| ((s.to_string(), k.to_string()), None)));
    let sql = "SELECT f.scope, f.entity_key, f.body FROM feed f
               JOIN unnest($1::TEXT[], $2::TEXT[]) AS u(scope, entity_key) ON f.scope = u.scope AND f.entity_key = u.entity_key";
    for r in tx.all(sql, &[&scopes, &keys])? {
        ahead.feed.insert((r.get(0), r.get(1)), Some(r.get(2)));
    }
    ahead.feed.extend(a.no_feed.iter().map(|row| (row.clone(), None)));
    let wanted = a.feed_txs as i64;
    if wanted > 0 {
        ahead.txids = tx.all("SELECT nextval('feed_txid') FROM generate_series(1, $1::BIGINT)", &[&wanted])?.iter().map(|r| r.get(0)).collect();
    }
    ahead.keep(known);
    Ok(ahead)
}

/// (store, SKU) pairs as the two arrays a statement takes.
fn store_skus(pairs: &[(i64, String)]) -> (Vec<i64>, Vec<&str>) {
    pairs.iter().filter(|(_, s)| super::tx::storable(s)).map(|(i, s)| (*i, s.as_str())).unzip()
}

/// Writes what was held back, one statement per table.
pub fn write(tx: &mut PgTx<'_>, b: Behind) -> Stored<()> {
    if !b.products.is_empty() {
        let (mut skus, mut names, mut categories, mut entries) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (sku, (name, category, entry)) in b.products {
            skus.push(sku);
            names.push(name);
            categories.push(category);
            entries.push(entry);
        }
        let sql = "INSERT INTO products(sku, name, price_cents, category, vat_bp, catalogue)
                   SELECT s, n, 0, c, 0, e FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u(s, n, c, e)
                   ON CONFLICT (sku) DO UPDATE SET name = excluded.name, category = excluded.category, catalogue = excluded.catalogue";
        tx.run(sql, &[&skus, &names, &categories, &entries])?;
    }
    if !b.gtins.is_empty() {
        let owners: Vec<&str> = b.gtins.keys().map(String::as_str).collect();
        tx.run("DELETE FROM gtins WHERE sku = ANY($1)", &[&owners])?;
        let (gtins, skus): (Vec<&str>, Vec<&str>) = b.gtins.iter().flat_map(|(sku, gtins)| gtins.iter().map(move |g| (g.as_str(), sku.as_str()))).unzip();
        if !gtins.is_empty() {
            tx.run("INSERT INTO gtins(gtin, sku) SELECT * FROM unnest($1::TEXT[], $2::TEXT[])", &[&gtins, &skus])?;
        }
    }
    if !b.store_prices.is_empty() {
        let ((ids, skus), prices): ((Vec<i64>, Vec<String>), Vec<String>) = b.store_prices.into_iter().unzip();
        let sql = "INSERT INTO store_prices(store_id, sku, price) SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[])
                   ON CONFLICT (store_id, sku) DO UPDATE SET price = excluded.price";
        tx.run(sql, &[&ids, &skus, &prices])?;
    }
    if !b.stock.is_empty() {
        let ((ids, skus), (on_hand, aisles)): ((Vec<i64>, Vec<String>), (Vec<i64>, Vec<String>)) = b.stock.into_iter().unzip();
        let sql = "INSERT INTO stock(store_id, sku, on_hand, aisle) SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[])
                   ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = excluded.on_hand, aisle = excluded.aisle";
        tx.run(sql, &[&ids, &skus, &on_hand, &aisles])?;
    }
    Ok(())
}
