//! # warehouse-product-created
//!
//! - **Trigger**: topic `product.created`; payload [`ProductCreatedEvent`].
//! - **Effect**: the product and its inventory are created with `initial_stock` on hand,
//!   nothing reserved, and the event's low-stock threshold (or
//!   [`DEFAULT_LOW_STOCK_THRESHOLD`](conveyor_domain::warehouse::DEFAULT_LOW_STOCK_THRESHOLD));
//!   an `init` movement is recorded; publishes `warehouse.inventory.updated`.
//! - **Idempotency**: the inbox row (function, event id); beyond it, the product id: a product
//!   that already exists is left as it is and nothing is published.
//! - **Retryable**: database errors.
//! - **Dropped**: an invalid payload (blank name).

use std::sync::Arc;

use conveyor_domain::events::catalog::{PRODUCT_CREATED, ProductCreatedEvent};
use conveyor_domain::warehouse::operations;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};

/// The function.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarehouseProductCreated;

impl TopicHandler for WarehouseProductCreated {
    type Payload = ProductCreatedEvent;

    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "warehouse-product-created",
        Service::Warehouse,
        &[PRODUCT_CREATED],
    );

    async fn handle(
        &self,
        product: ProductCreatedEvent,
        cx: &mut Context<'_>,
    ) -> Result<(), HandlerError> {
        let now = cx.now();
        for event in &operations::create_product(cx.tx()?, &product, now).await? {
            cx.publish(event)?;
        }
        Ok(())
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::topic(WarehouseProductCreated)
}
