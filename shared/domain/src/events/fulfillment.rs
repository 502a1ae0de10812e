//! Events of the fulfillment service (and the warehouse floor's picklist updates).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::status::fulfillment::{FulfillmentStatus, PackageStatus, PicklistStatus};
use crate::{CustomerId, FulfillmentId, OrderId, PackageId, PicklistId, Timestamp};

/// A fulfillment changed status (including creation).
pub const FULFILLMENT_STATUS_CHANGED: &str = "fulfillment.status_changed";
/// The fulfillment of a paid or confirmed order could not be created, even after retries.
pub const FULFILLMENT_CREATION_FAILED: &str = "fulfillment.creation_failed";
/// The warehouse floor reports picklist progress.
pub const PICKLIST_STATUS_CHANGED: &str = "picklist.status_changed";
/// A package changed status (including creation).
pub const PACKAGE_STATUS_CHANGED: &str = "package.status_changed";

/// `fulfillment.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FulfillmentStatusChangedEvent {
    /// The fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its order.
    pub order_id: OrderId,
    /// Status before; `None` on creation.
    pub old_status: Option<FulfillmentStatus>,
    /// Status after.
    pub new_status: FulfillmentStatus,
    /// Why, when not obvious (cancellation reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for FulfillmentStatusChangedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

fixed_topic!(FulfillmentStatusChangedEvent => FULFILLMENT_STATUS_CHANGED);

/// `picklist.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PicklistStatusChangedEvent {
    /// The picklist.
    pub picklist_id: PicklistId,
    /// Its fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its order.
    pub order_id: OrderId,
    /// Status before, as the floor app saw it.
    #[serde(default)]
    pub old_status: Option<PicklistStatus>,
    /// Status now.
    pub new_status: PicklistStatus,
    /// Carrier tracking number, once shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for PicklistStatusChangedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self
            .tracking_number
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(ValidationError::new("tracking_number must not be blank"));
        }
        Ok(())
    }
}

fixed_topic!(PicklistStatusChangedEvent => PICKLIST_STATUS_CHANGED);

/// `package.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackageStatusChangedEvent {
    /// The package.
    pub package_id: PackageId,
    /// Its fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its order.
    pub order_id: OrderId,
    /// Status before; `None` on creation.
    pub old_status: Option<PackageStatus>,
    /// Status after.
    pub new_status: PackageStatus,
    /// Carrier tracking number, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for PackageStatusChangedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

fixed_topic!(PackageStatusChangedEvent => PACKAGE_STATUS_CHANGED);

/// `fulfillment.creation_failed`: the fulfillment service gave up opening an order's
/// fulfillment (a permanent failure, or the last delivery failed too). The order service
/// cancels the order and requests a refund of its payment; the cancellation releases the
/// order's reservations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FulfillmentCreationFailedEvent {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// What failed, as the last attempt saw it.
    pub reason: String,
    /// Deliveries made before giving up.
    pub attempts: u32,
    /// When.
    pub timestamp: Timestamp,
}

impl Validate for FulfillmentCreationFailedEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.attempts == 0 {
            return Err(ValidationError::new("attempts must be at least 1"));
        }
        if self.reason.trim().is_empty() {
            return Err(ValidationError::new("reason must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(FulfillmentCreationFailedEvent => FULFILLMENT_CREATION_FAILED);
