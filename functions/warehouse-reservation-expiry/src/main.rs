//! Lambda entry point of warehouse-reservation-expiry.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(
        warehouse_reservation_expiry::WarehouseReservationExpiry::default(),
    )
    .await
}
