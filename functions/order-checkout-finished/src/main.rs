//! Lambda entry point of order-checkout-finished.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(order_checkout_finished::OrderCheckoutFinished).await
}
