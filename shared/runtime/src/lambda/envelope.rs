//! What an SQS record body may hold: a bare CloudEvent, an EventBridge event whose `detail` is
//! the CloudEvent (a rule targeting the queue without `InputPath`), or an SNS notification whose
//! `Message` is either of those (a queue subscribed to a topic).

use serde_json::Value;

use crate::cloudevent::{CloudEvent, DecodeError};

/// Unwraps envelopes until a CloudEvent remains. A bare CloudEvent (what conveyor sends to a
/// FIFO queue, what a rule's `$.detail` target delivers) is decoded in one pass; only a body
/// that is not one is read as a JSON document and unwrapped. An envelope never decodes as a
/// CloudEvent: neither EventBridge's nor SNS's has a top-level `data`, and SNS's has no `id`.
///
/// # Errors
/// [`DecodeError`] when no CloudEvent can be found.
pub fn decode_body(body: &str) -> Result<CloudEvent, DecodeError> {
    if let Ok(event) = CloudEvent::decode(body.as_bytes()) {
        return Ok(event);
    }
    #[cfg(test)]
    crate::cloudevent::parses::add();
    let value: Value = serde_json::from_str(body).map_err(DecodeError::NotCloudEvent)?;
    decode_value(&value, 0)
}

fn decode_value(value: &Value, depth: u8) -> Result<CloudEvent, DecodeError> {
    if depth < 3
        && let Some(inner) = unwrap_envelope(value)
    {
        return decode_value(&inner, depth + 1);
    }
    let bytes = serde_json::to_vec(value).map_err(DecodeError::NotCloudEvent)?;
    CloudEvent::decode(&bytes)
}

/// The inner document of an EventBridge or SNS envelope, if `value` is one.
fn unwrap_envelope(value: &Value) -> Option<Value> {
    let object = value.as_object()?;
    if object.contains_key("specversion") {
        return None;
    }
    if object.contains_key("detail-type") {
        return match object.get("detail")? {
            Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        };
    }
    if object.get("Type").and_then(Value::as_str) == Some("Notification") {
        return serde_json::from_str(object.get("Message")?.as_str()?).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CE: &str = r#"{"id":"e-1","specversion":"1.0","type":"payment.confirmed","source":"payment-service","data":{"order_id":"o-1"}}"#;

    #[test]
    fn decodes_bare_eventbridge_and_sns_bodies() {
        crate::cloudevent::parses::take();
        assert_eq!(decode_body(CE).unwrap().id, "e-1");
        assert_eq!(
            crate::cloudevent::parses::take(),
            1,
            "a bare CloudEvent is parsed once"
        );
        let eb = format!(
            r#"{{"version":"0","id":"x","detail-type":"payment.confirmed","source":"payment-service","detail":{CE}}}"#
        );
        assert_eq!(decode_body(&eb).unwrap().id, "e-1");
        let sns = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn", "Message": CE}).to_string();
        assert_eq!(decode_body(&sns).unwrap().id, "e-1");
        let sns_eb = serde_json::json!({"Type": "Notification", "Message": eb}).to_string();
        assert_eq!(decode_body(&sns_eb).unwrap().id, "e-1");
    }

    #[test]
    fn reports_why_a_body_is_unusable() {
        assert!(matches!(
            decode_body("not json"),
            Err(DecodeError::NotCloudEvent(_))
        ));
        let eb_without_ce = r#"{"detail-type":"x","source":"y","detail":{"order_id":"o-1"}}"#;
        assert!(matches!(
            decode_body(eb_without_ce),
            Err(DecodeError::NotCloudEvent(_))
        ));
        let no_data = r#"{"id":"e","specversion":"1.0","type":"t"}"#;
        assert!(matches!(
            decode_body(no_data),
            Err(DecodeError::MissingData { .. })
        ));
    }
}
