//! [`NotificationRepository`] on the store's transaction: at most one notification per
//! customer and event key (a unique constraint).

use conveyor_domain::notification::{Notification, NotificationRepository};
use conveyor_domain::{CustomerId, NotificationId, OrderId, Timestamp};
use sqlx::Row;

use crate::{StoreError, Tx};

impl NotificationRepository for Tx {
    type Error = StoreError;

    async fn insert_notification(&mut self, n: &Notification) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO notifications (id, customer_id, event_key, event_id, order_id, channel, template, recipient, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (customer_id, event_key) DO NOTHING",
        )
        .bind(n.id.as_str())
        .bind(n.customer_id.as_str())
        .bind(&n.event_key)
        .bind(&n.event_id)
        .bind(n.order_id.as_str())
        .bind(n.channel.as_str())
        .bind(n.template.as_str())
        .bind(&n.recipient)
        .bind(&n.text)
        .bind(n.created_at.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn notifications_of_customer(
        &mut self,
        customer_id: &CustomerId,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer_id, event_key, event_id, order_id, channel, template, recipient, body, created_at FROM notifications WHERE customer_id = $1 ORDER BY created_at, id",
        )
        .bind(customer_id.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: NotificationId::parse(r.try_get::<String, _>("id")?)?,
                    customer_id: CustomerId::parse(r.try_get::<String, _>("customer_id")?)?,
                    event_key: r.try_get("event_key")?,
                    event_id: r.try_get("event_id")?,
                    order_id: OrderId::parse(r.try_get::<String, _>("order_id")?)?,
                    channel: r.try_get::<String, _>("channel")?.parse()?,
                    template: r.try_get::<String, _>("template")?.parse()?,
                    recipient: r.try_get("recipient")?,
                    text: r.try_get("body")?,
                    created_at: Timestamp::from_millis(r.try_get("created_at")?),
                })
            })
            .collect()
    }
}
