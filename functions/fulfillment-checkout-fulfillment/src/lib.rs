//! # fulfillment-checkout-fulfillment
//!
//! - **Trigger**: the checkout saga's commands `fulfillment.create_requested` and
//!   `fulfillment.cancel_requested`, ordered by `order_id`; payload [`CheckoutCommand`].
//! - **Effect**: create -> the order's fulfillment is opened (`created`) with a `pending`
//!   picklist of one line per order line, as for a paid choreographed order; publishes
//!   `fulfillment.status_changed` and replies `fulfillment.created` with the fulfillment id.
//!   Cancel -> the fulfillment and its picklist are cancelled; publishes
//!   `fulfillment.status_changed` and replies `fulfillment.cancelled` (also when the order has
//!   no fulfillment). A fulfillment whose goods have shipped cannot be cancelled: it is kept, and
//!   the reply says so in its `reason` (the saga cannot undo a shipment; the confirmation step,
//!   the only one after this one, settles long before goods ship).
//! - **Idempotency**: the inbox row (function, event id); one fulfillment per order: a create
//!   sent again replies with the existing fulfillment's id and publishes nothing else;
//!   cancelling a cancelled fulfillment only replies.
//! - **Giving up**: a fulfillment that cannot be created is retried until the last delivery the
//!   retry policy allows; there the insert runs under a savepoint, and a failure is undone and
//!   replied as `fulfillment.create_rejected` (the saga then undoes the earlier steps).
//! - **Retryable**: database errors; a fulfillment created concurrently for the order.
//! - **Dropped**: an invalid payload, a fulfillment without its picklist (corrupt data).

use std::sync::Arc;

use conveyor_domain::events::checkout::{
    CheckoutCommand, CheckoutReply, FULFILLMENT_CANCEL_REQUESTED, FULFILLMENT_CANCELLED,
    FULFILLMENT_CREATE_REJECTED, FULFILLMENT_CREATE_REQUESTED, FULFILLMENT_CREATED, TopicReply,
};
use conveyor_domain::fulfillment::{
    Cancellation, Fulfillment, FulfillmentRepository, PicklistRepository,
    shipment_of_order_for_update,
};
use conveyor_domain::{FulfillmentId, OrderId, PicklistId};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct FulfillmentCheckoutFulfillment;

/// Another delivery opened the order's fulfillment meanwhile; the next attempt finds it.
#[derive(Debug, thiserror::Error)]
#[error("a fulfillment of order {0} was created concurrently")]
pub struct ConcurrentFulfillment(pub OrderId);

impl TopicHandler for FulfillmentCheckoutFulfillment {
    type Payload = CheckoutCommand;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "fulfillment-checkout-fulfillment",
        Service::Fulfillment,
        &[FULFILLMENT_CREATE_REQUESTED, FULFILLMENT_CANCEL_REQUESTED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        command: CheckoutCommand,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let reply = if cx.topic() == FULFILLMENT_CANCEL_REQUESTED {
            cancel(&command, cx).await?
        } else {
            create(&command, cx).await?
        };
        cx.publish(&reply)
    }
}

async fn create(
    command: &CheckoutCommand,
    cx: &mut Context<'_>,
) -> Result<TopicReply, HandlerError> {
    const SAVEPOINT: &str = "open_checkout_fulfillment";
    let now = cx.now();
    if let Some(existing) = cx
        .tx()?
        .get_fulfillment_of_order_for_update(&command.order_id)
        .await?
    {
        return Ok(CheckoutReply::to(command, FULFILLMENT_CREATED, now).with_result(existing.id));
    }
    let new = Fulfillment::open_for(
        FulfillmentId::generate(),
        PicklistId::generate(),
        &command.order_id,
        &command.items,
        now,
    );
    let last_delivery = cx.attempt() >= FulfillmentCheckoutFulfillment::SPEC.retry.max_deliveries;
    let tx = cx.tx()?;
    let inserted = if last_delivery {
        // The last delivery: a failure is undone to the savepoint and replied, not dead-lettered.
        tx.savepoint(SAVEPOINT).await?;
        match tx.insert_fulfillment(&new.fulfillment, &new.picklist).await {
            Ok(inserted) => {
                tx.release_savepoint(SAVEPOINT).await?;
                inserted
            }
            Err(e) => {
                tx.rollback_to_savepoint(SAVEPOINT).await?;
                tracing::warn!(order_id = %command.order_id, error = %e,
                    "checkout fulfillment cannot be created; rejecting the command");
                return Ok(CheckoutReply::to(command, FULFILLMENT_CREATE_REJECTED, now)
                    .with_reason(format!("fulfillment could not be created: {e}")));
            }
        }
    } else {
        tx.insert_fulfillment(&new.fulfillment, &new.picklist)
            .await
            .map_err(HandlerError::retry)?
    };
    if !inserted {
        return Err(HandlerError::retry(ConcurrentFulfillment(
            command.order_id.clone(),
        )));
    }
    cx.publish(&new.fulfillment.status_changed_event(&new.created))?;
    Ok(CheckoutReply::to(command, FULFILLMENT_CREATED, now).with_result(new.fulfillment.id))
}

async fn cancel(
    command: &CheckoutCommand,
    cx: &mut Context<'_>,
) -> Result<TopicReply, HandlerError> {
    let now = cx.now();
    let replied = CheckoutReply::to(command, FULFILLMENT_CANCELLED, now);
    let Some(mut shipment) = shipment_of_order_for_update(cx.tx()?, &command.order_id).await?
    else {
        return Ok(replied);
    };
    let reason = command.reason.as_deref().unwrap_or("checkout compensated");
    let id = shipment.fulfillment.id.clone();
    match shipment.cancel(reason, now).map_err(HandlerError::drop)? {
        Cancellation::Cancelled(change) => {
            cx.tx()?.save_fulfillment(&shipment.fulfillment).await?;
            cx.tx()?.save_picklist(&shipment.picklist).await?;
            cx.publish(&shipment.fulfillment.status_changed_event(&change))?;
            Ok(replied.with_result(id))
        }
        Cancellation::AlreadyCancelled => Ok(replied.with_result(id)),
        Cancellation::TooLate(status) => {
            tracing::warn!(order_id = %command.order_id, fulfillment_id = %id, %status,
                "checkout compensated after its goods left the warehouse; fulfillment kept");
            Ok(replied
                .with_result(id)
                .with_reason(format!("goods already {status}; fulfillment kept")))
        }
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(FulfillmentCheckoutFulfillment)
}
