//! The idempotency inbox: one row per (function, event id), written in the handler's transaction.

use std::collections::HashSet;

use conveyor_domain::Timestamp;
use sqlx::Row;

use crate::sql::placeholders;
use crate::{StoreError, Tx};

/// Most event ids claimed by one statement.
const CLAIM_CHUNK: usize = 256;

impl Tx {
    /// Records that `function` is handling `event_id`. `false` means the row already existed:
    /// the event was handled before (or is being handled by a concurrent transaction that
    /// committed first) and must not run again.
    ///
    /// # Errors
    /// The database error.
    pub async fn inbox_claim(
        &mut self,
        function: &str,
        event_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO inbox (function, event_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(function)
        .bind(event_id)
        .bind(now.millis())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Tx::inbox_claim`] for several events at once (one statement per 256 ids): `true` at
    /// each position whose event this transaction claimed. An id repeated in `event_ids` is
    /// claimed at its first position only.
    ///
    /// # Errors
    /// The database error.
    pub async fn inbox_claim_many(
        &mut self,
        function: &str,
        event_ids: &[&str],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        let mut claimed = HashSet::with_capacity(event_ids.len());
        for chunk in event_ids.chunks(CLAIM_CHUNK) {
            // Padded to a power of two by repeating the last id (a repeat claims nothing), so
            // a connection prepares a handful of statements, not one per batch length.
            let Some(last) = chunk.last() else { continue };
            let width = chunk.len().next_power_of_two();
            let values = (0..width)
                .map(|i| format!("($1, ${}, $2)", i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO inbox (function, event_id, received_at) VALUES {values} \
                 ON CONFLICT DO NOTHING RETURNING event_id"
            );
            let mut q = sqlx::query(&sql).bind(function).bind(now.millis());
            for id in chunk
                .iter()
                .chain(std::iter::repeat_n(last, width - chunk.len()))
            {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.conn()).await? {
                claimed.insert(row.try_get::<String, _>("event_id")?);
            }
        }
        Ok(event_ids.iter().map(|id| claimed.remove(*id)).collect())
    }

    /// Removes `function`'s inbox rows of `event_ids` claimed in this transaction, for events
    /// it will not handle after all.
    ///
    /// # Errors
    /// The database error.
    pub async fn inbox_release(
        &mut self,
        function: &str,
        event_ids: &[String],
    ) -> Result<(), StoreError> {
        for chunk in event_ids.chunks(CLAIM_CHUNK) {
            let sql = format!(
                "DELETE FROM inbox WHERE function = $1 AND event_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(function);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }
}
