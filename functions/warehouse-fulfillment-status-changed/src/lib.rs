//! # warehouse-fulfillment-status-changed
//!
//! - **Trigger**: topic `fulfillment.status_changed`, ordered by `order_id`; payload
//!   [`FulfillmentStatusChangedEvent`].
//! - **Effect**: `created` -> the order's active reservations are confirmed; publishes
//!   `warehouse.reservation.confirmed` for each one that changed. `shipped` -> the held units
//!   leave the warehouse: active and confirmed reservations become `fulfilled`, `on_hand` and
//!   `reserved` drop by their quantity, a `deduct` movement is recorded; publishes
//!   `warehouse.inventory.updated` per product. `cancelled` -> active and confirmed
//!   reservations are released; publishes `warehouse.reservation.released` and
//!   `warehouse.inventory.updated`. Other statuses change nothing.
//! - **Idempotency**: the inbox row (function, event id); beyond it, the reservation state
//!   machine: reservations already confirmed, fulfilled or released are left alone, so a
//!   repeated status publishes nothing.
//! - **Retryable**: database errors.
//! - **Dropped**: an invalid payload; stored levels that cannot take the change (fewer units
//!   reserved or on hand than the reservations hold).

use std::sync::Arc;

use conveyor_domain::events::fulfillment::{
    FULFILLMENT_STATUS_CHANGED, FulfillmentStatusChangedEvent,
};
use conveyor_domain::warehouse::{Settlement, StockAction, fulfillment_action, operations};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarehouseFulfillmentStatusChanged;

impl TopicHandler for WarehouseFulfillmentStatusChanged {
    type Payload = FulfillmentStatusChangedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "warehouse-fulfillment-status-changed",
        Service::Warehouse,
        &[FULFILLMENT_STATUS_CHANGED],
    )
    .ordered_by("order_id");

    async fn handle(
        &self,
        event: FulfillmentStatusChangedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let settlement = match fulfillment_action(&event) {
            StockAction::Confirm => Settlement::Confirm,
            StockAction::Deduct => Settlement::Fulfil,
            StockAction::Release(why) => Settlement::Release(why),
            StockAction::Reserve(..) | StockAction::Secure(_) | StockAction::Ignore => {
                return Ok(());
            }
        };
        let now = cx.now();
        let events = operations::settle_order(cx.tx()?, &event.order_id, settlement, now)
            .await?
            .map_err(HandlerError::drop)?;
        for event in &events {
            cx.publish(event)?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(WarehouseFulfillmentStatusChanged)
}
