//! The order service's domain: orders and their state machine, compensation (cancellation and
//! refund requests when a flow breaks), sessions, carts.

mod aggregate;
mod cart;
mod checkout;
mod compensation;
mod lifecycle;
mod ports;
mod session;
mod sweep;

pub use crate::status::order::{OrderStatus, PaymentMethod};
pub use aggregate::{ConfirmPaymentError, Order, PlaceOrderError, StatusChange};
pub use cart::{CART_ABANDONED_AFTER_DAYS, Cart, CartItem, CartStatus};
pub use checkout::{CHECKOUT_COMPENSATED_REASON, CHECKOUT_COMPLETED_REASON};
pub use compensation::{BrokenFlow, Compensation, RefundRequest};
pub use lifecycle::{COD_COLLECTED_REASON, RESERVATION_EXPIRED_REASON, UNPAID_REASON};
pub use ports::{
    CartRepository, OrderRepository, OrderSweepRepository, RefundRepository, SessionRepository,
};
pub use session::{SESSION_RETENTION_HOURS, Session};
pub use sweep::{OrderSweep, RESERVATION_TIMEOUT_MINUTES, UNPAID_ORDER_TIMEOUT_HOURS};
