//! # order-cod-auto-confirm
//!
//! - **Trigger**: schedule `*/5 * * * *` (every 5 minutes, UTC); no payload.
//! - **Effect**: confirms pending cash-on-delivery orders whose delivery was reported
//!   ([`OrderSweep::cod_delivered`]: `delivered_at` set, so the carrier collected the cash),
//!   with history reason "cash on delivery collected"; publishes one
//!   `orders.order.status_changed` (confirmed) per order. COD orders not delivered yet, and
//!   prepaid orders, are left alone. At most [`BATCH_SIZE`] orders per run, oldest first.
//! - **Stock while waiting** (a choice): the warehouse holds a pending COD order's stock until
//!   this job confirms it or the order is cancelled, with a limit of 14 days for a parcel never
//!   delivered (warehouse-order-status-changed); a delivery verified after that limit holds the
//!   stock again, or the order is cancelled when the stock was sold meanwhile.
//! - **Idempotency**: the tick id (`order-cod-auto-confirm@<minute>`) in the inbox; a confirmed
//!   order no longer matches, and orders are claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
//!   SQLite serialises writers), so overlapping runs take disjoint orders.
//! - **Retryable**: database errors (the run rolls back; nothing was confirmed or published).
//! - **Dropped**: nothing the job reads can be poison; a corrupt order row fails the run.

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::order::{OrderRepository, OrderSweep, OrderSweepRepository};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Most orders confirmed per run.
pub const BATCH_SIZE: usize = 500;

/// The job.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderCodAutoConfirm;

impl ScheduleHandler for OrderCodAutoConfirm {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("order-cod-auto-confirm", Service::Order, "*/5 * * * *");

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let orders = cx
            .tx()?
            .claim_orders(&OrderSweep::cod_delivered(), BATCH_SIZE)
            .await?;
        let mut confirmed = 0;
        for mut order in orders {
            if let Some(change) = order.confirm_cash_on_delivery(now) {
                cx.tx()?.save_status_change(&order, &change).await?;
                cx.publish(&order.status_changed_event(&change))?;
                confirmed += 1;
            }
        }
        Ok(JobReport::batch(confirmed, BATCH_SIZE))
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(OrderCodAutoConfirm)
}
