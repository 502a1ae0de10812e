//! Events of the warehouse service.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DomainEvent, Validate, ValidationError, fixed_topic};
use crate::status::warehouse::ReservationStatus;
use crate::{AlertId, OrderId, ProductId, Quantity, ReservationId, Timestamp};

/// Stock was reserved for an order line.
pub const RESERVATION_CREATED: &str = "warehouse.reservation.created";
/// A reservation was confirmed (order paid or confirmed).
pub const RESERVATION_CONFIRMED: &str = "warehouse.reservation.confirmed";
/// A reservation was released (payment failed, order cancelled).
pub const RESERVATION_RELEASED: &str = "warehouse.reservation.released";
/// A reservation ran past its expiry and was released.
pub const RESERVATION_EXPIRED: &str = "warehouse.reservation.expired";
/// A reservation is about to expire (sent once per reservation).
pub const RESERVATION_EXPIRING: &str = "warehouse.reservation.expiring";
/// An order's lines could not be reserved for lack of stock (nothing was reserved for them).
pub const RESERVATION_FAILED: &str = "warehouse.reservation.failed";
/// Stock levels of a product changed.
pub const INVENTORY_UPDATED: &str = "warehouse.inventory.updated";
/// Available stock of a product fell to or below its threshold.
pub const INVENTORY_LOW_STOCK: &str = "warehouse.inventory.low_stock";

/// Which reservation event this is; decides the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationEventKind {
    /// [`RESERVATION_CREATED`]
    Created,
    /// [`RESERVATION_CONFIRMED`]
    Confirmed,
    /// [`RESERVATION_RELEASED`]
    Released,
    /// [`RESERVATION_EXPIRED`]
    Expired,
    /// [`RESERVATION_EXPIRING`]
    Expiring,
}

/// `warehouse.reservation.*`: one payload shape for the whole lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReservationEvent {
    /// Which lifecycle step.
    pub event_type: ReservationEventKind,
    /// The reservation.
    pub reservation_id: ReservationId,
    /// The order it holds stock for.
    pub order_id: OrderId,
    /// The product.
    pub product_id: ProductId,
    /// Units held.
    pub quantity: Quantity,
    /// Status after the step.
    pub status: ReservationStatus,
    /// When an active reservation expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Why (release reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When.
    pub timestamp: Timestamp,
}

impl DomainEvent for ReservationEvent {
    fn topic(&self) -> &'static str {
        match self.event_type {
            ReservationEventKind::Created => RESERVATION_CREATED,
            ReservationEventKind::Confirmed => RESERVATION_CONFIRMED,
            ReservationEventKind::Released => RESERVATION_RELEASED,
            ReservationEventKind::Expired => RESERVATION_EXPIRED,
            ReservationEventKind::Expiring => RESERVATION_EXPIRING,
        }
    }
}

impl Validate for ReservationEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.quantity.get() == 0 {
            return Err(ValidationError::new(
                "reservation quantity must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `warehouse.reservation.failed`: the warehouse could not hold an order's lines; the order
/// service cancels the order (and the cancellation releases whatever the order still holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReservationFailedEvent {
    /// The order.
    pub order_id: OrderId,
    /// The first product short of stock.
    pub product_id: ProductId,
    /// Units the order asked for.
    pub requested: Quantity,
    /// Units available when it asked.
    pub available: Quantity,
    /// Human-readable reason ("insufficient stock of sku-tee: requested 1, available 0").
    pub reason: String,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for ReservationFailedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.requested <= self.available {
            return Err(ValidationError::new(
                "a failed reservation must request more than is available",
            ));
        }
        if self.reason.trim().is_empty() {
            return Err(ValidationError::new("reason must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(ReservationFailedEvent => RESERVATION_FAILED);

/// `warehouse.inventory.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryUpdatedEvent {
    /// The product.
    pub product_id: ProductId,
    /// Units physically in the warehouse.
    pub on_hand: Quantity,
    /// Units held by reservations.
    pub reserved: Quantity,
    /// `on_hand - reserved`.
    pub available: Quantity,
    /// What changed it ("reserved", "deducted", "restocked", "returned", ...).
    pub reason: String,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for InventoryUpdatedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.on_hand.checked_sub(self.reserved) != Some(self.available) {
            return Err(ValidationError::new(
                "available must equal on_hand - reserved",
            ));
        }
        Ok(())
    }
}

fixed_topic!(InventoryUpdatedEvent => INVENTORY_UPDATED);

/// `warehouse.inventory.low_stock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LowStockEvent {
    /// The alert raised.
    pub alert_id: AlertId,
    /// The product.
    pub product_id: ProductId,
    /// Units available.
    pub available: Quantity,
    /// The product's threshold.
    pub threshold: Quantity,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for LowStockEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

fixed_topic!(LowStockEvent => INVENTORY_LOW_STOCK);
