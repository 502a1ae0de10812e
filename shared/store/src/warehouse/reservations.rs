//! [`ReservationRepository`] on the store's transaction.

use conveyor_domain::warehouse::{Reservation, ReservationRepository, ReservationStatus};
use conveyor_domain::{OrderId, ProductId, Quantity, ReservationId, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql_limit;
use crate::{StoreError, Tx};

const RESERVATION_COLUMNS: &str =
    "id, order_id, product_id, quantity, status, expires_at, warned_at, created_at, updated_at";

impl ReservationRepository for Tx {
    async fn insert_reservation(&mut self, r: &Reservation) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO reservations ({RESERVATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (order_id, product_id) DO NOTHING"
        ))
        .bind(r.id.as_str())
        .bind(r.order_id.as_str())
        .bind(r.product_id.as_str())
        .bind(r.quantity.to_i64())
        .bind(r.status.as_str())
        .bind(r.expires_at.map(Timestamp::millis))
        .bind(r.warned_at.map(Timestamp::millis))
        .bind(r.created_at.millis())
        .bind(r.updated_at.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn order_reservations_for_update(
        &mut self,
        order: &OrderId,
    ) -> Result<Vec<Reservation>, StoreError> {
        let sql = format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations WHERE order_id = $1 ORDER BY product_id{}",
            self.backend().for_update()
        );
        let rows = sqlx::query(&sql)
            .bind(order.as_str())
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(reservation_from_row).collect()
    }

    async fn save_reservation(&mut self, r: &Reservation) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE reservations SET status = $1, expires_at = $2, warned_at = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(r.status.as_str())
        .bind(r.expires_at.map(Timestamp::millis))
        .bind(r.warned_at.map(Timestamp::millis))
        .bind(r.updated_at.millis())
        .bind(r.id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn claim_due_reservations(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        let sql = format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations WHERE status = $1 AND expires_at <= $2 ORDER BY expires_at, id LIMIT $3{}",
            self.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(ReservationStatus::Active.as_str())
            .bind(now.millis())
            .bind(sql_limit(limit))
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(reservation_from_row).collect()
    }

    async fn claim_expiring_reservations(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        let sql = format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations WHERE status = $1 AND warned_at IS NULL AND expires_at > $2 AND expires_at <= $3 ORDER BY expires_at, id LIMIT $4{}",
            self.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(ReservationStatus::Active.as_str())
            .bind(now.millis())
            .bind(until.millis())
            .bind(sql_limit(limit))
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(reservation_from_row).collect()
    }
}

fn reservation_from_row(row: &AnyRow) -> Result<Reservation, StoreError> {
    let time = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(Timestamp::from_millis))
    };
    Ok(Reservation {
        id: ReservationId::parse(row.try_get::<String, _>("id")?)?,
        order_id: OrderId::parse(row.try_get::<String, _>("order_id")?)?,
        product_id: ProductId::parse(row.try_get::<String, _>("product_id")?)?,
        quantity: Quantity::from_i64(row.try_get("quantity")?)?,
        status: row.try_get::<String, _>("status")?.parse()?,
        expires_at: time("expires_at")?,
        warned_at: time("warned_at")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}
