//! Lambda entry point of order-order-cleanup.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(order_order_cleanup::OrderOrderCleanup).await
}
