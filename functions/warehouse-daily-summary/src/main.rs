//! Lambda entry point of warehouse-daily-summary.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(warehouse_daily_summary::WarehouseDailySummary).await
}
