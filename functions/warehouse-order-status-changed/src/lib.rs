//! # warehouse-order-status-changed
//!
//! - **Trigger**: topics `orders.order.status_changed` and `orders.order.reservation_expired`,
//!   ordered by `order_id`; payload [`OrderStockEvent`] (decoded as a status change first, else
//!   as a reservation expiry).
//! - **Effect**: a new pending order (old status none or pending) -> every line is reserved,
//!   all or nothing; publishes `warehouse.reservation.created` per line and
//!   `warehouse.inventory.updated` per product. `payment_confirmed` / `confirmed` -> the
//!   order's stock is secured: its active reservations are confirmed (no expiry any more), and
//!   lines held no more are held again, confirmed at once; publishes
//!   `warehouse.reservation.confirmed` per reservation (`created` for a line never reserved)
//!   and `warehouse.inventory.updated` per product held again. `payment_failed` / `cancelled`
//!   and a reservation expiry -> active and confirmed reservations are released; publishes
//!   `warehouse.reservation.released` per reservation and `warehouse.inventory.updated` per
//!   product. Other statuses change nothing.
//! - **How long stock is held** (a choice): a prepaid order's reservation lapses 30 minutes
//!   after it is placed (the unpaid-order hold; order-reservation-cleanup releases it as well).
//!   A cash-on-delivery order stays pending until its delivery is verified, which takes days:
//!   its reservation is held until then or until the order is cancelled, with a limit of
//!   [`COD_RESERVATION_TTL_DAYS`] days that only frees the stock of a parcel never delivered.
//! - **A late payment** (a choice): a payment confirmed after the order's stock was released
//!   (after `payment_failed`, after the 30-minute hold lapsed, a COD delivery verified after its
//!   limit) holds the stock again. When it cannot, nothing is held and
//!   `warehouse.reservation.failed` is published: order-compensation cancels the order and
//!   requests a refund of its payment, and the fulfillment opened meanwhile is cancelled. An
//!   order is never fulfilled from stock it does not hold.
//! - **Shortage**: when a line of a new order cannot be held for lack of stock, nothing is
//!   reserved and `warehouse.reservation.failed` is published, so the order service cancels
//!   the order (compensation). The order's lines are recorded as refused (released
//!   reservations that never held a unit), so the same placement announced again under a new
//!   event id does not reserve stock for the cancelled order; a payment that still arrives
//!   holds them again like any late payment.
//! - **Idempotency**: the inbox row (function, event id); beyond it, one reservation per order
//!   and product, and the reservation state machine, make a repeated status a no-op that
//!   publishes nothing.
//! - **Retryable**: a product without inventory (its `product.created` may not have arrived),
//!   a reservation created concurrently for the same order, database errors.
//! - **Dropped**: an invalid payload; stored levels that cannot take the change.

use std::sync::Arc;

use conveyor_domain::events::order::{ORDER_RESERVATION_EXPIRED, ORDER_STATUS_CHANGED};
#[cfg(doc)]
use conveyor_domain::warehouse::COD_RESERVATION_TTL_DAYS;
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
        let reserving = matches!(
            event.action(),
            StockAction::Reserve(..) | StockAction::Secure(_)
        );
        let decided = match event.action() {
            StockAction::Reserve(lines, method) => {
                operations::reserve_order(cx.tx()?, order, lines, method, now).await?
            }
            StockAction::Secure(lines) => {
                operations::secure_order(cx.tx()?, order, lines, now).await?
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
                    // Nothing was held: the order's lines are only recorded as refused, so the
                    // same placement announced again does not reserve them later.
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
