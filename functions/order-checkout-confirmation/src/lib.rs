//! # order-checkout-confirmation
//!
//! - **Trigger**: the checkout saga's last command, `notification.order_confirmation_requested`;
//!   payload [`CheckoutCommand`]. Runs in the order service, like notification-dispatch.
//! - **Effect**: the customer's order confirmation (template `order_confirmed`, key
//!   `order:<id>:checkout_confirmed`) becomes one notification row, then goes to the
//!   [`NotificationSender`] port ([`LoggingSender`] by default); replies
//!   `notification.order_confirmation_sent` with the notification's id.
//! - **Idempotency**: the inbox row (function, event id), and one notification per customer
//!   and key: the command sent again (the saga's retry) sends nothing more and replies again
//!   with the first notification's id.
//! - **Retryable**: a failed send (the row is rolled back with it), database errors.
//! - **Dropped**: an invalid payload.

use std::fmt;
use std::sync::Arc;

use conveyor_domain::events::checkout::{
    CONFIRMATION_REQUESTED, CONFIRMATION_SENT, CheckoutCommand, CheckoutReply,
};
use conveyor_domain::notification::Template;
use conveyor_domain::notification::{
    Draft, Notification, NotificationRepository, NotificationSender,
};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
pub use notification_dispatch::LoggingSender;

/// The function, over a sender.
#[derive(Debug, Default, Clone)]
pub struct OrderCheckoutConfirmation<S = LoggingSender> {
    sender: S,
}

impl<S> OrderCheckoutConfirmation<S> {
    /// The function sending through `sender`.
    pub fn with_sender(sender: S) -> Self {
        Self { sender }
    }
}

/// The confirmation of `command`'s order.
#[must_use]
pub fn draft(command: &CheckoutCommand) -> Draft {
    Draft {
        event_key: format!("order:{}:checkout_confirmed", command.order_id),
        order_id: command.order_id.clone(),
        template: Template::OrderConfirmed,
        text: format!(
            "Your order {} is confirmed: {} {}, paid.",
            command.order_id, command.total, command.currency
        ),
    }
}

impl<S: NotificationSender + fmt::Debug> TopicHandler for OrderCheckoutConfirmation<S> {
    type Payload = CheckoutCommand;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "order-checkout-confirmation",
        Service::Order,
        &[CONFIRMATION_REQUESTED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        command: CheckoutCommand,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let notification = Notification::from_draft(
            draft(&command),
            command.customer_id.clone(),
            cx.event_id(),
            cx.now(),
        );
        let id = if cx.tx()?.insert_notification(&notification).await? {
            self.sender
                .send(&notification)
                .await
                .map_err(HandlerError::retry)?;
            notification.id.to_string()
        } else {
            // Sent before: reply with the first notification's id.
            cx.tx()?
                .notifications_of_customer(&command.customer_id)
                .await?
                .into_iter()
                .find(|n| n.event_key == notification.event_key)
                .map_or_else(|| notification.id.to_string(), |n| n.id.to_string())
        };
        cx.publish(&CheckoutReply::to(&command, CONFIRMATION_SENT, cx.now()).with_result(id))
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(OrderCheckoutConfirmation::<LoggingSender>::default())
}
