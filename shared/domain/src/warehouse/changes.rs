//! The result of a stock operation before it is stored: rows to write and events to publish,
//! applied all together or not at all.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ProductId;
use crate::events::DomainEvent;
use crate::events::warehouse::{InventoryUpdatedEvent, LowStockEvent, ReservationEvent};
use crate::warehouse::{Inventory, Reservation, StockMovement};

/// Inventories an operation works on, locked and keyed (so visited in a stable order).
pub type Inventories = BTreeMap<ProductId, Inventory>;

/// An event the warehouse publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum WarehouseEvent {
    /// `warehouse.reservation.*`.
    Reservation(ReservationEvent),
    /// `warehouse.inventory.updated`.
    Inventory(InventoryUpdatedEvent),
    /// `warehouse.inventory.low_stock`.
    LowStock(LowStockEvent),
}

impl DomainEvent for WarehouseEvent {
    fn topic(&self) -> &'static str {
        match self {
            Self::Reservation(e) => e.topic(),
            Self::Inventory(e) => e.topic(),
            Self::LowStock(e) => e.topic(),
        }
    }
}

/// What one operation changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockChanges {
    /// Reservations to insert.
    pub new_reservations: Vec<Reservation>,
    /// Reservations whose status (or warning) changed.
    pub reservations: Vec<Reservation>,
    /// Inventories whose levels changed (already marked as announced by `events`).
    pub inventories: Vec<Inventory>,
    /// Ledger entries.
    pub movements: Vec<StockMovement>,
    /// Events to publish, in order.
    pub events: Vec<WarehouseEvent>,
}

impl StockChanges {
    /// Whether nothing changes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.new_reservations.is_empty()
            && self.reservations.is_empty()
            && self.inventories.is_empty()
            && self.movements.is_empty()
            && self.events.is_empty()
    }

    /// Takes the touched inventories out of `stock`, marks them announced and adds one
    /// `warehouse.inventory.updated` each, after the events already staged.
    pub(crate) fn announce(
        &mut self,
        stock: &mut Inventories,
        touched: impl IntoIterator<Item = ProductId>,
        reason: &str,
        at: crate::Timestamp,
    ) {
        for product in touched {
            if let Some(mut inventory) = stock.remove(&product) {
                inventory.mark_published();
                self.events.push(WarehouseEvent::Inventory(
                    inventory.updated_event(reason, at),
                ));
                self.inventories.push(inventory);
            }
        }
    }
}

/// What one bounded run of a job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Rows handled.
    pub processed: u64,
    /// The run stopped at its limit; more rows wait for the next run.
    pub more: bool,
    /// Events to publish.
    pub events: Vec<WarehouseEvent>,
}

impl Batch {
    /// Combines the outcome of two steps of one run.
    #[must_use]
    pub fn and(mut self, other: Self) -> Self {
        self.processed += other.processed;
        self.more |= other.more;
        self.events.extend(other.events);
        self
    }
}

/// Splits rows claimed with a limit of `limit + 1` into the batch to handle and whether more
/// remain.
#[must_use]
pub fn take_batch<T>(mut rows: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::events::warehouse::{INVENTORY_UPDATED, RESERVATION_EXPIRING, ReservationEventKind};

    #[test]
    fn events_keep_their_topic_and_wire_shape() {
        let r = WarehouseEvent::Reservation(samples::reservation(ReservationEventKind::Expiring));
        assert_eq!(r.topic(), RESERVATION_EXPIRING);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::to_value(samples::reservation(ReservationEventKind::Expiring)).unwrap()
        );
        let i = WarehouseEvent::Inventory(samples::inventory_updated());
        assert_eq!(i.topic(), INVENTORY_UPDATED);
    }

    #[test]
    fn batches_know_when_more_remain() {
        assert_eq!(take_batch(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(take_batch(vec![1, 2], 2), (vec![1, 2], false));
        let a = Batch {
            processed: 2,
            more: false,
            events: vec![],
        };
        let b = Batch {
            processed: 1,
            more: true,
            events: vec![],
        };
        assert_eq!(
            a.and(b),
            Batch {
                processed: 3,
                more: true,
                events: vec![]
            }
        );
        assert!(StockChanges::default().is_empty());
    }
}
