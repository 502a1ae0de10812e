//! The CloudEvent of a gRPC delivery. daprd does not send the event's JSON over gRPC: it
//! splits it into the `TopicEventRequest` (or a bulk entry's `TopicEventCERequest`) fields
//! `id`, `source`, `type`, `spec_version`, `data_content_type`, `data` (the `data` value
//! re-encoded as JSON for JSON and CloudEvent content types, the text itself for `text/*`, the
//! decoded bytes of `data_base64`) and `extensions`, a `Struct` of every other field
//! (`topic`, `pubsubname`, `time`, `traceparent`, `correlationid`, ...). This puts the
//! envelope back together as the HTTP path would have decoded it, and checks it the same way
//! ([`CloudEvent::checked`]), so a delivery means the same on both protocols.
//!
//! [`super::daprd`] goes the other way, as daprd does.

use conveyor_runtime::CloudEvent;
use conveyor_runtime::cloudevent::DecodeError;
use prost_types::value::Kind;
use serde_json::value::RawValue;

/// The fields of a delivered event as daprd sends them over gRPC.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// `id`.
    pub id: &'a str,
    /// `source`.
    pub source: &'a str,
    /// `type`.
    pub ty: &'a str,
    /// `specversion`.
    pub spec_version: &'a str,
    /// `datacontenttype`.
    pub data_content_type: &'a str,
    /// The payload, as described above.
    pub data: &'a [u8],
    /// The topic of the subscription (empty inside a bulk entry: the bulk request has it).
    pub topic: &'a str,
    /// The pub/sub component.
    pub pubsub_name: &'a str,
    /// Every other field of the event.
    pub extensions: Option<&'a prost_types::Struct>,
}

/// How daprd encoded `data`, by the event's content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataForm {
    /// JSON (`application/json`, `*+json`, CloudEvents), or no content type at all.
    Json,
    /// Text sent as its bytes (`text/*`, `application/xml`).
    Text,
    /// Anything else: bytes no conveyor payload is.
    Binary,
}

pub(super) fn data_form(content_type: &str) -> DataForm {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || essence == "application/json" || essence.ends_with("+json") {
        DataForm::Json
    } else if essence.starts_with("text/") || essence == "application/xml" {
        DataForm::Text
    } else {
        DataForm::Binary
    }
}

fn text(extensions: Option<&prost_types::Struct>, field: &str) -> Option<String> {
    match extensions?.fields.get(field)?.kind.as_ref()? {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The CloudEvent `fields` describe, checked as [`CloudEvent::decode`] checks a body.
///
/// # Errors
/// [`DecodeError`]: `data` that is not the JSON its content type says, binary data, and
/// whatever [`CloudEvent::checked`] refuses.
pub fn cloud_event(fields: &Fields<'_>) -> Result<CloudEvent, DecodeError> {
    let ext = fields.extensions;
    let data = if fields.data.is_empty() {
        None
    } else {
        match data_form(fields.data_content_type) {
            DataForm::Json => Some(
                serde_json::from_slice::<Box<RawValue>>(fields.data)
                    .map_err(DecodeError::NotCloudEvent)?,
            ),
            DataForm::Text => Some(
                serde_json::value::to_raw_value(&String::from_utf8_lossy(fields.data))
                    .map_err(DecodeError::NotCloudEvent)?,
            ),
            DataForm::Binary => {
                return Err(DecodeError::BinaryData {
                    id: fields.id.to_owned(),
                });
            }
        }
    };
    CloudEvent {
        causationid: text(ext, "causationid"),
        correlationid: text(ext, "correlationid"),
        data,
        data_base64: None,
        datacontenttype: non_empty(fields.data_content_type),
        dataschema: text(ext, "dataschema"),
        id: fields.id.to_owned(),
        pubsubname: non_empty(fields.pubsub_name).or_else(|| text(ext, "pubsubname")),
        replayof: text(ext, "replayof"),
        source: fields.source.to_owned(),
        specversion: fields.spec_version.to_owned(),
        time: text(ext, "time"),
        topic: non_empty(fields.topic).or_else(|| text(ext, "topic")),
        traceid: text(ext, "traceid"),
        traceparent: text(ext, "traceparent"),
        tracestate: text(ext, "tracestate"),
        ty: fields.ty.to_owned(),
    }
    .checked()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn string(s: &str) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::StringValue(s.to_owned())),
        }
    }

    fn extensions() -> prost_types::Struct {
        let fields: BTreeMap<String, prost_types::Value> = [
            ("correlationid", "cor-1"),
            ("pubsubname", "pubsub-redis"),
            ("time", "2026-11-22T10:00:00Z"),
            ("topic", "payment.confirmed"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), string(v)))
        .collect();
        prost_types::Struct { fields }
    }

    fn fields<'a>(
        data: &'a [u8],
        content_type: &'a str,
        ext: &'a prost_types::Struct,
    ) -> Fields<'a> {
        Fields {
            id: "evt-1",
            source: "payment-service",
            ty: "com.dapr.event.sent",
            spec_version: "1.0",
            data_content_type: content_type,
            data,
            topic: "",
            pubsub_name: "",
            extensions: Some(ext),
        }
    }

    #[test]
    fn puts_the_envelope_back_together() {
        let ext = extensions();
        let event = cloud_event(&fields(br#"{"n":1}"#, "application/json", &ext)).unwrap();
        assert_eq!(event.id, "evt-1");
        assert_eq!(event.data.as_ref().unwrap().get(), r#"{"n":1}"#);
        assert_eq!(event.topic.as_deref(), Some("payment.confirmed"));
        assert_eq!(event.pubsubname.as_deref(), Some("pubsub-redis"));
        assert_eq!(event.correlationid.as_deref(), Some("cor-1"));
        assert_eq!(
            event.traceparent.as_deref(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(event.time.as_deref(), Some("2026-11-22T10:00:00Z"));
        // The same event as the HTTP path decodes it from daprd's body.
        let body = event.to_json();
        let decoded = CloudEvent::decode(body.as_bytes()).unwrap();
        assert_eq!(decoded.to_json(), body);
    }

    #[test]
    fn text_becomes_a_json_string_and_binary_is_refused() {
        let ext = extensions();
        let event = cloud_event(&fields(br#"{"n":2}"#, "text/plain", &ext)).unwrap();
        assert_eq!(event.data.as_ref().unwrap().get(), r#""{\"n\":2}""#);
        assert!(matches!(
            cloud_event(&fields(b"\x00\x01", "application/octet-stream", &ext)),
            Err(DecodeError::BinaryData { .. })
        ));
    }

    #[test]
    fn what_decode_refuses_is_refused_here_too() {
        let ext = extensions();
        assert!(matches!(
            cloud_event(&fields(b"", "application/json", &ext)),
            Err(DecodeError::MissingData { .. })
        ));
        assert!(matches!(
            cloud_event(&fields(b"{not json", "application/json", &ext)),
            Err(DecodeError::NotCloudEvent(_))
        ));
        let mut no_id = fields(br#"{"n":1}"#, "application/json", &ext);
        no_id.id = "";
        assert!(matches!(cloud_event(&no_id), Err(DecodeError::MissingId)));
        let mut old = fields(br#"{"n":1}"#, "application/json", &ext);
        old.spec_version = "0.3";
        assert!(matches!(
            cloud_event(&old),
            Err(DecodeError::BadSpecVersion { .. })
        ));
    }
}
