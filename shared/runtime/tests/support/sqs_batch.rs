//! SQS records, batches and invocation contexts as the Lambda host receives them.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

use super::probe::Seen;

/// A record of a standard queue, delivered for the `receive_count`th time.
pub(crate) fn record(message_id: &str, body: &str, receive_count: u32) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(message_id.to_owned());
    m.body = Some(body.to_owned());
    m.event_source = Some("aws:sqs".to_owned());
    m.event_source_arn = Some("arn:aws:sqs:us-east-1:000000000000:probe".to_owned());
    m.attributes.insert(
        "ApproximateReceiveCount".to_owned(),
        receive_count.to_string(),
    );
    m.attributes.insert(
        "ApproximateFirstReceiveTimestamp".to_owned(),
        "1795341600155".to_owned(),
    );
    m
}

/// The same record from a FIFO queue, group `g1`.
pub(crate) fn fifo(mut m: SqsMessage) -> SqsMessage {
    m.attributes
        .insert("MessageGroupId".to_owned(), "g1".to_owned());
    m.event_source_arn = Some("arn:aws:sqs:us-east-1:000000000000:probe.fifo".to_owned());
    m
}

/// Unix ms `ms` from now.
pub(crate) fn epoch_ms_in(ms: u64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(now.as_millis()).unwrap() + ms
}

/// An invocation context with this deadline (0: none).
pub(crate) fn context(deadline: u64) -> Context {
    let mut context = Context::default();
    context.request_id = "req-1".to_owned();
    context.deadline = deadline;
    context
}

/// A batch invocation with a minute left.
pub(crate) fn invocation(records: &[SqsMessage]) -> LambdaEvent<SqsEvent> {
    let mut event = SqsEvent::default();
    event.records = records.to_vec();
    LambdaEvent::new(event, context(epoch_ms_in(60_000)))
}

/// The reported message ids; each must be listed once.
pub(crate) fn failed(response: &SqsBatchResponse) -> BTreeSet<String> {
    let ids: BTreeSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(ids.len(), response.batch_item_failures.len(), "listed once");
    ids
}

/// A set of ids.
pub(crate) fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A rule targeting the queue without `InputPath`.
pub(crate) fn eventbridge(body: &str) -> String {
    let detail: Value = serde_json::from_str(body).unwrap();
    json!({"version": "0", "id": "eb-1", "detail-type": "probe.requested", "source": "test-publisher",
        "time": "2026-11-22T10:00:00Z", "resources": [], "detail": detail})
    .to_string()
}

/// A queue subscribed to an SNS topic without raw delivery.
pub(crate) fn sns(body: &str) -> String {
    json!({"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:t",
        "Message": body, "Timestamp": "2026-11-22T10:00:00Z"})
    .to_string()
}

/// `Seen` events as (key, attempt), by key.
pub(crate) fn sorted(mut seen: Vec<Seen>) -> Vec<(String, u32)> {
    seen.sort_by(|a, b| a.key.cmp(&b.key));
    seen.into_iter().map(|s| (s.key, s.attempt)).collect()
}

/// (DataType, StringValue) of a SendMessage request's attribute.
pub(crate) fn attribute(message: &Value, name: &str) -> (String, String) {
    let a = &message["MessageAttributes"][name];
    let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    (text("DataType"), text("StringValue"))
}
