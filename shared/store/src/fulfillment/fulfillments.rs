//! [`FulfillmentRepository`] on the store's transaction.

use conveyor_domain::fulfillment::{Fulfillment, FulfillmentRepository, Picklist};
use conveyor_domain::{FulfillmentId, OrderId, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{StoreError, Tx};

const COLUMNS: &str = "id, order_id, status, cancel_reason, created_at, updated_at";

impl FulfillmentRepository for Tx {
    type Error = StoreError;

    async fn insert_fulfillment(
        &mut self,
        fulfillment: &Fulfillment,
        picklist: &Picklist,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO fulfillments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id) DO NOTHING"
        ))
        .bind(fulfillment.id.as_str())
        .bind(fulfillment.order_id.as_str())
        .bind(fulfillment.status.as_str())
        .bind(fulfillment.cancel_reason.as_deref())
        .bind(fulfillment.created_at.millis())
        .bind(fulfillment.updated_at.millis())
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::picklists::insert(self, picklist).await?;
        Ok(true)
    }

    async fn get_fulfillment_for_update(
        &mut self,
        id: &FulfillmentId,
    ) -> Result<Option<Fulfillment>, StoreError> {
        fetch_one(self, "id", id.as_str()).await
    }

    async fn get_fulfillment_of_order_for_update(
        &mut self,
        order_id: &OrderId,
    ) -> Result<Option<Fulfillment>, StoreError> {
        fetch_one(self, "order_id", order_id.as_str()).await
    }

    async fn save_fulfillment(&mut self, fulfillment: &Fulfillment) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE fulfillments SET status = $1, cancel_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(fulfillment.status.as_str())
        .bind(fulfillment.cancel_reason.as_deref())
        .bind(fulfillment.updated_at.millis())
        .bind(fulfillment.id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

/// `key` is a column name from this file, never input.
async fn fetch_one(tx: &mut Tx, key: &str, value: &str) -> Result<Option<Fulfillment>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM fulfillments WHERE {key} = $1{}",
        tx.backend().for_update()
    );
    sqlx::query(&sql)
        .bind(value)
        .fetch_optional(tx.conn())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

fn from_row(row: &AnyRow) -> Result<Fulfillment, StoreError> {
    Ok(Fulfillment {
        id: FulfillmentId::parse(row.try_get::<String, _>("id")?)?,
        order_id: OrderId::parse(row.try_get::<String, _>("order_id")?)?,
        status: row.try_get::<String, _>("status")?.parse()?,
        cancel_reason: row.try_get("cancel_reason")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}
