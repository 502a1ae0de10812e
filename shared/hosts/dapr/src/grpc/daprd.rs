//! What daprd sends a gRPC app for a CloudEvent, built as daprd builds it (its
//! `GRPCEnvelopeFromSubscriptionMessage` for `OnTopicEvent`, `FetchEntry` for a bulk entry):
//! the fields `id`, `source`, `type`, `specversion` and `datacontenttype` apart, `data`
//! encoded by the content type (JSON re-encoded, text as its bytes, nothing for other types),
//! every other field in `extensions`. For whatever plays daprd toward a gRPC worker (the tests,
//! a load generator), and for checking here that [`super::envelope`] puts back what went out.

use dapr::dapr::proto::runtime::v1::topic_event_bulk_request_entry::Event;
use dapr::dapr::proto::runtime::v1::{
    TopicEventBulkRequestEntry, TopicEventCeRequest, TopicEventRequest,
};
use prost_types::value::Kind;
use serde_json::{Map, Value};

use super::envelope::{DataForm, data_form};

/// The fields daprd sends separately; every other one is an extension.
const SEPARATE: [&str; 7] = [
    "id",
    "source",
    "datacontenttype",
    "type",
    "specversion",
    "data",
    "data_base64",
];

fn proto_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(proto_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(proto_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn proto_struct(map: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), proto_value(v)))
            .collect(),
    }
}

/// What daprd sends for the CloudEvent `event` (a JSON object): the separate fields, `data`
/// encoded by the content type, the rest as extensions.
fn daprd_fields(event: &Map<String, Value>) -> TopicEventCeRequest {
    let text = |field: &str| {
        event
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let data_content_type = text("datacontenttype");
    let data = match (event.get("data"), data_form(&data_content_type)) {
        (None | Some(Value::Null), _) => Vec::new(),
        (Some(Value::String(s)), DataForm::Text) => s.clone().into_bytes(),
        (Some(data), DataForm::Json) if !data_content_type.is_empty() => {
            serde_json::to_vec(data).unwrap_or_default()
        }
        // daprd sends no data for a content type it neither reads as text nor as JSON.
        _ => Vec::new(),
    };
    let extensions: Map<String, Value> = event
        .iter()
        .filter(|(k, _)| !SEPARATE.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    TopicEventCeRequest {
        id: text("id"),
        source: text("source"),
        r#type: text("type"),
        spec_version: text("specversion"),
        data_content_type,
        data,
        extensions: Some(proto_struct(&extensions)),
    }
}

/// The `OnTopicEvent` request daprd makes of the CloudEvent JSON `body`, delivered from
/// `topic` of `pubsub_name` for the subscription routed to `path`; `None` when `body` is not a
/// JSON object (daprd would not deliver it as a CloudEvent).
#[must_use]
pub fn topic_event(
    body: &[u8],
    topic: &str,
    pubsub_name: &str,
    path: &str,
) -> Option<TopicEventRequest> {
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let f = daprd_fields(&event);
    Some(TopicEventRequest {
        id: f.id,
        source: f.source,
        r#type: f.r#type,
        spec_version: f.spec_version,
        data_content_type: f.data_content_type,
        data: f.data,
        topic: topic.to_owned(),
        pubsub_name: pubsub_name.to_owned(),
        path: path.to_owned(),
        extensions: f.extensions,
    })
}

/// The entry daprd puts in a bulk delivery for `body`: a CloudEvent JSON object as its
/// separate fields, anything else as raw bytes (a raw-payload subscription).
#[must_use]
pub fn bulk_entry(entry_id: &str, body: &[u8]) -> TopicEventBulkRequestEntry {
    let (event, content_type) = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(event)) => (
            Event::CloudEvent(daprd_fields(&event)),
            "application/cloudevents+json",
        ),
        _ => (Event::Bytes(body.to_vec()), "application/octet-stream"),
    };
    TopicEventBulkRequestEntry {
        entry_id: entry_id.to_owned(),
        content_type: content_type.to_owned(),
        metadata: std::collections::HashMap::new(),
        event: Some(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::envelope::{Fields, cloud_event};
    use conveyor_runtime::CloudEvent;

    #[test]
    fn what_daprd_sends_comes_back_as_the_event_it_delivered() {
        let body = br#"{"correlationid":"cor-9","data":{"n":3,"s":"x"},"datacontenttype":"application/json","id":"evt-9","pubsubname":"pubsub-redis","source":"payment-service","specversion":"1.0","time":"2026-11-22T10:00:00Z","topic":"test.ping","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"","type":"com.dapr.event.sent"}"#;
        let request = topic_event(body, "test.ping", "pubsub-redis", "/f").unwrap();
        assert_eq!(request.path, "/f");
        assert_eq!(request.data, br#"{"n":3,"s":"x"}"#);
        let event = cloud_event(&Fields {
            id: &request.id,
            source: &request.source,
            ty: &request.r#type,
            spec_version: &request.spec_version,
            data_content_type: &request.data_content_type,
            data: &request.data,
            topic: &request.topic,
            pubsub_name: &request.pubsub_name,
            extensions: request.extensions.as_ref(),
        })
        .unwrap();
        let over_http = CloudEvent::decode(body).unwrap();
        assert_eq!(event.to_json(), over_http.to_json());
        assert!(topic_event(b"[1,2]", "t", "p", "/f").is_none());
        let raw = bulk_entry("e", b"not json");
        assert!(matches!(raw.event, Some(Event::Bytes(_))));
        let ce = bulk_entry("e", body);
        assert!(matches!(ce.event, Some(Event::CloudEvent(_))));
    }
}
