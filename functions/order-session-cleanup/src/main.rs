//! Lambda entry point of order-session-cleanup.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(order_session_cleanup::OrderSessionCleanup).await
}
