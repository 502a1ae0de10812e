//! Lambda entry point of warehouse-alert-cleanup.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(warehouse_alert_cleanup::WarehouseAlertCleanup::default()).await
}
