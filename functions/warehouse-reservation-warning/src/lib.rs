//! # warehouse-reservation-warning
//!
//! - **Trigger**: schedule `*/5 * * * *` (UTC); no payload, the run reads `now` from its
//!   context.
//! - **Effect**: every active reservation expiring within the next 10 minutes (after now, at
//!   or before now + 10 min) that has not been warned gets `warned_at`; publishes
//!   `warehouse.reservation.expiring` for it. At most `batch` reservations per run, soonest
//!   expiry first; the report says when more remain.
//! - **Idempotency**: `warned_at`: each reservation is warned once, whatever the runs; the tick's
//!   inbox row (`warehouse-reservation-warning@<minute>`) makes a repeated tick a no-op.
//!   Overlapping runs claim disjoint rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - **Retryable**: database errors.
//! - **Dropped**: nothing (there is no input to reject).

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::sweeps;
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Reservations warned per run.
pub const BATCH: usize = 500;

/// The function; `batch` bounds one run.
#[derive(Debug, Clone, Copy)]
pub struct WarehouseReservationWarning {
    /// Most reservations warned per run.
    pub batch: usize,
}

impl Default for WarehouseReservationWarning {
    fn default() -> Self {
        Self { batch: BATCH }
    }
}

impl ScheduleHandler for WarehouseReservationWarning {
    const SPEC: FunctionSpec = FunctionSpec::on_schedule(
        "warehouse-reservation-warning",
        Service::Warehouse,
        "*/5 * * * *",
    );

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let batch = sweeps::warn_expiring(cx.tx()?, now, self.batch).await?;
        for event in &batch.events {
            cx.publish(event)?;
        }
        Ok(JobReport {
            processed: batch.processed,
            more: batch.more,
        })
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(WarehouseReservationWarning::default())
}
