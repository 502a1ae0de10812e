//! Deleting and editing DLQ messages. SQS deletes a message only by the receipt handle of a
//! receive and never changes a body, so both receive the DLQ (messages hidden while they are
//! looked at), act on the wanted ones and make the others visible again at once. An edit sends
//! the new body with the message's attributes (the failure reason stays) and then deletes the
//! old message; a crash in between leaves both, never neither.

use std::collections::HashSet;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use conveyor_runtime::lambda::envelope::decode_body;

use super::SqsError;

/// Seconds a received message stays hidden while it is edited or deleted.
const HIDE_SECONDS: i32 = 30;
/// Receive rounds at most (ten messages each).
const MAX_ROUNDS: usize = 1_000;

/// Whether `message` is one of `ids` (SQS message ids or CloudEvent ids); all when `None`.
pub(super) fn wanted(message: &Message, ids: Option<&[String]>) -> bool {
    let Some(ids) = ids else { return true };
    let message_id = message.message_id().unwrap_or_default();
    let event_id = message
        .body()
        .and_then(|b| decode_body(b).ok())
        .map(|e| e.id)
        .unwrap_or_default();
    ids.iter().any(|id| *id == message_id || *id == event_id)
}

/// A pass over a DLQ: what was seen, and what was received but not wanted (released at the end).
#[derive(Debug)]
pub(super) struct Pass {
    /// Seconds a received message stays hidden from others while the pass acts on it.
    hide_seconds: i32,
    seen: HashSet<String>,
    skipped: Vec<Message>,
}

impl Pass {
    /// A pass hiding what it receives for `hide_seconds`.
    pub(super) fn new(hide_seconds: i32) -> Self {
        Self {
            hide_seconds,
            seen: HashSet::new(),
            skipped: Vec::new(),
        }
    }

    /// The next wanted messages (hidden from others while handled); `None` once the queue
    /// shows nothing new.
    pub(super) async fn next(
        &mut self,
        client: &Client,
        url: &str,
        ids: Option<&[String]>,
    ) -> Result<Option<Vec<Message>>, SqsError> {
        loop {
            let received = client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(self.hide_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| SqsError::sdk(format!("ReceiveMessage {url}"), &e))?;
            let messages: Vec<Message> = received
                .messages
                .unwrap_or_default()
                .into_iter()
                .filter(|m| {
                    self.seen
                        .insert(m.message_id().unwrap_or_default().to_owned())
                })
                .collect();
            if messages.is_empty() {
                return Ok(None);
            }
            let (take, leave): (Vec<Message>, Vec<Message>) =
                messages.into_iter().partition(|m| wanted(m, ids));
            self.skipped.extend(leave);
            if !take.is_empty() {
                return Ok(Some(take));
            }
        }
    }

    /// Makes the unwanted messages visible again.
    pub(super) async fn finish(self, client: &Client, url: &str) {
        release(client, url, &self.skipped).await;
    }
}

/// Makes dead letters that were received but not wanted visible again at once.
async fn release(client: &Client, dlq_url: &str, messages: &[Message]) {
    for chunk in messages.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        let result = client
            .change_message_visibility_batch()
            .queue_url(dlq_url)
            .set_entries(Some(entries))
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %SqsError::sdk("ChangeMessageVisibilityBatch", &e), "skipped dead letters stay hidden until their visibility timeout");
        }
    }
}

/// Deletes `messages` from the queue at `url` in calls of ten. Returns how many SQS confirmed,
/// and the first call it refused as a whole; entries it refused singly are logged (they come back
/// after their visibility timeout).
pub(super) async fn delete_messages(
    client: &Client,
    url: &str,
    messages: &[&Message],
) -> (usize, Option<SqsError>) {
    let (mut deleted, mut error) = (0, None);
    for chunk in messages.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        let request = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries));
        match request.send().await {
            Ok(out) => {
                deleted += out.successful().len();
                for failure in out.failed() {
                    tracing::warn!(
                        queue = url,
                        code = failure.code(),
                        message = failure.message().unwrap_or_default(),
                        "delete failed; the message will be delivered again"
                    );
                }
            }
            Err(e) => {
                error.get_or_insert(SqsError::sdk(format!("DeleteMessageBatch {url}"), &e));
            }
        }
    }
    (deleted, error)
}

async fn delete_batch(client: &Client, url: &str, messages: &[Message]) -> Result<usize, SqsError> {
    let messages: Vec<&Message> = messages.iter().collect();
    match delete_messages(client, url, &messages).await {
        (_, Some(e)) => Err(e),
        (deleted, None) => Ok(deleted),
    }
}

/// Deletes the messages of the DLQ at `url` (all, or those in `ids`). Returns how many.
///
/// # Errors
/// [`SqsError`] when SQS refuses.
pub async fn delete(client: &Client, url: &str, ids: Option<&[String]>) -> Result<usize, SqsError> {
    let (mut pass, mut deleted) = (Pass::new(HIDE_SECONDS), 0);
    let mut result = Ok(());
    for _ in 0..MAX_ROUNDS {
        match pass.next(client, url, ids).await {
            Ok(Some(take)) => match delete_batch(client, url, &take).await {
                Ok(n) => deleted += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            },
            Ok(None) => break,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        if ids.is_some_and(|ids| deleted >= ids.len()) {
            break;
        }
    }
    pass.finish(client, url).await;
    result.map(|()| deleted)
}

/// Replaces the body of one DLQ message (by message id or CloudEvent id). Returns the new
/// message's id, or `None` when no such message was found.
///
/// # Errors
/// [`SqsError`] when SQS refuses.
pub async fn replace(
    client: &Client,
    url: &str,
    id: &str,
    body: &str,
) -> Result<Option<String>, SqsError> {
    let ids = [id.to_owned()];
    let mut pass = Pass::new(HIDE_SECONDS);
    let result = match pass.next(client, url, Some(&ids)).await {
        Ok(Some(mut take)) => {
            let old = take.remove(0);
            // Any other match (a duplicate of the same event) is left as it was.
            pass.skipped.extend(take);
            resend(client, url, &old, body).await.map(Some)
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    pass.finish(client, url).await;
    result
}

/// Sends `body` with `old`'s attributes, then deletes `old`.
async fn resend(client: &Client, url: &str, old: &Message, body: &str) -> Result<String, SqsError> {
    let mut send = client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .set_message_attributes(old.message_attributes().cloned());
    if url.ends_with(".fifo") {
        let group = old
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
            .unwrap_or_else(|| "edited".to_owned());
        send = send
            .message_group_id(group)
            .message_deduplication_id(uuid::Uuid::now_v7().to_string());
    }
    let sent = send
        .send()
        .await
        .map_err(|e| SqsError::sdk(format!("SendMessage {url}"), &e))?;
    delete_batch(client, url, std::slice::from_ref(old)).await?;
    Ok(sent.message_id().unwrap_or_default().to_owned())
}
