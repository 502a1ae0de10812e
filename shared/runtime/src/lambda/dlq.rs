//! Sending dropped records to the function's dead-letter queue, with the reason.
//!
//! The DLQ receives the original body unchanged (envelope included), so a redrive to the source
//! queue is decoded exactly as the first delivery was. Why it was dropped travels as message
//! attributes: the error, the function, the attempts, and when it was first received and dropped.

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::aws::{AwsSettings, client_from_settings};

/// Message attribute: the error chain (at most [`MAX_REASON_CHARS`] characters).
pub const ATTR_ERROR: &str = "conveyor-error";
/// Message attribute: the function that dropped it.
pub const ATTR_FUNCTION: &str = "conveyor-function";
/// Message attribute: deliveries so far (`Number`).
pub const ATTR_ATTEMPTS: &str = "conveyor-attempts";
/// Message attribute: RFC 3339 time it was dead-lettered.
pub const ATTR_DEAD_LETTERED_AT: &str = "conveyor-dead-lettered-at";
/// Message attribute: the SQS message id it had in the source queue.
pub const ATTR_SOURCE_MESSAGE_ID: &str = "conveyor-source-message-id";
/// Message attribute: the source queue's `ApproximateFirstReceiveTimestamp` (Unix ms).
pub const ATTR_FIRST_RECEIVED_AT: &str = "conveyor-first-received-at";
/// Longest error text kept.
pub const MAX_REASON_CHARS: usize = 1024;

/// The function's DLQ.
#[derive(Debug, Clone)]
pub struct SqsDeadLetter {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    function: &'static str,
}

/// An attribute value; `None` for an empty one (SQS rejects empty values).
fn attribute(data_type: &str, value: impl Into<String>) -> Option<MessageAttributeValue> {
    let value = value.into();
    if value.is_empty() {
        return None;
    }
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .ok()
}

impl SqsDeadLetter {
    /// A client for `queue_url`, configured from the AWS environment.
    #[must_use]
    pub fn from_env(function: &'static str, queue_url: &str) -> Self {
        Self::new(function, queue_url, &AwsSettings::from_env("SQS"))
    }

    /// A client for `queue_url` built from explicit settings.
    #[must_use]
    pub fn new(function: &'static str, queue_url: &str, aws: &AwsSettings) -> Self {
        Self {
            client: client_from_settings!(aws_sdk_sqs, aws),
            queue_url: queue_url.to_owned(),
            function,
        }
    }

    /// The queue dropped records go to.
    #[must_use]
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends the original body with the failure as message attributes. A FIFO DLQ (its URL ends
    /// in `.fifo`) gets the record's message group and its message id as deduplication id.
    ///
    /// # Errors
    /// The SDK error; the caller then reports the record as failed so SQS keeps it.
    pub async fn send(
        &self,
        record: &SqsMessage,
        reason: &str,
        attempts: u32,
        now: &str,
    ) -> Result<(), aws_sdk_sqs::Error> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(record.body.clone().unwrap_or_default());
        if self.queue_url.ends_with(".fifo") {
            let group = record
                .attributes
                .get("MessageGroupId")
                .map_or(self.function, String::as_str);
            request = request
                .message_group_id(group)
                .set_message_deduplication_id(record.message_id.clone());
        }
        let first_received = record.attributes.get("ApproximateFirstReceiveTimestamp");
        let attributes = [
            (
                ATTR_ERROR,
                attribute(
                    "String",
                    reason.chars().take(MAX_REASON_CHARS).collect::<String>(),
                ),
            ),
            (ATTR_FUNCTION, attribute("String", self.function)),
            (ATTR_ATTEMPTS, attribute("Number", attempts.to_string())),
            (ATTR_DEAD_LETTERED_AT, attribute("String", now)),
            (
                ATTR_SOURCE_MESSAGE_ID,
                record
                    .message_id
                    .clone()
                    .and_then(|id| attribute("String", id)),
            ),
            (
                ATTR_FIRST_RECEIVED_AT,
                first_received.and_then(|t| attribute("String", t.clone())),
            ),
        ];
        for (name, value) in attributes {
            if let Some(value) = value {
                request = request.message_attributes(name, value);
            }
        }
        request.send().await?;
        Ok(())
    }
}
