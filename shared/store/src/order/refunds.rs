//! [`RefundRepository`] on the store's transaction: one refund request per payment.

use conveyor_domain::order::{RefundRepository, RefundRequest};
use conveyor_domain::{Currency, Money, OrderId, PaymentId, Timestamp};
use sqlx::Row;

use crate::{StoreError, Tx};

impl RefundRepository for Tx {
    type Error = StoreError;

    async fn insert_refund_request(&mut self, refund: &RefundRequest) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO refund_requests (payment_id, order_id, amount, currency, reason, requested_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING",
        )
        .bind(refund.payment_id.as_str())
        .bind(refund.order_id.as_str())
        .bind(refund.amount.minor())
        .bind(refund.currency.as_str())
        .bind(&refund.reason)
        .bind(refund.requested_at.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn refund_requests_of_order(
        &mut self,
        order_id: &OrderId,
    ) -> Result<Vec<RefundRequest>, StoreError> {
        let rows = sqlx::query(
            "SELECT payment_id, order_id, amount, currency, reason, requested_at FROM refund_requests WHERE order_id = $1 ORDER BY requested_at, payment_id",
        )
        .bind(order_id.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RefundRequest {
                    payment_id: PaymentId::parse(r.try_get::<String, _>("payment_id")?)?,
                    order_id: OrderId::parse(r.try_get::<String, _>("order_id")?)?,
                    amount: Money::from_minor(r.try_get("amount")?)
                        .map_err(|e| StoreError::corrupt("refund_requests", e))?,
                    currency: Currency::parse(&r.try_get::<String, _>("currency")?)
                        .map_err(|e| StoreError::corrupt("refund_requests", e))?,
                    reason: r.try_get("reason")?,
                    requested_at: Timestamp::from_millis(r.try_get("requested_at")?),
                })
            })
            .collect()
    }
}
