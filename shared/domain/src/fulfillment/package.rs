//! Packages: the parcel a packed fulfillment leaves in.

use crate::events::fulfillment::PackageStatusChangedEvent;
use crate::fulfillment::{Fulfillment, PackageStatus};
use crate::state::{InvalidTransition, Transition, transition};
use crate::{FulfillmentId, OrderId, PackageId, Timestamp};

/// The package of one fulfillment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Id.
    pub id: PackageId,
    /// Its fulfillment (one package per fulfillment).
    pub fulfillment_id: FulfillmentId,
    /// Its order.
    pub order_id: OrderId,
    /// Where it is.
    pub status: PackageStatus,
    /// The carrier's tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// Packed at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One package status change (creation included), as announced on `package.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChange {
    /// Status before; `None` on creation.
    pub from: Option<PackageStatus>,
    /// Status after.
    pub to: PackageStatus,
    /// When.
    pub at: Timestamp,
}

impl Package {
    /// A new package of `fulfillment`, `created`.
    #[must_use]
    pub fn pack(id: PackageId, fulfillment: &Fulfillment, at: Timestamp) -> (Self, PackageChange) {
        let package = Self {
            id,
            fulfillment_id: fulfillment.id.clone(),
            order_id: fulfillment.order_id.clone(),
            status: PackageStatus::Created,
            tracking_number: None,
            created_at: at,
            updated_at: at,
        };
        let change = PackageChange {
            from: None,
            to: PackageStatus::Created,
            at,
        };
        (package, change)
    }

    /// Hands the package to the carrier. `Ok(None)` when already shipped (the tracking number
    /// recorded first stays).
    ///
    /// # Errors
    /// [`InvalidTransition`] when it was already delivered.
    pub fn ship(
        &mut self,
        tracking_number: Option<&str>,
        at: Timestamp,
    ) -> Result<Option<PackageChange>, InvalidTransition> {
        match transition("package", &mut self.status, PackageStatus::Shipped)? {
            Transition::Unchanged(_) => Ok(None),
            Transition::Changed { from, to } => {
                if let Some(tracking) = tracking_number {
                    self.tracking_number = Some(tracking.to_owned());
                }
                self.updated_at = at;
                Ok(Some(PackageChange {
                    from: Some(from),
                    to,
                    at,
                }))
            }
        }
    }

    /// The event announcing `change`.
    #[must_use]
    pub fn status_changed_event(&self, change: &PackageChange) -> PackageStatusChangedEvent {
        PackageStatusChangedEvent {
            package_id: self.id.clone(),
            fulfillment_id: self.fulfillment_id.clone(),
            order_id: self.order_id.clone(),
            old_status: change.from,
            new_status: change.to,
            tracking_number: self.tracking_number.clone(),
            timestamp: change.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::{FulfillmentId, PicklistId};

    #[test]
    fn ship_records_tracking_once() {
        let new = Fulfillment::open(
            FulfillmentId::parse("ful-1").unwrap(),
            PicklistId::parse("pick-1").unwrap(),
            &samples::order_status_changed(),
            Timestamp::from_millis(0),
        );
        let (mut p, created) = Package::pack(
            PackageId::parse("pkg-1").unwrap(),
            &new.fulfillment,
            Timestamp::from_millis(1),
        );
        assert_eq!((created.from, created.to), (None, PackageStatus::Created));
        assert_eq!(p.order_id, new.fulfillment.order_id);
        let shipped = p
            .ship(Some("1Z1"), Timestamp::from_millis(2))
            .unwrap()
            .unwrap();
        assert_eq!(shipped.from, Some(PackageStatus::Created));
        let ev = p.status_changed_event(&shipped);
        assert_eq!(ev.tracking_number.as_deref(), Some("1Z1"));
        assert_eq!(ev.new_status, PackageStatus::Shipped);
        assert_eq!(p.ship(Some("1Z2"), Timestamp::from_millis(3)), Ok(None));
        assert_eq!(p.tracking_number.as_deref(), Some("1Z1"));
        assert_eq!(p.updated_at, Timestamp::from_millis(2));
        p.status = PackageStatus::Delivered;
        assert!(p.ship(None, Timestamp::from_millis(4)).is_err());
    }
}
