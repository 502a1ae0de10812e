//! The fulfillment service's domain: fulfillments, picklists, packages.
//!
//! An order that may be fulfilled opens one fulfillment with a picklist; the warehouse floor
//! reports picklist progress, and [`Shipment::apply`] decides what each report means for the
//! fulfillment and its package.
//!
//! # Layout
//! - [`crate::status::fulfillment`] — the three state machines (re-exported here)
//! - `aggregate` — [`Fulfillment`] and what an order status change asks of it
//! - `picklist`, `package` — [`Picklist`], [`Package`]
//! - `floor` — [`Shipment`]: a floor report applied to all three
//! - `ports` — the repositories the store implements
//! - `locked` — an order's shipment loaded for a change, in the lock order

mod aggregate;
mod floor;
mod locked;
mod package;
mod picklist;
mod ports;

pub use crate::status::fulfillment::{FulfillmentStatus, PackageStatus, PicklistStatus};
pub use aggregate::{Cancellation, Fulfillment, FulfillmentChange, NewFulfillment, OrderReaction};
pub use floor::{
    FloorOutcome, FloorReportError, FulfillmentEvent, Shipment, fulfillment_status_for,
};
pub use locked::{LoadShipmentError, shipment_of_order_for_update};
pub use package::{Package, PackageChange};
pub use picklist::{Picklist, PicklistLine};
pub use ports::{FulfillmentRepository, PackageRepository, PicklistRepository};
