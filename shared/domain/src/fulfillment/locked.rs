//! An order's shipment loaded for a change: the fulfillment, its picklist and its package,
//! locked in the order every writer takes them (fulfillment, picklist, package), so two
//! handlers changing one order serialise instead of deadlocking.

use crate::fulfillment::{FulfillmentRepository, PackageRepository, PicklistRepository, Shipment};
use crate::{FulfillmentId, OrderId};

/// Why an order's shipment could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadShipmentError<E> {
    /// The storage failed.
    #[error(transparent)]
    Store(E),
    /// A stored fulfillment has no picklist. Both are written in one transaction, so the data
    /// is inconsistent and no retry can repair it.
    #[error("fulfillment {0} has no picklist")]
    MissingPicklist(FulfillmentId),
}

/// The shipment of `order`, locked until the transaction ends; `None` when the order has no
/// fulfillment.
///
/// # Errors
/// [`LoadShipmentError`].
pub async fn shipment_of_order_for_update<R, E>(
    repo: &mut R,
    order: &OrderId,
) -> Result<Option<Shipment>, LoadShipmentError<E>>
where
    R: FulfillmentRepository<Error = E>
        + PicklistRepository<Error = E>
        + PackageRepository<Error = E>
        + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let Some(fulfillment) = repo
        .get_fulfillment_of_order_for_update(order)
        .await
        .map_err(LoadShipmentError::Store)?
    else {
        return Ok(None);
    };
    let Some(picklist) = repo
        .get_picklist_of_fulfillment_for_update(&fulfillment.id)
        .await
        .map_err(LoadShipmentError::Store)?
    else {
        return Err(LoadShipmentError::MissingPicklist(fulfillment.id));
    };
    let package = repo
        .get_package_of_fulfillment_for_update(&fulfillment.id)
        .await
        .map_err(LoadShipmentError::Store)?;
    Ok(Some(Shipment {
        fulfillment,
        picklist,
        package,
    }))
}
