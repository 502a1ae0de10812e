//! Lambda entry point of order-checkout-saga.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_orchestrator(order_checkout_saga::OrderCheckoutSaga::default())
        .await
}
