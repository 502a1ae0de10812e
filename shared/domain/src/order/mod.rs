//! The order service's domain: orders and their state machine, compensation (cancellation and
//! refund requests when a flow breaks), sessions, carts.

mod aggregate;
mod cart;
mod compensation;
mod lifecycle;
mod ports;
mod session;
mod status;
mod sweep;

pub use aggregate::{ConfirmPaymentError, Order, PlaceOrderError, StatusChange};
pub use cart::{CART_ABANDONED_AFTER_DAYS, Cart, CartItem, CartStatus};
pub use compensation::{BrokenFlow, Compensation, RefundRequest};
pub use lifecycle::{COD_COLLECTED_REASON, RESERVATION_EXPIRED_REASON, UNPAID_REASON};
pub use ports::{
    CartRepository, OrderRepository, OrderSweepRepository, RefundRepository, SessionRepository,
};
pub use session::{SESSION_RETENTION_HOURS, Session};
pub use status::OrderStatus;
pub use sweep::{OrderSweep, RESERVATION_TIMEOUT_MINUTES, UNPAID_ORDER_TIMEOUT_HOURS};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::status_names;

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
