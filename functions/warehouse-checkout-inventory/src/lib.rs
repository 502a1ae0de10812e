//! # warehouse-checkout-inventory
//!
//! - **Trigger**: the checkout saga's commands `warehouse.inventory.reserve_requested` and
//!   `warehouse.inventory.release_requested`, ordered by `order_id`; payload
//!   [`CheckoutCommand`].
//! - **Effect**: reserve -> the order's lines are held, all or nothing, confirmed at once (the
//!   saga reserves after the payment, so no unpaid-order expiry applies): what the warehouse
//!   does for a paid order ([`operations::secure_order`]); publishes
//!   `warehouse.reservation.created` / `confirmed` and `warehouse.inventory.updated`, then
//!   replies `warehouse.inventory.reserved` with the reservation's reference (the order id:
//!   one reservation per order and product). A shortage holds nothing and replies
//!   `warehouse.inventory.reserve_rejected` with the reason (not `warehouse.reservation.failed`,
//!   which would start the choreographed compensation). Release -> the order's active and
//!   confirmed reservations are released ([`operations::settle_order`]); publishes
//!   `warehouse.reservation.released` and `warehouse.inventory.updated`; replies
//!   `warehouse.inventory.released` (also when nothing was held).
//! - **Idempotency**: the inbox row (function, event id); beyond it the reservation state
//!   machine: a command sent again (the saga's retry) changes nothing more, publishes no stock
//!   event and replies again, so a lost reply is made good.
//! - **Retryable**: a product without inventory, a reservation created concurrently, database
//!   errors.
//! - **Dropped**: an invalid payload; stored levels that cannot take the change.

use std::sync::Arc;

use conveyor_domain::events::checkout::{
    CheckoutCommand, CheckoutReply, INVENTORY_RELEASE_REQUESTED, INVENTORY_RELEASED,
    INVENTORY_RESERVE_REJECTED, INVENTORY_RESERVE_REQUESTED, INVENTORY_RESERVED,
};
use conveyor_domain::warehouse::{Settlement, StockError, operations};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarehouseCheckoutInventory;

fn classify(e: StockError) -> HandlerError {
    if e.is_retryable() {
        HandlerError::retry(e)
    } else {
        HandlerError::drop(e)
    }
}

impl TopicHandler for WarehouseCheckoutInventory {
    type Payload = CheckoutCommand;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "warehouse-checkout-inventory",
        Service::Warehouse,
        &[INVENTORY_RESERVE_REQUESTED, INVENTORY_RELEASE_REQUESTED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        command: CheckoutCommand,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let (order, now) = (&command.order_id, cx.now());
        let reply = if cx.topic() == INVENTORY_RELEASE_REQUESTED {
            let why = command.reason.as_deref().unwrap_or("checkout compensated");
            let events = operations::settle_order(cx.tx()?, order, Settlement::Release(why), now)
                .await?
                .map_err(classify)?;
            for event in &events {
                cx.publish(event)?;
            }
            CheckoutReply::to(&command, INVENTORY_RELEASED, now)
        } else {
            match operations::secure_order(cx.tx()?, order, &command.items, now).await? {
                Ok(events) => {
                    for event in &events {
                        cx.publish(event)?;
                    }
                    CheckoutReply::to(&command, INVENTORY_RESERVED, now).with_result(order.as_str())
                }
                Err(e @ StockError::InsufficientStock { .. }) => {
                    CheckoutReply::to(&command, INVENTORY_RESERVE_REJECTED, now)
                        .with_reason(e.to_string())
                }
                Err(e) => return Err(classify(e)),
            }
        };
        cx.publish(&reply)
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(WarehouseCheckoutInventory)
}
