//! Lambda entry point of fulfillment-order-status-changed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(
        fulfillment_order_status_changed::FulfillmentOrderStatusChanged,
    )
    .await
}
