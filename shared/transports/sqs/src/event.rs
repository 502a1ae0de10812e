//! An SQS message as the record of the `SqsEvent` Lambda sends: the same field names and values
//! (`messageId`, `receiptHandle`, `body`, the system attributes such as
//! `ApproximateReceiveCount`, message attributes, `eventSource` `aws:sqs`, `eventSourceARN`,
//! `awsRegion`), so the handler cannot tell the local event source from Lambda's.

use std::collections::HashMap;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{Message, MessageAttributeValue};

/// The value of `eventSource` on every SQS record.
pub const EVENT_SOURCE: &str = "aws:sqs";

fn base64(bytes: &[u8]) -> Base64Data {
    let mut data = Base64Data::default();
    data.0 = bytes.to_vec();
    data
}

fn attribute(value: &MessageAttributeValue) -> SqsMessageAttribute {
    let mut attribute = SqsMessageAttribute::default();
    attribute.string_value = value.string_value().map(str::to_owned);
    attribute.binary_value = value.binary_value().map(|b| base64(b.as_ref()));
    attribute.string_list_values = value.string_list_values().to_vec();
    attribute.binary_list_values = value
        .binary_list_values()
        .iter()
        .map(|b| base64(b.as_ref()))
        .collect();
    attribute.data_type = Some(value.data_type().to_owned());
    attribute
}

/// The Lambda record of `message`, received from the queue `queue_arn` in `region`.
#[must_use]
pub fn record(message: &Message, queue_arn: &str, region: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_owned);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.body = message.body().map(str::to_owned);
    record.md5_of_body = message.md5_of_body().map(str::to_owned);
    record.md5_of_message_attributes = message.md5_of_message_attributes().map(str::to_owned);
    record.attributes = message
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record.message_attributes = message
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(name, value)| (name.clone(), attribute(value)))
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default();
    record.event_source = Some(EVENT_SOURCE.to_owned());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(region.to_owned());
    record
}

/// The batch Lambda would invoke the function with.
#[must_use]
pub fn batch(messages: &[Message], queue_arn: &str, region: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| record(m, queue_arn, region))
        .collect();
    event
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    use serde_json::json;

    use super::*;

    #[test]
    fn serializes_like_the_events_lambda_sends() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh-1")
            .body(r#"{"x":1}"#)
            .md5_of_body("md5")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1520621625029")
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("ping")
                    .build()
                    .unwrap(),
            )
            .message_attributes(
                "raw",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new(b"hi".to_vec()))
                    .build()
                    .unwrap(),
            )
            .build();
        let arn = "arn:aws:sqs:eu-west-1:123456789012:dev-f";
        let event = serde_json::to_value(batch(&[message], arn, "eu-west-1")).unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "rh-1");
        assert_eq!(record["body"], r#"{"x":1}"#);
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["eventSourceARN"], arn);
        assert_eq!(record["awsRegion"], "eu-west-1");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(record["attributes"]["SentTimestamp"], "1520621625029");
        assert_eq!(
            record["messageAttributes"]["kind"]["stringValue"],
            json!("ping")
        );
        assert_eq!(
            record["messageAttributes"]["kind"]["dataType"],
            json!("String")
        );
        assert_eq!(
            record["messageAttributes"]["raw"]["binaryValue"],
            json!("aGk=")
        );
        // The Lambda adapter reads it back as the aws_lambda_events type.
        let back: SqsEvent = serde_json::from_value(event).unwrap();
        assert_eq!(back.records[0].attributes["ApproximateReceiveCount"], "2");
    }
}
