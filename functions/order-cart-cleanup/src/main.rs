//! Lambda entry point of order-cart-cleanup.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(order_cart_cleanup::OrderCartCleanup).await
}
