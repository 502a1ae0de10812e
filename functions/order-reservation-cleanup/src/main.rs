//! Lambda entry point of order-reservation-cleanup.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(order_reservation_cleanup::OrderReservationCleanup).await
}
