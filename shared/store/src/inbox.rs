//! The idempotency inbox: one row per (function, event id), written in the handler's transaction.

use conveyor_domain::Timestamp;

use crate::{StoreError, Tx};

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
}
