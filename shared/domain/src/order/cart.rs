//! Shopping carts, and when an untouched one counts as abandoned.

use crate::state::{StateMachine, Transition, status_names, transition};
use crate::{CartId, CustomerId, ProductId, Quantity, Timestamp};

/// An active cart untouched for more than this many days is abandoned and deleted.
pub const CART_ABANDONED_AFTER_DAYS: i64 = 7;

/// Where a cart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CartStatus {
    /// Being filled.
    Active,
    /// Checked out: an order was placed from it (kept; it is not abandoned).
    Converted,
}

status_names!(CartStatus {
    Active => "active",
    Converted => "converted",
});

impl StateMachine for CartStatus {
    fn allows(self, next: Self) -> bool {
        matches!((self, next), (Self::Active, Self::Converted))
    }
}

/// One product in a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartItem {
    /// The product.
    pub product_id: ProductId,
    /// Units.
    pub quantity: Quantity,
}

/// A customer's shopping cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// Id.
    pub id: CartId,
    /// Owner.
    pub customer_id: CustomerId,
    /// Active or converted.
    pub status: CartStatus,
    /// Its products, one entry per product.
    pub items: Vec<CartItem>,
    /// Created at.
    pub created_at: Timestamp,
    /// Last change (an item added or removed, the checkout).
    pub updated_at: Timestamp,
}

impl Cart {
    /// An empty active cart.
    #[must_use]
    pub fn open(id: CartId, customer_id: CustomerId, at: Timestamp) -> Self {
        Self {
            id,
            customer_id,
            status: CartStatus::Active,
            items: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    /// Marks the cart as checked out. Returns whether it changed (`false` when already
    /// converted; active is the only other state, so the move never fails).
    pub fn convert(&mut self, at: Timestamp) -> bool {
        let changed = matches!(
            transition("cart", &mut self.status, CartStatus::Converted),
            Ok(Transition::Changed { .. })
        );
        if changed {
            self.updated_at = at;
        }
        changed
    }

    /// At `now`, active carts last updated strictly before this instant are abandoned.
    #[must_use]
    pub fn abandoned_before(now: Timestamp) -> Timestamp {
        now.sub_days(CART_ABANDONED_AFTER_DAYS)
    }

    /// Whether the cart is active and untouched for more than [`CART_ABANDONED_AFTER_DAYS`].
    /// A converted cart is never abandoned.
    #[must_use]
    pub fn is_abandoned(&self, now: Timestamp) -> bool {
        self.status == CartStatus::Active && self.updated_at < Self::abandoned_before(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap()
    }

    fn cart(updated: Timestamp) -> Cart {
        Cart::open(
            CartId::parse("cart-1").unwrap(),
            CustomerId::parse("cus-1").unwrap(),
            updated,
        )
    }

    #[test]
    fn abandoned_after_more_than_7_days_of_inactivity() {
        assert!(!cart(now().sub_days(6)).is_abandoned(now()));
        assert!(
            !cart(now().sub_days(7)).is_abandoned(now()),
            "exactly 7 days"
        );
        assert!(cart(now().sub_days(7).add_millis(-1)).is_abandoned(now()));
        assert!(cart(now().sub_days(8)).is_abandoned(now()));
    }

    #[test]
    fn converted_carts_are_never_abandoned() {
        let mut c = cart(now().sub_days(30));
        assert!(c.convert(now().sub_days(20)));
        assert!(!c.convert(now()), "repeated checkout is a no-op");
        assert_eq!(
            (c.status, c.updated_at),
            (CartStatus::Converted, now().sub_days(20))
        );
        assert!(!c.is_abandoned(now()));
        assert!(!CartStatus::Converted.allows(CartStatus::Active));
        assert_eq!("converted".parse::<CartStatus>(), Ok(CartStatus::Converted));
    }
}
