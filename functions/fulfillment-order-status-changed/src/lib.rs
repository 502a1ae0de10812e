//! # fulfillment-order-status-changed
//!
//! - **Trigger**: topic `orders.order.status_changed`; payload [`OrderStatusChangedEvent`]
//!   (carries the order lines, so the order service is never called back). Ordered by
//!   `order_id`.
//! - **Effect**: `payment_confirmed` or `confirmed` opens the order's fulfillment (`created`)
//!   with a `pending` picklist of one line per order line and publishes
//!   `fulfillment.status_changed`; `cancelled` cancels the fulfillment and its picklist unless
//!   the goods have shipped (then it only logs) and publishes `fulfillment.status_changed` with
//!   the order's reason. Every other status is ignored.
//! - **Idempotency**: the inbox row (function, event id), and one fulfillment per order (a
//!   unique order id): a second opening event for the same order (`payment_confirmed` then
//!   `confirmed`) writes and publishes nothing; cancelling a cancelled fulfillment is a no-op.
//! - **Giving up**: a fulfillment that cannot be created is retried (whatever the error) until
//!   the last delivery the retry policy allows; there the insert runs under a savepoint, and a
//!   failure is undone and announced as `fulfillment.creation_failed` instead of dead-lettering
//!   the event. The order service then cancels the order (which releases its reservations) and
//!   requests a refund.
//! - **Retryable**: database errors; any failure to create the fulfillment before the last
//!   delivery.
//! - **Dropped**: an invalid payload, a fulfillment without its picklist (corrupt data), a
//!   picklist the state machine will not cancel.

use std::sync::Arc;

use conveyor_domain::events::fulfillment::FulfillmentCreationFailedEvent;
use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::fulfillment::{
    Cancellation, Fulfillment, FulfillmentRepository, OrderReaction, PicklistRepository,
    shipment_of_order_for_update,
};
use conveyor_domain::{FulfillmentId, PicklistId};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct FulfillmentOrderStatusChanged;

impl TopicHandler for FulfillmentOrderStatusChanged {
    type Payload = OrderStatusChangedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "fulfillment-order-status-changed",
        Service::Fulfillment,
        &[ORDER_STATUS_CHANGED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        order: OrderStatusChangedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        match OrderReaction::to(order.new_status) {
            OrderReaction::Open => open(&order, cx).await,
            OrderReaction::Cancel => cancel(&order, cx).await,
            OrderReaction::Ignore => Ok(()),
        }
    }
}

async fn open(order: &OrderStatusChangedEvent, cx: &mut Context<'_>) -> Result<(), HandlerError> {
    const SAVEPOINT: &str = "open_fulfillment";
    let new = Fulfillment::open(
        FulfillmentId::generate(),
        PicklistId::generate(),
        order,
        cx.now(),
    );
    let last_delivery = cx.attempt() >= FulfillmentOrderStatusChanged::SPEC.retry.max_deliveries;
    let tx = cx.tx()?;
    if !last_delivery {
        // Any failure is retried: nothing is lost, and the last delivery decides.
        if tx
            .insert_fulfillment(&new.fulfillment, &new.picklist)
            .await
            .map_err(HandlerError::retry)?
        {
            cx.publish(&new.fulfillment.status_changed_event(&new.created))?;
        }
        return Ok(());
    }
    // The last delivery: a failure is undone to the savepoint and announced, not dead-lettered.
    tx.savepoint(SAVEPOINT).await?;
    match tx.insert_fulfillment(&new.fulfillment, &new.picklist).await {
        Ok(inserted) => {
            tx.release_savepoint(SAVEPOINT).await?;
            if inserted {
                cx.publish(&new.fulfillment.status_changed_event(&new.created))?;
            }
            Ok(())
        }
        Err(e) => {
            tx.rollback_to_savepoint(SAVEPOINT).await?;
            tracing::warn!(
                order_id = %order.order_id,
                attempt = cx.attempt(),
                error = %e,
                "fulfillment cannot be created; announcing the failure"
            );
            cx.publish(&FulfillmentCreationFailedEvent {
                order_id: order.order_id.clone(),
                customer_id: order.customer_id.clone(),
                reason: e.to_string(),
                attempts: cx.attempt(),
                timestamp: cx.now(),
            })
        }
    }
}

async fn cancel(order: &OrderStatusChangedEvent, cx: &mut Context<'_>) -> Result<(), HandlerError> {
    let Some(mut shipment) = shipment_of_order_for_update(cx.tx()?, &order.order_id).await? else {
        tracing::debug!(order_id = %order.order_id, "cancelled order was never fulfilled");
        return Ok(());
    };
    match shipment
        .cancel(&order.reason, cx.now())
        .map_err(HandlerError::drop)?
    {
        Cancellation::Cancelled(change) => {
            cx.tx()?.save_fulfillment(&shipment.fulfillment).await?;
            cx.tx()?.save_picklist(&shipment.picklist).await?;
            cx.publish(&shipment.fulfillment.status_changed_event(&change))?;
        }
        Cancellation::AlreadyCancelled => {}
        Cancellation::TooLate(status) => tracing::info!(
            order_id = %order.order_id,
            fulfillment_id = %shipment.fulfillment.id,
            %status,
            "order cancelled after its goods left the warehouse; fulfillment kept"
        ),
    }
    Ok(())
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(FulfillmentOrderStatusChanged)
}
