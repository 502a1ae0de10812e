//! One pub/sub delivery from daprd, start to answer: decode the CloudEvent, run the function
//! through the runtime's inbox/outbox pipeline, and map the outcome to daprd's status:
//!
//! | outcome | status | daprd then |
//! |---|---|---|
//! | handled, or a duplicate | `SUCCESS` | acknowledges |
//! | `Retry` below the function's max deliveries | `RETRY` | retries per the resiliency policy |
//! | `Retry` at max deliveries, `Drop`, a body that is no CloudEvent | `DROP` | sends it to the `deadLetterTopic`, acknowledges |
//!
//! A function with an ordering key handles one event of a key at a time, in arrival order
//! ([`super::keys`]); a bulk delivery is handled entry by entry, in order.
//!
//! daprd does not tell the app which delivery this is: the worker counts them itself
//! ([`super::attempts`]).
//!
//! Both protocols come here: the HTTP routes with the body daprd posted ([`deliver`],
//! [`deliver_bulk`]), the gRPC callbacks with the event rebuilt from daprd's message
//! ([`deliver_event`], [`deliver_entries`]); the statuses and every rule behind them are these.

use std::time::Instant;

use conveyor_runtime::cloudevent::DecodeError;
use conveyor_runtime::{CloudEvent, HandlerError, Input};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{TopicEntry, WorkerState};
use conveyor_transport::metrics::Outcome;
use conveyor_transport::policy::{self, Decision};

/// daprd's per-message status (case-sensitive on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Handled: acknowledge.
    Success,
    /// Transient failure: deliver again.
    Retry,
    /// Poison: dead-letter, never retry.
    Drop,
}

/// The single-event answer body.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusBody {
    /// The status.
    pub status: Status,
}

/// A bulk delivery (`com.dapr.event.sent.bulk`).
#[derive(Debug, Deserialize)]
pub struct BulkRequest {
    /// The messages.
    pub entries: Vec<BulkEntry>,
}

/// One message of a bulk delivery.
#[derive(Debug, Deserialize)]
pub struct BulkEntry {
    /// Its id within the batch.
    #[serde(rename = "entryId")]
    pub entry_id: String,
    /// The CloudEvent (an object), or base64 text for raw payloads.
    pub event: Value,
}

/// The answer to a bulk delivery: one status per entry.
#[derive(Debug, Serialize, Deserialize)]
pub struct BulkResponse {
    /// Per entry.
    pub statuses: Vec<BulkStatus>,
}

/// One entry's status.
#[derive(Debug, Serialize, Deserialize)]
pub struct BulkStatus {
    /// The entry.
    #[serde(rename = "entryId")]
    pub entry_id: String,
    /// Its status.
    pub status: Status,
}

/// Handles one delivered body for `entry`'s function. Never fails: every problem is a status.
pub async fn deliver(state: &WorkerState, entry: &TopicEntry, body: &[u8]) -> Status {
    deliver_event(state, entry, CloudEvent::decode(body)).await
}

/// Handles one delivered event, or the reason it is none, for `entry`'s function: a body that
/// is no usable CloudEvent is `DROP`, never retried.
pub async fn deliver_event(
    state: &WorkerState,
    entry: &TopicEntry,
    decoded: Result<CloudEvent, DecodeError>,
) -> Status {
    let spec = entry.function.spec();
    let started = Instant::now();
    let stats = state.stats();
    let event = match decoded {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(function = spec.name, error = %e, "delivery is not a usable CloudEvent; dropping it to the dead-letter topic");
            stats.record(spec.name, Outcome::DeadLettered, started.elapsed());
            return Status::Drop;
        }
    };
    // One delivery at a time per key, for an ordered function (before the concurrency slot, so
    // waiting for the key holds none).
    let _turn = match spec.ordering_key.and_then(|field| event.data_field(field)) {
        Some(key) => Some(state.keys().lock(spec.name, key).await),
        None => None,
    };
    // A closed semaphore cannot happen (it is never closed); run unlimited rather than fail.
    let _permit = entry.limit.acquire().await.ok();
    let attempt = state.attempts().next(spec.name, &event.id);
    let deps = state.deps();
    let timeout_ms = i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX);
    let deadline = Some(deps.clock.now().add_millis(timeout_ms));
    let input = Input::Event {
        event: &event,
        attempt,
        deadline,
    };
    let result = entry.function.invoke(deps, input).await;
    // daprd times the retry (its resiliency policy) and writes the dead letter (the event as
    // delivered): the decision's delay and reason are logged only.
    let decision = policy::decide(&spec, attempt, result.as_ref());
    let outcome = Outcome::of(&decision);
    let status = match decision {
        Decision::Acknowledge { .. } => Status::Success,
        Decision::RetryAfter(delay) => {
            let error = result
                .as_ref()
                .err()
                .map(HandlerError::chain)
                .unwrap_or_default();
            tracing::warn!(function = spec.name, event_id = %event.id, attempt, error, policy_delay_ms = delay.as_millis(), "transient failure; daprd will deliver it again");
            Status::Retry
        }
        Decision::DeadLetter { reason, .. } => {
            tracing::warn!(function = spec.name, event_id = %event.id, attempt, error = reason, dead_letter_topic = %spec.dlq_name(), "dropping the event to its dead-letter topic");
            Status::Drop
        }
    };
    if status != Status::Retry {
        state.attempts().forget(spec.name, &event.id);
    }
    stats.record(spec.name, outcome, started.elapsed());
    status
}

/// Handles a bulk delivery entry by entry, in order.
pub async fn deliver_bulk(
    state: &WorkerState,
    entry: &TopicEntry,
    request: BulkRequest,
) -> BulkResponse {
    let entries = request.entries.into_iter().map(|item| {
        let body = match &item.event {
            Value::Object(_) => item.event.to_string().into_bytes(),
            // A raw payload (base64 text): not a CloudEvent; decoding says so and it is dropped.
            other => other.to_string().into_bytes(),
        };
        (item.entry_id, CloudEvent::decode(&body))
    });
    let statuses = deliver_entries(state, entry, entries).await;
    BulkResponse {
        statuses: statuses
            .into_iter()
            .map(|(entry_id, status)| BulkStatus { entry_id, status })
            .collect(),
    }
}

/// Handles the entries of a bulk delivery (each an entry id and its event, or why it is none)
/// one by one, in order, each by the rules of a single delivery; one status per entry.
pub async fn deliver_entries(
    state: &WorkerState,
    entry: &TopicEntry,
    entries: impl IntoIterator<Item = (String, Result<CloudEvent, DecodeError>)>,
) -> Vec<(String, Status)> {
    let entries = entries.into_iter();
    let mut statuses = Vec::with_capacity(entries.size_hint().0);
    for (entry_id, decoded) in entries {
        statuses.push((entry_id, deliver_event(state, entry, decoded).await));
    }
    statuses
}

/// The body as a bulk delivery, if it is one: a JSON object with an `entries` array.
#[must_use]
pub fn as_bulk(body: &[u8]) -> Option<BulkRequest> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.contains_key("specversion") || !object.get("entries").is_some_and(Value::is_array) {
        return None;
    }
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_upper_case_on_the_wire() {
        let body = serde_json::to_string(&StatusBody {
            status: Status::Retry,
        })
        .unwrap();
        assert_eq!(body, r#"{"status":"RETRY"}"#);
    }

    #[test]
    fn recognises_bulk_bodies_only() {
        let bulk = br#"{"id":"b","type":"com.dapr.event.sent.bulk","topic":"t","pubsubname":"p","entries":[{"entryId":"1","event":{"id":"x"},"contentType":"application/cloudevents+json"}]}"#;
        let parsed = as_bulk(bulk).unwrap();
        assert_eq!(parsed.entries[0].entry_id, "1");
        assert!(as_bulk(br#"{"id":"x","specversion":"1.0","data":{}}"#).is_none());
        assert!(as_bulk(b"not json").is_none());
    }
}
