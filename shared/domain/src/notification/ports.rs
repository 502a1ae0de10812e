//! What notification dispatch needs from the outside: storage (through the handler's
//! transaction) and a way to send.

use std::future::Future;

use crate::CustomerId;
use crate::notification::Notification;

/// Notifications, at most one per customer and event key.
pub trait NotificationRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records a notification. When the customer already has one for its event key (a
    /// redelivered or repeated event), nothing is written and `false` is returned.
    fn insert_notification(
        &mut self,
        notification: &Notification,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// A customer's notifications, oldest first.
    fn notifications_of_customer(
        &mut self,
        customer_id: &CustomerId,
    ) -> impl Future<Output = Result<Vec<Notification>, Self::Error>> + Send;
}

/// A send that failed; the caller retries the event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sending notification failed: {0}")]
pub struct SendError(pub String);

/// Delivers notifications (e-mail provider, push gateway, or a log).
pub trait NotificationSender: Send + Sync + 'static {
    /// Sends one notification.
    fn send(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}
