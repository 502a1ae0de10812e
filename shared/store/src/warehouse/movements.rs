//! [`MovementLog`] on the store's transaction.

use conveyor_domain::warehouse::{
    MovementKind, MovementLog, MovementSummary, Period, StockMovement,
};
use conveyor_domain::{ProductId, Timestamp};
use sqlx::Row;

use crate::{StoreError, Tx};

impl MovementLog for Tx {
    async fn record_movement(&mut self, m: &StockMovement) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stock_movements (id, product_id, delta, kind, reference, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&m.id)
        .bind(m.product_id.as_str())
        .bind(m.delta)
        .bind(m.kind.as_str())
        .bind(m.reference.as_deref())
        .bind(m.at.millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn has_movement(
        &mut self,
        product: &ProductId,
        kind: MovementKind,
        reference: &str,
    ) -> Result<bool, StoreError> {
        let found = sqlx::query(
            "SELECT 1 FROM stock_movements WHERE reference = $1 AND kind = $2 AND product_id = $3 LIMIT 1",
        )
        .bind(reference)
        .bind(kind.as_str())
        .bind(product.as_str())
        .fetch_optional(self.conn())
        .await?;
        Ok(found.is_some())
    }

    async fn product_movements(
        &mut self,
        product: &ProductId,
    ) -> Result<Vec<StockMovement>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, product_id, delta, kind, reference, at FROM stock_movements WHERE product_id = $1 ORDER BY at, id",
        )
        .bind(product.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StockMovement {
                    id: r.try_get("id")?,
                    product_id: ProductId::parse(r.try_get::<String, _>("product_id")?)?,
                    delta: r.try_get("delta")?,
                    kind: r.try_get::<String, _>("kind")?.parse()?,
                    reference: r.try_get("reference")?,
                    at: Timestamp::from_millis(r.try_get("at")?),
                })
            })
            .collect()
    }

    async fn summarise_movements(
        &mut self,
        period: Period,
    ) -> Result<Vec<MovementSummary>, StoreError> {
        // SUM of BIGINT is NUMERIC on PostgreSQL: cast back to an integer both backends decode.
        let rows = sqlx::query(
            "SELECT product_id, kind, COUNT(*) AS movements, CAST(SUM(delta) AS BIGINT) AS units \
             FROM stock_movements WHERE at >= $1 AND at < $2 \
             GROUP BY product_id, kind ORDER BY product_id, kind",
        )
        .bind(period.start.millis())
        .bind(period.end.millis())
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let movements: i64 = r.try_get("movements")?;
                Ok(MovementSummary {
                    product_id: ProductId::parse(r.try_get::<String, _>("product_id")?)?,
                    kind: r.try_get::<String, _>("kind")?.parse()?,
                    movements: u64::try_from(movements)
                        .map_err(|e| StoreError::corrupt("stock_movements", e))?,
                    units: r.try_get("units")?,
                })
            })
            .collect()
    }
}
