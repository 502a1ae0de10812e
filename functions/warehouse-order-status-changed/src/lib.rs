//! # warehouse-order-status-changed
//!
//! - **Trigger**: topics `orders.order.status_changed` and `orders.order.reservation_expired`,
//!   ordered by `order_id`; payload [`OrderStockEvent`] (decoded as a status change first, else
//!   as a reservation expiry).
//! - **Effect**: a new pending order (old status none or pending) -> every line is reserved
//!   for 30 minutes, all or nothing; publishes `warehouse.reservation.created` per line and
//!   `warehouse.inventory.updated` per product. `payment_confirmed` / `confirmed` -> the
//!   order's active reservations are confirmed (no expiry any more); publishes
//!   `warehouse.reservation.confirmed` per reservation. `payment_failed` / `cancelled` and a
//!   reservation expiry -> active and confirmed reservations are released; publishes
//!   `warehouse.reservation.released` per reservation and `warehouse.inventory.updated` per
//!   product. Other statuses change nothing. When a line of a new order cannot be held for
//!   lack of stock, nothing is reserved and `warehouse.reservation.failed` is published, so the
//!   order service cancels the order (compensation).
//! - **Idempotency**: the inbox row (function, event id); beyond it, one reservation per order
//!   and product, and the reservation state machine, make a repeated status a no-op that
//!   publishes nothing.
//! - **Retryable**: a product without inventory (its `product.created` may not have arrived),
//!   a reservation created concurrently for the same order, database errors.
//! - **Dropped**: an invalid payload; stored levels that cannot take the change.

use std::sync::Arc;

use conveyor_domain::events::order::{ORDER_RESERVATION_EXPIRED, ORDER_STATUS_CHANGED};
use conveyor_domain::warehouse::{OrderStockEvent, Settlement, StockAction, operations};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarehouseOrderStatusChanged;

impl TopicHandler for WarehouseOrderStatusChanged {
    type Payload = OrderStockEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "warehouse-order-status-changed",
        Service::Warehouse,
        &[ORDER_STATUS_CHANGED, ORDER_RESERVATION_EXPIRED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        event: OrderStockEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let (order, now) = (event.order_id(), cx.now());
        let reserving = matches!(event.action(), StockAction::Reserve(_));
        let decided = match event.action() {
            StockAction::Reserve(lines) => {
                operations::reserve_order(cx.tx()?, order, lines, now).await?
            }
            StockAction::Confirm => {
                operations::settle_order(cx.tx()?, order, Settlement::Confirm, now).await?
            }
            StockAction::Release(why) => {
                operations::settle_order(cx.tx()?, order, Settlement::Release(why), now).await?
            }
            StockAction::Deduct | StockAction::Ignore => return Ok(()),
        };
        let events = match decided {
            Ok(events) => events,
            Err(e) => {
                if let Some(failed) = e.reservation_failed(order, now).filter(|_| reserving) {
                    // Nothing was written: a plan fails as a whole before any change.
                    cx.publish(&failed)?;
                    return Ok(());
                }
                return Err(if e.is_retryable() {
                    HandlerError::retry(e)
                } else {
                    HandlerError::drop(e)
                });
            }
        };
        for event in &events {
            cx.publish(event)?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(WarehouseOrderStatusChanged)
}
