//! Lambda entry point of warehouse-product-created.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(warehouse_product_created::WarehouseProductCreated).await
}
