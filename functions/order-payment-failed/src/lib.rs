//! # order-payment-failed
//!
//! - **Trigger**: topic `payment.failed`; payload [`PaymentFailedEvent`] (amount as a float in
//!   major units, as the payment service sends it; `failure_reason` must not be blank).
//! - **Effect**: the order moves to `payment_failed` with a history row whose reason is the
//!   event's `failure_reason` and which records the payment id; publishes
//!   `orders.order.status_changed` (the warehouse releases the stock, the customer may pay again).
//! - **Ordering**: events of one order are handled in order (`order_id`).
//! - **Saga path**: an order with an `order-checkout` saga (placed with
//!   `order.checkout_requested`) is skipped: the checkout saga consumes its payment replies.
//! - **Idempotency**: the inbox row (function, event id); a failure reported for an order that is
//!   already `payment_failed` (the same failure again, or another attempt failing too) is a no-op
//!   that publishes nothing.
//! - **Retryable**: the order is not there yet (it may still be replicating), database errors.
//! - **Dropped**: an invalid payload, an order that can no longer fail a payment (already paid,
//!   confirmed, cancelled, shipped, ...).

use std::sync::Arc;

use conveyor_domain::OrderId;
use conveyor_domain::events::checkout::CHECKOUT_SAGA;
use conveyor_domain::events::payment::{PAYMENT_FAILED, PaymentFailedEvent};
use conveyor_domain::order::OrderRepository;
use conveyor_runtime::saga;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderPaymentFailed;

/// The order named by an event does not exist (yet).
#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
pub struct UnknownOrder(pub OrderId);

impl TopicHandler for OrderPaymentFailed {
    type Payload = PaymentFailedEvent;

    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("order-payment-failed", Service::Order, &[PAYMENT_FAILED])
            .ordered_by("order_id");

    async fn handle(
        &self,
        payment: PaymentFailedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        if saga::exists(cx, CHECKOUT_SAGA, payment.order_id.as_str()).await? {
            // An order on the saga path: the checkout saga consumes its payment replies.
            return Ok(());
        }
        let Some(mut order) = cx.tx()?.get_order_for_update(&payment.order_id).await? else {
            return Err(HandlerError::retry(UnknownOrder(payment.order_id)));
        };
        let change = order
            .fail_payment(&payment.payment_id, &payment.failure_reason, cx.now())
            .map_err(HandlerError::drop)?;
        if let Some(change) = change {
            cx.tx()?.save_status_change(&order, &change).await?;
            cx.publish(&order.status_changed_event(&change))?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(OrderPaymentFailed)
}
