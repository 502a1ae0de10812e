//! Publishing through EventBridge `PutEvents`: detail-type = topic, source = app id, detail = the
//! CloudEvent. Calls carry at most 10 entries and 256 KiB; only the entries EventBridge rejected
//! are sent again. Calls that fail as a whole were already retried by the SDK: their entries stay
//! in the outbox for the relay rather than holding up the invocation.

use std::time::Duration;

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use conveyor_store::OutboxRow;

use crate::publish::{BoxFuture, PublishError, Publisher};

use super::aws::{AwsSettings, client_from_settings};
use super::fifo::{self, QueueRoute};

/// PutEvents accepts at most this many entries per call.
pub const MAX_ENTRIES: usize = 10;
/// PutEvents accepts at most this many bytes per call (entries counted as EventBridge does).
pub const MAX_CALL_BYTES: usize = 256 * 1024;
/// Calls per batch while EventBridge keeps rejecting some of its entries.
const ATTEMPTS: u32 = 3;

/// Publishes to one event bus (and, for ordered functions, to their FIFO queues).
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    ordered: Option<OrderedQueues>,
}

/// The FIFO queues events also go to directly ([`super::fifo`]).
#[derive(Debug, Clone)]
struct OrderedQueues {
    client: aws_sdk_sqs::Client,
    routes: Vec<QueueRoute>,
}

/// Why a batch was not entirely accepted.
struct BatchFailure {
    /// Ids not accepted.
    ids: Vec<String>,
    /// The last reason.
    reason: String,
    /// The call itself failed (after the SDK's retries), not single entries.
    transport: Option<aws_sdk_eventbridge::Error>,
}

/// The size EventBridge counts for an entry: source, detail-type, detail (UTF-8 bytes), plus a
/// fixed 14 bytes for the time.
fn entry_size(row: &OutboxRow) -> usize {
    14 + source_of(row).len() + row.topic.len() + row.body.len()
}

/// The entry's source: the event's, as the row carries it (`conveyor` when it has none).
fn source_of(row: &OutboxRow) -> &str {
    if row.source.is_empty() {
        "conveyor"
    } else {
        &row.source
    }
}

/// Splits rows into calls of at most [`MAX_ENTRIES`] entries and [`MAX_CALL_BYTES`] bytes, in
/// order. A row too large on its own gets a call of its own (EventBridge then rejects it).
fn batches(rows: &[OutboxRow]) -> Vec<&[OutboxRow]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let size = entry_size(row);
        if i > start && (i - start == MAX_ENTRIES || bytes + size > MAX_CALL_BYTES) {
            out.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

impl EventBridgePublisher {
    /// A publisher to `bus`, configured from the AWS environment.
    #[must_use]
    pub fn from_env(bus: &str) -> Self {
        Self::new(bus, &AwsSettings::from_env("EVENTBRIDGE"))
    }

    /// A publisher to `bus` built from explicit settings.
    #[must_use]
    pub fn new(bus: &str, aws: &AwsSettings) -> Self {
        Self {
            client: client_from_settings!(aws_sdk_eventbridge, aws),
            bus: bus.to_owned(),
            ordered: None,
        }
    }

    /// Also sends the events of `routes`' topics straight to those queues (an ordered
    /// function's FIFO queue, with its key as message group), through an SQS client from `sqs`.
    #[must_use]
    pub fn with_ordered_routes(mut self, sqs: &AwsSettings, routes: Vec<QueueRoute>) -> Self {
        self.ordered = (!routes.is_empty()).then(|| OrderedQueues {
            client: sqs.sqs_client(),
            routes,
        });
        self
    }

    /// The bus events go to.
    #[must_use]
    pub fn bus(&self) -> &str {
        &self.bus
    }

    fn entry(&self, row: &OutboxRow) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(source_of(row))
            .detail_type(&row.topic)
            .detail(&row.body)
            .build()
    }

    /// Sends one batch, then again only its rejected entries.
    async fn put_batch(&self, rows: &[OutboxRow]) -> Result<(), BatchFailure> {
        let mut pending: Vec<&OutboxRow> = rows.iter().collect();
        let mut reason = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
            }
            let request = self
                .client
                .put_events()
                .set_entries(Some(pending.iter().map(|r| self.entry(r)).collect()));
            let output = match request.send().await {
                Ok(output) => output,
                Err(e) => {
                    let e = aws_sdk_eventbridge::Error::from(e);
                    return Err(BatchFailure {
                        ids: pending.iter().map(|r| r.id.clone()).collect(),
                        reason: DisplayErrorContext(&e).to_string(),
                        transport: Some(e),
                    });
                }
            };
            // Results come in request order; an entry without a result counts as rejected.
            let results = output.entries();
            let mut rejected = Vec::new();
            for (i, row) in pending.iter().enumerate() {
                match results.get(i) {
                    Some(result) if result.error_code().is_none() => {}
                    Some(result) => {
                        reason = format!(
                            "{}: {}",
                            result.error_code().unwrap_or_default(),
                            result.error_message().unwrap_or_default()
                        );
                        rejected.push(*row);
                    }
                    None => {
                        reason = "PutEvents returned fewer results than entries".to_owned();
                        rejected.push(*row);
                    }
                }
            }
            if rejected.is_empty() {
                return Ok(());
            }
            tracing::debug!(bus = %self.bus, rejected = rejected.len(), %reason, "PutEvents rejected entries");
            pending = rejected;
        }
        Err(BatchFailure {
            ids: pending.iter().map(|r| r.id.clone()).collect(),
            reason,
            transport: None,
        })
    }
}

impl Publisher for EventBridgePublisher {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let mut failed_ids = Vec::new();
            let mut reason = String::new();
            let calls = batches(events);
            for (i, batch) in calls.iter().enumerate() {
                let Err(failure) = self.put_batch(batch).await else {
                    continue;
                };
                failed_ids.extend(failure.ids);
                reason = failure.reason;
                if let Some(source) = failure.transport {
                    // The endpoint is failing: leave the rest to the relay.
                    let rest = calls[i + 1..].iter().flat_map(|b| b.iter());
                    failed_ids.extend(rest.map(|r| r.id.clone()));
                    if failed_ids.len() == events.len() && self.ordered.is_none() {
                        return Err(PublishError::Transport {
                            target: format!("EventBridge bus {}", self.bus),
                            source: source.into(),
                        });
                    }
                    break;
                }
            }
            // An event the bus refused is still sent to the queues: the relay publishes it
            // again later, and the FIFO queue's deduplication id (the event id) and the
            // consumers' inbox drop the second copy.
            if let Some(ordered) = &self.ordered {
                let (queue_failed, why) =
                    fifo::send(&ordered.client, &ordered.routes, events).await;
                if !queue_failed.is_empty() {
                    failed_ids.extend(queue_failed);
                    failed_ids.sort();
                    failed_ids.dedup();
                    reason = why;
                }
            }
            if failed_ids.is_empty() {
                Ok(())
            } else {
                Err(PublishError::Partial {
                    failed_ids,
                    total: events.len(),
                    reason,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, body_len: usize) -> OutboxRow {
        OutboxRow::bare(id.to_owned(), "t".to_owned(), "x".repeat(body_len))
    }

    #[test]
    fn the_source_is_the_rows_without_reading_its_body() {
        let mut row = row("e", 10);
        assert_eq!(source_of(&row), "conveyor", "none known");
        assert_eq!(entry_size(&row), 14 + "conveyor".len() + 1 + 10);
        row.source = "order-worker".to_owned();
        assert_eq!(source_of(&row), "order-worker");
        assert_eq!(entry_size(&row), 14 + "order-worker".len() + 1 + 10);
    }

    #[test]
    fn splits_by_count_and_by_size_keeping_order() {
        let rows: Vec<OutboxRow> = (0..25).map(|i| row(&i.to_string(), 10)).collect();
        let sizes: Vec<usize> = batches(&rows).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);

        let big: Vec<OutboxRow> = (0..5).map(|i| row(&i.to_string(), 100 * 1024)).collect();
        let split = batches(&big);
        assert_eq!(split.iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 2, 1]);
        let ids: Vec<&str> = split
            .iter()
            .flat_map(|b| b.iter().map(|r| r.id.as_str()))
            .collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4"]);

        let huge = [row("h", 300 * 1024), row("s", 10)];
        assert_eq!(
            batches(&huge).iter().map(|b| b.len()).collect::<Vec<_>>(),
            [1, 1]
        );
        assert!(batches(&[]).is_empty());
    }
}
