//! Lambda entry point of fulfillment-checkout-fulfillment.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(
        fulfillment_checkout_fulfillment::FulfillmentCheckoutFulfillment,
    )
    .await
}
