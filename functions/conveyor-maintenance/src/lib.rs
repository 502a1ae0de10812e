//! # conveyor-maintenance
//!
//! - **Trigger**: schedule `*/5 * * * *` (UTC); no payload, the run uses the tick's scheduled
//!   time.
//! - **Effect**: deletes the inbox's idempotency rows received more than the inbox retention
//!   before the scheduled time (14 days by default, `CONVEYOR_INBOX_RETENTION_DAYS`: longer
//!   than SQS keeps any message, so a redelivery still finds its row), oldest first, in at most
//!   `CONVEYOR_PRUNE_BATCHES` (10) statements of 1,000 rows per run; the report says when more
//!   remain. Then keeps the event store: makes its day partitions of today and the next 3 days
//!   (PostgreSQL) and removes what is older than its retention (365 days by default,
//!   `CONVEYOR_EVENT_RETENTION_DAYS`; whole day partitions on PostgreSQL), in the same bounds.
//!   Publishes nothing. See [`conveyor_runtime::maintenance`].
//! - **Where it matters**: on AWS, where no process runs between invocations. `conveyor up` and
//!   the Dapr worker also prune in their own maintenance loop (which covers a worker that runs
//!   no jobs, and the embedded broker's dead letters); two pruners at once take disjoint rows.
//! - **Service**: none really (the inbox is the runtime's, shared by every function); it is
//!   filed under the order service, whose worker runs jobs on Kubernetes.
//! - **Idempotency**: deleting is naturally idempotent; the tick's inbox row
//!   (`conveyor-maintenance@<minute>`) makes a repeated tick a no-op. Overlapping runs take
//!   disjoint rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - **Retryable**: database errors.
//! - **Dropped**: nothing (there is no input to reject).

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_runtime::maintenance::{self, Retention, RetentionError};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// The function; `retention` says what is kept and how much one run prunes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConveyorMaintenance {
    /// Retention and the bound of one run.
    pub retention: Retention,
}

impl ConveyorMaintenance {
    /// The function with the retention the environment sets (read once per cold start).
    ///
    /// # Errors
    /// A retention variable that is not a whole number of days.
    pub fn from_env() -> Result<Self, RetentionError> {
        Ok(Self {
            retention: Retention::from_env()?,
        })
    }
}

impl ScheduleHandler for ConveyorMaintenance {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("conveyor-maintenance", Service::Order, "*/5 * * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let inbox = maintenance::prune_inbox(cx.tx()?, scheduled, &self.retention).await?;
        let events = maintenance::prune_events(cx.tx()?, scheduled, &self.retention).await?;
        Ok(JobReport {
            processed: inbox.processed + events.processed,
            more: inbox.more || events.more,
        })
    }
}

/// The catalog entry, with the environment's retention. A variable that does not parse leaves
/// the defaults here: the hosts that run the catalog read the same variables at start and
/// refuse to start on it.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(ConveyorMaintenance::from_env().unwrap_or_default())
}
