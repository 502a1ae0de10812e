//! What the fulfillment service needs from storage. Implemented by the store's transaction
//! type, so every call is part of the handler's one transaction.

use std::future::Future;

use crate::fulfillment::{Fulfillment, Package, Picklist};
use crate::{FulfillmentId, OrderId, PicklistId};

/// Fulfillments, one per order.
pub trait FulfillmentRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inserts a new fulfillment together with its picklist. When the order already has a
    /// fulfillment (a repeated or second confirmation) nothing is written and `false` is
    /// returned; concurrent callers for one order serialise on the unique order id.
    ///
    /// # Errors
    /// The adapter's error; nothing was written.
    fn insert_fulfillment(
        &mut self,
        fulfillment: &Fulfillment,
        picklist: &Picklist,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Loads a fulfillment and locks it until the transaction ends.
    ///
    /// # Errors
    /// The adapter's error, or a stored row that does not decode.
    fn get_fulfillment_for_update(
        &mut self,
        id: &FulfillmentId,
    ) -> impl Future<Output = Result<Option<Fulfillment>, Self::Error>> + Send;

    /// Loads the fulfillment of an order and locks it until the transaction ends.
    ///
    /// # Errors
    /// As [`FulfillmentRepository::get_fulfillment_for_update`].
    fn get_fulfillment_of_order_for_update(
        &mut self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Option<Fulfillment>, Self::Error>> + Send;

    /// Persists the fulfillment's status, cancellation reason and update time.
    ///
    /// # Errors
    /// The adapter's error.
    fn save_fulfillment(
        &mut self,
        fulfillment: &Fulfillment,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Picklists, one per fulfillment (inserted with it).
pub trait PicklistRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Loads a picklist with its lines and locks it until the transaction ends.
    ///
    /// # Errors
    /// The adapter's error, or a stored row that does not decode.
    fn get_picklist_for_update(
        &mut self,
        id: &PicklistId,
    ) -> impl Future<Output = Result<Option<Picklist>, Self::Error>> + Send;

    /// Loads the picklist of a fulfillment with its lines and locks it.
    ///
    /// # Errors
    /// As [`PicklistRepository::get_picklist_for_update`].
    fn get_picklist_of_fulfillment_for_update(
        &mut self,
        fulfillment_id: &FulfillmentId,
    ) -> impl Future<Output = Result<Option<Picklist>, Self::Error>> + Send;

    /// Persists the picklist's status and update time (its lines never change).
    ///
    /// # Errors
    /// The adapter's error.
    fn save_picklist(
        &mut self,
        picklist: &Picklist,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Packages, at most one per fulfillment.
pub trait PackageRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inserts a new package. When the fulfillment already has one nothing is written and
    /// `false` is returned.
    ///
    /// # Errors
    /// The adapter's error.
    fn insert_package(
        &mut self,
        package: &Package,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The package of a fulfillment, locked until the transaction ends.
    ///
    /// # Errors
    /// The adapter's error, or a stored row that does not decode.
    fn get_package_of_fulfillment_for_update(
        &mut self,
        fulfillment_id: &FulfillmentId,
    ) -> impl Future<Output = Result<Option<Package>, Self::Error>> + Send;

    /// Persists the package's status, tracking number and update time.
    ///
    /// # Errors
    /// The adapter's error.
    fn save_package(
        &mut self,
        package: &Package,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
