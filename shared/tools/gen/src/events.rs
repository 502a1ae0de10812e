//! `events/`: what travels on the wire, generated from the Rust types so it cannot go stale.
//!
//! | folder | holds |
//! |---|---|
//! | `schemas/` | JSON Schema (draft 2020-12) of every topic's payload (`<topic>/v<major>.json`), of the CloudEvent envelope and of schedule inputs |
//! | `samples/` | one sample payload per topic ([`conveyor_domain::events::samples`]) |
//! | `cloudevents/` | each sample in the CloudEvent conveyor publishes |
//! | `sqs/` | each CloudEvent as an SQS event for `cargo lambda invoke`, plain and EventBridge-wrapped |
//! | `schedule/` | the three shapes a cron function receives on AWS |
//!
//! Ids, times and trace context are fixed, so rendering twice gives the same bytes.
//!
//! # Versions
//! A topic's schema is written as `schemas/<topic>/v<major>.json`, the major version being
//! [`conveyor_domain::events::schema_version`]. Schemas of earlier major versions are not the
//! generator's: it keeps them as they are (consumers read both versions during a switch). Within
//! a version every change must be backward compatible ([`compat`]): [`write`] refuses to replace
//! a schema whose earlier revision, or whose sample, the new one would no longer accept.

mod aws;
pub mod compat;
mod schemas;

use std::path::{Path, PathBuf};

use conveyor_domain::Timestamp;
use conveyor_domain::events::{ALL_TOPICS, Validate, samples, schema_version};
use conveyor_runtime::CloudEvent;
use conveyor_runtime::cloudevent::data_schema;
use schemars::{JsonSchema, Schema};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Files, check_owned, pretty_json, write_owned};

/// The traceparent every sample CloudEvent carries (in `traceid` and `traceparent`).
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// The correlation id of the sample story.
pub const CORRELATION_ID: &str = "corr-ord-1001";
/// The instant scheduled samples fire at; also the fallback event time.
pub const SAMPLE_TIME: &str = "2026-11-22T10:00:00Z";

/// Why `events/` could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A topic of `ALL_TOPICS` has no entry in [`topic_info`] or no sample.
    #[error("topic {0} has no payload type or sample; add it to the events generator")]
    UnknownTopic(String),
    /// A payload or envelope could not be serialised.
    #[error("cannot serialise a sample: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing the files failed.
    #[error("cannot write events: {0}")]
    Io(#[from] std::io::Error),
    /// A schema would replace its earlier revision with one that breaks its readers.
    #[error(
        "a schema changed incompatibly; keep the change backward compatible, or give the topic \
         its next major version in SCHEMA_VERSIONS (shared/domain/src/events/mod.rs) and \
         regenerate (see events/README.md):\n  {}",
        .0.join("\n  ")
    )]
    Incompatible(Vec<String>),
}

/// What the generator knows about a topic.
#[derive(Debug, Clone, Copy)]
pub struct TopicInfo {
    /// The topic.
    pub topic: &'static str,
    /// Name of the Rust payload type.
    pub payload: &'static str,
    /// App id of the publisher (the CloudEvent `source`).
    pub source: &'static str,
    /// The function whose queue the SQS sample comes from.
    pub queue: &'static str,
    /// The payload's JSON Schema.
    pub schema: fn() -> Schema,
    /// Decodes a payload as the Rust type and runs [`Validate`].
    pub check: fn(&Value) -> Result<(), String>,
}

fn schema_of<T: JsonSchema>() -> Schema {
    schemars::schema_for!(T)
}

fn check_as<T: DeserializeOwned + Validate>(payload: &Value) -> Result<(), String> {
    let typed = T::deserialize(payload).map_err(|e| e.to_string())?;
    typed.validate().map_err(|e| e.to_string())
}

/// Defines [`topic_info`] from one table: topic constant => payload type, publisher, queue.
macro_rules! topic_table {
    ($($module:ident::$topic:ident => $ty:ident from $source:literal to $queue:literal;)*) => {
        /// Payload type, publisher and sample queue of a known topic.
        #[must_use]
        pub fn topic_info(topic: &str) -> Option<TopicInfo> {
            use conveyor_domain::events::*;
            match topic {
                $($module::$topic => Some(TopicInfo {
                    topic: $module::$topic,
                    payload: stringify!($ty),
                    source: $source,
                    queue: $queue,
                    schema: schema_of::<$module::$ty>,
                    check: check_as::<$module::$ty>,
                }),)*
                _ => None,
            }
        }
    };
}

// Topics no catalog function consumes (their consumers live in other services) are sampled from
// notification-dispatch's queue: any queue serves for `cargo lambda invoke`.
topic_table! {
    payment::PAYMENT_CONFIRMED => PaymentConfirmedEvent from "payment-service" to "order-payment-confirmed";
    payment::PAYMENT_FAILED => PaymentFailedEvent from "payment-service" to "order-payment-failed";
    payment::PAYMENT_REFUND_REQUESTED => RefundRequestedEvent from "order-worker" to "notification-dispatch";
    order::ORDER_STATUS_CHANGED => OrderStatusChangedEvent from "order-worker" to "fulfillment-order-status-changed";
    order::ORDER_RESERVATION_EXPIRED => OrderReservationExpiredEvent from "order-worker" to "warehouse-order-status-changed";
    fulfillment::FULFILLMENT_STATUS_CHANGED => FulfillmentStatusChangedEvent from "fulfillment-worker" to "warehouse-fulfillment-status-changed";
    fulfillment::FULFILLMENT_CREATION_FAILED => FulfillmentCreationFailedEvent from "fulfillment-worker" to "order-compensation";
    fulfillment::PICKLIST_STATUS_CHANGED => PicklistStatusChangedEvent from "warehouse-floor" to "fulfillment-picklist-status-changed";
    fulfillment::PACKAGE_STATUS_CHANGED => PackageStatusChangedEvent from "fulfillment-worker" to "notification-dispatch";
    warehouse::RESERVATION_CREATED => ReservationEvent from "warehouse-worker" to "notification-dispatch";
    warehouse::RESERVATION_CONFIRMED => ReservationEvent from "warehouse-worker" to "notification-dispatch";
    warehouse::RESERVATION_RELEASED => ReservationEvent from "warehouse-worker" to "notification-dispatch";
    warehouse::RESERVATION_EXPIRED => ReservationEvent from "warehouse-worker" to "notification-dispatch";
    warehouse::RESERVATION_EXPIRING => ReservationEvent from "warehouse-worker" to "notification-dispatch";
    warehouse::RESERVATION_FAILED => ReservationFailedEvent from "warehouse-worker" to "order-compensation";
    warehouse::INVENTORY_UPDATED => InventoryUpdatedEvent from "warehouse-worker" to "notification-dispatch";
    warehouse::INVENTORY_LOW_STOCK => LowStockEvent from "warehouse-worker" to "notification-dispatch";
    catalog::PRODUCT_CREATED => ProductCreatedEvent from "catalog-service" to "warehouse-product-created";
    returns::ORDER_RETURN_COMPLETED => ReturnCompletedEvent from "order-service" to "warehouse-return-completed";
    returns::RETURN_COMPLETED_LEGACY => ReturnCompletedEvent from "order-service" to "warehouse-return-completed";
    payment::PAYMENT_PROCESS_REQUESTED => ProcessPaymentRequestedEvent from "order-worker" to "notification-dispatch";
    payment::PAYMENT_REFUNDED => PaymentRefundedEvent from "payment-service" to "order-checkout-saga";
    checkout::CHECKOUT_REQUESTED => CheckoutRequestedEvent from "order-service" to "order-checkout-saga";
    checkout::CHECKOUT_FINISHED => CheckoutFinishedEvent from "order-worker" to "order-checkout-finished";
    checkout::INVENTORY_RESERVE_REQUESTED => CheckoutCommand from "order-worker" to "warehouse-checkout-inventory";
    checkout::INVENTORY_RESERVED => CheckoutReply from "warehouse-worker" to "order-checkout-saga";
    checkout::INVENTORY_RESERVE_REJECTED => CheckoutReply from "warehouse-worker" to "order-checkout-saga";
    checkout::INVENTORY_RELEASE_REQUESTED => CheckoutCommand from "order-worker" to "warehouse-checkout-inventory";
    checkout::INVENTORY_RELEASED => CheckoutReply from "warehouse-worker" to "order-checkout-saga";
    checkout::FULFILLMENT_CREATE_REQUESTED => CheckoutCommand from "order-worker" to "fulfillment-checkout-fulfillment";
    checkout::FULFILLMENT_CREATED => CheckoutReply from "fulfillment-worker" to "order-checkout-saga";
    checkout::FULFILLMENT_CREATE_REJECTED => CheckoutReply from "fulfillment-worker" to "order-checkout-saga";
    checkout::FULFILLMENT_CANCEL_REQUESTED => CheckoutCommand from "order-worker" to "fulfillment-checkout-fulfillment";
    checkout::FULFILLMENT_CANCELLED => CheckoutReply from "fulfillment-worker" to "order-checkout-saga";
    checkout::CONFIRMATION_REQUESTED => CheckoutCommand from "order-worker" to "order-checkout-confirmation";
    checkout::CONFIRMATION_SENT => CheckoutReply from "order-worker" to "order-checkout-saga";
    saga::TIMER_FIRED => TimerFired from "order-worker" to "order-checkout-saga";
}

/// Decodes `payload` as `topic`'s Rust type and validates it: what a consumer does at the edge.
///
/// # Errors
/// The decode or validation error, or "unknown topic".
pub fn check_payload(topic: &str, payload: &Value) -> Result<(), String> {
    let info = topic_info(topic).ok_or_else(|| format!("unknown topic {topic}"))?;
    (info.check)(payload)
}

/// The sample CloudEvent of `topic`, as conveyor publishes it, with a fixed id and trace.
///
/// # Errors
/// [`GenError::UnknownTopic`] for a topic without sample or info.
pub fn cloudevent(topic: &str) -> Result<CloudEvent, GenError> {
    let unknown = || GenError::UnknownTopic(topic.to_owned());
    let info = topic_info(topic).ok_or_else(unknown)?;
    let payload = samples::for_topic(topic).ok_or_else(unknown)?;
    let mut event = CloudEvent::new(topic, info.source, &payload, event_time(&payload))?;
    event.id = format!("evt-{topic}-0001");
    event.correlationid = Some(CORRELATION_ID.to_owned());
    event.dataschema = data_schema(topic);
    event.traceid = Some(TRACEPARENT.to_owned());
    event.traceparent = Some(TRACEPARENT.to_owned());
    Ok(event)
}

/// The payload's `timestamp`, else [`SAMPLE_TIME`].
fn event_time(payload: &Value) -> Timestamp {
    let text = payload
        .get("timestamp")
        .and_then(Value::as_str)
        .unwrap_or(SAMPLE_TIME);
    Timestamp::parse_rfc3339(text).unwrap_or_else(|_| Timestamp::from_millis(0))
}

/// Every file of `events/`, relative to that folder.
///
/// # Errors
/// [`GenError`] when a topic lacks a sample or a value cannot be serialised.
pub fn render() -> Result<Files, GenError> {
    let mut files = Files::new();
    let mut put =
        |path: String, value: &Value| files.insert(PathBuf::from(path), pretty_json(value));
    for &topic in ALL_TOPICS {
        let info = topic_info(topic).ok_or_else(|| GenError::UnknownTopic(topic.to_owned()))?;
        let event = cloudevent(topic)?;
        let event_json: Value = serde_json::from_str(&event.to_json())?;
        let payload = event_json.get("data").cloned().unwrap_or_default();
        put(schema_path(topic), (info.schema)().as_value());
        put(format!("samples/{topic}.json"), &payload);
        put(format!("cloudevents/{topic}.json"), &event_json);
        let time = payload
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or(SAMPLE_TIME);
        let sqs = aws::sqs_event(topic, info.queue, &event_json, time);
        put(format!("sqs/{topic}.json"), &sqs);
        let envelope = aws::eventbridge_envelope(topic, info.source, &event_json, time);
        let name = format!("{topic}.eventbridge");
        let sqs = aws::sqs_event(&name, info.queue, &envelope, time);
        put(format!("sqs/{name}.json"), &sqs);
    }
    put("schemas/cloudevent.json".to_owned(), &schemas::cloudevent());
    put("schemas/schedule.json".to_owned(), &schemas::schedule());
    for (name, value) in aws::schedule_samples() {
        put(format!("schedule/{name}.json"), &value);
    }
    files.insert(PathBuf::from("README.md"), readme());
    Ok(files)
}

/// Where the current schema of `topic` is written, relative to `events/`: the path its
/// events' `dataschema` names.
#[must_use]
pub fn schema_path(topic: &str) -> String {
    data_schema(topic).unwrap_or_else(|| format!("schemas/{topic}/v1.json"))
}

/// Whether the generator owns `rel` (relative to `events/`): everything but the schemas of a
/// topic's earlier major versions, which stay as they were while consumers switch.
#[must_use]
pub fn owns(rel: &Path) -> bool {
    earlier_version(rel).is_none()
}

/// `(topic, version)` when `rel` is `schemas/<topic>/v<version>.json` of a known topic whose
/// current version is later.
fn earlier_version(rel: &Path) -> Option<(String, u32)> {
    let mut parts = rel.iter().map(|p| p.to_str());
    let (Some(Some("schemas")), Some(Some(topic)), Some(Some(file)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let version: u32 = file
        .strip_prefix('v')?
        .strip_suffix(".json")?
        .parse()
        .ok()?;
    (schema_version(topic)? > version).then(|| (topic.to_owned(), version))
}

/// Renders `events/` into `dir` (the `events` folder itself), removing stale files and keeping
/// the schemas of earlier versions. Returns the files written or removed.
///
/// # Errors
/// [`GenError::Incompatible`] (nothing written) when a schema would replace its earlier
/// revision incompatibly ([`compat::check`]); otherwise when rendering or writing fails.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, GenError> {
    let files = render()?;
    let broken = compat::check(dir, &files);
    if !broken.is_empty() {
        return Err(GenError::Incompatible(broken));
    }
    Ok(write_owned(dir, &files, &owns)?)
}

/// How the `events` folder `dir` differs from what [`render`] gives; empty when up to date.
#[must_use]
pub fn check(dir: &Path) -> Vec<String> {
    match render() {
        Ok(files) => check_owned(dir, &files, &owns),
        Err(e) => vec![e.to_string()],
    }
}

/// `events/README.md`: the hand-written text plus the generated topic table.
fn readme() -> String {
    let mut table = String::from(
        "| topic | payload type | published by | sample queue (function) |\n|---|---|---|---|\n",
    );
    for info in ALL_TOPICS.iter().filter_map(|t| topic_info(t)) {
        table.push_str(&format!(
            "| `{}` | `{}` | `{}` | `{}` |\n",
            info.topic, info.payload, info.source, info.queue
        ));
    }
    include_str!("events/README.md.in").replace("{{topics}}\n", &table)
}
