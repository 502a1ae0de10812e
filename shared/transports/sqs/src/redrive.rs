//! Dead letters back to the function's queue. SQS's own `StartMessageMoveTask` does it where the
//! endpoint implements it (AWS; moto does not); otherwise, or when only some messages are
//! wanted, messages are received from the DLQ, sent to the source queue and then deleted from
//! the DLQ, so a crash in between duplicates a message rather than losing it (the inbox makes
//! the duplicate harmless). The failure attributes the Lambda adapter added are left behind.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use serde::Serialize;

use super::SqsError;
use super::edit::{Pass, delete_messages};
use super::queues::FunctionQueues;

/// Seconds a received dead letter stays hidden from others while it is moved.
const MOVE_VISIBILITY_SECONDS: i32 = 60;
/// Receive rounds at most per redrive (ten messages each).
const MAX_ROUNDS: usize = 10_000;
/// Message attributes that describe the failure; they stay behind in the DLQ.
const FAILURE_ATTRIBUTE_PREFIX: &str = "conveyor-";

/// How the dead letters were moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum RedriveOutcome {
    /// SQS moves them in the background.
    MoveTask {
        /// The task's handle (for `ListMessageMoveTasks` / `CancelMessageMoveTask`).
        task_handle: String,
    },
    /// Moved by receive, send and delete.
    ReceiveSendDelete {
        /// How many were moved.
        moved: usize,
    },
}

/// Whether an error means the endpoint has no `StartMessageMoveTask` (rather than refusing it).
fn unsupported<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_sqs::error::SdkError<E, R>,
    status: Option<u16>,
) -> bool {
    let code = error.code().unwrap_or_default();
    status.is_some_and(|s| s >= 500)
        || [
            "NotImplemented",
            "UnsupportedOperation",
            "InvalidAction",
            "UnknownOperation",
        ]
        .iter()
        .any(|c| code.contains(c))
}

/// Moves `function`'s dead letters back to its queue: all of them with a move task where SQS
/// has one, else (and for a selection of `ids`: SQS message ids or CloudEvent ids) by receive,
/// send and delete.
///
/// # Errors
/// [`SqsError`] when SQS refuses.
pub async fn redrive(
    client: &Client,
    queues: &FunctionQueues,
    ids: Option<&[String]>,
) -> Result<RedriveOutcome, SqsError> {
    if ids.is_none() {
        let started = client
            .start_message_move_task()
            .source_arn(&queues.dlq_arn)
            .destination_arn(&queues.queue_arn)
            .send()
            .await;
        match started {
            Ok(out) => {
                return Ok(RedriveOutcome::MoveTask {
                    task_handle: out.task_handle().unwrap_or_default().to_owned(),
                });
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                if !unsupported(&e, status) {
                    return Err(SqsError::sdk("StartMessageMoveTask", &e));
                }
                tracing::info!(function = queues.function, error = %SqsError::sdk("StartMessageMoveTask", &e), "no move task on this endpoint; moving by receive, send and delete");
            }
        }
    }
    let moved = copy_back(client, queues, ids).await?;
    Ok(RedriveOutcome::ReceiveSendDelete { moved })
}

fn without_failure_attributes(message: &Message) -> HashMap<String, MessageAttributeValue> {
    message
        .message_attributes()
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !k.starts_with(FAILURE_ATTRIBUTE_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn send_entry(i: usize, message: &Message, fifo: bool) -> Option<SendMessageBatchRequestEntry> {
    let attributes = without_failure_attributes(message);
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(i.to_string())
        .message_body(message.body().unwrap_or_default())
        .set_message_attributes((!attributes.is_empty()).then_some(attributes));
    if fifo {
        let group = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
            .unwrap_or_else(|| "redrive".to_owned());
        entry = entry
            .message_group_id(group)
            .set_message_deduplication_id(message.message_id().map(str::to_owned));
    }
    entry.build().ok()
}

/// Receive from the DLQ, send to the source queue, delete from the DLQ; returns how many moved.
async fn copy_back(
    client: &Client,
    queues: &FunctionQueues,
    ids: Option<&[String]>,
) -> Result<usize, SqsError> {
    let fifo = queues.queue_url.ends_with(".fifo");
    let (mut moved, mut pass) = (0, Pass::new(MOVE_VISIBILITY_SECONDS));
    for _ in 0..MAX_ROUNDS {
        let Some(take) = pass.next(client, &queues.dlq_url, ids).await? else {
            break;
        };
        let entries: Vec<_> = take
            .iter()
            .enumerate()
            .filter_map(|(i, m)| send_entry(i, m, fifo))
            .collect();
        let sent = client
            .send_message_batch()
            .queue_url(&queues.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| SqsError::sdk(format!("SendMessageBatch {}", queues.queue_url), &e))?;
        for failure in sent.failed() {
            tracing::warn!(
                function = queues.function,
                code = failure.code(),
                "a dead letter was not sent back; it stays in the DLQ"
            );
        }
        let delivered: Vec<&Message> = sent
            .successful()
            .iter()
            .filter_map(|ok| take.get(ok.id().parse::<usize>().ok()?))
            .collect();
        match delete_messages(client, &queues.dlq_url, &delivered).await {
            (deleted, None) => moved += deleted,
            (_, Some(e)) => return Err(e),
        }
    }
    pass.finish(client, &queues.dlq_url).await;
    Ok(moved)
}
