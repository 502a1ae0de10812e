//! # order-checkout-finished
//!
//! - **Trigger**: topic `order.checkout_finished` (the checkout saga's end); payload
//!   [`CheckoutFinishedEvent`]. Ordered by `order_id`.
//! - **Effect**: the order service records the outcome on the order: `completed` moves it from
//!   `pending` to `confirmed` with the payment the saga captured; `compensated` moves it to
//!   `cancelled` with the saga's reason. One history row each.
//! - **Publishes nothing** (a choice): on the saga path every service did its part on the
//!   saga's commands, and the consumers of `orders.order.status_changed` would act on the
//!   order a second time (hold stock, open a fulfillment, notify the customer again).
//!   `order.checkout_finished` is the announcement.
//! - **Idempotency**: the inbox row (function, event id); an outcome delivered again finds the
//!   order already there and changes nothing.
//! - **Retryable**: the order is not there yet (it may still be replicating), database errors.
//! - **Dropped**: an invalid payload; an order that can no longer take the outcome (cancelled
//!   or moved on while its checkout ran): the dead letter names it, for an operator.

use std::sync::Arc;

use conveyor_domain::OrderId;
use conveyor_domain::events::checkout::{CHECKOUT_FINISHED, CheckoutFinishedEvent};
use conveyor_domain::order::OrderRepository;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderCheckoutFinished;

/// The order named by the outcome does not exist (yet).
#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
pub struct UnknownOrder(pub OrderId);

impl TopicHandler for OrderCheckoutFinished {
    type Payload = CheckoutFinishedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "order-checkout-finished",
        Service::Order,
        &[CHECKOUT_FINISHED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        finished: CheckoutFinishedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let Some(mut order) = cx.tx()?.get_order_for_update(&finished.order_id).await? else {
            return Err(HandlerError::retry(UnknownOrder(finished.order_id)));
        };
        if let Some(change) = order
            .finish_checkout(&finished)
            .map_err(HandlerError::drop)?
        {
            cx.tx()?.save_status_change(&order, &change).await?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(OrderCheckoutFinished)
}
