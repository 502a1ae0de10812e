//! # fulfillment-picklist-status-changed
//!
//! - **Trigger**: topic `picklist.status_changed`; payload [`PicklistStatusChangedEvent`]
//!   (reported by the warehouse floor). Ordered by `order_id`.
//! - **Effect**: the picklist moves to the reported status and its fulfillment follows
//!   (`in_progress` -> picking, `picked` -> picked, `packed` -> packed with a new package,
//!   `shipped` -> the package ships with the tracking number (packed first if the floor skipped
//!   `packed`) and the fulfillment ships, `cancelled` -> cancelled unless shipped). Publishes
//!   `fulfillment.status_changed` for every fulfillment change and `package.status_changed`
//!   for every package change, in the order they happened.
//! - **Idempotency**: the inbox row (function, event id); a repeated report of the current
//!   picklist status is a state-machine no-op that publishes nothing.
//! - **Retryable**: an unknown picklist (its fulfillment may not be created yet), database
//!   errors.
//! - **Dropped**: an invalid payload, a report whose fulfillment or order differs from the
//!   stored picklist's, a move the state machines forbid (backwards, after cancellation), a
//!   stored picklist whose fulfillment is missing (corrupt data).

use std::sync::Arc;

use conveyor_domain::events::fulfillment::{PICKLIST_STATUS_CHANGED, PicklistStatusChangedEvent};
use conveyor_domain::fulfillment::{
    FulfillmentEvent, FulfillmentRepository, PackageRepository, PicklistRepository, Shipment,
};
use conveyor_domain::{FulfillmentId, PackageId, PicklistId};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct FulfillmentPicklistStatusChanged;

/// The picklist named by a report does not exist (yet).
#[derive(Debug, thiserror::Error)]
#[error("picklist {0} not found")]
pub struct UnknownPicklist(pub PicklistId);

/// A stored picklist's fulfillment is not there. The picklist references it, so the data is
/// inconsistent and no retry can repair it.
#[derive(Debug, thiserror::Error)]
#[error("picklist {picklist} has no fulfillment {fulfillment}")]
pub struct MissingFulfillment {
    /// The stored picklist.
    pub picklist: PicklistId,
    /// The fulfillment it references.
    pub fulfillment: FulfillmentId,
}

impl TopicHandler for FulfillmentPicklistStatusChanged {
    type Payload = PicklistStatusChangedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "fulfillment-picklist-status-changed",
        Service::Fulfillment,
        &[PICKLIST_STATUS_CHANGED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        report: PicklistStatusChangedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let mut shipment = load(&report, cx).await?;
        let outcome = shipment
            .apply(&report, PackageId::generate(), cx.now())
            .map_err(HandlerError::drop)?;
        if !outcome.picklist_changed {
            return Ok(());
        }
        let tx = cx.tx()?;
        tx.save_picklist(&shipment.picklist).await?;
        if outcome.fulfillment_changed {
            tx.save_fulfillment(&shipment.fulfillment).await?;
        }
        if let Some(package) = &shipment.package {
            if outcome.package_created {
                tx.insert_package(package).await?;
            } else if outcome.package_changed {
                tx.save_package(package).await?;
            }
        }
        for event in &outcome.events {
            match event {
                FulfillmentEvent::Fulfillment(e) => cx.publish(e)?,
                FulfillmentEvent::Package(e) => cx.publish(e)?,
            }
        }
        Ok(())
    }
}

/// Loads and locks what the report names, in the one lock order every fulfillment handler
/// uses (fulfillment, picklist, package), so concurrent handlers of one order cannot deadlock.
async fn load(
    report: &PicklistStatusChangedEvent,
    cx: &mut Context<'_>,
) -> Result<Shipment, HandlerError> {
    let tx = cx.tx()?;
    let fulfillment = tx
        .get_fulfillment_for_update(&report.fulfillment_id)
        .await?;
    let Some(picklist) = tx.get_picklist_for_update(&report.picklist_id).await? else {
        return Err(HandlerError::retry(UnknownPicklist(
            report.picklist_id.clone(),
        )));
    };
    picklist.check_report(report).map_err(HandlerError::drop)?;
    // The picklist references its fulfillment, so with matching ids it is there.
    let Some(fulfillment) = fulfillment else {
        return Err(HandlerError::drop(MissingFulfillment {
            picklist: picklist.id,
            fulfillment: picklist.fulfillment_id,
        }));
    };
    let package = tx
        .get_package_of_fulfillment_for_update(&fulfillment.id)
        .await?;
    Ok(Shipment {
        fulfillment,
        picklist,
        package,
    })
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(FulfillmentPicklistStatusChanged)
}
