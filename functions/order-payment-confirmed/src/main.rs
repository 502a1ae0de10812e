//! Lambda entry point of order-payment-confirmed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(order_payment_confirmed::OrderPaymentConfirmed).await
}
