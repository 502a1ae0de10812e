//! [`AlertRepository`] on the store's transaction.

use conveyor_domain::warehouse::{Alert, AlertKind, AlertRepository, AlertStatus};
use conveyor_domain::{AlertId, ProductId, Quantity, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{placeholders, sql_limit};
use crate::{StoreError, Tx};

const ALERT_COLUMNS: &str =
    "id, product_id, kind, status, available, threshold, created_at, resolved_at";

impl AlertRepository for Tx {
    async fn open_alert(&mut self, alert: &Alert) -> Result<bool, StoreError> {
        // The partial unique index on open alerts turns a second open alert into a no-op.
        let done = sqlx::query(&format!(
            "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
        ))
        .bind(alert.id.as_str())
        .bind(alert.product_id.as_str())
        .bind(alert.kind.as_str())
        .bind(AlertStatus::Open.as_str())
        .bind(alert.available.to_i64())
        .bind(alert.threshold.to_i64())
        .bind(alert.created_at.millis())
        .bind(None::<i64>)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn save_alert(&mut self, alert: &Alert) -> Result<(), StoreError> {
        sqlx::query("UPDATE alerts SET status = $1, resolved_at = $2 WHERE id = $3")
            .bind(alert.status.as_str())
            .bind(alert.resolved_at.map(Timestamp::millis))
            .bind(alert.id.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn product_alerts(&mut self, product: &ProductId) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE product_id = $1 ORDER BY created_at, id"
        ))
        .bind(product.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn claim_recovered_alerts(&mut self, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts a WHERE status = $1 AND kind = $2 \
             AND EXISTS (SELECT 1 FROM inventory i WHERE i.product_id = a.product_id AND i.on_hand - i.reserved > i.low_stock_threshold) \
             ORDER BY created_at, id LIMIT $3{}",
            self.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(AlertStatus::Open.as_str())
            .bind(AlertKind::LowStock.as_str())
            .bind(sql_limit(limit))
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn claim_resolved_alerts_before(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<AlertId>, StoreError> {
        let sql = format!(
            "SELECT id FROM alerts WHERE status = $1 AND resolved_at < $2 ORDER BY resolved_at, id LIMIT $3{}",
            self.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(AlertStatus::Resolved.as_str())
            .bind(before.millis())
            .bind(sql_limit(limit))
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|r| Ok(AlertId::parse(r.try_get::<String, _>("id")?)?))
            .collect()
    }

    async fn delete_alerts(&mut self, ids: &[AlertId]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "DELETE FROM alerts WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.as_str());
        }
        Ok(query.execute(self.conn()).await?.rows_affected())
    }
}

fn alert_from_row(row: &AnyRow) -> Result<Alert, StoreError> {
    Ok(Alert {
        id: AlertId::parse(row.try_get::<String, _>("id")?)?,
        product_id: ProductId::parse(row.try_get::<String, _>("product_id")?)?,
        kind: row.try_get::<String, _>("kind")?.parse()?,
        status: row.try_get::<String, _>("status")?.parse()?,
        available: Quantity::from_i64(row.try_get("available")?)?,
        threshold: Quantity::from_i64(row.try_get("threshold")?)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        resolved_at: row
            .try_get::<Option<i64>, _>("resolved_at")?
            .map(Timestamp::from_millis),
    })
}
