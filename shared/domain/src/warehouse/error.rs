//! Why a stock operation cannot be applied, classified once as retryable or not.

use crate::events::warehouse::ReservationFailedEvent;
use crate::{OrderId, ProductId, Quantity, Timestamp};

/// Why a stock operation cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    /// The warehouse has no inventory for the product (its `product.created` may not have
    /// arrived yet): retryable.
    #[error("product {0} has no inventory")]
    UnknownProduct(ProductId),
    /// Fewer units are available than requested.
    #[error("insufficient stock of {product_id}: requested {requested}, available {available}")]
    InsufficientStock {
        /// The product.
        product_id: ProductId,
        /// Units asked for.
        requested: Quantity,
        /// Units available.
        available: Quantity,
    },
    /// Releasing or deducting more than is held or on hand: the stored levels disagree with the
    /// reservations (corrupt data, never retried).
    #[error("inconsistent stock of {product_id}: {reason}")]
    Inconsistent {
        /// The product.
        product_id: ProductId,
        /// What does not add up.
        reason: String,
    },
    /// A level would exceed the largest quantity.
    #[error("stock of {0} overflows")]
    Overflow(ProductId),
    /// Another invocation reserved stock for the same order line at the same time: retryable
    /// (the retry finds its reservation and does nothing).
    #[error("reservation of {product_id} for order {order_id} was created concurrently")]
    ConcurrentReservation {
        /// The order.
        order_id: OrderId,
        /// The product.
        product_id: ProductId,
    },
}

impl StockError {
    /// Whether retrying later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::UnknownProduct(_) | Self::ConcurrentReservation { .. }
        )
    }

    /// For a shortage met while reserving `order`'s lines, the `warehouse.reservation.failed`
    /// event that tells the order service; `None` for every other error.
    #[must_use]
    pub fn reservation_failed(
        &self,
        order: &OrderId,
        at: Timestamp,
    ) -> Option<ReservationFailedEvent> {
        match self {
            Self::InsufficientStock {
                product_id,
                requested,
                available,
            } => Some(ReservationFailedEvent {
                order_id: order.clone(),
                product_id: product_id.clone(),
                requested: *requested,
                available: *available,
                reason: self.to_string(),
                timestamp: at,
            }),
            _ => None,
        }
    }
}
