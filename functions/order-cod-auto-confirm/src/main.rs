//! Lambda entry point of order-cod-auto-confirm.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(order_cod_auto_confirm::OrderCodAutoConfirm).await
}
