//! Customer notifications: what the platform tells a customer when something happens to their
//! order, rendered from the events, at most one per customer and business event.
//!
//! # Layout
//! - this module — [`Notification`], its [`Channel`] and [`Template`]
//! - [`render`] — which events notify, under which key, with which text
//! - [`ports`] — the repository the store implements and the sender port

pub mod ports;
pub mod render;

pub use ports::{NotificationRepository, NotificationSender, SendError};
pub use render::{CustomerEvent, Draft, OrderFacts};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::status_names;
use crate::{CustomerId, NotificationId, OrderId, Timestamp};

/// How a notification reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// E-mail to the customer's address on file.
    Email,
}

status_names!(Channel {
    Email => "email",
});

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// The order was placed.
    OrderPlaced,
    /// A cash-on-delivery (or operator) confirmation.
    OrderConfirmed,
    /// Handed to the carrier.
    OrderShipped,
    /// Delivered.
    OrderDelivered,
    /// Cancelled, with the reason.
    OrderCancelled,
    /// The payment went through.
    PaymentReceived,
    /// The payment arrived after the order was cancelled; it is being refunded.
    PaymentRefundPending,
    /// The payment failed.
    PaymentFailed,
    /// The stock held for an unpaid order is about to be released.
    ReservationExpiring,
}

status_names!(Template {
    OrderPlaced => "order_placed",
    OrderConfirmed => "order_confirmed",
    OrderShipped => "order_shipped",
    OrderDelivered => "order_delivered",
    OrderCancelled => "order_cancelled",
    PaymentReceived => "payment_received",
    PaymentRefundPending => "payment_refund_pending",
    PaymentFailed => "payment_failed",
    ReservationExpiring => "reservation_expiring",
});

/// One notification to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// Who it is for.
    pub customer_id: CustomerId,
    /// The business event it is about (see [`render`]); unique per customer.
    pub event_key: String,
    /// The CloudEvent id that caused it.
    pub event_id: String,
    /// The order it is about.
    pub order_id: OrderId,
    /// How it is sent.
    pub channel: Channel,
    /// What it says.
    pub template: Template,
    /// Where the channel delivers it: the customer id, which the sender resolves to an address
    /// (the order service keeps no addresses).
    pub recipient: String,
    /// The rendered text.
    pub text: String,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Notification {
    /// A notification from a draft, for `customer`.
    #[must_use]
    pub fn from_draft(
        draft: Draft,
        customer_id: CustomerId,
        event_id: &str,
        at: Timestamp,
    ) -> Self {
        Self {
            id: NotificationId::generate(),
            recipient: customer_id.as_str().to_owned(),
            customer_id,
            event_key: draft.event_key,
            event_id: event_id.to_owned(),
            order_id: draft.order_id,
            channel: Channel::Email,
            template: draft.template,
            text: draft.text,
            created_at: at,
        }
    }
}
