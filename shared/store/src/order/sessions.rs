//! [`SessionRepository`] on the store's transaction.

use conveyor_domain::order::{Session, SessionRepository};
use conveyor_domain::{CustomerId, SessionId, Timestamp};
use sqlx::Row;

use super::{count, sql_limit};
use crate::{StoreError, Tx};

impl SessionRepository for Tx {
    type Error = StoreError;

    async fn insert_session(&mut self, session: &Session) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO sessions (id, customer_id, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(session.id.as_str())
        .bind(session.customer_id.as_ref().map(CustomerId::as_str))
        .bind(session.created_at.millis())
        .bind(session.expires_at.millis())
        .bind(session.last_seen_at.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_session(&mut self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT id, customer_id, created_at, expires_at, last_seen_at FROM sessions WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok(Session {
                id: SessionId::parse(r.try_get::<String, _>("id")?)?,
                customer_id: r
                    .try_get::<Option<String>, _>("customer_id")?
                    .map(CustomerId::parse)
                    .transpose()?,
                created_at: Timestamp::from_millis(r.try_get("created_at")?),
                expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
                last_seen_at: Timestamp::from_millis(r.try_get("last_seen_at")?),
            })
        })
        .transpose()
    }

    async fn delete_expired_sessions(
        &mut self,
        expired_before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        // The claim is a sub-select so that it can skip rows an overlapping run has locked.
        let sql = format!(
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2{})",
            self.backend().skip_locked()
        );
        let done = sqlx::query(&sql)
            .bind(expired_before.millis())
            .bind(sql_limit(limit))
            .execute(self.conn())
            .await?;
        Ok(count(done.rows_affected()))
    }
}
