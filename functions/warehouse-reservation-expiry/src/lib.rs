//! # warehouse-reservation-expiry
//!
//! - **Trigger**: schedule `* * * * *` (UTC); no payload, the run reads `now` from its context.
//! - **Effect**: active reservations whose `expires_at` is at or before now become `expired`
//!   and their units are released (`reserved` drops, a `release` movement is recorded);
//!   publishes `warehouse.reservation.expired` per reservation and
//!   `warehouse.inventory.updated` per product. At most `batch` reservations per run, oldest
//!   expiry first; the report says when more remain.
//! - **Idempotency**: the inbox row of the tick (`warehouse-reservation-expiry@<minute>`);
//!   beyond it, only active reservations are claimed, so a later run finds nothing to do twice.
//!   Overlapping runs claim disjoint rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - **Retryable**: database errors (the next tick picks the rows up as well).
//! - **Dropped**: stored levels that cannot take the release (fewer units reserved than the
//!   reservations hold).

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::sweeps;
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Reservations expired per run.
pub const BATCH: usize = 200;

/// The function; `batch` bounds one run.
#[derive(Debug, Clone, Copy)]
pub struct WarehouseReservationExpiry {
    /// Most reservations expired per run.
    pub batch: usize,
}

impl Default for WarehouseReservationExpiry {
    fn default() -> Self {
        Self { batch: BATCH }
    }
}

impl ScheduleHandler for WarehouseReservationExpiry {
    const SPEC: FunctionSpec = FunctionSpec::on_schedule(
        "warehouse-reservation-expiry",
        Service::Warehouse,
        "* * * * *",
    );

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let batch = sweeps::expire_due(cx.tx()?, now, self.batch)
            .await?
            .map_err(HandlerError::drop)?;
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
    conveyor_runtime::schedule(WarehouseReservationExpiry::default())
}
