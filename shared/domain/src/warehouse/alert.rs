//! Warehouse alerts: a product running low on stock, raised once and resolved when it recovers.

use crate::events::warehouse::LowStockEvent;
use crate::state::status_names;
use crate::warehouse::Inventory;
use crate::{AlertId, ProductId, Quantity, Timestamp};

/// How long resolved alerts are kept before the cleanup deletes them.
pub const ALERT_RETENTION_DAYS: i64 = 30;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// Available stock at or below the product's threshold.
    LowStock,
}

status_names!(AlertKind {
    LowStock => "low_stock",
});

/// Whether an alert still stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// Raised; at most one open alert per product and kind.
    Open,
    /// The condition cleared.
    Resolved,
}

status_names!(AlertStatus {
    Open => "open",
    Resolved => "resolved",
});

/// An alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Id.
    pub id: AlertId,
    /// The product.
    pub product_id: ProductId,
    /// What about.
    pub kind: AlertKind,
    /// Open or resolved.
    pub status: AlertStatus,
    /// Units available when raised.
    pub available: Quantity,
    /// The threshold when raised.
    pub threshold: Quantity,
    /// Raised at.
    pub created_at: Timestamp,
    /// Resolved at.
    pub resolved_at: Option<Timestamp>,
}

impl Alert {
    /// A new open low-stock alert for `inventory`, or `None` when it is not low.
    #[must_use]
    pub fn low_stock(inventory: &Inventory, now: Timestamp) -> Option<Self> {
        inventory.is_low().then(|| Self {
            id: AlertId::generate(),
            product_id: inventory.product_id.clone(),
            kind: AlertKind::LowStock,
            status: AlertStatus::Open,
            available: inventory.available(),
            threshold: inventory.low_stock_threshold,
            created_at: now,
            resolved_at: None,
        })
    }

    /// Resolves it; `false` when already resolved.
    pub fn resolve(&mut self, at: Timestamp) -> bool {
        if self.status == AlertStatus::Resolved {
            return false;
        }
        self.status = AlertStatus::Resolved;
        self.resolved_at = Some(at);
        true
    }

    /// The announcement of a low-stock alert.
    #[must_use]
    pub fn low_stock_event(&self) -> LowStockEvent {
        LowStockEvent {
            alert_id: self.id.clone(),
            product_id: self.product_id.clone(),
            available: self.available,
            threshold: self.threshold,
            timestamp: self.created_at,
        }
    }
}

/// Resolved alerts resolved before this instant are past retention.
#[must_use]
pub fn retention_cutoff(now: Timestamp) -> Timestamp {
    now.sub_days(ALERT_RETENTION_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raised_only_when_low_and_resolved_once() {
        let mut inv = Inventory::new(
            ProductId::parse("sku-tee").unwrap(),
            Quantity::new(6),
            Quantity::new(5),
            Timestamp::from_millis(0),
        );
        assert!(Alert::low_stock(&inv, Timestamp::from_millis(1)).is_none());
        inv.reserve(Quantity::new(1), Timestamp::from_millis(1))
            .unwrap();
        let mut alert = Alert::low_stock(&inv, Timestamp::from_millis(2)).unwrap();
        let ev = alert.low_stock_event();
        assert_eq!((ev.available.get(), ev.threshold.get()), (5, 5));
        assert!(alert.resolve(Timestamp::from_millis(3)));
        assert!(!alert.resolve(Timestamp::from_millis(4)));
        assert_eq!(alert.resolved_at, Some(Timestamp::from_millis(3)));
        assert_eq!(
            retention_cutoff(Timestamp::from_millis(31 * 86_400_000)),
            Timestamp::from_millis(86_400_000)
        );
    }
}
