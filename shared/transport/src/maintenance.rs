//! The maintenance loop of the long-running hosts (`conveyor up`, the Dapr worker): every few
//! minutes, one bounded pruning run ([`conveyor_runtime::maintenance::prune`]) of the inbox
//! rows past their retention, where the embedded broker runs of its dead letters, and of the
//! event store (whose day partitions on PostgreSQL are made ahead by the same run). A run
//! that stops at its bound is followed by the next one soon after, so a backlog is worked off in
//! short runs instead of one long one. The loop ends with the host's shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::Clock;
use conveyor_runtime::maintenance::{self, Retention};
use conveyor_store::Store;
use tokio::sync::watch;

/// Time between runs unless configured otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(10 * 60);
/// Time between runs while a backlog remains.
const CATCH_UP: Duration = Duration::from_secs(10);

/// What the loop prunes and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceSettings {
    /// Retention and the bound of one run.
    pub retention: Retention,
    /// Time between runs.
    pub every: Duration,
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        Self {
            retention: Retention::default(),
            every: DEFAULT_EVERY,
        }
    }
}

/// Makes the event store's day partitions of `now`'s day and the days ahead (PostgreSQL), as a
/// host starts, before any handler appends; a failure (a role that may not create tables) is
/// logged, not fatal: appends then land in the DEFAULT partition.
pub async fn prepare_event_store(store: &Store, now: conveyor_domain::Timestamp) {
    if let Err(e) = store
        .events_prepare(now, maintenance::PARTITIONS_AHEAD)
        .await
    {
        tracing::warn!(error = %e, "could not make the event store's partitions; events go to its DEFAULT partition until they are made");
    }
}

/// Runs at once, then every `settings.every` (sooner while rows past retention remain), until
/// `shutdown` turns `true`. `dead_letters`: the store holds the embedded broker's tables.
pub async fn run(
    store: Store,
    clock: Arc<dyn Clock>,
    settings: MaintenanceSettings,
    dead_letters: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let wait = match maintenance::prune(&store, clock.now(), &settings.retention, dead_letters)
            .await
        {
            Ok(pruned) => {
                if pruned.inbox + pruned.dead_letters + pruned.events > 0
                    || pruned.partitions_dropped > 0
                {
                    tracing::info!(
                        inbox = pruned.inbox,
                        dead_letters = pruned.dead_letters,
                        events = pruned.events,
                        event_partitions = pruned.partitions_dropped,
                        more = pruned.more,
                        "pruned rows past their retention"
                    );
                }
                if pruned.more {
                    CATCH_UP.min(settings.every)
                } else {
                    settings.every
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning failed; trying again at the next run");
                settings.every
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}
