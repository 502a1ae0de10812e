//! # warehouse-weekly-report
//!
//! - **Trigger**: schedule `15 0 * * 1` (UTC); no payload, the run uses the tick's scheduled time.
//! - **Effect**: the stock movements of the previous ISO week (Monday 00:00 to Monday 00:00 UTC) before the scheduled time are summed per
//!   product and kind (count and units) into one `weekly` report row. Publishes nothing.
//! - **Idempotency**: one report per kind and period start (a unique key): a second run for
//!   the same period writes nothing; the tick's inbox row (`warehouse-weekly-report@<minute>`) makes a
//!   repeated tick a no-op.
//! - **Retryable**: database errors.
//! - **Dropped**: nothing (there is no input to reject).

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::{ReportKind, sweeps};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarehouseWeeklyReport;

impl ScheduleHandler for WarehouseWeeklyReport {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("warehouse-weekly-report", Service::Warehouse, "15 0 * * 1");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let batch = sweeps::write_report(cx.tx()?, ReportKind::Weekly, scheduled, now).await?;
        Ok(JobReport {
            processed: batch.processed,
            more: false,
        })
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(WarehouseWeeklyReport)
}
