//! The sender this platform ships: it writes each notification to the log, where an operator
//! or a log-based forwarder picks it up. A provider adapter (e-mail, push) implements the same
//! port.

use conveyor_domain::notification::{Notification, NotificationSender, SendError};

/// Sends by logging (target `notification`, level info).
#[derive(Debug, Default, Clone, Copy)]
pub struct LoggingSender;

impl NotificationSender for LoggingSender {
    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        tracing::info!(
            target: "notification",
            notification_id = %n.id,
            customer_id = %n.customer_id,
            channel = n.channel.as_str(),
            template = n.template.as_str(),
            recipient = %n.recipient,
            event_key = %n.event_key,
            text = %n.text,
            "notification sent"
        );
        Ok(())
    }
}
