//! Pruning bookkeeping rows past their retention, a bounded batch per statement: idempotency
//! rows of the inbox (by `received_at`) and the embedded broker's dead letters (by
//! `failed_at`). Each statement deletes the oldest rows first through an index, so a run's cost
//! is its batch, not the table's size.
//!
//! Published outbox rows need no pruning: they are deleted as they are published (at once, or
//! by the [`crate::sweeper`]); the outbox holds only unpublished events, which must never be
//! dropped.

use conveyor_domain::Timestamp;

use crate::{Backend, Store, StoreError, Tx};

/// Rows one pruning statement deletes at most.
pub const PRUNE_BATCH: u32 = 1000;

/// A table that is pruned by age.
#[derive(Debug, Clone, Copy)]
enum Pruned {
    Inbox,
    DeadLetters,
}

impl Pruned {
    /// `DELETE` of at most `$2` rows older than `$1`, oldest first. PostgreSQL addresses rows
    /// by `ctid` (a TID scan, no key lookup) and skips rows another pruner holds, so two hosts
    /// pruning at once take different rows; SQLite has one writer and uses `rowid`.
    fn sql(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Self::Inbox, Backend::Postgres) => {
                "DELETE FROM inbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM inbox WHERE received_at < $1 ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
            }
            (Self::Inbox, Backend::Sqlite) => {
                "DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox WHERE received_at < $1 ORDER BY received_at LIMIT $2)"
            }
            (Self::DeadLetters, Backend::Postgres) => {
                "DELETE FROM dead_letters WHERE ctid = ANY(ARRAY(SELECT ctid FROM dead_letters WHERE failed_at < $1 ORDER BY failed_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
            }
            (Self::DeadLetters, Backend::Sqlite) => {
                "DELETE FROM dead_letters WHERE rowid IN (SELECT rowid FROM dead_letters WHERE failed_at < $1 ORDER BY failed_at LIMIT $2)"
            }
        }
    }
}

impl Tx {
    /// Deletes at most `limit` inbox rows received before `before`, oldest first; returns how
    /// many. An event whose row is gone is handled again if it is ever delivered again, so
    /// `before` must lie beyond every transport's redelivery window.
    ///
    /// # Errors
    /// The database error.
    pub async fn inbox_prune(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(Pruned::Inbox.sql(self.backend()))
            .bind(before.millis())
            .bind(i64::from(limit))
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// [`Tx::inbox_prune`] in a statement of its own.
    ///
    /// # Errors
    /// The database error.
    pub async fn inbox_prune(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.prune(Pruned::Inbox, before, limit).await
    }

    /// Deletes at most `limit` of the embedded broker's dead letters that failed before
    /// `before`, oldest first; returns how many.
    ///
    /// # Errors
    /// The database error (on a database without the embedded broker's tables too).
    pub async fn dead_letters_prune(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.prune(Pruned::DeadLetters, before, limit).await
    }

    async fn prune(&self, table: Pruned, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(table.sql(self.backend()))
            .bind(before.millis())
            .bind(i64::from(limit))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
