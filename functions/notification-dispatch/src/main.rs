//! Lambda entry point of notification-dispatch.

#[tokio::main]
async fn main() -> Result<(), conveyor_runtime::lambda::Error> {
    let function = notification_dispatch::NotificationDispatch::with_sender(
        notification_dispatch::LoggingSender,
    );
    conveyor_runtime::lambda::run_topic(function).await
}
