//! Checkpointing a SQLite file's write-ahead log off the writers' path. In WAL mode a commit
//! appends to the `-wal` file; a checkpoint copies those pages back into the database and
//! syncs both files to the disk. Left to SQLite, the commit that passes the automatic threshold
//! runs the checkpoint itself, disk syncs included, while every other writer of the single
//! connection waits: a pause of milliseconds every few hundred transactions, which is where a
//! busy embedded broker's slowest deliveries came from. A long-running host instead hands the
//! checkpoints to a background task with a connection of its own: in WAL mode a checkpoint runs
//! beside the writer, so commits no longer wait for the disk.
//!
//! The automatic threshold stays on the main connection, raised ([`FALLBACK_PAGES`]), so the
//! log stays bounded if the task falls behind or stops. What a checkpoint leaves is unchanged:
//! a `PASSIVE` checkpoint copies what no reader still needs and syncs, as SQLite's own would.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use tokio::task::JoinHandle;

use crate::{Store, StoreError};

/// How often the task checkpoints: a few hundred pages of log at the emulator's busiest, and
/// idle checks that find nothing new cost no disk access.
pub const EVERY: Duration = Duration::from_millis(100);

/// Log pages at which a commit on the main connection checkpoints by itself: about 64 MB of
/// log (4 KiB pages), reached only if the background task falls far behind.
pub const FALLBACK_PAGES: u32 = 16_384;

/// The running task; it ends when the last clone of the store that started it is dropped.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    task: JoinHandle<()>,
}

impl Checkpoints {
    /// Ends the task (and with it its connection).
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Store {
    /// This store, checkpointing its SQLite log on a background task with a connection of its
    /// own from now on (see [`crate::checkpoint`]). A no-op on PostgreSQL and on an in-memory
    /// SQLite database, which has no log to checkpoint. Needs a Tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::Connect`] when the second connection cannot be opened, or the database
    /// error of raising the main connection's threshold.
    pub async fn checkpointing_in_background(mut self, url: &str) -> Result<Self, StoreError> {
        if self.backend() != crate::Backend::Sqlite || crate::sql::sqlite_path(url).is_none() {
            return Ok(self);
        }
        sqlx::query(&format!("PRAGMA wal_autocheckpoint = {FALLBACK_PAGES}"))
            .execute(self.pool())
            .await?;
        let options = url
            .parse::<AnyConnectOptions>()
            .map_err(|e| StoreError::connect(url, e))?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::connect(url, e))?;
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_all(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "background checkpoint failed; the next commit past the threshold checkpoints instead");
                }
            }
        });
        self.checkpoints = Some(Arc::new(Checkpoints { task }));
        Ok(self)
    }
}
