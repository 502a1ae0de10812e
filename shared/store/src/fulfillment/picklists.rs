//! [`PicklistRepository`] on the store's transaction.

use conveyor_domain::fulfillment::{Picklist, PicklistLine, PicklistRepository};
use conveyor_domain::{FulfillmentId, OrderId, PicklistId, ProductId, Quantity, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{StoreError, Tx};

const COLUMNS: &str = "id, fulfillment_id, order_id, status, created_at, updated_at";

/// Inserts a picklist with its lines (only ever with its fulfillment).
pub(super) async fn insert(tx: &mut Tx, picklist: &Picklist) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO picklists ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(picklist.id.as_str())
    .bind(picklist.fulfillment_id.as_str())
    .bind(picklist.order_id.as_str())
    .bind(picklist.status.as_str())
    .bind(picklist.created_at.millis())
    .bind(picklist.updated_at.millis())
    .execute(tx.conn())
    .await?;
    for (line_no, line) in (0_i64..).zip(&picklist.lines) {
        sqlx::query(
            "INSERT INTO picklist_items (picklist_id, line_no, product_id, quantity) VALUES ($1, $2, $3, $4)",
        )
        .bind(picklist.id.as_str())
        .bind(line_no)
        .bind(line.product_id.as_str())
        .bind(line.quantity.to_i64())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

impl PicklistRepository for Tx {
    type Error = StoreError;

    async fn get_picklist_for_update(
        &mut self,
        id: &PicklistId,
    ) -> Result<Option<Picklist>, StoreError> {
        fetch_one(self, "id", id.as_str()).await
    }

    async fn get_picklist_of_fulfillment_for_update(
        &mut self,
        fulfillment_id: &FulfillmentId,
    ) -> Result<Option<Picklist>, StoreError> {
        fetch_one(self, "fulfillment_id", fulfillment_id.as_str()).await
    }

    async fn save_picklist(&mut self, picklist: &Picklist) -> Result<(), StoreError> {
        sqlx::query("UPDATE picklists SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(picklist.status.as_str())
            .bind(picklist.updated_at.millis())
            .bind(picklist.id.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// `key` is a column name from this file, never input.
async fn fetch_one(tx: &mut Tx, key: &str, value: &str) -> Result<Option<Picklist>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM picklists WHERE {key} = $1{}",
        tx.backend().for_update()
    );
    let Some(row) = sqlx::query(&sql)
        .bind(value)
        .fetch_optional(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let id = PicklistId::parse(row.try_get::<String, _>("id")?)?;
    let lines = load_lines(tx, &id).await?;
    from_row(&row, id, lines).map(Some)
}

async fn load_lines(tx: &mut Tx, id: &PicklistId) -> Result<Vec<PicklistLine>, StoreError> {
    let rows = sqlx::query(
        "SELECT product_id, quantity FROM picklist_items WHERE picklist_id = $1 ORDER BY line_no",
    )
    .bind(id.as_str())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PicklistLine {
                product_id: ProductId::parse(r.try_get::<String, _>("product_id")?)?,
                quantity: Quantity::from_i64(r.try_get("quantity")?)?,
            })
        })
        .collect()
}

fn from_row(
    row: &AnyRow,
    id: PicklistId,
    lines: Vec<PicklistLine>,
) -> Result<Picklist, StoreError> {
    Ok(Picklist {
        id,
        fulfillment_id: FulfillmentId::parse(row.try_get::<String, _>("fulfillment_id")?)?,
        order_id: OrderId::parse(row.try_get::<String, _>("order_id")?)?,
        status: row.try_get::<String, _>("status")?.parse()?,
        lines,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}
