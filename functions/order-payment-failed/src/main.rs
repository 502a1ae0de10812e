//! Lambda entry point of order-payment-failed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(order_payment_failed::OrderPaymentFailed).await
}
