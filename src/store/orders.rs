//! The store's orders as the screens see them: rows read back into [`OrderRecord`]s, and
//! the hub's state with this device's pending ops applied on top (the overlay), so a pull
//! never makes a pending action disappear. Reads and the outbox both stand on this.

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::rules::order_effect;
use omnikiosk_protocol::wire::{Op, OrderLine, OrderRecord, OrderStatus};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{meta_get, Result, StoreError};

pub(super) const ORDER_COLUMNS: &str =
    "id, customer_id, status, pickup_code, lines, placed_at, promised_ready_at, updated_at, version";

/// The enrolled store's id (0 before enrolment; nothing is cached then anyway).
pub(super) fn enrolled_store_id(conn: &Connection) -> Result<i64> {
    Ok(meta_get(conn, "store_id")?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The enrolled store's currency (ISO 4217), as the hub's store record says.
pub(super) fn store_currency(conn: &Connection) -> Result<String> {
    let store_id = enrolled_store_id(conn)?;
    Ok(conn
        .prepare_cached("SELECT currency FROM stores WHERE id = ?1")?
        .query_row([store_id], |r| r.get(0))
        .optional()?
        .unwrap_or_else(omnikiosk_protocol::wire::default_currency))
}

pub(super) fn query_orders(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql], store_id: i64) -> Result<Vec<OrderRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| order_row(r, store_id))?;
    let mut out = Vec::new();
    for row in rows {
        let (mut order, status, lines) = row?;
        order.status = OrderStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt { what: "order status", detail: status.clone() })?;
        order.lines = from_json::<Vec<OrderLine>>("order lines", &lines)?;
        out.push(order);
    }
    Ok(out)
}

fn order_row(r: &Row<'_>, store_id: i64) -> rusqlite::Result<(OrderRecord, String, String)> {
    Ok((
        OrderRecord {
            id: r.get(0)?,
            store_id,
            customer_id: r.get(1)?,
            status: OrderStatus::Placed,
            pickup_code: r.get(3)?,
            lines: Vec::new(),
            placed_at: r.get(5)?,
            promised_ready_at: r.get(6)?,
            updated_at: r.get(7)?,
            version: r.get(8)?,
        },
        r.get(2)?,
        r.get(4)?,
    ))
}

/// The order as the screen shows it: the hub's record with pending ops applied.
pub(super) fn overlaid_order(conn: &Connection, id: &str) -> Result<Option<OrderRecord>> {
    let store_id = enrolled_store_id(conn)?;
    let sql = format!("SELECT {} FROM orders WHERE id = ?1", ORDER_COLUMNS);
    let mut orders = query_orders(conn, &sql, params![id], store_id)?;
    overlay_orders(conn, &mut orders)?;
    Ok(orders.pop())
}

/// Applies every pending op to the orders it changes, in sequence order.
pub(super) fn overlay_orders(conn: &Connection, orders: &mut [OrderRecord]) -> Result<()> {
    for order in orders.iter_mut() {
        for (op, _) in pending_on(conn, &format!("order:{}", order.id))? {
            order_effect(order, &op);
        }
    }
    Ok(())
}

/// This device's pending ops on one entity (`order:<id>`, `help:<id>`, `pin:<staff>`,
/// `cart:<customer>`), in sequence order, each with the kiosk time it was made at.
pub(super) fn pending_on(conn: &Connection, entity: &str) -> Result<Vec<(OpBody, i64)>> {
    let mut stmt = conn.prepare_cached("SELECT body, name, kiosk_time FROM outbox WHERE entity = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([entity], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (body, name, kiosk_time) = row?;
        let op = Op { op_id: String::new(), seq: 0, name, base_version: None, kiosk_time, body: from_json("outbox op", &body)? };
        let op = OpBody::from_wire(&op).map_err(|e| StoreError::Corrupt { what: "outbox op", detail: e.message })?;
        out.push((op, kiosk_time));
    }
    Ok(out)
}

/// The hub's balance plus points earned and redeemed here and not yet confirmed.
pub(super) fn overlaid_points(conn: &Connection, customer_id: &str) -> Result<i64> {
    let hub: i64 =
        conn.prepare_cached("SELECT points FROM customers WHERE id = ?1")?.query_row([customer_id], |r| r.get(0)).optional()?.unwrap_or(0);
    Ok(hub + pending_points(conn, customer_id)?)
}

pub(super) fn pending_points(conn: &Connection, customer_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(sum(points_delta), 0) FROM outbox WHERE entity = ?1")?
        .query_row([format!("customer:{customer_id}")], |r| r.get(0))?)
}

/// A stored JSON column read back; a value that does not parse is a corrupt file.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(what: &'static str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}
