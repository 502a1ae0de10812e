//! Lambda entry point of warehouse-stock-change-detector.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(
        warehouse_stock_change_detector::WarehouseStockChangeDetector::default(),
    )
    .await
}
