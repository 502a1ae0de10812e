//! # warehouse-return-completed
//!
//! - **Trigger**: topics `order.return.completed` and its older name `return.completed`;
//!   payload [`ReturnCompletedEvent`].
//! - **Effect**: each returned line's units go back on hand (lines naming a product twice are
//!   summed), a `return` movement referencing the return id is recorded; publishes
//!   `warehouse.inventory.updated` per product.
//! - **Idempotency**: the inbox row (function, event id); beyond it, the return id: a product
//!   that already has a `return` movement for this return is skipped, so a return announced
//!   under both topic names restores stock once.
//! - **Retryable**: a product without inventory (its `product.created` may not have arrived;
//!   nothing is restored until every product is known), database errors.
//! - **Dropped**: an invalid payload (no lines, a zero quantity); a level that would overflow.

use std::sync::Arc;

use conveyor_domain::events::returns::{
    ORDER_RETURN_COMPLETED, RETURN_COMPLETED_LEGACY, ReturnCompletedEvent,
};
use conveyor_domain::warehouse::operations;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarehouseReturnCompleted;

impl TopicHandler for WarehouseReturnCompleted {
    type Payload = ReturnCompletedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "warehouse-return-completed",
        Service::Warehouse,
        &[ORDER_RETURN_COMPLETED, RETURN_COMPLETED_LEGACY],
    );

    async fn handle(
        &self,
        ret: ReturnCompletedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let now = cx.now();
        let events = operations::restore_return(cx.tx()?, &ret.return_id, &ret.items, now)
            .await?
            .map_err(|e| {
                if e.is_retryable() {
                    HandlerError::retry(e)
                } else {
                    HandlerError::drop(e)
                }
            })?;
        for event in &events {
            cx.publish(event)?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(WarehouseReturnCompleted)
}
