//! # notification-dispatch
//!
//! - **Trigger**: topics `orders.order.status_changed`, `payment.confirmed`, `payment.failed`
//!   and `warehouse.reservation.expiring`; payload [`CustomerEvent`] (told apart by shape).
//!   Runs in the order service, which knows each order's customer.
//! - **Effect**: an event that concerns the customer (see
//!   [`render`](conveyor_domain::notification::render) for which, and the texts) becomes one
//!   notification row (channel, template, recipient, rendered text), then goes to the
//!   [`NotificationSender`] port ([`LoggingSender`] by default). Publishes nothing.
//! - **Saga path**: an order with an `order-checkout` saga (placed with
//!   `order.checkout_requested`) is not notified of its payment: the saga's confirmation step tells the customer.
//! - **Idempotency**: the inbox row (function, event id), and one notification per customer
//!   and event key (a unique constraint): a payment redelivered under a new event id, or the
//!   second line of an order whose reservation is expiring, notifies nobody again. A
//!   notification is sent only when its row is new; a failed send rolls the row back.
//! - **Retryable**: the order is not there yet (payment and reservation events name only the
//!   order), a failed send, database errors.
//! - **Dropped**: an invalid payload.
//!
//! # Layout
//! - this module — the handler
//! - [`sender`] — [`LoggingSender`]

pub mod sender;

use std::fmt;
use std::sync::Arc;

use conveyor_domain::OrderId;
use conveyor_domain::events::checkout::CHECKOUT_SAGA;
use conveyor_domain::events::order::ORDER_STATUS_CHANGED;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PAYMENT_FAILED};
use conveyor_domain::events::warehouse::RESERVATION_EXPIRING;
use conveyor_domain::notification::{
    CustomerEvent, Notification, NotificationRepository, NotificationSender, OrderFacts,
};
use conveyor_domain::order::OrderRepository;
use conveyor_runtime::saga;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

pub use sender::LoggingSender;

/// The function, over a sender.
#[derive(Debug, Default, Clone)]
pub struct NotificationDispatch<S = LoggingSender> {
    sender: S,
}

impl<S> NotificationDispatch<S> {
    /// The function sending through `sender`.
    pub fn with_sender(sender: S) -> Self {
        Self { sender }
    }
}

/// The order named by an event does not exist (yet).
#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
pub struct UnknownOrder(pub OrderId);

impl<S: NotificationSender + fmt::Debug> TopicHandler for NotificationDispatch<S> {
    type Payload = CustomerEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "notification-dispatch",
        Service::Order,
        &[
            ORDER_STATUS_CHANGED,
            PAYMENT_CONFIRMED,
            PAYMENT_FAILED,
            RESERVATION_EXPIRING,
        ],
    );

    async fn handle(&self, event: CustomerEvent, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if !event.notifies() {
            return Ok(());
        }
        let payment = matches!(
            event,
            CustomerEvent::PaymentConfirmed(_) | CustomerEvent::PaymentFailed(_)
        );
        if payment && saga::exists(cx, CHECKOUT_SAGA, event.order_id().as_str()).await? {
            // An order on the saga path: its customer hears from the saga's confirmation.
            return Ok(());
        }
        let facts = facts(&event, cx).await?;
        let Some(draft) = event.draft(&facts) else {
            return Ok(());
        };
        let notification =
            Notification::from_draft(draft, facts.customer_id.clone(), cx.event_id(), cx.now());
        if cx.tx()?.insert_notification(&notification).await? {
            self.sender
                .send(&notification)
                .await
                .map_err(HandlerError::retry)?;
        }
        Ok(())
    }
}

/// What the notification needs to know about the order: a status change carries it all; the
/// other events name only the order, which the order service looks up.
async fn facts(event: &CustomerEvent, cx: &mut Context<'_>) -> Result<OrderFacts, HandlerError> {
    if let CustomerEvent::StatusChanged(e) = event {
        return Ok(OrderFacts {
            customer_id: e.customer_id.clone(),
            status: e.new_status,
            total: e.total,
            currency: e.currency.clone(),
        });
    }
    let order = cx
        .tx()?
        .get_order_for_update(event.order_id())
        .await?
        .ok_or_else(|| HandlerError::retry(UnknownOrder(event.order_id().clone())))?;
    Ok(OrderFacts {
        customer_id: order.customer_id,
        status: order.status,
        total: order.total,
        currency: order.currency,
    })
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(NotificationDispatch::<LoggingSender>::default())
}
