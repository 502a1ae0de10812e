//! Lambda entry point of warehouse-checkout-inventory.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_topic(warehouse_checkout_inventory::WarehouseCheckoutInventory)
        .await
}
