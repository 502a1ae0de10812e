//! Picklists: what the warehouse floor picks for one fulfillment.

use crate::events::fulfillment::PicklistStatusChangedEvent;
use crate::events::order::OrderLine;
use crate::fulfillment::{FloorReportError, Fulfillment, PicklistStatus};
use crate::state::{InvalidTransition, Transition, transition};
use crate::{FulfillmentId, OrderId, PicklistId, ProductId, Quantity, Timestamp};

/// The picklist of one fulfillment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picklist {
    /// Id.
    pub id: PicklistId,
    /// Its fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its order.
    pub order_id: OrderId,
    /// Where it is, as last reported by the floor.
    pub status: PicklistStatus,
    /// What to pick, one line per order line.
    pub lines: Vec<PicklistLine>,
    /// Issued at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One line to pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PicklistLine {
    /// The product.
    pub product_id: ProductId,
    /// Units to pick.
    pub quantity: Quantity,
}

impl Picklist {
    /// A pending picklist for `fulfillment`, one line per order line.
    #[must_use]
    pub fn issue(
        id: PicklistId,
        fulfillment: &Fulfillment,
        items: &[OrderLine],
        at: Timestamp,
    ) -> Self {
        Self {
            id,
            fulfillment_id: fulfillment.id.clone(),
            order_id: fulfillment.order_id.clone(),
            status: PicklistStatus::Pending,
            lines: items
                .iter()
                .map(|l| PicklistLine {
                    product_id: l.product_id.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            created_at: at,
            updated_at: at,
        }
    }

    /// Checks that a floor report about this picklist names its fulfillment and order.
    ///
    /// # Errors
    /// [`FloorReportError::Mismatch`] naming the first field that differs.
    pub fn check_report(
        &self,
        report: &PicklistStatusChangedEvent,
    ) -> Result<(), FloorReportError> {
        let mismatch = |field, stored: &str, reported: &str| FloorReportError::Mismatch {
            picklist: self.id.clone(),
            field,
            stored: stored.to_owned(),
            reported: reported.to_owned(),
        };
        if report.fulfillment_id != self.fulfillment_id {
            return Err(mismatch(
                "fulfillment",
                self.fulfillment_id.as_str(),
                report.fulfillment_id.as_str(),
            ));
        }
        if report.order_id != self.order_id {
            return Err(mismatch(
                "order",
                self.order_id.as_str(),
                report.order_id.as_str(),
            ));
        }
        Ok(())
    }

    /// Moves to `to`.
    ///
    /// # Errors
    /// [`InvalidTransition`] when the state machine forbids it.
    pub fn move_to(
        &mut self,
        to: PicklistStatus,
        at: Timestamp,
    ) -> Result<Transition<PicklistStatus>, InvalidTransition> {
        let moved = transition("picklist", &mut self.status, to)?;
        if moved.is_change() {
            self.updated_at = at;
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;

    #[test]
    fn move_to_touches_only_on_change() {
        let new = Fulfillment::open(
            FulfillmentId::parse("ful-1").unwrap(),
            PicklistId::parse("pick-1").unwrap(),
            &samples::order_status_changed(),
            Timestamp::from_millis(0),
        );
        let mut p = new.picklist;
        assert_eq!(p.order_id.as_str(), samples::ORDER_ID);
        assert!(
            p.move_to(PicklistStatus::InProgress, Timestamp::from_millis(5))
                .unwrap()
                .is_change()
        );
        assert!(
            !p.move_to(PicklistStatus::InProgress, Timestamp::from_millis(6))
                .unwrap()
                .is_change()
        );
        assert_eq!(p.updated_at, Timestamp::from_millis(5));
        assert!(
            p.move_to(PicklistStatus::Pending, Timestamp::from_millis(7))
                .is_err()
        );
        assert_eq!(p.status, PicklistStatus::InProgress);
    }
}
