//! # order-reservation-cleanup
//!
//! - **Trigger**: schedule `*/30 * * * *` (every 30 minutes, UTC); no payload, only the tick's
//!   scheduled time.
//! - **Effect**: for each pending prepaid order placed more than 30 minutes before the scheduled
//!   time whose stock is still held ([`OrderSweep::reservation_timed_out`]), records
//!   `reservation_expired_at` and publishes `orders.order.reservation_expired`; the warehouse
//!   releases the order's stock when it sees that event. The order stays pending: the customer
//!   may still pay, and order-order-cleanup cancels it after 24 hours. At most [`BATCH_SIZE`]
//!   orders per run, oldest first.
//! - **Idempotency**: the tick id (`order-reservation-cleanup@<minute>`) in the inbox, and
//!   `reservation_expired_at` is set once, so each order's event is published once. Orders are
//!   claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), so
//!   overlapping runs take disjoint orders.
//! - **Retryable**: database errors (the run rolls back; nothing was recorded or published).
//! - **Dropped**: nothing the job reads can be poison; a corrupt order row fails the run.

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::order::{OrderSweep, OrderSweepRepository};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Most orders released per run.
pub const BATCH_SIZE: usize = 500;

/// The job.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderReservationCleanup;

impl ScheduleHandler for OrderReservationCleanup {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("order-reservation-cleanup", Service::Order, "*/30 * * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let orders = cx
            .tx()?
            .claim_orders(&OrderSweep::reservation_timed_out(scheduled), BATCH_SIZE)
            .await?;
        let mut released = 0;
        for mut order in orders {
            if !order.expire_reservation(now) {
                continue;
            }
            cx.tx()?.save_reservation_expired(&order).await?;
            if let Some(event) = order.reservation_expired_event() {
                cx.publish(&event)?;
            }
            released += 1;
        }
        Ok(JobReport::batch(released, BATCH_SIZE))
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(OrderReservationCleanup)
}
