//! Events of the order service.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::status::order::{OrderStatus, PaymentMethod};
use crate::{Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Quantity, Timestamp};

/// An order changed status.
pub const ORDER_STATUS_CHANGED: &str = "orders.order.status_changed";
/// An unpaid prepaid order ran past the reservation timeout: its stock should be released (the
/// order itself stays pending until the unpaid-order cleanup cancels it).
pub const ORDER_RESERVATION_EXPIRED: &str = "orders.order.reservation_expired";

/// One line of an order, as carried in order events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    /// The product.
    pub product_id: ProductId,
    /// Units ordered (at least 1).
    pub quantity: Quantity,
    /// Price of one unit in minor units.
    pub unit_price: Money,
}

/// `orders.order.status_changed`: carries what the fulfillment and warehouse services need
/// (lines, payment method) so they never call the order service back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderStatusChangedEvent {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// Status before; `None` when the order was just placed.
    pub old_status: Option<OrderStatus>,
    /// Status after.
    pub new_status: OrderStatus,
    /// Why it changed ("payment confirmed", the payment failure reason, ...).
    pub reason: String,
    /// The payment behind the change, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// Prepaid or cash on delivery.
    pub payment_method: PaymentMethod,
    /// Order total in minor units.
    pub total: Money,
    /// ISO 4217.
    pub currency: Currency,
    /// The order lines.
    pub items: Vec<OrderLine>,
    /// When the status changed.
    pub timestamp: Timestamp,
}

impl Validate for OrderStatusChangedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.items.is_empty() {
            return Err(ValidationError::new(
                "an order event must carry at least one item",
            ));
        }
        if self.items.iter().any(|l| l.quantity.get() == 0) {
            return Err(ValidationError::new("item quantity must be at least 1"));
        }
        Ok(())
    }
}

fixed_topic!(OrderStatusChangedEvent => ORDER_STATUS_CHANGED);

/// `orders.order.reservation_expired`: published once per order by the reservation cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderReservationExpiredEvent {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// The lines whose stock is to be released.
    pub items: Vec<OrderLine>,
    /// Why ("payment not received within 30 minutes").
    pub reason: String,
    /// When the cleanup ran.
    pub timestamp: Timestamp,
}

impl Validate for OrderReservationExpiredEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.items.is_empty() {
            return Err(ValidationError::new(
                "an order event must carry at least one item",
            ));
        }
        Ok(())
    }
}

fixed_topic!(OrderReservationExpiredEvent => ORDER_RESERVATION_EXPIRED);
