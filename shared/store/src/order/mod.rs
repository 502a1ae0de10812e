//! The order service's tables: orders, lines, status history, refund requests, customer
//! notifications (and, beside them, sessions and carts).
//!
//! # Layout
//! - `orders` — [`OrderRepository`](conveyor_domain::order::OrderRepository)
//! - `sweeps` — [`OrderSweepRepository`](conveyor_domain::order::OrderSweepRepository): the
//!   jobs' order claims
//! - `refunds` — [`RefundRepository`](conveyor_domain::order::RefundRepository)
//! - `notifications` —
//!   [`NotificationRepository`](conveyor_domain::notification::NotificationRepository)
//! - `sessions` — [`SessionRepository`](conveyor_domain::order::SessionRepository)
//! - `carts` — [`CartRepository`](conveyor_domain::order::CartRepository)

mod carts;
mod notifications;
mod orders;
mod refunds;
mod sessions;
mod sweeps;

use crate::sql::{placeholders, sql_limit};

/// A row count as the ports report it.
fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}
