//! The operator's actions on a transport, whichever it is and whoever asks: publish an event,
//! list dead letters, redrive them. The HTTP API answers with these, and the operator commands
//! call them directly on Redis when no emulator needs to run; both print the same JSON.

use conveyor_domain::Timestamp;
use conveyor_runtime::CloudEvent;
use conveyor_store::OutboxRow;
use conveyor_store::queue::DeadLetter;
use serde_json::{Value, json};

use conveyor_transport::broker::{Broker, BrokerError};

/// Largest event accepted at publish (the SQS and EventBridge limit).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Why a body cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Over [`MAX_EVENT_BYTES`].
    #[error("event of {0} bytes exceeds the {MAX_EVENT_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON at all.
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// JSON with `specversion` that is not a valid CloudEvent, or a payload that cannot be wrapped.
    #[error("{0}")]
    Invalid(String),
    /// The transport refused it.
    #[error(transparent)]
    Transport(#[from] BrokerError),
    /// The event store could not keep it (it was not published).
    #[error("the event store: {0}")]
    Store(#[from] conveyor_store::StoreError),
}

/// A CloudEvent from a body: a full CloudEvent is taken as is (its topic set to `topic`),
/// anything else is a payload to wrap (its correlation id its own id).
///
/// # Errors
/// [`PublishError::TooLarge`], [`PublishError::NotJson`] or [`PublishError::Invalid`].
pub fn to_cloudevent(topic: &str, body: &[u8], now: Timestamp) -> Result<CloudEvent, PublishError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(PublishError::TooLarge(body.len()));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| PublishError::NotJson(e.to_string()))?;
    if value.get("specversion").is_some() {
        let mut event =
            CloudEvent::decode(body).map_err(|e| PublishError::Invalid(e.to_string()))?;
        event.topic = Some(topic.to_owned());
        return Ok(event);
    }
    let mut event = CloudEvent::new(topic, "conveyor-cli", &value, now)
        .map_err(|e| PublishError::Invalid(e.to_string()))?;
    event.correlationid = Some(event.id.clone());
    Ok(event)
}

/// Publishes `body` (see [`to_cloudevent`]) to `topic`; answers the event id, the topic and
/// the functions subscribed to it. With `store`, the event is first appended to its event store
/// (when it keeps one), as every event conveyor publishes is.
///
/// # Errors
/// [`PublishError`].
pub async fn publish(
    broker: &dyn Broker,
    store: Option<&conveyor_store::Store>,
    topic: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<Value, PublishError> {
    let event = to_cloudevent(topic, body, now)?;
    let row = OutboxRow {
        topic: topic.to_owned(),
        ..event.into_outbox_row()
    };
    if let Some(store) = store.filter(|s| s.keeps_events()) {
        let mut tx = store.begin().await?;
        tx.events_append(std::slice::from_ref(&row), now).await?;
        tx.commit().await?;
    }
    broker
        .publish(std::slice::from_ref(&row))
        .await
        .map_err(|e| BrokerError {
            transport: "publish",
            message: e.to_string(),
        })?;
    Ok(json!({ "id": row.id, "topic": topic, "subscribers": broker.subscribers(topic) }))
}

/// One dead letter as JSON.
#[must_use]
pub fn letter_json(l: &DeadLetter) -> Value {
    json!({
        "id": l.id, "function": l.function, "event_id": l.event_id, "topic": l.topic,
        "error": l.error, "attempts": l.attempts,
        "first_attempt_at": l.first_attempt_at.to_rfc3339(),
        "failed_at": l.failed_at.to_rfc3339(), "body": l.body,
    })
}

/// Up to 1,000 dead letters of `function` (or of all), newest first, as a JSON array.
///
/// # Errors
/// The transport's.
pub async fn dead_letters(
    broker: &dyn Broker,
    function: Option<&str>,
) -> Result<Value, BrokerError> {
    let letters = broker.dead_letters(function, 1000).await?;
    Ok(Value::Array(letters.iter().map(letter_json).collect()))
}

/// Redrives `function`'s dead letters (all, or `ids`) to that function only.
///
/// # Errors
/// The transport's.
pub async fn redrive(
    broker: &dyn Broker,
    function: &str,
    ids: Option<&[String]>,
) -> Result<Value, BrokerError> {
    let moved = broker.redrive(function, ids).await?;
    Ok(json!({ "function": function, "redriven": moved }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_payloads_and_keeps_cloudevents() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let wrapped = to_cloudevent("payment.confirmed", br#"{"order_id":"o-1"}"#, now).unwrap();
        assert_eq!(wrapped.topic_name(), "payment.confirmed");
        assert_eq!(wrapped.correlationid.as_deref(), Some(wrapped.id.as_str()));
        assert_eq!(wrapped.data_field("order_id").as_deref(), Some("o-1"));
        let full = wrapped.to_json();
        let kept = to_cloudevent("payment.failed", full.as_bytes(), now).unwrap();
        assert_eq!(kept.id, wrapped.id);
        assert_eq!(kept.topic_name(), "payment.failed");
    }

    #[test]
    fn refuses_what_cannot_be_published() {
        let now = Timestamp::from_millis(0);
        let big = vec![b' '; MAX_EVENT_BYTES + 1];
        assert!(matches!(
            to_cloudevent("t", &big, now),
            Err(PublishError::TooLarge(n)) if n == MAX_EVENT_BYTES + 1
        ));
        assert!(matches!(
            to_cloudevent("t", b"{nope", now),
            Err(PublishError::NotJson(_))
        ));
        assert!(matches!(
            to_cloudevent("t", br#"{"specversion":"1.0"}"#, now),
            Err(PublishError::Invalid(_))
        ));
    }
}
