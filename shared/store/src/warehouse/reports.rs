//! [`ReportRepository`] on the store's transaction. The body is stored as JSON text.

use conveyor_domain::warehouse::{Period, Report, ReportKind, ReportRepository};
use conveyor_domain::{ReportId, Timestamp};
use sqlx::Row;

use crate::{StoreError, Tx};

impl ReportRepository for Tx {
    async fn insert_report(&mut self, report: &Report) -> Result<bool, StoreError> {
        let body = serde_json::to_string(&report.body)?;
        let done = sqlx::query(
            "INSERT INTO reports (id, kind, period_start, period_end, body, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, period_start) DO NOTHING",
        )
        .bind(report.id.as_str())
        .bind(report.kind.as_str())
        .bind(report.period.start.millis())
        .bind(report.period.end.millis())
        .bind(body)
        .bind(report.created_at.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn report(
        &mut self,
        kind: ReportKind,
        period_start: Timestamp,
    ) -> Result<Option<Report>, StoreError> {
        let row = sqlx::query(
            "SELECT id, period_end, body, created_at FROM reports WHERE kind = $1 AND period_start = $2",
        )
        .bind(kind.as_str())
        .bind(period_start.millis())
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok(Report {
                id: ReportId::parse(r.try_get::<String, _>("id")?)?,
                kind,
                period: Period {
                    start: period_start,
                    end: Timestamp::from_millis(r.try_get("period_end")?),
                },
                body: serde_json::from_str(&r.try_get::<String, _>("body")?)?,
                created_at: Timestamp::from_millis(r.try_get("created_at")?),
            })
        })
        .transpose()
    }
}
