//! [`OrderSweepRepository`] on the store's transaction: the batches of orders the jobs claim.

use std::collections::HashMap;

use conveyor_domain::Timestamp;
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::order::{Order, OrderSweep, OrderSweepRepository};
use sqlx::Row;

use super::orders::{ORDER_COLUMNS, line_from_row, order_from_row};
use super::{placeholders, sql_limit};
use crate::{StoreError, Tx};

impl OrderSweepRepository for Tx {
    type Error = StoreError;

    async fn claim_orders(
        &mut self,
        sweep: &OrderSweep,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        if sweep.statuses.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE payment_method = $1 AND status IN ({})",
            placeholders(2, sweep.statuses.len())
        );
        let mut next = 2 + sweep.statuses.len();
        if sweep.placed_before.is_some() {
            sql.push_str(&format!(" AND created_at < ${next}"));
            next += 1;
        }
        if sweep.reservation_held {
            sql.push_str(" AND reservation_expired_at IS NULL");
        }
        if sweep.delivered {
            sql.push_str(" AND delivered_at IS NOT NULL");
        }
        sql.push_str(&format!(
            " ORDER BY created_at, id LIMIT ${next}{}",
            self.backend().skip_locked()
        ));

        let mut query = sqlx::query(&sql).bind(sweep.payment_method.as_str());
        for status in sweep.statuses {
            query = query.bind(status.as_str());
        }
        if let Some(before) = sweep.placed_before {
            query = query.bind(before.millis());
        }
        let rows = query.bind(sql_limit(limit)).fetch_all(self.conn()).await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut lines = lines_of(self, &ids).await?;
        rows.iter()
            .zip(&ids)
            .map(|(row, id)| order_from_row(row, lines.remove(id).unwrap_or_default()))
            .collect()
    }

    async fn save_reservation_expired(&mut self, order: &Order) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET reservation_expired_at = $1, updated_at = $2 WHERE id = $3")
            .bind(order.reservation_expired_at.map(Timestamp::millis))
            .bind(order.updated_at.millis())
            .bind(order.id.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// The lines of several orders in one query, by order id.
async fn lines_of(
    tx: &mut Tx,
    ids: &[String],
) -> Result<HashMap<String, Vec<OrderLine>>, StoreError> {
    let mut lines: HashMap<String, Vec<OrderLine>> = HashMap::new();
    if ids.is_empty() {
        return Ok(lines);
    }
    let sql = format!(
        "SELECT order_id, product_id, quantity, unit_price FROM order_items WHERE order_id IN ({}) ORDER BY order_id, line_no",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id.as_str());
    }
    for row in query.fetch_all(tx.conn()).await? {
        lines
            .entry(row.try_get("order_id")?)
            .or_default()
            .push(line_from_row(&row)?);
    }
    Ok(lines)
}
