//! Lambda entry point of warehouse-return-completed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(warehouse_return_completed::WarehouseReturnCompleted).await
}
