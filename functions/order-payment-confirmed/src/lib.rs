//! # order-payment-confirmed
//!
//! - **Trigger**: topic `payment.confirmed`; payload [`PaymentConfirmedEvent`] (amount as a
//!   float in major units, as the payment service sends it).
//! - **Effect**: the order moves to `payment_confirmed` with a history row (reason and payment
//!   id); publishes `orders.order.status_changed`. A payment for an order that was already
//!   cancelled (by the customer, the unpaid-order timeout or a compensation) is not applied:
//!   a refund request is recorded and `payment.refund_requested` published instead.
//!   A payment after `payment_failed` or after the 30-minute stock hold lapsed is applied: the
//!   warehouse holds the stock again on the status change, or reports the shortage, and
//!   order-compensation then cancels the order and requests the refund.
//! - **Saga path**: an order with an `order-checkout` saga (placed with
//!   `order.checkout_requested`) is skipped: the checkout saga consumes its payment replies.
//! - **Idempotency**: the inbox row (function, event id); a second confirmation of an already
//!   confirmed order is a no-op that publishes nothing; one refund request per payment (its
//!   key), so the same late payment redelivered under a new event id requests nothing more.
//! - **Retryable**: the order is not there yet (it may still be replicating), database errors.
//! - **Dropped**: an invalid payload, an amount or currency that differs from the order, an order
//!   that can no longer be paid (shipped, completed, ...).

use std::sync::Arc;

use conveyor_domain::OrderId;
use conveyor_domain::events::checkout::CHECKOUT_SAGA;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::order::{OrderRepository, RefundRepository};
use conveyor_runtime::saga;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderPaymentConfirmed;

/// The order named by an event does not exist (yet).
#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
pub struct UnknownOrder(pub OrderId);

impl TopicHandler for OrderPaymentConfirmed {
    type Payload = PaymentConfirmedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "order-payment-confirmed",
        Service::Order,
        &[PAYMENT_CONFIRMED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        payment: PaymentConfirmedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        if saga::exists(cx, CHECKOUT_SAGA, payment.order_id.as_str()).await? {
            // An order on the saga path: the checkout saga consumes its payment replies.
            return Ok(());
        }
        let paid = payment.amount_minor()?;
        let Some(mut order) = cx.tx()?.get_order_for_update(&payment.order_id).await? else {
            return Err(HandlerError::retry(UnknownOrder(payment.order_id)));
        };
        if let Some(refund) =
            order.refund_late_payment(&payment.payment_id, paid, &payment.currency, cx.now())
        {
            if cx.tx()?.insert_refund_request(&refund).await? {
                cx.publish(&refund.requested_event())?;
            }
            return Ok(());
        }
        let change = order
            .confirm_payment(&payment.payment_id, paid, &payment.currency, cx.now())
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
    conveyor_runtime::topic(OrderPaymentConfirmed)
}
