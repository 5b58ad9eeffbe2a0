//! Reads for scans, screens and `status`, through the reader connection.

use omnikiosk_protocol::rules::cart_effect;
use omnikiosk_protocol::wire::{
    CartLine, CustomerRecord, OrderRecord, OrderStatus, ProductRecord, ProductStatus, Role, StaffRole, StockRecord,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::orders::{enrolled_store_id, from_json, overlay_orders, pending_on, pending_points, query_orders, ORDER_COLUMNS};
use super::{LocalStore, Result, StoreError};
use crate::domain::shopper::{CartView, ShopperView};

/// Cached row counts, as `status` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub customers: i64,
    pub orders: i64,
    pub products: i64,
    pub carts: i64,
    pub stock: i64,
    pub staff: i64,
    pub loyalty_cards: i64,
}

/// A badge holder of this store, without the PIN hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
    pub role: StaffRole,
    /// false: a new colleague (or one whose PIN was reset) chooses their PIN at the PIN pad.
    pub pin_set: bool,
    /// The newest badge's version: an older badge is refused.
    #[serde(skip)]
    pub badge_version: i64,
}

/// A colleague of this store as the manager's list shows them (`omnikiosk staff list`),
/// with what this device did to their PIN and has not pushed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Colleague {
    pub id: String,
    pub name: String,
    /// HR's role: `staff` (the pickup desk), `till` or `manager`.
    pub role: Role,
    /// false: they choose a PIN at their next badge scan (new, or reset).
    pub pin_set: bool,
}

/// Where the store is, as its screens need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreLocale {
    /// The store record's language: the screens' when nobody is signed in.
    pub language: String,
    /// The store record's IANA time zone name (`Europe/Warsaw`).
    pub timezone: String,
}

impl Default for StoreLocale {
    fn default() -> Self {
        let record = omnikiosk_protocol::wire::StoreRecord::default();
        StoreLocale { language: record.language, timezone: record.timezone }
    }
}

/// A product as the kiosk knows it, with this store's shelf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductView {
    pub product: ProductRecord,
    pub stock: Option<StockRecord>,
}

impl LocalStore {
    /// Everything the shopper screen shows, read in one consistent snapshot.
    pub fn shopper_view(&self, customer_id: &str) -> Result<Option<ShopperView>> {
        let mut conn = self.reader();
        let tx = conn.transaction()?;
        let Some(mut customer) = customer(&tx, customer_id)? else { return Ok(None) };
        let points_pending = pending_points(&tx, customer_id)?;
        customer.points += points_pending;
        let store_id = enrolled_store_id(&tx)?;
        let mut cart_lines: Vec<CartLine> = match tx
            .prepare_cached("SELECT lines FROM carts WHERE customer_id = ?1")?
            .query_row([customer_id], |r| r.get::<_, String>(0))
            .optional()?
        {
            Some(json) => from_json("cart", &json)?,
            None => Vec::new(),
        };
        // Products saved for later here and not yet in the hub's cart.
        for (op, _) in pending_on(&tx, &format!("cart:{customer_id}"))? {
            cart_effect(&mut cart_lines, &op);
        }
        // Lines bought here from the cart ("buy here") and not yet gone from the hub's.
        for (op, _) in pending_on(&tx, &format!("customer:{customer_id}"))? {
            cart_effect(&mut cart_lines, &op);
        }
        let cart = build_cart(&tx, &cart_lines, store_id)?;
        let mut orders =
            query_orders(&tx, &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = ?1"), params![customer_id], store_id)?;
        overlay_orders(&tx, &mut orders)?;
        let mut view = ShopperView::new(customer, cart, orders);
        view.points_pending = points_pending;
        Ok(Some(view))
    }

    /// The cached customer alone, as pulled (no cart, orders or pending points): enough to
    /// name them in a list.
    pub fn customer(&self, customer_id: &str) -> Result<Option<CustomerRecord>> {
        customer(&self.reader(), customer_id)
    }

    /// A cart's lines priced from the catalogue, with this store's shelves.
    pub fn cart_view(&self, lines: &[CartLine]) -> Result<CartView> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        build_cart(&conn, lines, store_id)
    }

    pub fn customer_id_for_card(&self, card: &str) -> Result<Option<String>> {
        let conn = self.reader();
        let id = conn
            .prepare_cached("SELECT customer_id FROM loyalty_cards WHERE card = ?1")?
            .query_row([card], |r| r.get(0))
            .optional()?;
        Ok(id)
    }

    pub fn order(&self, id: &str) -> Result<Option<OrderRecord>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
        let mut orders = query_orders(&conn, &sql, params![id], store_id)?;
        overlay_orders(&conn, &mut orders)?;
        Ok(orders.into_iter().next())
    }

    /// The open order (not collected, cancelled or expired) with this pickup code.
    pub fn open_order_by_pickup_code(&self, code: &str) -> Result<Option<OrderRecord>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE pickup_code = ?1
             AND status IN ('placed', 'picking', 'ready') ORDER BY promised_ready_at"
        );
        let mut orders = query_orders(&conn, &sql, params![code], store_id)?;
        overlay_orders(&conn, &mut orders)?;
        Ok(orders.into_iter().find(|o| !o.status.is_final()))
    }

    /// The store's click-and-collect queue as the screen shows it (pending local actions
    /// applied), soonest promised first.
    pub fn orders(&self, status: Option<OrderStatus>) -> Result<Vec<OrderRecord>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let mut orders = match status {
            // Orders with pending ops may be about to enter (or leave) this status.
            Some(st) => query_orders(
                &conn,
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE status = ?1
                        OR id IN (SELECT substr(entity, 7) FROM outbox WHERE entity LIKE 'order:%')
                     ORDER BY promised_ready_at, id"
                ),
                params![st.as_str()],
                store_id,
            )?,
            None => query_orders(
                &conn,
                &format!("SELECT {ORDER_COLUMNS} FROM orders ORDER BY promised_ready_at, id"),
                params![],
                store_id,
            )?,
        };
        overlay_orders(&conn, &mut orders)?;
        if let Some(st) = status {
            orders.retain(|o| o.status == st);
        }
        Ok(orders)
    }

    /// The orders still to be handled (placed, picking, ready), pending local actions
    /// applied: the desk's queue without the store's history of collected, cancelled and
    /// expired orders.
    pub fn open_orders(&self) -> Result<Vec<OrderRecord>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let mut orders = query_orders(
            &conn,
            &format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ('placed', 'picking', 'ready')
                    OR id IN (SELECT substr(entity, 7) FROM outbox WHERE entity LIKE 'order:%')
                 ORDER BY promised_ready_at, id"
            ),
            params![],
            store_id,
        )?;
        overlay_orders(&conn, &mut orders)?;
        orders.retain(|o| !o.status.is_final());
        Ok(orders)
    }

    /// A product by its SKU (a cart's or an order's line).
    pub fn product(&self, sku: &str) -> Result<Option<ProductView>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        product_view(&conn, sku, store_id)
    }

    /// The product a scanned barcode or a typed code names: any of its GTINs, or its SKU
    /// (a product without GTINs, as the demo's, has its SKU for barcode). The one lookup
    /// of every scan, `--item`, price check and "save for later".
    pub fn product_by_code(&self, code: &str) -> Result<Option<ProductView>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        product_by_code(&conn, code, store_id)
    }

    /// The store's language and time zone as its record gives them (English and UTC
    /// before the record has come).
    pub fn store_locale(&self) -> Result<StoreLocale> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let row = conn
            .prepare_cached("SELECT language, timezone FROM stores WHERE id = ?1")?
            .query_row([store_id], |r| Ok(StoreLocale { language: r.get(0)?, timezone: r.get(1)? }))
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    /// The store's time zone: every time shown and the store's "today" are local there.
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone> {
        Ok(crate::clock::store_zone(&self.store_locale()?.timezone))
    }

    /// Products on this store's shelves, fullest first: what a shopper could buy here now.
    pub fn products_in_stock(&self, limit: usize) -> Result<Vec<ProductView>> {
        let conn = self.reader();
        let store_id = enrolled_store_id(&conn)?;
        let skus: Vec<String> = conn
            .prepare_cached("SELECT sku FROM stock WHERE on_hand > 0 ORDER BY on_hand DESC, sku LIMIT ?1")?
            .query_map([limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(skus.len());
        for sku in skus {
            out.extend(product_view(&conn, &sku, store_id)?);
        }
        Ok(out)
    }

    pub fn staff_member(&self, id: &str) -> Result<Option<StaffMember>> {
        let conn = self.reader();
        let row = conn
            .prepare_cached("SELECT id, name, role, pin_hash != '', badge_version FROM staff WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?)))
            .optional()?;
        row.map(|(id, name, role, pin_set, badge_version)| {
                let role = StaffRole::parse(&role).ok_or(StoreError::Corrupt { what: "staff role", detail: role })?;
                Ok(StaffMember { id, name, role, pin_set, badge_version })
            })
            .transpose()
    }

    /// The store's colleagues, by name.
    pub fn colleagues(&self) -> Result<Vec<Colleague>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT id, name, role, till, pin_hash != '' FROM staff ORDER BY name, id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, role, till, pin_set) = row?;
            let role = StaffRole::parse(&role).ok_or(StoreError::Corrupt { what: "staff role", detail: role })?;
            out.push(Colleague { id, name, role: Role::of(role, till), pin_set });
        }
        Ok(out)
    }

    pub fn counts(&self) -> Result<Counts> {
        let conn = self.reader();
        let count = |table: &str| -> Result<i64> {
            Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        Ok(Counts {
            customers: count("customers")?,
            orders: count("orders")?,
            products: count("products")?,
            carts: count("carts")?,
            stock: count("stock")?,
            staff: count("staff")?,
            loyalty_cards: count("loyalty_cards")?,
        })
    }
}

fn customer(conn: &Connection, id: &str) -> Result<Option<CustomerRecord>> {
    let row = conn
        .prepare_cached(
            "SELECT id, first_name, last_initial, tier, language, points, home_store FROM customers WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(CustomerRecord {
                id: r.get(0)?,
                first_name: r.get(1)?,
                last_initial: r.get(2)?,
                tier: r.get(3)?,
                language: r.get(4)?,
                points: r.get(5)?,
                home_store: r.get(6)?,
                loyalty_cards: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut c) = row else { return Ok(None) };
    c.loyalty_cards = conn
        .prepare_cached("SELECT card FROM loyalty_cards WHERE customer_id = ?1 ORDER BY card")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(c))
}

fn build_cart(conn: &Connection, lines: &[CartLine], store_id: i64) -> Result<CartView> {
    let mut failure = None;
    let cart = CartView::build(lines, |sku| match product_view(conn, sku, store_id) {
        Ok(Some(v)) => (Some(v.product), v.stock),
        Ok(None) => (None, None),
        Err(e) => {
            failure.get_or_insert(e);
            (None, None)
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(cart),
    }
}

/// The product a scanned barcode or a typed code names: one of its GTINs, else its SKU.
pub(super) fn product_by_code(conn: &Connection, code: &str, store_id: i64) -> Result<Option<ProductView>> {
    let code = code.trim();
    let sku: Option<String> =
        conn.prepare_cached("SELECT sku FROM product_gtins WHERE gtin = ?1")?.query_row([code], |r| r.get(0)).optional()?;
    product_view(conn, sku.as_deref().unwrap_or(code), store_id)
}

pub(super) fn product_view(conn: &Connection, sku: &str, store_id: i64) -> Result<Option<ProductView>> {
    let row = conn
        .prepare_cached("SELECT sku, name, price_cents, category, vat_bp, gtins, brand, status, currency, description FROM products WHERE sku = ?1")?
        .query_row([sku], |r| {
            let product = ProductRecord {
                sku: r.get(0)?,
                name: r.get(1)?,
                price_cents: r.get(2)?,
                category: r.get(3)?,
                vat_bp: r.get(4)?,
                brand: r.get(6)?,
                currency: r.get(8)?,
                description: r.get(9)?,
                ..Default::default()
            };
            Ok((product, r.get::<_, String>(5)?, r.get::<_, String>(7)?))
        })
        .optional()?;
    let Some((mut product, gtins, status)) = row else { return Ok(None) };
    product.gtins = from_json("product's GTINs", &gtins)?;
    product.status = ProductStatus::parse(&status).ok_or(StoreError::Corrupt { what: "product status", detail: status })?;
    let stock = conn
        .prepare_cached("SELECT on_hand, aisle FROM stock WHERE sku = ?1")?
        .query_row([sku], |r| Ok(StockRecord { store_id, sku: sku.to_string(), on_hand: r.get(0)?, aisle: r.get(1)? }))
        .optional()?;
    Ok(Some(ProductView { product, stock }))
}

