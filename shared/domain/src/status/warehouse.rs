//! The reservation state machine.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::{StateMachine, status_names};

/// Where a stock reservation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Held for an unpaid order until `expires_at`.
    Active,
    /// The order was paid or confirmed: held until shipping, no expiry.
    Confirmed,
    /// Shipped: the stock was deducted from on-hand.
    Fulfilled,
    /// Given back (payment failed, order cancelled), or refused for lack of stock. Final for the
    /// state machine; a payment that arrives later renews the row.
    Released,
    /// Given back because it ran past `expires_at`.
    Expired,
}

status_names!(ReservationStatus {
    Active => "active",
    Confirmed => "confirmed",
    Fulfilled => "fulfilled",
    Released => "released",
    Expired => "expired",
});

impl StateMachine for ReservationStatus {
    fn allows(self, next: Self) -> bool {
        use ReservationStatus::{Active, Confirmed, Expired, Fulfilled, Released};
        matches!(
            (self, next),
            (Active, Confirmed | Released | Expired | Fulfilled)
                | (Confirmed, Fulfilled | Released)
        )
    }
}

impl ReservationStatus {
    /// Whether the reservation still holds stock (counts in `reserved`).
    #[must_use]
    pub fn holds_stock(self) -> bool {
        matches!(self, Self::Active | Self::Confirmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::transition;

    #[test]
    fn expired_and_released_are_final() {
        for from in [
            ReservationStatus::Expired,
            ReservationStatus::Released,
            ReservationStatus::Fulfilled,
        ] {
            for &to in ReservationStatus::ALL {
                if to != from {
                    let mut s = from;
                    assert!(
                        transition("reservation", &mut s, to).is_err(),
                        "{from} -> {to}"
                    );
                }
            }
        }
        let mut s = ReservationStatus::Confirmed;
        assert!(transition("reservation", &mut s, ReservationStatus::Expired).is_err());
        assert!(ReservationStatus::Confirmed.holds_stock());
        assert!(!ReservationStatus::Expired.holds_stock());
    }
}
