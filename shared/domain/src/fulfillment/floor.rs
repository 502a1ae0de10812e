//! What a picklist report from the warehouse floor means for the picklist's fulfillment and
//! package: the one place that decides it, so the handler only loads, applies and saves.

use crate::events::fulfillment::{
    FulfillmentStatusChangedEvent, PackageStatusChangedEvent, PicklistStatusChangedEvent,
};
use crate::fulfillment::{
    Cancellation, Fulfillment, FulfillmentChange, FulfillmentStatus, Package, Picklist,
    PicklistStatus,
};
use crate::state::InvalidTransition;
use crate::{PackageId, PicklistId, Timestamp};

/// A fulfillment with its picklist and (once packed) its package: what one floor report
/// changes together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// The fulfillment.
    pub fulfillment: Fulfillment,
    /// Its picklist.
    pub picklist: Picklist,
    /// Its package, once packed.
    pub package: Option<Package>,
}

/// An announcement of the fulfillment service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulfillmentEvent {
    /// `fulfillment.status_changed`.
    Fulfillment(FulfillmentStatusChangedEvent),
    /// `package.status_changed`.
    Package(PackageStatusChangedEvent),
}

/// What one floor report changed, and the announcements, in the order things happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloorOutcome {
    /// The picklist moved; `false` for a repeated report, which changes nothing else either.
    pub picklist_changed: bool,
    /// The fulfillment moved (one or more steps).
    pub fulfillment_changed: bool,
    /// This report created the package.
    pub package_created: bool,
    /// A package that existed before changed.
    pub package_changed: bool,
    /// What to publish, in order.
    pub events: Vec<FulfillmentEvent>,
}

/// Why a floor report cannot be applied. Never transient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FloorReportError {
    /// The report names another fulfillment or order than the stored picklist.
    #[error("picklist {picklist} belongs to {field} {stored}, the floor reported {reported}")]
    Mismatch {
        /// The picklist.
        picklist: PicklistId,
        /// `fulfillment_id` or `order_id`.
        field: &'static str,
        /// What is stored.
        stored: String,
        /// What the floor reported.
        reported: String,
    },
    /// A move the picklist, fulfillment or package state machine forbids.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
}

/// The fulfillment status a picklist status implies; `None` for `pending` (nothing started).
#[must_use]
pub fn fulfillment_status_for(picklist: PicklistStatus) -> Option<FulfillmentStatus> {
    match picklist {
        PicklistStatus::Pending => None,
        PicklistStatus::InProgress => Some(FulfillmentStatus::Picking),
        PicklistStatus::Picked => Some(FulfillmentStatus::Picked),
        PicklistStatus::Packed => Some(FulfillmentStatus::Packed),
        PicklistStatus::Shipped => Some(FulfillmentStatus::Shipped),
        PicklistStatus::Cancelled => Some(FulfillmentStatus::Cancelled),
    }
}

impl Shipment {
    /// Applies a floor report: moves the picklist, then the fulfillment to the status the
    /// picklist implies. Packing creates the package (`new_package` is its id); shipping ships
    /// it with the report's tracking number, packing first when the floor skipped `packed`.
    /// A cancelled picklist cancels the fulfillment unless it has shipped.
    ///
    /// # Errors
    /// [`FloorReportError`]: ids that do not match the stored picklist, or a forbidden move.
    pub fn apply(
        &mut self,
        report: &PicklistStatusChangedEvent,
        new_package: PackageId,
        at: Timestamp,
    ) -> Result<FloorOutcome, FloorReportError> {
        self.picklist.check_report(report)?;
        let mut outcome = FloorOutcome::default();
        if !self.picklist.move_to(report.new_status, at)?.is_change() {
            return Ok(outcome);
        }
        outcome.picklist_changed = true;
        match fulfillment_status_for(report.new_status) {
            None => {}
            Some(FulfillmentStatus::Cancelled) => {
                let reason = format!(
                    "picklist {} cancelled on the warehouse floor",
                    self.picklist.id
                );
                if let Cancellation::Cancelled(change) = self.fulfillment.cancel(reason, at)? {
                    self.announce(&mut outcome, &change);
                }
            }
            Some(FulfillmentStatus::Shipped) => {
                self.advance(&mut outcome, FulfillmentStatus::Packed, at)?;
                self.ensure_package(&mut outcome, new_package, at);
                self.ship_package(&mut outcome, report.tracking_number.as_deref(), at)?;
                self.advance(&mut outcome, FulfillmentStatus::Shipped, at)?;
            }
            Some(FulfillmentStatus::Packed) => {
                self.advance(&mut outcome, FulfillmentStatus::Packed, at)?;
                self.ensure_package(&mut outcome, new_package, at);
            }
            Some(to) => self.advance(&mut outcome, to, at)?,
        }
        Ok(outcome)
    }

    /// Cancels the fulfillment and its picklist for a cancelled order, unless the goods have
    /// shipped ([`Cancellation::TooLate`]). The package, if packed, stays as it is.
    ///
    /// # Errors
    /// [`InvalidTransition`] when the picklist cannot be cancelled.
    pub fn cancel(
        &mut self,
        reason: impl Into<String>,
        at: Timestamp,
    ) -> Result<Cancellation, InvalidTransition> {
        let cancellation = self.fulfillment.cancel(reason, at)?;
        if matches!(cancellation, Cancellation::Cancelled(_)) {
            self.picklist.move_to(PicklistStatus::Cancelled, at)?;
        }
        Ok(cancellation)
    }

    fn advance(
        &mut self,
        outcome: &mut FloorOutcome,
        to: FulfillmentStatus,
        at: Timestamp,
    ) -> Result<(), InvalidTransition> {
        if let Some(change) = self.fulfillment.advance(to, at)? {
            self.announce(outcome, &change);
        }
        Ok(())
    }

    fn announce(&self, outcome: &mut FloorOutcome, change: &FulfillmentChange) {
        outcome.fulfillment_changed = true;
        outcome.events.push(FulfillmentEvent::Fulfillment(
            self.fulfillment.status_changed_event(change),
        ));
    }

    fn ensure_package(&mut self, outcome: &mut FloorOutcome, id: PackageId, at: Timestamp) {
        if self.package.is_none() {
            let (package, change) = Package::pack(id, &self.fulfillment, at);
            outcome.package_created = true;
            outcome.events.push(FulfillmentEvent::Package(
                package.status_changed_event(&change),
            ));
            self.package = Some(package);
        }
    }

    fn ship_package(
        &mut self,
        outcome: &mut FloorOutcome,
        tracking_number: Option<&str>,
        at: Timestamp,
    ) -> Result<(), InvalidTransition> {
        if let Some(package) = &mut self.package
            && let Some(change) = package.ship(tracking_number, at)?
        {
            outcome.package_changed |= !outcome.package_created;
            outcome.events.push(FulfillmentEvent::Package(
                package.status_changed_event(&change),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "floor_tests.rs"]
mod tests;
