//! Sending events straight to the SQS queues of the functions that take them, as the queues'
//! own publisher: what keeps one order's events in order on AWS. An EventBridge rule can give a
//! FIFO target one fixed message group only, so conveyor sends each event whose topic an ordered
//! function consumes to that function's FIFO queue itself, with the function's ordering key
//! (read from the CloudEvent's data) as `MessageGroupId` and the event id as
//! `MessageDeduplicationId`; the body is the CloudEvent, as the rules' `$.detail` targets
//! deliver it. Calls carry at most ten entries and 256 KiB. The emulator's SQS transport uses
//! the same sends for every queue when it runs without a bus.

use std::collections::BTreeMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};

/// Environment variable: the ordered functions' queues, as a JSON list of [`QueueRoute`].
pub const ORDERED_ROUTES: &str = "CONVEYOR_ORDERED_ROUTES";

/// Bytes per `SendMessageBatch` call that SQS accepts.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// One function's queue and what goes there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRoute {
    /// The queue (a FIFO queue's URL ends in `.fifo`).
    pub queue_url: String,
    /// The topics the function consumes.
    pub topics: Vec<String>,
    /// The function's ordering key: the data field whose value is the message group.
    #[serde(default)]
    pub key: Option<String>,
}

/// Routes from their JSON text (the [`ORDERED_ROUTES`] variable).
///
/// # Errors
/// Text that is not such a list.
pub fn parse_routes(text: &str) -> Result<Vec<QueueRoute>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The message group of `row` on a queue ordered by `key`: the field's value in the
/// CloudEvent's data (as the row carries it), else the topic (so events without the key still
/// keep one order).
#[must_use]
pub fn message_group(row: &OutboxRow, key: Option<&str>) -> String {
    key.and_then(|field| row.data_field(field))
        .unwrap_or(&row.topic)
        .to_owned()
}

/// Sends each event to the queues whose routes include its topic; returns the ids not accepted
/// (sorted, once each) and the last reason.
pub async fn send(
    client: &Client,
    routes: &[QueueRoute],
    events: &[OutboxRow],
) -> (Vec<String>, String) {
    let mut per_queue: BTreeMap<usize, Vec<&OutboxRow>> = BTreeMap::new();
    for row in events {
        for (i, route) in routes.iter().enumerate() {
            if route.topics.contains(&row.topic) {
                per_queue.entry(i).or_default().push(row);
            }
        }
    }
    let (mut failed, mut reason) = (Vec::new(), String::new());
    for (i, rows) in per_queue {
        for chunk in chunks(&rows) {
            if let Err((ids, why)) = send_chunk(client, &routes[i], chunk).await {
                failed.extend(ids);
                reason = why;
            }
        }
    }
    failed.sort();
    failed.dedup();
    (failed, reason)
}

async fn send_chunk(
    client: &Client,
    route: &QueueRoute,
    rows: &[&OutboxRow],
) -> Result<(), (Vec<String>, String)> {
    let url = route.queue_url.as_str();
    let fifo = url.ends_with(".fifo");
    let entries: Vec<SendMessageBatchRequestEntry> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(&row.body);
            if fifo {
                entry = entry
                    .message_group_id(message_group(row, route.key.as_deref()))
                    .message_deduplication_id(&row.id);
            }
            entry.build().ok()
        })
        .collect();
    let all = || rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let out = client
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| {
            (
                all(),
                format!("SendMessageBatch {url}: {}", DisplayErrorContext(&e)),
            )
        })?;
    if out.failed().is_empty() {
        return Ok(());
    }
    let ids = out
        .failed()
        .iter()
        .filter_map(|f| rows.get(f.id().parse::<usize>().ok()?))
        .map(|r| r.id.clone())
        .collect();
    let why = out
        .failed()
        .first()
        .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or_default()))
        .unwrap_or_default();
    Err((ids, why))
}

/// Splits rows into calls of at most ten entries and [`MAX_BATCH_BYTES`], in order.
fn chunks<'a, 'r>(rows: &'a [&'r OutboxRow]) -> Vec<&'a [&'r OutboxRow]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        if i > start && (i - start == 10 || bytes + row.body.len() > MAX_BATCH_BYTES) {
            out.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += row.body.len();
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudevent::CloudEvent;
    use conveyor_domain::Timestamp;

    fn row(topic: &str, data: &serde_json::Value) -> OutboxRow {
        CloudEvent::new(topic, "order-worker", data, Timestamp::from_millis(0))
            .unwrap()
            .into_outbox_row()
    }

    #[test]
    fn the_group_is_the_key_field_else_the_topic() {
        let paid = row(
            "payment.confirmed",
            &serde_json::json!({ "order_id": "ord-7" }),
        );
        assert_eq!(message_group(&paid, Some("order_id")), "ord-7");
        assert_eq!(message_group(&paid, None), "payment.confirmed");
        let keyless = row("payment.confirmed", &serde_json::json!({ "other": 1 }));
        assert_eq!(
            message_group(&keyless, Some("order_id")),
            "payment.confirmed"
        );
        // Read from the row, not its body.
        let mut reworded = paid.clone();
        reworded.body = "not a CloudEvent".to_owned();
        assert_eq!(message_group(&reworded, Some("order_id")), "ord-7");
    }

    #[test]
    fn routes_read_from_json_and_calls_split_by_count_and_size() {
        let routes = parse_routes(
            r#"[{"queue_url":"https://q/x.fifo","topics":["a","b"],"key":"order_id"},{"queue_url":"https://q/y","topics":["a"]}]"#,
        )
        .unwrap();
        assert_eq!(routes[0].key.as_deref(), Some("order_id"));
        assert_eq!(routes[1].key, None);
        assert!(parse_routes("{").is_err());

        let small: Vec<OutboxRow> = (0..25)
            .map(|n| row("a", &serde_json::json!({ "n": n })))
            .collect();
        let refs: Vec<&OutboxRow> = small.iter().collect();
        let sizes: Vec<usize> = chunks(&refs).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let big: Vec<OutboxRow> = (0..3)
            .map(|_| row("a", &serde_json::json!({ "x": "y".repeat(100 * 1024) })))
            .collect();
        let refs: Vec<&OutboxRow> = big.iter().collect();
        let sizes: Vec<usize> = chunks(&refs).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 1]);
    }
}
