//! # warehouse-alert-cleanup
//!
//! - **Trigger**: schedule `0 3 * * *` (UTC); no payload, the run uses the tick's scheduled
//!   time.
//! - **Effect**: resolved alerts resolved more than
//!   [`ALERT_RETENTION_DAYS`](conveyor_domain::warehouse::ALERT_RETENTION_DAYS) (30) days before
//!   the scheduled time are deleted, oldest first, at most `batch` per run; the report says
//!   when more remain. Open alerts are never deleted. Publishes nothing.
//! - **Idempotency**: deleting is naturally idempotent; the tick's inbox row
//!   (`warehouse-alert-cleanup@<minute>`) makes a repeated tick a no-op. Overlapping runs claim
//!   disjoint rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - **Retryable**: database errors.
//! - **Dropped**: nothing (there is no input to reject).

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::sweeps;
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Alerts deleted per run.
pub const BATCH: usize = 1000;

/// The function; `batch` bounds one run.
#[derive(Debug, Clone, Copy)]
pub struct WarehouseAlertCleanup {
    /// Most alerts deleted per run.
    pub batch: usize,
}

impl Default for WarehouseAlertCleanup {
    fn default() -> Self {
        Self { batch: BATCH }
    }
}

impl ScheduleHandler for WarehouseAlertCleanup {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("warehouse-alert-cleanup", Service::Warehouse, "0 3 * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let batch = sweeps::delete_resolved_alerts(cx.tx()?, scheduled, self.batch).await?;
        Ok(JobReport {
            processed: batch.processed,
            more: batch.more,
        })
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(WarehouseAlertCleanup::default())
}
