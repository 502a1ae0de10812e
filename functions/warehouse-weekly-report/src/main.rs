//! Lambda entry point of warehouse-weekly-report.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(warehouse_weekly_report::WarehouseWeeklyReport).await
}
