//! # order-cart-cleanup
//!
//! - **Trigger**: schedule `0 * * * *` (hourly, UTC); no payload, only the tick's scheduled time.
//! - **Effect**: deletes abandoned carts ([`Cart::is_abandoned`]: still active, untouched for
//!   more than 7 days before the scheduled time) with their items, longest untouched first, at
//!   most [`BATCH_SIZE`] per run. Converted carts (checked out) are kept. Publishes nothing.
//! - **Idempotency**: the tick id (`order-cart-cleanup@<minute>`) in the inbox; a deleted cart is
//!   gone, so a later run finds nothing to redo. Overlapping runs delete disjoint carts (claimed
//!   with `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers).
//! - **Retryable**: database errors (the run rolls back; the next tick deletes the same carts).
//! - **Dropped**: nothing; the job reads no payload.

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::order::{Cart, CartRepository};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Most carts deleted per run.
pub const BATCH_SIZE: usize = 500;

/// The job.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderCartCleanup;

impl ScheduleHandler for OrderCartCleanup {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("order-cart-cleanup", Service::Order, "0 * * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let deleted = cx
            .tx()?
            .delete_abandoned_carts(Cart::abandoned_before(scheduled), BATCH_SIZE)
            .await?;
        Ok(JobReport::batch(deleted, BATCH_SIZE))
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(OrderCartCleanup)
}
