//! # order-session-cleanup
//!
//! - **Trigger**: schedule `0 * * * *` (hourly, UTC); no payload, only the tick's scheduled time.
//! - **Effect**: deletes sessions that expired more than 24 hours before the scheduled time
//!   ([`Session::is_purgeable`]), longest expired first, at most [`BATCH_SIZE`] per run; a
//!   backlog drains over the following ticks. Publishes nothing.
//! - **Idempotency**: the tick id (`order-session-cleanup@<minute>`) in the inbox; a deleted
//!   session is gone, so a later run finds nothing to redo. Overlapping runs delete disjoint
//!   rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers).
//! - **Retryable**: database errors (the run rolls back; the next tick deletes the same rows).
//! - **Dropped**: nothing; the job reads no payload.

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::order::{Session, SessionRepository};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Most sessions deleted per run.
pub const BATCH_SIZE: usize = 500;

/// The job.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderSessionCleanup;

impl ScheduleHandler for OrderSessionCleanup {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("order-session-cleanup", Service::Order, "0 * * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let deleted = cx
            .tx()?
            .delete_expired_sessions(Session::purge_before(scheduled), BATCH_SIZE)
            .await?;
        Ok(JobReport::batch(deleted, BATCH_SIZE))
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(OrderSessionCleanup)
}
