//! Lambda entry point of fulfillment-picklist-status-changed.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(
        fulfillment_picklist_status_changed::FulfillmentPicklistStatusChanged,
    )
    .await
}
