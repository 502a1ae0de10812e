//! Lambda entry point of warehouse-order-status-changed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(warehouse_order_status_changed::WarehouseOrderStatusChanged)
        .await
}
