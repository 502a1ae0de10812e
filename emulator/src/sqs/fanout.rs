//! Publishing without a bus: each event is sent to the queues of the functions subscribed to
//! its topic, its body the CloudEvent (what a rule target with `InputPath` `$.detail` delivers),
//! in `SendMessageBatch` calls of at most ten entries and 256 KiB. A FIFO queue gets the
//! event's ordering key (else its topic) as message group and its id as deduplication id.

use std::collections::BTreeMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use conveyor_store::OutboxRow;

use super::SqsError;

/// Bytes per `SendMessageBatch` call that SQS accepts.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Sends each event to the queues whose topics include its topic (`routes`: topics and queue
/// URL); returns the ids not accepted and the last reason.
pub async fn send(
    client: &Client,
    routes: &[(&[&str], &str)],
    events: &[OutboxRow],
) -> (Vec<String>, String) {
    let mut per_queue: BTreeMap<&str, Vec<&OutboxRow>> = BTreeMap::new();
    for row in events {
        for (topics, url) in routes {
            if topics.contains(&row.topic.as_str()) {
                per_queue.entry(url).or_default().push(row);
            }
        }
    }
    let (mut failed, mut reason) = (Vec::new(), String::new());
    for (url, rows) in per_queue {
        for chunk in chunks(&rows) {
            if let Err((ids, why)) = send_chunk(client, url, chunk).await {
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
    url: &str,
    rows: &[&OutboxRow],
) -> Result<(), (Vec<String>, String)> {
    let fifo = url.ends_with(".fifo");
    let entries: Vec<SendMessageBatchRequestEntry> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(&row.body);
            if fifo {
                let group = row
                    .ordering_key
                    .clone()
                    .unwrap_or_else(|| row.topic.clone());
                entry = entry
                    .message_group_id(group)
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
                SqsError::sdk(format!("SendMessageBatch {url}"), &e).to_string(),
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

/// Splits rows into calls of at most ten entries and [`MAX_BATCH_BYTES`].
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
