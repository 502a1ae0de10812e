//! What the order service needs from storage. Implemented by the store's transaction type, so
//! every call is part of the handler's one transaction.

use std::future::Future;

use crate::order::{Cart, Order, OrderSweep, RefundRequest, Session, StatusChange};
use crate::{CartId, OrderId, SessionId, Timestamp};

/// Orders and their status history.
pub trait OrderRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inserts a new order with its lines. Inserting an existing id is a no-op returning `false`.
    fn insert_order(
        &mut self,
        order: &Order,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Loads an order and locks it until the transaction ends (concurrent handlers of one order
    /// serialise on it).
    fn get_order_for_update(
        &mut self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<Order>, Self::Error>> + Send;

    /// Persists the order's new status and appends the change to its history.
    fn save_status_change(
        &mut self,
        order: &Order,
        change: &StatusChange,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The order's history, oldest first.
    fn status_history(
        &mut self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Vec<StatusChange>, Self::Error>> + Send;
}

/// Refund requests, at most one per payment.
pub trait RefundRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records a refund request. When the payment already has one (a repeated or second
    /// compensation), nothing is written and `false` is returned.
    fn insert_refund_request(
        &mut self,
        refund: &RefundRequest,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The refund requests of an order, oldest first.
    fn refund_requests_of_order(
        &mut self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Vec<RefundRequest>, Self::Error>> + Send;
}

/// What the order service's jobs need beyond [`OrderRepository`]: claiming a batch of orders
/// and recording a released reservation.
pub trait OrderSweepRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Claims up to `limit` orders that `sweep` selects, oldest first (placed at, then id),
    /// with their lines. The rows stay locked until the transaction ends, and rows another
    /// transaction holds are skipped (PostgreSQL; SQLite serialises writers), so overlapping
    /// runs of a job take disjoint orders.
    fn claim_orders(
        &mut self,
        sweep: &OrderSweep,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Order>, Self::Error>> + Send;

    /// Persists [`Order::reservation_expired_at`] (and `updated_at`) after
    /// [`Order::expire_reservation`] changed it.
    fn save_reservation_expired(
        &mut self,
        order: &Order,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Storefront sessions.
pub trait SessionRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inserts a session. Inserting an existing id is a no-op returning `false`.
    fn insert_session(
        &mut self,
        session: &Session,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Loads a session.
    fn get_session(
        &mut self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Session>, Self::Error>> + Send;

    /// Deletes up to `limit` sessions that expired strictly before `expired_before`, the
    /// longest expired first, and returns how many. Sessions another transaction is deleting
    /// are skipped, so overlapping runs delete disjoint rows.
    fn delete_expired_sessions(
        &mut self,
        expired_before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}

/// Shopping carts and their items.
pub trait CartRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inserts a cart with its items. Inserting an existing id is a no-op returning `false`.
    fn insert_cart(
        &mut self,
        cart: &Cart,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Loads a cart with its items.
    fn get_cart(
        &mut self,
        id: &CartId,
    ) -> impl Future<Output = Result<Option<Cart>, Self::Error>> + Send;

    /// Deletes up to `limit` active carts last updated strictly before `updated_before`, the
    /// longest untouched first, with their items, and returns how many carts. Converted carts
    /// are never deleted; carts another transaction is deleting are skipped.
    fn delete_abandoned_carts(
        &mut self,
        updated_before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}
