//! What the warehouse service needs from storage. Implemented by the store's transaction type,
//! so every call is part of the handler's one transaction.
//!
//! Lock order, to keep concurrent handlers and jobs free of deadlocks: an order's reservations
//! first, then inventories in product order, then alerts. `claim_*` methods lock the rows they
//! return and skip rows another transaction holds, so overlapping job runs take disjoint rows;
//! they return at most `limit` rows (ask for one more than the batch to learn whether more
//! remain).

use std::future::Future;

use crate::warehouse::{
    Alert, Inventory, MovementKind, MovementSummary, Period, Product, Report, ReportKind,
    Reservation, StockMovement,
};
use crate::{AlertId, OrderId, ProductId, Timestamp};

/// The error type every warehouse repository shares.
pub trait WarehouseStorage {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;
}

/// Products and their stock levels.
pub trait InventoryRepository: WarehouseStorage {
    /// Inserts a product with its inventory; `false` (and no change) when the product exists.
    fn insert_product(
        &mut self,
        product: &Product,
        inventory: &Inventory,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// A product.
    fn product(
        &mut self,
        id: &ProductId,
    ) -> impl Future<Output = Result<Option<Product>, Self::Error>> + Send;

    /// A product's inventory, locked until the transaction ends.
    fn inventory_for_update(
        &mut self,
        id: &ProductId,
    ) -> impl Future<Output = Result<Option<Inventory>, Self::Error>> + Send;

    /// Stores the levels, version and published version of an inventory.
    fn save_inventory(
        &mut self,
        inventory: &Inventory,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Claims inventories changed since their last announcement, by product.
    fn claim_unpublished_inventory(
        &mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Inventory>, Self::Error>> + Send;

    /// Claims inventories at or below their threshold that have no open low-stock alert, by
    /// product.
    fn claim_low_stock_without_alert(
        &mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Inventory>, Self::Error>> + Send;
}

/// Stock reservations.
pub trait ReservationRepository: WarehouseStorage {
    /// Inserts a reservation; `false` (and no change) when the order already has one for the
    /// product.
    fn insert_reservation(
        &mut self,
        reservation: &Reservation,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Every reservation of an order (any status), by product, locked until the transaction
    /// ends.
    fn order_reservations_for_update(
        &mut self,
        order: &OrderId,
    ) -> impl Future<Output = Result<Vec<Reservation>, Self::Error>> + Send;

    /// Stores a reservation's status, expiry, warning time and update time.
    fn save_reservation(
        &mut self,
        reservation: &Reservation,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Claims active reservations whose expiry is at or before `now`, oldest expiry first.
    fn claim_due_reservations(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Reservation>, Self::Error>> + Send;

    /// Claims active, not yet warned reservations expiring after `now` and at or before
    /// `until`, soonest first.
    fn claim_expiring_reservations(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Reservation>, Self::Error>> + Send;
}

/// The stock ledger.
pub trait MovementLog: WarehouseStorage {
    /// Appends a movement.
    fn record_movement(
        &mut self,
        movement: &StockMovement,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Whether a movement of `kind` for `product` with `reference` exists.
    fn has_movement(
        &mut self,
        product: &ProductId,
        kind: MovementKind,
        reference: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// A product's movements, oldest first.
    fn product_movements(
        &mut self,
        product: &ProductId,
    ) -> impl Future<Output = Result<Vec<StockMovement>, Self::Error>> + Send;

    /// Movements in `period` grouped by product and kind, sorted by both.
    fn summarise_movements(
        &mut self,
        period: Period,
    ) -> impl Future<Output = Result<Vec<MovementSummary>, Self::Error>> + Send;
}

/// Warehouse alerts.
pub trait AlertRepository: WarehouseStorage {
    /// Inserts an open alert; `false` (and no change) when the product already has an open
    /// alert of that kind.
    fn open_alert(
        &mut self,
        alert: &Alert,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Stores an alert's status and resolution time.
    fn save_alert(&mut self, alert: &Alert)
    -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// A product's alerts, oldest first.
    fn product_alerts(
        &mut self,
        product: &ProductId,
    ) -> impl Future<Output = Result<Vec<Alert>, Self::Error>> + Send;

    /// Claims open alerts whose product's available stock is back above its threshold.
    fn claim_recovered_alerts(
        &mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Alert>, Self::Error>> + Send;

    /// Claims resolved alerts resolved before `before`, oldest first.
    fn claim_resolved_alerts_before(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AlertId>, Self::Error>> + Send;

    /// Deletes alerts; returns how many existed.
    fn delete_alerts(
        &mut self,
        ids: &[AlertId],
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send;
}

/// Stock reports.
pub trait ReportRepository: WarehouseStorage {
    /// Inserts a report; `false` (and no change) when one of its kind and period start exists.
    fn insert_report(
        &mut self,
        report: &Report,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The report of a kind and period start.
    fn report(
        &mut self,
        kind: ReportKind,
        period_start: Timestamp,
    ) -> impl Future<Output = Result<Option<Report>, Self::Error>> + Send;
}

/// Every warehouse repository at once (what the stock operations need).
pub trait WarehouseRepository:
    InventoryRepository + ReservationRepository + MovementLog + AlertRepository + ReportRepository
{
}

impl<T> WarehouseRepository for T where
    T: InventoryRepository
        + ReservationRepository
        + MovementLog
        + AlertRepository
        + ReportRepository
{
}
