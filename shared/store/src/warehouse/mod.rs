//! The warehouse service's tables: products, inventory, reservations, stock movements, alerts,
//! reports.
//!
//! # Layout
//! - `inventory` — [`InventoryRepository`](conveyor_domain::warehouse::InventoryRepository)
//! - `reservations` — [`ReservationRepository`](conveyor_domain::warehouse::ReservationRepository)
//! - `movements` — [`MovementLog`](conveyor_domain::warehouse::MovementLog)
//! - `alerts` — [`AlertRepository`](conveyor_domain::warehouse::AlertRepository)
//! - `reports` — [`ReportRepository`](conveyor_domain::warehouse::ReportRepository)

mod alerts;
mod inventory;
mod movements;
mod reports;
mod reservations;

use conveyor_domain::warehouse::WarehouseStorage;

use crate::{StoreError, Tx};

impl WarehouseStorage for Tx {
    type Error = StoreError;
}

use crate::sql::{placeholders, sql_limit};
