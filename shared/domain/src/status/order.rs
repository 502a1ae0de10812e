//! The order state machine, and how an order is paid.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::{StateMachine, status_names};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, not yet paid (prepaid) or not yet delivered and collected (COD).
    Pending,
    /// The payment service confirmed the payment.
    PaymentConfirmed,
    /// The payment service reported a failed payment; the customer may pay again.
    PaymentFailed,
    /// Confirmed without prepayment (COD auto-confirm) or by an operator.
    Confirmed,
    /// Being fulfilled.
    Processing,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer.
    Delivered,
    /// Closed successfully.
    Completed,
    /// Cancelled (by the customer, an operator or the unpaid-order cleanup).
    Cancelled,
}

status_names!(OrderStatus {
    Pending => "pending",
    PaymentConfirmed => "payment_confirmed",
    PaymentFailed => "payment_failed",
    Confirmed => "confirmed",
    Processing => "processing",
    Shipped => "shipped",
    Delivered => "delivered",
    Completed => "completed",
    Cancelled => "cancelled",
});

impl StateMachine for OrderStatus {
    fn allows(self, next: Self) -> bool {
        use OrderStatus::{
            Cancelled, Completed, Confirmed, Delivered, PaymentConfirmed, PaymentFailed, Pending,
            Processing, Shipped,
        };
        matches!(
            (self, next),
            (
                Pending,
                PaymentConfirmed | PaymentFailed | Confirmed | Cancelled
            ) | (PaymentFailed, PaymentConfirmed | Cancelled)
                | (PaymentConfirmed | Confirmed, Processing | Cancelled)
                | (PaymentConfirmed, Confirmed)
                | (Processing, Shipped | Cancelled)
                | (Shipped, Delivered)
                | (Delivered, Completed)
        )
    }
}

impl OrderStatus {
    /// No transition leaves this state.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// How an order is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Paid online before fulfillment (payment.confirmed drives it).
    Prepaid,
    /// Cash on delivery (the COD auto-confirm job drives it).
    Cod,
}

status_names!(PaymentMethod {
    Prepaid => "prepaid",
    Cod => "cod",
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Transition, transition};

    #[test]
    fn allowed_repeated_and_invalid_moves() {
        let mut s = OrderStatus::Pending;
        assert_eq!(
            transition("order", &mut s, OrderStatus::PaymentConfirmed),
            Ok(Transition::Changed {
                from: OrderStatus::Pending,
                to: OrderStatus::PaymentConfirmed
            })
        );
        assert_eq!(
            transition("order", &mut s, OrderStatus::PaymentConfirmed),
            Ok(Transition::Unchanged(OrderStatus::PaymentConfirmed))
        );
        let err = transition("order", &mut s, OrderStatus::Pending).unwrap_err();
        assert_eq!(
            err.to_string(),
            "order cannot move from payment_confirmed to pending"
        );
        assert_eq!(s, OrderStatus::PaymentConfirmed);
    }

    #[test]
    fn terminal_states_accept_nothing_new() {
        for &next in OrderStatus::ALL {
            for terminal in [OrderStatus::Completed, OrderStatus::Cancelled] {
                if next != terminal {
                    assert!(!terminal.allows(next), "{terminal} -> {next}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for &s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("shipping".parse::<OrderStatus>().is_err());
    }
}
