//! The warehouse service's domain: inventory, reservations, stock movements, alerts, reports.
//!
//! # Layout
//! - [`inventory`], [`reservation`], [`movement`], [`alert`], [`report`]: the records and
//!   their rules; [`ReservationStatus`] is the reservation state machine
//! - [`error`] — [`StockError`], why an operation cannot be applied
//! - [`signals`] — what order and fulfillment events ask of the warehouse
//! - [`plan`] — the stock operations as pure functions over locked rows; [`secure`] — a paid
//!   order's stock confirmed or held again
//! - [`changes`] — what an operation changes and publishes
//! - [`ports`] — the repositories the store implements
//! - [`operations`], [`sweeps`]: the operations over the ports, as the topic functions and
//!   the jobs call them

pub mod alert;
pub mod changes;
pub mod error;
pub mod inventory;
pub mod movement;
pub mod operations;
pub mod plan;
pub mod ports;
pub mod report;
pub mod reservation;
pub mod secure;
pub mod signals;
pub mod sweeps;

pub use crate::status::warehouse::ReservationStatus;
pub use alert::{ALERT_RETENTION_DAYS, Alert, AlertKind, AlertStatus, retention_cutoff};
pub use changes::{Batch, Inventories, StockChanges, WarehouseEvent, take_batch};
pub use error::StockError;
pub use inventory::{DEFAULT_LOW_STOCK_THRESHOLD, Inventory, Product};
pub use movement::{MovementKind, MovementSummary, StockMovement};
pub use plan::Settlement;
pub use ports::{
    AlertRepository, InventoryRepository, MovementLog, ReportRepository, ReservationRepository,
    WarehouseRepository, WarehouseStorage,
};
pub use report::{Period, Report, ReportBody, ReportKind};
pub use reservation::{
    COD_RESERVATION_TTL_DAYS, EXPIRY_WARNING_MINUTES, RESERVATION_TTL_MINUTES, Reservation,
    hold_expiry,
};
pub use signals::{OrderStockEvent, StockAction, fulfillment_action};
