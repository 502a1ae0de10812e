//! Lambda entry point of order-checkout-confirmation.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(order_checkout_confirmation::OrderCheckoutConfirmation::<
        notification_dispatch::LoggingSender,
    >::default())
    .await
}
