//! The orchestrated checkout: how an order asks for it, the commands the `order-checkout`
//! saga sends to the services, their replies, and how the saga announces its end.
//!
//! An order placed with `order.checkout_requested` goes through the saga; an order announced
//! with `orders.order.status_changed` (new, pending) goes the choreographed way. The saga's id
//! is the order's id, so every command and reply names the order only.
//!
//! One payload type serves every service command ([`CheckoutCommand`]) and one every service
//! reply ([`CheckoutReply`]); the topic says which step and what happened. The payment
//! service's own wire types are in [`payment`](super::payment).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::order::OrderLine;
use super::{DomainEvent, Validate, ValidationError, fixed_topic};
use crate::{Currency, CustomerId, Money, OrderId, PaymentId, Timestamp};

/// The checkout saga's definition name: choreographed functions skip orders that have a
/// saga of this name (their payment replies belong to the saga).
pub const CHECKOUT_SAGA: &str = "order-checkout";

/// The order service asks for an order's checkout through the saga.
pub const CHECKOUT_REQUESTED: &str = "order.checkout_requested";
/// The saga ended: completed, or compensated.
pub const CHECKOUT_FINISHED: &str = "order.checkout_finished";
/// Command: hold the order's stock (confirmed, no expiry).
pub const INVENTORY_RESERVE_REQUESTED: &str = "warehouse.inventory.reserve_requested";
/// Reply: the stock is held; `result` is the reservation's reference (the order id).
pub const INVENTORY_RESERVED: &str = "warehouse.inventory.reserved";
/// Reply: the stock could not be held (a shortage); nothing is held.
pub const INVENTORY_RESERVE_REJECTED: &str = "warehouse.inventory.reserve_rejected";
/// Compensation: release what the reservation holds.
pub const INVENTORY_RELEASE_REQUESTED: &str = "warehouse.inventory.release_requested";
/// Reply: released (or nothing was held).
pub const INVENTORY_RELEASED: &str = "warehouse.inventory.released";
/// Command: open the order's fulfillment.
pub const FULFILLMENT_CREATE_REQUESTED: &str = "fulfillment.create_requested";
/// Reply: opened; `result` is the fulfillment id.
pub const FULFILLMENT_CREATED: &str = "fulfillment.created";
/// Reply: it cannot be opened.
pub const FULFILLMENT_CREATE_REJECTED: &str = "fulfillment.create_rejected";
/// Compensation: cancel the order's fulfillment.
pub const FULFILLMENT_CANCEL_REQUESTED: &str = "fulfillment.cancel_requested";
/// Reply: cancelled (or there was none).
pub const FULFILLMENT_CANCELLED: &str = "fulfillment.cancelled";
/// Command: send the customer the order confirmation.
pub const CONFIRMATION_REQUESTED: &str = "notification.order_confirmation_requested";
/// Reply: sent; `result` is the notification id.
pub const CONFIRMATION_SENT: &str = "notification.order_confirmation_sent";

fn check_lines(items: &[OrderLine]) -> Result<(), ValidationError> {
    if items.is_empty() {
        return Err(ValidationError::new(
            "a checkout must carry at least one item",
        ));
    }
    if items.iter().any(|l| l.quantity.get() == 0) {
        return Err(ValidationError::new("item quantity must be at least 1"));
    }
    Ok(())
}

/// `order.checkout_requested`: an order placed for the orchestrated checkout. Carries what
/// every step needs, so no service calls the order service back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutRequestedEvent {
    /// The order (and the saga's id).
    pub order_id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// The order lines.
    pub items: Vec<OrderLine>,
    /// Order total in minor units (what the payment step charges).
    pub total: Money,
    /// ISO 4217.
    pub currency: Currency,
    /// When the order was placed.
    pub timestamp: Timestamp,
}

impl Validate for CheckoutRequestedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        check_lines(&self.items)
    }
}

fixed_topic!(CheckoutRequestedEvent => CHECKOUT_REQUESTED);

/// A command of the checkout saga to a service (reserve, release, create, cancel, confirm);
/// the topic says which. Every send of one command carries the same content but `attempt`;
/// consumers make it idempotent per order and reply each time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutCommand {
    /// The order (and the saga's id).
    pub order_id: OrderId,
    /// The id all sends of this command share (`<saga>/<step>/<forward|compensate>`).
    pub command_id: String,
    /// Which send this is (1 = first).
    pub attempt: u32,
    /// The order's customer.
    pub customer_id: CustomerId,
    /// The order lines.
    pub items: Vec<OrderLine>,
    /// Order total in minor units.
    pub total: Money,
    /// ISO 4217.
    pub currency: Currency,
    /// For a compensation: what the step returned (reservation reference, fulfillment id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For a compensation: why the saga is undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the checkout was requested (the same in every send of the command).
    pub timestamp: Timestamp,
}

impl Validate for CheckoutCommand {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.command_id.trim().is_empty() {
            return Err(ValidationError::new("command_id must not be empty"));
        }
        check_lines(&self.items)
    }
}

/// A service's reply to a [`CheckoutCommand`]; the topic says what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutReply {
    /// The order (and the saga's id).
    pub order_id: OrderId,
    /// The command answered.
    pub command_id: String,
    /// The id the step produced (reservation reference, fulfillment id, notification id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the service replied.
    pub timestamp: Timestamp,
}

impl Validate for CheckoutReply {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl CheckoutReply {
    /// The reply to `command` on `topic`.
    #[must_use]
    pub fn to(command: &CheckoutCommand, topic: &'static str, at: Timestamp) -> TopicReply {
        TopicReply {
            topic,
            reply: Self {
                order_id: command.order_id.clone(),
                command_id: command.command_id.clone(),
                result: None,
                reason: None,
                timestamp: at,
            },
        }
    }
}

/// A [`CheckoutReply`] with the topic it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicReply {
    /// Where.
    pub topic: &'static str,
    /// What.
    pub reply: CheckoutReply,
}

impl TopicReply {
    /// With the id the step produced.
    #[must_use]
    pub fn with_result(mut self, result: impl Into<String>) -> Self {
        self.reply.result = Some(result.into());
        self
    }

    /// With a rejection reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reply.reason = Some(reason.into());
        self
    }
}

impl Serialize for TopicReply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.reply.serialize(s)
    }
}

impl DomainEvent for TopicReply {
    fn topic(&self) -> &'static str {
        self.topic
    }
}

/// How a checkout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutOutcome {
    /// Every step completed: paid, stock held, fulfillment opened, customer told.
    Completed,
    /// A step failed or timed out; the steps before it were undone in reverse.
    Compensated,
}

/// `order.checkout_finished`: the saga tells the order service how the checkout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutFinishedEvent {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// How it ended.
    pub outcome: CheckoutOutcome,
    /// Why it was compensated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The payment the checkout captured (completed only; a compensated checkout refunded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// When it ended.
    pub timestamp: Timestamp,
}

impl Validate for CheckoutFinishedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

fixed_topic!(CheckoutFinishedEvent => CHECKOUT_FINISHED);
