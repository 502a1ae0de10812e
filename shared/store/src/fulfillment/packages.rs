//! [`PackageRepository`] on the store's transaction.

use conveyor_domain::fulfillment::{Package, PackageRepository};
use conveyor_domain::{FulfillmentId, OrderId, PackageId, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{StoreError, Tx};

const COLUMNS: &str =
    "id, fulfillment_id, order_id, status, tracking_number, created_at, updated_at";

impl PackageRepository for Tx {
    type Error = StoreError;

    async fn insert_package(&mut self, package: &Package) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO packages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fulfillment_id) DO NOTHING"
        ))
        .bind(package.id.as_str())
        .bind(package.fulfillment_id.as_str())
        .bind(package.order_id.as_str())
        .bind(package.status.as_str())
        .bind(package.tracking_number.as_deref())
        .bind(package.created_at.millis())
        .bind(package.updated_at.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_package_of_fulfillment_for_update(
        &mut self,
        fulfillment_id: &FulfillmentId,
    ) -> Result<Option<Package>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM packages WHERE fulfillment_id = $1{}",
            self.backend().for_update()
        );
        sqlx::query(&sql)
            .bind(fulfillment_id.as_str())
            .fetch_optional(self.conn())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    async fn save_package(&mut self, package: &Package) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE packages SET status = $1, tracking_number = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(package.status.as_str())
        .bind(package.tracking_number.as_deref())
        .bind(package.updated_at.millis())
        .bind(package.id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

fn from_row(row: &AnyRow) -> Result<Package, StoreError> {
    Ok(Package {
        id: PackageId::parse(row.try_get::<String, _>("id")?)?,
        fulfillment_id: FulfillmentId::parse(row.try_get::<String, _>("fulfillment_id")?)?,
        order_id: OrderId::parse(row.try_get::<String, _>("order_id")?)?,
        status: row.try_get::<String, _>("status")?.parse()?,
        tracking_number: row.try_get("tracking_number")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}
