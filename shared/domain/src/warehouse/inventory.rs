//! Products and their stock levels: on-hand units, units held by reservations, and the rules
//! that keep `available = on_hand - reserved` from ever going negative.

use crate::events::warehouse::InventoryUpdatedEvent;
use crate::warehouse::StockError;
use crate::{ProductId, Quantity, Timestamp};

/// Low-stock threshold of a product whose `product.created` event names none.
pub const DEFAULT_LOW_STOCK_THRESHOLD: Quantity = Quantity::new(10);

/// A product the warehouse stocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Id (the SKU).
    pub id: ProductId,
    /// Display name.
    pub name: String,
    /// When the catalog announced it.
    pub created_at: Timestamp,
}

/// Stock levels of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The product.
    pub product_id: ProductId,
    /// Units physically in the warehouse.
    pub on_hand: Quantity,
    /// Units held by active or confirmed reservations (never above `on_hand`).
    pub reserved: Quantity,
    /// Available level at or below which the product is low on stock.
    pub low_stock_threshold: Quantity,
    /// Bumped by every change of the levels.
    pub version: i64,
    /// The version last announced with `warehouse.inventory.updated`.
    pub published_version: i64,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Inventory {
    /// A new product's inventory: `on_hand` units, nothing reserved, announced (its creation
    /// publishes the first update).
    #[must_use]
    pub fn new(
        product_id: ProductId,
        on_hand: Quantity,
        low_stock_threshold: Quantity,
        at: Timestamp,
    ) -> Self {
        Self {
            product_id,
            on_hand,
            reserved: Quantity::ZERO,
            low_stock_threshold,
            version: 1,
            published_version: 1,
            updated_at: at,
        }
    }

    /// `on_hand - reserved`.
    #[must_use]
    pub fn available(&self) -> Quantity {
        self.on_hand.saturating_sub(self.reserved)
    }

    /// Whether available stock is at or below the threshold.
    #[must_use]
    pub fn is_low(&self) -> bool {
        self.available() <= self.low_stock_threshold
    }

    /// Whether the current levels were announced.
    #[must_use]
    pub fn is_published(&self) -> bool {
        self.version == self.published_version
    }

    /// Records that the current levels were announced.
    pub fn mark_published(&mut self) {
        self.published_version = self.version;
    }

    fn changed(&mut self, at: Timestamp) {
        self.version += 1;
        self.updated_at = at;
    }

    fn inconsistent(&self, reason: String) -> StockError {
        StockError::Inconsistent {
            product_id: self.product_id.clone(),
            reason,
        }
    }

    /// Holds `quantity` units for a reservation.
    ///
    /// # Errors
    /// [`StockError::InsufficientStock`] when fewer units are available.
    pub fn reserve(&mut self, quantity: Quantity, at: Timestamp) -> Result<(), StockError> {
        if self.available() < quantity {
            return Err(StockError::InsufficientStock {
                product_id: self.product_id.clone(),
                requested: quantity,
                available: self.available(),
            });
        }
        self.reserved = self
            .reserved
            .checked_add(quantity)
            .ok_or_else(|| StockError::Overflow(self.product_id.clone()))?;
        self.changed(at);
        Ok(())
    }

    /// Gives back `quantity` held units (released or expired reservation).
    ///
    /// # Errors
    /// [`StockError::Inconsistent`] when fewer units are held.
    pub fn release(&mut self, quantity: Quantity, at: Timestamp) -> Result<(), StockError> {
        self.reserved = self.reserved.checked_sub(quantity).ok_or_else(|| {
            self.inconsistent(format!(
                "release of {quantity} with {} reserved",
                self.reserved
            ))
        })?;
        self.changed(at);
        Ok(())
    }

    /// Ships `quantity` held units: they leave both `reserved` and `on_hand`.
    ///
    /// # Errors
    /// [`StockError::Inconsistent`] when fewer units are held.
    pub fn deduct(&mut self, quantity: Quantity, at: Timestamp) -> Result<(), StockError> {
        let reserved = self.reserved.checked_sub(quantity);
        let on_hand = self.on_hand.checked_sub(quantity);
        let (Some(reserved), Some(on_hand)) = (reserved, on_hand) else {
            return Err(self.inconsistent(format!(
                "deduction of {quantity} with {} reserved of {} on hand",
                self.reserved, self.on_hand
            )));
        };
        self.reserved = reserved;
        self.on_hand = on_hand;
        self.changed(at);
        Ok(())
    }

    /// Puts `quantity` units (a return, a delivery) on hand.
    ///
    /// # Errors
    /// [`StockError::Overflow`].
    pub fn restock(&mut self, quantity: Quantity, at: Timestamp) -> Result<(), StockError> {
        self.on_hand = self
            .on_hand
            .checked_add(quantity)
            .ok_or_else(|| StockError::Overflow(self.product_id.clone()))?;
        self.changed(at);
        Ok(())
    }

    /// The announcement of the current levels.
    #[must_use]
    pub fn updated_event(&self, reason: &str, at: Timestamp) -> InventoryUpdatedEvent {
        InventoryUpdatedEvent {
            product_id: self.product_id.clone(),
            on_hand: self.on_hand,
            reserved: self.reserved,
            available: self.available(),
            reason: reason.to_owned(),
            timestamp: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Validate;

    fn mugs(on_hand: u32) -> Inventory {
        Inventory::new(
            ProductId::parse("sku-mug").unwrap(),
            Quantity::new(on_hand),
            Quantity::new(3),
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn reserve_holds_stock_and_refuses_more_than_available() {
        let mut inv = mugs(5);
        inv.reserve(Quantity::new(4), Timestamp::from_millis(1))
            .unwrap();
        assert_eq!(
            (inv.available(), inv.version, inv.is_published()),
            (Quantity::new(1), 2, false)
        );
        let err = inv
            .reserve(Quantity::new(2), Timestamp::from_millis(2))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "insufficient stock of sku-mug: requested 2, available 1"
        );
        assert!(!err.is_retryable());
        assert_eq!(inv.reserved, Quantity::new(4), "a refusal changes nothing");
        assert_eq!(inv.version, 2);
        inv.reserve(Quantity::new(1), Timestamp::from_millis(3))
            .unwrap();
        assert_eq!(inv.available(), Quantity::ZERO);
    }

    #[test]
    fn release_deduct_and_restock_keep_available_non_negative() {
        let mut inv = mugs(5);
        inv.reserve(Quantity::new(3), Timestamp::from_millis(1))
            .unwrap();
        inv.deduct(Quantity::new(2), Timestamp::from_millis(2))
            .unwrap();
        assert_eq!(
            (inv.on_hand, inv.reserved, inv.available()),
            (Quantity::new(3), Quantity::new(1), Quantity::new(2))
        );
        assert!(matches!(
            inv.release(Quantity::new(2), Timestamp::from_millis(3)),
            Err(StockError::Inconsistent { .. })
        ));
        assert!(matches!(
            inv.deduct(Quantity::new(2), Timestamp::from_millis(3)),
            Err(StockError::Inconsistent { .. })
        ));
        inv.release(Quantity::new(1), Timestamp::from_millis(4))
            .unwrap();
        inv.restock(Quantity::new(7), Timestamp::from_millis(5))
            .unwrap();
        assert_eq!(
            (inv.on_hand, inv.reserved),
            (Quantity::new(10), Quantity::ZERO)
        );
        assert!(matches!(
            inv.restock(Quantity::new(u32::MAX), Timestamp::from_millis(6)),
            Err(StockError::Overflow(_))
        ));
        assert_eq!(inv.updated_at, Timestamp::from_millis(5));
    }

    #[test]
    fn low_means_available_at_or_below_threshold() {
        let mut inv = mugs(5);
        assert!(!inv.is_low());
        inv.reserve(Quantity::new(2), Timestamp::from_millis(1))
            .unwrap();
        assert!(inv.is_low(), "3 available, threshold 3");
        inv.mark_published();
        assert!(inv.is_published());
        let ev = inv.updated_event("reserved", Timestamp::from_millis(1));
        assert_eq!(
            (ev.on_hand.get(), ev.reserved.get(), ev.available.get()),
            (5, 2, 3)
        );
        ev.validate().unwrap();
        assert!(StockError::UnknownProduct(inv.product_id.clone()).is_retryable());
    }
}
