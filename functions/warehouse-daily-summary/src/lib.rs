//! # warehouse-daily-summary
//!
//! - **Trigger**: schedule `5 0 * * *` (UTC); no payload, the run uses the tick's scheduled time.
//! - **Effect**: the stock movements of the previous UTC day (00:00 to 00:00) before the scheduled time are summed per
//!   product and kind (count and units) into one `daily` report row. Publishes nothing.
//! - **Idempotency**: one report per kind and period start (a unique key): a second run for
//!   the same period writes nothing; the tick's inbox row (`warehouse-daily-summary@<minute>`) makes a
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
pub struct WarehouseDailySummary;

impl ScheduleHandler for WarehouseDailySummary {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("warehouse-daily-summary", Service::Warehouse, "5 0 * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let batch = sweeps::write_report(cx.tx()?, ReportKind::Daily, scheduled, now).await?;
        Ok(JobReport {
            processed: batch.processed,
            more: false,
        })
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(WarehouseDailySummary)
}
