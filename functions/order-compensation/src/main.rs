//! Lambda entry point of order-compensation.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(order_compensation::OrderCompensation).await
}
