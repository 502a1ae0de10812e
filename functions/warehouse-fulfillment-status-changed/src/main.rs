//! Lambda entry point of warehouse-fulfillment-status-changed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(
        warehouse_fulfillment_status_changed::WarehouseFulfillmentStatusChanged,
    )
    .await
}
