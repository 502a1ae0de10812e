//! [`OrderRepository`] on the store's transaction.

use conveyor_domain::events::order::OrderLine;
use conveyor_domain::order::{Order, OrderRepository, OrderStatus, PaymentMethod, StatusChange};
use conveyor_domain::{
    Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Quantity, Timestamp,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, StoreError, Tx};

/// The `orders` columns [`order_from_row`] reads, in insert order.
pub(super) const ORDER_COLUMNS: &str = "id, customer_id, status, payment_method, currency, total, payment_id, delivered_at, reservation_expired_at, created_at, updated_at";
/// [`ORDER_COLUMNS`] of the table aliased `o`.
const ORDER_COLUMNS_OF_O: &str = "o.id, o.customer_id, o.status, o.payment_method, o.currency, o.total, o.payment_id, o.delivered_at, o.reservation_expired_at, o.created_at, o.updated_at";

const UPDATE_STATUS: &str = "UPDATE orders SET status = $1, payment_id = $2, delivered_at = $3, updated_at = $4 WHERE id = $5";
const INSERT_HISTORY: &str = "INSERT INTO order_status_history (id, order_id, from_status, to_status, reason, payment_id, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
/// [`UPDATE_STATUS`] and [`INSERT_HISTORY`] (its parameters numbered on) in one statement.
const PG_UPDATE_WITH_HISTORY: &str = "WITH updated AS (UPDATE orders SET status = $1, payment_id = $2, delivered_at = $3, updated_at = $4 WHERE id = $5) \
    INSERT INTO order_status_history (id, order_id, from_status, to_status, reason, payment_id, changed_at) VALUES ($6, $7, $8, $9, $10, $11, $12)";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds [`UPDATE_STATUS`]'s parameters.
fn bind_update<'q>(q: AnyQuery<'q>, order: &'q Order) -> AnyQuery<'q> {
    q.bind(order.status.as_str())
        .bind(order.payment_id.as_ref().map(PaymentId::as_str))
        .bind(order.delivered_at.map(Timestamp::millis))
        .bind(order.updated_at.millis())
        .bind(order.id.as_str())
}

/// Binds [`INSERT_HISTORY`]'s parameters (after whatever `q` has bound).
fn bind_history<'q>(q: AnyQuery<'q>, order: &'q Order, change: &'q StatusChange) -> AnyQuery<'q> {
    q.bind(uuid::Uuid::now_v7().to_string())
        .bind(order.id.as_str())
        .bind(change.from.as_str())
        .bind(change.to.as_str())
        .bind(&change.reason)
        .bind(change.payment_id.as_ref().map(PaymentId::as_str))
        .bind(change.at.millis())
}

impl OrderRepository for Tx {
    type Error = StoreError;

    async fn insert_order(&mut self, order: &Order) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"
        ))
        .bind(order.id.as_str())
        .bind(order.customer_id.as_str())
        .bind(order.status.as_str())
        .bind(order.payment_method.as_str())
        .bind(order.currency.as_str())
        .bind(order.total.minor())
        .bind(order.payment_id.as_ref().map(PaymentId::as_str))
        .bind(order.delivered_at.map(Timestamp::millis))
        .bind(order.reservation_expired_at.map(Timestamp::millis))
        .bind(order.created_at.millis())
        .bind(order.updated_at.millis())
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for (line_no, line) in (0_i64..).zip(&order.items) {
            sqlx::query("INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price) VALUES ($1, $2, $3, $4, $5)")
                .bind(order.id.as_str())
                .bind(line_no)
                .bind(line.product_id.as_str())
                .bind(line.quantity.to_i64())
                .bind(line.unit_price.minor())
                .execute(self.conn())
                .await?;
        }
        Ok(true)
    }

    async fn get_order_for_update(&mut self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        // One round trip: the order and its lines (a left join, so an order without lines still
        // comes back), locking the order's row only.
        let sql = format!(
            "SELECT {ORDER_COLUMNS_OF_O}, i.product_id, i.quantity, i.unit_price FROM orders o \
             LEFT JOIN order_items i ON i.order_id = o.id WHERE o.id = $1 ORDER BY i.line_no{}",
            self.backend().for_update_of("o")
        );
        let rows = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_all(self.conn())
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<String>, _>("product_id")?.is_some() {
                items.push(line_from_row(row)?);
            }
        }
        order_from_row(first, items).map(Some)
    }

    async fn save_status_change(
        &mut self,
        order: &Order,
        change: &StatusChange,
    ) -> Result<(), StoreError> {
        match self.backend() {
            // One statement, one round trip.
            Backend::Postgres => {
                let q = bind_update(sqlx::query(PG_UPDATE_WITH_HISTORY), order);
                bind_history(q, order, change).execute(self.conn()).await?;
            }
            // In-process: two statements cost nothing more.
            Backend::Sqlite => {
                bind_update(sqlx::query(UPDATE_STATUS), order)
                    .execute(self.conn())
                    .await?;
                bind_history(sqlx::query(INSERT_HISTORY), order, change)
                    .execute(self.conn())
                    .await?;
            }
        }
        Ok(())
    }

    async fn status_history(&mut self, id: &OrderId) -> Result<Vec<StatusChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT from_status, to_status, reason, payment_id, changed_at FROM order_status_history WHERE order_id = $1 ORDER BY changed_at, id",
        )
        .bind(id.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusChange {
                    from: r.try_get::<String, _>("from_status")?.parse()?,
                    to: r.try_get::<String, _>("to_status")?.parse()?,
                    reason: r.try_get("reason")?,
                    payment_id: r
                        .try_get::<Option<String>, _>("payment_id")?
                        .map(PaymentId::parse)
                        .transpose()?,
                    at: Timestamp::from_millis(r.try_get("changed_at")?),
                })
            })
            .collect()
    }
}

/// An order line from a row with `product_id`, `quantity` and `unit_price`.
pub(super) fn line_from_row(r: &AnyRow) -> Result<OrderLine, StoreError> {
    Ok(OrderLine {
        product_id: ProductId::parse(r.try_get::<String, _>("product_id")?)?,
        quantity: Quantity::from_i64(r.try_get("quantity")?)?,
        unit_price: Money::from_minor(r.try_get("unit_price")?)
            .map_err(|e| StoreError::corrupt("order_items", e))?,
    })
}

/// An order from a row of [`ORDER_COLUMNS`] and its lines.
pub(super) fn order_from_row(row: &AnyRow, items: Vec<OrderLine>) -> Result<Order, StoreError> {
    Ok(Order {
        id: OrderId::parse(row.try_get::<String, _>("id")?)?,
        customer_id: CustomerId::parse(row.try_get::<String, _>("customer_id")?)?,
        status: row.try_get::<String, _>("status")?.parse::<OrderStatus>()?,
        payment_method: row
            .try_get::<String, _>("payment_method")?
            .parse::<PaymentMethod>()?,
        currency: Currency::parse(&row.try_get::<String, _>("currency")?)
            .map_err(|e| StoreError::corrupt("orders", e))?,
        total: Money::from_minor(row.try_get("total")?)
            .map_err(|e| StoreError::corrupt("orders", e))?,
        payment_id: row
            .try_get::<Option<String>, _>("payment_id")?
            .map(PaymentId::parse)
            .transpose()?,
        delivered_at: row
            .try_get::<Option<i64>, _>("delivered_at")?
            .map(Timestamp::from_millis),
        reservation_expired_at: row
            .try_get::<Option<i64>, _>("reservation_expired_at")?
            .map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        items,
    })
}
