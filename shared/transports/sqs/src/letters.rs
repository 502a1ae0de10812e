//! Reading a DLQ without taking from it: messages are received with a visibility timeout of 0,
//! so they stay where they are (SQS counts the look as a receive). A message the Lambda adapter
//! dropped carries its reason as `conveyor-*` attributes; one SQS moved after too many receives
//! carries none, and the reason says so.

use std::collections::HashSet;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use conveyor_domain::Timestamp;
use conveyor_runtime::lambda::dlq::{
    ATTR_ATTEMPTS, ATTR_DEAD_LETTERED_AT, ATTR_ERROR, ATTR_FIRST_RECEIVED_AT,
};
use conveyor_runtime::lambda::envelope::decode_body;
use conveyor_store::queue::DeadLetter;

use super::SqsError;

/// Receive rounds at most per look (SQS returns at most ten messages per receive, a sample of
/// its servers each time).
const MAX_ROUNDS: usize = 20;

fn attribute<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message.message_attributes()?.get(name)?.string_value()
}

fn system(message: &Message, name: &MessageSystemAttributeName) -> Option<i64> {
    message.attributes()?.get(name)?.parse().ok()
}

/// A DLQ message as a dead letter of `function`, which SQS moves after `max_deliveries`.
#[must_use]
pub fn dead_letter(message: &Message, function: &str, max_deliveries: u32) -> DeadLetter {
    let body = message.body().unwrap_or_default().to_owned();
    let event = decode_body(&body).ok();
    let sent = system(message, &MessageSystemAttributeName::SentTimestamp)
        .map_or_else(|| Timestamp::from_millis(0), Timestamp::from_millis);
    let attempts = attribute(message, ATTR_ATTEMPTS)
        .and_then(|a| a.parse().ok())
        .unwrap_or(max_deliveries);
    let error = attribute(message, ATTR_ERROR).map_or_else(
        || {
            format!(
                "not handled after {max_deliveries} receives; moved by the queue's redrive policy"
            )
        },
        str::to_owned,
    );
    DeadLetter {
        id: message.message_id().unwrap_or_default().to_owned(),
        function: function.to_owned(),
        event_id: event.as_ref().map(|e| e.id.clone()).unwrap_or_default(),
        topic: event.map(|e| e.topic.unwrap_or(e.ty)).unwrap_or_default(),
        body,
        error,
        attempts,
        first_attempt_at: attribute(message, ATTR_FIRST_RECEIVED_AT)
            .and_then(|t| t.parse().ok())
            .map_or(sent, Timestamp::from_millis),
        failed_at: attribute(message, ATTR_DEAD_LETTERED_AT)
            .and_then(|t| Timestamp::parse_rfc3339(t).ok())
            .unwrap_or(sent),
    }
}

/// Up to `limit` messages of the queue at `url`, left in place.
///
/// # Errors
/// [`SqsError`] when the receive fails.
pub async fn peek(client: &Client, url: &str, limit: usize) -> Result<Vec<Message>, SqsError> {
    let (mut seen, mut out) = (HashSet::new(), Vec::new());
    for _ in 0..MAX_ROUNDS {
        if out.len() >= limit {
            break;
        }
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| SqsError::sdk(format!("ReceiveMessage {url}"), &e))?;
        let fresh: Vec<Message> = received
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter(|m| seen.insert(m.message_id().unwrap_or_default().to_owned()))
            .collect();
        if fresh.is_empty() {
            break;
        }
        out.extend(fresh);
    }
    out.truncate(limit);
    Ok(out)
}
