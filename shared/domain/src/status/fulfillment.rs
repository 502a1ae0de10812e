//! Fulfillment, picklist and package state machines.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::{StateMachine, status_names};

/// Where a fulfillment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// Created for a paid or confirmed order; picklist issued.
    Created,
    /// Picking has started.
    Picking,
    /// Every line picked.
    Picked,
    /// Packed; a package exists.
    Packed,
    /// Handed to the carrier.
    Shipped,
    /// Delivered to the customer.
    Delivered,
    /// Cancelled before shipping.
    Cancelled,
}

status_names!(FulfillmentStatus {
    Created => "created",
    Picking => "picking",
    Picked => "picked",
    Packed => "packed",
    Shipped => "shipped",
    Delivered => "delivered",
    Cancelled => "cancelled",
});

impl StateMachine for FulfillmentStatus {
    fn allows(self, next: Self) -> bool {
        use FulfillmentStatus::{Cancelled, Created, Delivered, Packed, Picked, Picking, Shipped};
        matches!(
            (self, next),
            (Created, Picking | Picked | Packed | Cancelled)
                | (Picking, Picked | Packed | Cancelled)
                | (Picked, Packed | Cancelled)
                | (Packed, Shipped | Cancelled)
                | (Shipped, Delivered)
        )
    }
}

impl FulfillmentStatus {
    /// Whether the goods have left the warehouse (cancellation no longer possible).
    #[must_use]
    pub fn has_shipped(self) -> bool {
        matches!(self, Self::Shipped | Self::Delivered)
    }
}

/// Where a picklist is, as reported by the warehouse floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PicklistStatus {
    /// Issued, nobody picking yet.
    Pending,
    /// A picker is working on it.
    InProgress,
    /// Every line picked.
    Picked,
    /// Packed into a package.
    Packed,
    /// The package left with the carrier.
    Shipped,
    /// Withdrawn (the order was cancelled).
    Cancelled,
}

status_names!(PicklistStatus {
    Pending => "pending",
    InProgress => "in_progress",
    Picked => "picked",
    Packed => "packed",
    Shipped => "shipped",
    Cancelled => "cancelled",
});

impl StateMachine for PicklistStatus {
    fn allows(self, next: Self) -> bool {
        use PicklistStatus::{Cancelled, InProgress, Packed, Pending, Picked, Shipped};
        matches!(
            (self, next),
            (Pending, InProgress | Picked | Cancelled)
                | (InProgress, Picked | Cancelled)
                | (Picked, Packed | Shipped | Cancelled)
                | (Packed, Shipped | Cancelled)
        )
    }
}

/// Where a package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    /// Packed and labelled.
    Created,
    /// With the carrier.
    Shipped,
    /// Delivered.
    Delivered,
}

status_names!(PackageStatus {
    Created => "created",
    Shipped => "shipped",
    Delivered => "delivered",
});

impl StateMachine for PackageStatus {
    fn allows(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Created, Self::Shipped | Self::Delivered) | (Self::Shipped, Self::Delivered)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Transition, transition};

    #[test]
    fn fulfillment_cannot_be_cancelled_after_shipping() {
        let mut s = FulfillmentStatus::Shipped;
        assert!(transition("fulfillment", &mut s, FulfillmentStatus::Cancelled).is_err());
        let mut s = FulfillmentStatus::Packed;
        assert!(
            transition("fulfillment", &mut s, FulfillmentStatus::Cancelled)
                .unwrap()
                .is_change()
        );
        assert_eq!(
            transition("fulfillment", &mut s, FulfillmentStatus::Cancelled),
            Ok(Transition::Unchanged(FulfillmentStatus::Cancelled))
        );
    }

    #[test]
    fn picklist_and_package_flows() {
        let mut p = PicklistStatus::Pending;
        for next in [
            PicklistStatus::InProgress,
            PicklistStatus::Picked,
            PicklistStatus::Packed,
            PicklistStatus::Shipped,
        ] {
            assert!(transition("picklist", &mut p, next).unwrap().is_change());
        }
        assert!(transition("picklist", &mut p, PicklistStatus::Pending).is_err());
        let mut k = PackageStatus::Delivered;
        assert!(transition("package", &mut k, PackageStatus::Created).is_err());
        for &s in PicklistStatus::ALL {
            assert_eq!(s.as_str().parse::<PicklistStatus>().unwrap(), s);
        }
    }
}
