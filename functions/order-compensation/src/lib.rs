//! # order-compensation
//!
//! - **Trigger**: topics `warehouse.reservation.failed` and `fulfillment.creation_failed`,
//!   ordered by `order_id`; payload [`BrokenFlow`] (decoded as a reservation failure first,
//!   else as a fulfillment creation failure).
//! - **Effect**: the order is cancelled with the reported reason (history row) and
//!   `orders.order.status_changed` is published, on which the warehouse releases whatever the
//!   order still holds and the fulfillment service cancels what it opened. A paid order also
//!   gets a refund request for its payment, published as `payment.refund_requested`.
//! - **Idempotency**: the inbox row (function, event id); beyond it, an order already
//!   cancelled is not changed again and a payment gets one refund request (its key), so a
//!   failure reported twice under different event ids publishes nothing more.
//! - **Retryable**: the order is not there yet, database errors.
//! - **Dropped**: an invalid payload, an order past the point of cancelling (shipped,
//!   delivered, completed).

use std::sync::Arc;

use conveyor_domain::OrderId;
use conveyor_domain::events::fulfillment::FULFILLMENT_CREATION_FAILED;
use conveyor_domain::events::warehouse::RESERVATION_FAILED;
use conveyor_domain::order::{BrokenFlow, OrderRepository, RefundRepository};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderCompensation;

/// The order named by an event does not exist (yet).
#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
pub struct UnknownOrder(pub OrderId);

impl TopicHandler for OrderCompensation {
    type Payload = BrokenFlow;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "order-compensation",
        Service::Order,
        &[RESERVATION_FAILED, FULFILLMENT_CREATION_FAILED],
    )
    .ordered_by("order_id");

    async fn handle(&self, broken: BrokenFlow, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        let now = cx.now();
        let Some(mut order) = cx.tx()?.get_order_for_update(broken.order_id()).await? else {
            return Err(HandlerError::retry(UnknownOrder(broken.order_id().clone())));
        };
        let done = order
            .compensate(&broken.reason(), now)
            .map_err(HandlerError::drop)?;
        if let Some(change) = done.cancelled {
            cx.tx()?.save_status_change(&order, &change).await?;
            cx.publish(&order.status_changed_event(&change))?;
        }
        if let Some(refund) = done.refund
            && cx.tx()?.insert_refund_request(&refund).await?
        {
            cx.publish(&refund.requested_event())?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(OrderCompensation)
}
