//! # order-checkout-saga
//!
//! - **Trigger**: topic `order.checkout_requested` (starts the saga of that order) and the
//!   saga's replies: `payment.confirmed`, `payment.failed`, `payment.refunded`,
//!   `warehouse.inventory.reserved` / `reserve_rejected` / `released`, `fulfillment.created` /
//!   `create_rejected` / `cancelled`, `notification.order_confirmation_sent`; and
//!   `saga.timer_fired` (its reply deadlines and resend backoffs). Payload [`SagaMessage`]
//!   (JSON, read per topic by [`CheckoutCodec`]).
//! - **Effect**: runs the orchestrated checkout of the platform's specification, step by
//!   step: payment (`payment.process_requested`), stock (`warehouse.inventory.reserve_requested`),
//!   fulfillment (`fulfillment.create_requested`), confirmation
//!   (`notification.order_confirmation_requested`). A failure or a timeout at a step undoes the
//!   steps before it in reverse (`fulfillment.cancel_requested`,
//!   `warehouse.inventory.release_requested`, `payment.refund_requested`); a timed-out step is
//!   undone too, since its outcome is unknown. The end is announced on
//!   `order.checkout_finished` (completed or compensated, with the reason).
//! - **The payment's id** (a choice): the saga names the payment it asks for (`pay-<order>`),
//!   the payment service captures under that id and replies with it; so a payment step that
//!   timed out without any reply is refunded by that id (the payment service refunds nothing
//!   for an id it never captured) and the saga never leaves a payment it cannot name.
//! - **The saga's id** is the order's id: replies are matched by their `order_id`. A reply for
//!   an order without a saga (a choreographed order's payment) is not this function's business
//!   and changes nothing.
//! - **Idempotency**: the inbox row (function, event id); the saga row, locked and updated in
//!   the same transaction as the inbox and outbox rows: a repeated start, a reply delivered
//!   twice, a late reply after its step timed out, a stale timer change nothing.
//! - **Retryable**: database errors.
//! - **Dropped**: a payload that does not fit its topic; a stored saga that does not fit the
//!   definition.
//!
//! # Layout
//! - this module — the handler
//! - [`definition`] — the steps, their timeouts and retries
//! - [`codec`] — reading replies, writing commands

pub mod codec;
pub mod definition;

use std::sync::Arc;

use conveyor_domain::events::checkout::{
    CHECKOUT_REQUESTED, CONFIRMATION_SENT, FULFILLMENT_CANCELLED, FULFILLMENT_CREATE_REJECTED,
    FULFILLMENT_CREATED, INVENTORY_RELEASED, INVENTORY_RESERVE_REJECTED, INVENTORY_RESERVED,
};
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_REFUNDED};
use conveyor_runtime::saga::{self, SagaMessage, TIMER_FIRED};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

pub use codec::CheckoutCodec;
pub use definition::{NAME, Timings};

/// The function, over its saga's timings.
#[derive(Debug, Clone)]
pub struct OrderCheckoutSaga {
    codec: CheckoutCodec,
}

impl OrderCheckoutSaga {
    /// The function with `timings` (tests shorten them).
    ///
    /// # Panics
    /// Never: the definition is checked by a test.
    #[must_use]
    pub fn with_timings(timings: Timings) -> Self {
        let definition = definition::checkout(timings)
            .unwrap_or_else(|e| panic!("the checkout saga definition is invalid: {e}"));
        Self {
            codec: CheckoutCodec::new(definition),
        }
    }
}

impl Default for OrderCheckoutSaga {
    fn default() -> Self {
        Self::with_timings(Timings::DEFAULT)
    }
}

impl TopicHandler for OrderCheckoutSaga {
    type Payload = SagaMessage;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "order-checkout-saga",
        Service::Order,
        &[
            CHECKOUT_REQUESTED,
            PAYMENT_CONFIRMED,
            PAYMENT_FAILED,
            PAYMENT_REFUNDED,
            INVENTORY_RESERVED,
            INVENTORY_RESERVE_REJECTED,
            INVENTORY_RELEASED,
            FULFILLMENT_CREATED,
            FULFILLMENT_CREATE_REJECTED,
            FULFILLMENT_CANCELLED,
            CONFIRMATION_SENT,
            TIMER_FIRED,
        ],
    );

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        saga::orchestrate(&self.codec, &message, cx).await?;
        Ok(())
    }
}

impl saga::Orchestrator for OrderCheckoutSaga {
    fn codec(&self) -> &dyn saga::SagaCodec {
        &self.codec
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::orchestrator(OrderCheckoutSaga::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_consumes_the_start_every_reply_of_its_saga_and_its_timers() {
        let spec = OrderCheckoutSaga::SPEC;
        let def = definition::checkout(Timings::DEFAULT).unwrap();
        let mut expected: Vec<&str> = def.reply_topics();
        expected.extend([CHECKOUT_REQUESTED, TIMER_FIRED]);
        expected.sort_unstable();
        let mut topics = spec.topics().to_vec();
        topics.sort_unstable();
        assert_eq!(topics, expected);
    }
}
