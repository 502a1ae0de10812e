//! [`SagaRepository`] on the store's transaction: saga state rows and their due timers, in the
//! runtime's schema (`conveyor` on PostgreSQL). The state is kept whole as JSON; status,
//! current step and deadline are also columns, for listings.

use conveyor_domain::{SagaId, Timestamp};
use conveyor_saga::{DueTimer, SagaRepository, SagaState, SagaStatus, SagaSummary};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::sql_limit;
use crate::{StoreError, Tx};

const TABLE: &str = "sagas";

fn status_of(text: &str) -> Result<SagaStatus, StoreError> {
    SagaStatus::parse(text)
        .ok_or_else(|| StoreError::corrupt(TABLE, format!("unknown saga status {text:?}")))
}

fn small(value: Option<usize>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn seq_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| StoreError::corrupt("saga_timers", e))
}

fn summary(r: &AnyRow) -> Result<SagaSummary, StoreError> {
    let current: Option<i64> = r.try_get("current_step")?;
    Ok(SagaSummary {
        definition: r.try_get("definition")?,
        saga: SagaId::parse(r.try_get::<String, _>("saga_id")?)?,
        status: status_of(&r.try_get::<String, _>("status")?)?,
        current_step: current
            .map(usize::try_from)
            .transpose()
            .map_err(|e| StoreError::corrupt(TABLE, e))?,
        deadline: r
            .try_get::<Option<i64>, _>("deadline")?
            .map(Timestamp::from_millis),
        updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
    })
}

/// The saga's stored state; `lock` is appended to the query (a row lock, or nothing).
async fn select_state(
    tx: &mut Tx,
    definition: &str,
    saga: &SagaId,
    lock: &str,
) -> Result<Option<SagaState>, StoreError> {
    let sql = format!("SELECT state FROM sagas WHERE definition = $1 AND saga_id = $2{lock}");
    let row = sqlx::query(&sql)
        .bind(definition)
        .bind(saga.as_str())
        .fetch_optional(tx.conn())
        .await?;
    row.map(|r| {
        let text: String = r.try_get("state")?;
        serde_json::from_str(&text).map_err(|e| StoreError::corrupt(TABLE, e))
    })
    .transpose()
}

impl SagaRepository for Tx {
    type Error = StoreError;

    async fn load_saga(
        &mut self,
        definition: &str,
        saga: &SagaId,
    ) -> Result<Option<SagaState>, StoreError> {
        let lock = self.backend().for_update();
        select_state(self, definition, saga, lock).await
    }

    async fn read_saga(
        &mut self,
        definition: &str,
        saga: &SagaId,
    ) -> Result<Option<SagaState>, StoreError> {
        select_state(self, definition, saga, "").await
    }

    async fn create_saga(&mut self, state: &SagaState) -> Result<bool, StoreError> {
        let done = write_row(self, state, "ON CONFLICT (definition, saga_id) DO NOTHING").await?;
        if done {
            write_timer(self, state).await?;
        }
        Ok(done)
    }

    async fn save_saga(&mut self, state: &SagaState) -> Result<(), StoreError> {
        write_row(
            self,
            state,
            "ON CONFLICT (definition, saga_id) DO UPDATE SET status = excluded.status, \
             current_step = excluded.current_step, deadline = excluded.deadline, \
             version = excluded.version, state = excluded.state, updated_at = excluded.updated_at",
        )
        .await?;
        write_timer(self, state).await
    }

    async fn take_due_saga_timers(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let sql = format!(
            "SELECT definition, saga_id, seq, due_at FROM saga_timers WHERE due_at <= $1 ORDER BY due_at, saga_id LIMIT $2{}",
            self.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(now.millis())
            .bind(sql_limit(limit))
            .fetch_all(self.conn())
            .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            due.push(DueTimer {
                definition: r.try_get("definition")?,
                saga: SagaId::parse(r.try_get::<String, _>("saga_id")?)?,
                seq: seq_of(r.try_get("seq")?)?,
                due: Timestamp::from_millis(r.try_get("due_at")?),
            });
        }
        for t in &due {
            sqlx::query(
                "DELETE FROM saga_timers WHERE definition = $1 AND saga_id = $2 AND seq = $3",
            )
            .bind(&t.definition)
            .bind(t.saga.as_str())
            .bind(i64::try_from(t.seq).unwrap_or(i64::MAX))
            .execute(self.conn())
            .await?;
        }
        Ok(due)
    }

    async fn list_sagas(
        &mut self,
        definition: Option<&str>,
        status: Option<SagaStatus>,
        limit: usize,
    ) -> Result<Vec<SagaSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT definition, saga_id, status, current_step, deadline, updated_at FROM sagas \
             WHERE ($1 = '' OR definition = $1) AND ($2 = '' OR status = $2) \
             ORDER BY updated_at DESC, saga_id LIMIT $3",
        )
        .bind(definition.unwrap_or(""))
        .bind(status.map_or("", SagaStatus::as_str))
        .bind(sql_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(summary).collect()
    }
}

/// Inserts the saga's row, `conflict` saying what an existing row gets; whether a row was
/// written.
async fn write_row(tx: &mut Tx, state: &SagaState, conflict: &str) -> Result<bool, StoreError> {
    let text = serde_json::to_string(state).map_err(|e| StoreError::corrupt(TABLE, e))?;
    let version = i64::try_from(state.version).unwrap_or(i64::MAX);
    let sql = format!(
        "INSERT INTO sagas (definition, saga_id, status, current_step, deadline, version, state, started_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) {conflict}"
    );
    let done = sqlx::query(&sql)
        .bind(&state.definition)
        .bind(state.id.as_str())
        .bind(state.status.as_str())
        .bind(small(state.current))
        .bind(state.deadline().map(Timestamp::millis))
        .bind(version)
        .bind(text)
        .bind(state.started_at.millis())
        .bind(state.updated_at.millis())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Makes the saga's timer row what its state says: its one timer, or none.
async fn write_timer(tx: &mut Tx, state: &SagaState) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM saga_timers WHERE definition = $1 AND saga_id = $2")
        .bind(&state.definition)
        .bind(state.id.as_str())
        .execute(tx.conn())
        .await?;
    if let Some(timer) = state.timer {
        sqlx::query(
            "INSERT INTO saga_timers (definition, saga_id, seq, due_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&state.definition)
        .bind(state.id.as_str())
        .bind(i64::try_from(timer.seq).unwrap_or(i64::MAX))
        .bind(timer.due.millis())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

impl crate::Store {
    /// How many sagas of `definition` are in each status, in [`SagaStatus::ALL`]'s order (a
    /// status no saga is in is left out): one grouped count, for a watcher that polls progress
    /// without loading the sagas.
    ///
    /// # Errors
    /// The database error, or a status this version does not know.
    pub async fn saga_counts(
        &self,
        definition: &str,
    ) -> Result<Vec<(SagaStatus, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM sagas WHERE definition = $1 GROUP BY status",
        )
        .bind(definition)
        .fetch_all(self.pool())
        .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            counts.push((
                status_of(&r.try_get::<String, _>("status")?)?,
                u64::try_from(n).map_err(|e| StoreError::corrupt(TABLE, e))?,
            ));
        }
        counts.sort_by_key(|(s, _)| SagaStatus::ALL.iter().position(|a| a == s));
        Ok(counts)
    }
}
