//! Lambda entry point of conveyor-maintenance.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    let job = conveyor_maintenance::ConveyorMaintenance::from_env()?;
    conveyor_runtime::lambda::run_schedule(job).await
}
