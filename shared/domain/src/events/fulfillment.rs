//! Events of the fulfillment service (and the warehouse floor's picklist updates).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::fulfillment::{FulfillmentStatus, PackageStatus, PicklistStatus};
use crate::{FulfillmentId, OrderId, PackageId, PicklistId, Timestamp};

/// A fulfillment changed status (including creation).
pub const FULFILLMENT_STATUS_CHANGED: &str = "fulfillment.status_changed";
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
