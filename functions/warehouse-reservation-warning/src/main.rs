//! Lambda entry point of warehouse-reservation-warning.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    conveyor_runtime::lambda::run_schedule(
        warehouse_reservation_warning::WarehouseReservationWarning::default(),
    )
    .await
}
