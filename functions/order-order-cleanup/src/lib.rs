//! # order-order-cleanup
//!
//! - **Trigger**: schedule `0 * * * *` (hourly, UTC); no payload, only the tick's scheduled time.
//! - **Effect**: cancels prepaid orders still unpaid 24 hours after they were placed (pending,
//!   or `payment_failed` with no successful retry; [`OrderSweep::unpaid`]), with history reason
//!   "unpaid for 24 hours"; publishes one `orders.order.status_changed` (cancelled) per order,
//!   so the warehouse releases what it still holds and the fulfillment side stands down. At
//!   most [`BATCH_SIZE`] orders per run, oldest first; a backlog drains over the next ticks.
//! - **Cash on delivery is left alone**: a COD order is pending by design until the carrier
//!   delivers it and collects the cash (days, not hours); order-cod-auto-confirm confirms it
//!   then. Cancelling pending COD orders after 24 hours would cancel every parcel in transit.
//! - **Idempotency**: the tick id (`order-order-cleanup@<minute>`) in the inbox; orders are
//!   claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), so overlapping
//!   runs take disjoint orders, and a cancelled order no longer matches a later run. The claim
//!   uses the scheduled time; each order is checked again by the domain at the run's "now".
//! - **Retryable**: database errors (the run rolls back; nothing was cancelled or published).
//! - **Dropped**: nothing the job reads can be poison; a corrupt order row fails the run.

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::order::{OrderRepository, OrderSweep, OrderSweepRepository};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Most orders cancelled per run.
pub const BATCH_SIZE: usize = 500;

/// The job.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderOrderCleanup;

impl ScheduleHandler for OrderOrderCleanup {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("order-order-cleanup", Service::Order, "0 * * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let orders = cx
            .tx()?
            .claim_orders(&OrderSweep::unpaid(scheduled), BATCH_SIZE)
            .await?;
        let mut cancelled = 0;
        for mut order in orders {
            if let Some(change) = order.cancel_unpaid(now) {
                cx.tx()?.save_status_change(&order, &change).await?;
                cx.publish(&order.status_changed_event(&change))?;
                cancelled += 1;
            }
        }
        Ok(JobReport::batch(cancelled, BATCH_SIZE))
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(OrderOrderCleanup)
}
