//! The CloudEvents 1.0 JSON envelope, field-compatible with what daprd writes and reads.
//!
//! Fields are declared in alphabetical order so the serialised JSON has sorted keys, like Go's
//! `encoding/json` in daprd. `data` stays raw JSON until the handler's payload type decodes it.
//! A body as conveyor and daprd write it (compact, no escape sequence) is decoded field by field
//! (module `compact`); any other body by serde_json, with the same result.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use conveyor_domain::Timestamp;

mod compact;
mod fields;

/// Test builds count the bodies parsed on this thread ([`CloudEvent::decode`], and the Lambda
/// host reading an envelope), so a test can tell how often one delivery decodes its event.
#[cfg(test)]
pub(crate) mod parses {
    use std::cell::Cell;

    thread_local! {
        static PARSED: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts one parse.
    pub(crate) fn add() {
        PARSED.with(|n| n.set(n.get() + 1));
    }

    /// The parses counted since the last call.
    pub(crate) fn take() -> usize {
        PARSED.with(|n| n.replace(0))
    }
}

/// The only spec version accepted and written.
pub const SPEC_VERSION: &str = "1.0";
/// Content type of every payload conveyor writes.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Pub/sub component name used on every host (Dapr's component name).
pub const PUBSUB_NAME: &str = "pubsub-redis";

/// A CloudEvent as it travels on every transport.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Extension: the id of the event whose handling published this one (for a job's events,
    /// the tick's id); absent on an event that nothing in conveyor caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<String>,
    /// Extension: the id shared by every event of one business flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<String>,
    /// The payload, kept as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// Binary payloads (daprd's raw-payload mode); not decoded by conveyor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// `application/json` for everything conveyor writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    /// The schema of `data`, naming its major version (see [`data_schema`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    /// Unique per event; stable across retries, hosts and redrives.
    pub id: String,
    /// Pub/sub component name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubsubname: Option<String>,
    /// Extension: on an event replayed from the event store as a new event, the id of the
    /// event it replays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayof: Option<String>,
    /// Publishing app id (`order-worker`, ...).
    #[serde(default)]
    pub source: String,
    /// Always `1.0`.
    #[serde(default = "default_spec_version")]
    pub specversion: String,
    /// RFC 3339 time of the occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Topic it was published to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Same as `traceparent` (daprd writes both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceid: Option<String>,
    /// W3C traceparent of the publishing span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// W3C tracestate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// The topic name (conveyor's convention; daprd's default is `com.dapr.event.sent`).
    #[serde(rename = "type", default)]
    pub ty: String,
}

/// The `dataschema` of an event of `topic`: `schemas/<topic>/v<major>.json`, a reference
/// relative to the `events/` folder naming the file and the major version of its payload's
/// schema; `None` for a topic the platform does not know.
#[must_use]
pub fn data_schema(topic: &str) -> Option<String> {
    conveyor_domain::events::schema_version(topic).map(|v| format!("schemas/{topic}/v{v}.json"))
}

fn default_spec_version() -> String {
    SPEC_VERSION.to_owned()
}

/// Why bytes are not a usable CloudEvent or its payload is not the expected type. Always
/// permanent: the same bytes will never decode on a retry.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not JSON or not a JSON object with the envelope's fields.
    #[error("body is not a CloudEvent: {0}")]
    NotCloudEvent(#[source] serde_json::Error),
    /// `id` is empty.
    #[error("CloudEvent has an empty id")]
    MissingId,
    /// Neither `data` nor `data_base64`.
    #[error("CloudEvent {id} has no data")]
    MissingData {
        /// The event id.
        id: String,
    },
    /// Only `data_base64`, which no conveyor payload uses.
    #[error("CloudEvent {id} carries data_base64; conveyor payloads are JSON")]
    BinaryData {
        /// The event id.
        id: String,
    },
    /// `data` is JSON but not the handler's payload type.
    #[error("CloudEvent {id} data does not match the payload type: {source}")]
    BadPayload {
        /// The event id.
        id: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// Unsupported `specversion`.
    #[error("CloudEvent {id} has specversion {version:?}, expected 1.0")]
    BadSpecVersion {
        /// The event id.
        id: String,
        /// What it had.
        version: String,
    },
}

impl CloudEvent {
    /// Decodes and checks an envelope: JSON object, non-empty id, specversion 1.0, has data.
    ///
    /// # Errors
    /// [`DecodeError`] saying what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        #[cfg(test)]
        parses::add();
        // One UTF-8 check of the whole body, so the parser does not check each string again;
        // the form conveyor and daprd write takes the fast path, anything else serde_json's.
        let event: Self = match std::str::from_utf8(bytes) {
            Ok(text) => compact::decode(text).map_or_else(|| serde_json::from_str(text), Ok),
            Err(_) => serde_json::from_slice(bytes),
        }
        .map_err(DecodeError::NotCloudEvent)?;
        event.checked()
    }

    /// The checks of [`CloudEvent::decode`] on an event built field by field (as from daprd's
    /// gRPC delivery): non-empty id, specversion 1.0, has data.
    ///
    /// # Errors
    /// [`DecodeError`] saying what is wrong.
    pub fn checked(self) -> Result<Self, DecodeError> {
        if self.id.trim().is_empty() {
            return Err(DecodeError::MissingId);
        }
        if self.specversion != SPEC_VERSION {
            return Err(DecodeError::BadSpecVersion {
                id: self.id,
                version: self.specversion,
            });
        }
        if self.data.as_ref().is_none_or(|d| d.get() == "null") {
            return Err(if self.data_base64.is_some() {
                DecodeError::BinaryData { id: self.id }
            } else {
                DecodeError::MissingData { id: self.id }
            });
        }
        Ok(self)
    }

    /// Decodes `data` as `T`. A `data` that is a JSON string holding JSON (a publisher that sent
    /// `text/plain`) is unwrapped once.
    ///
    /// # Errors
    /// [`DecodeError::MissingData`] or [`DecodeError::BadPayload`].
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        let raw = self.data.as_ref().ok_or_else(|| DecodeError::MissingData {
            id: self.id.clone(),
        })?;
        match serde_json::from_str::<T>(raw.get()) {
            Ok(value) => Ok(value),
            Err(first) => {
                if let Ok(inner) = serde_json::from_str::<String>(raw.get())
                    && let Ok(value) = serde_json::from_str::<T>(&inner)
                {
                    return Ok(value);
                }
                Err(DecodeError::BadPayload {
                    id: self.id.clone(),
                    source: first,
                })
            }
        }
    }

    /// A new event for `topic` with a fresh id, stamped with the given time and trace.
    ///
    /// # Errors
    /// The serde error when `payload` cannot be serialised.
    pub fn new<T: Serialize + ?Sized>(
        topic: &str,
        source: &str,
        payload: &T,
        time: Timestamp,
    ) -> Result<Self, serde_json::Error> {
        let data = serde_json::value::to_raw_value(payload)?;
        Ok(Self {
            causationid: None,
            correlationid: None,
            data: Some(data),
            data_base64: None,
            datacontenttype: Some(JSON_CONTENT_TYPE.to_owned()),
            dataschema: None,
            id: uuid::Uuid::now_v7().to_string(),
            pubsubname: Some(PUBSUB_NAME.to_owned()),
            replayof: None,
            source: source.to_owned(),
            specversion: SPEC_VERSION.to_owned(),
            time: Some(time.to_rfc3339()),
            topic: Some(topic.to_owned()),
            traceid: None,
            traceparent: None,
            tracestate: None,
            ty: topic.to_owned(),
        })
    }

    /// A top-level field of `data` as text (strings as they are, numbers and booleans printed):
    /// what an ordering key is read from. `None` when absent, null or structured.
    #[must_use]
    pub fn data_field(&self, field: &str) -> Option<String> {
        let data: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.data.as_ref()?.get()).ok()?;
        match data.get(field)? {
            serde_json::Value::String(s) => Some(s.clone()),
            v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
            _ => None,
        }
    }

    /// Every top-level field of `data` that [`CloudEvent::data_field`] reads (strings,
    /// numbers and booleans), as text, in the order they come; empty when `data` is not an
    /// object. Nested values are skipped, not decoded.
    #[must_use]
    pub fn data_fields(&self) -> Vec<(String, String)> {
        self.data
            .as_ref()
            .and_then(|data| serde_json::from_str::<fields::Scalars>(data.get()).ok())
            .map(|fields| fields.0)
            .unwrap_or_default()
    }

    /// How late a handler starting at `now` is on this event: `now` minus its `time`; `None`
    /// when it carries no readable `time`, zero when its time is ahead of `now` (clocks that
    /// disagree).
    #[must_use]
    pub fn lag(&self, now: Timestamp) -> Option<std::time::Duration> {
        let time = Timestamp::parse_rfc3339(self.time.as_deref()?).ok()?;
        let ms = now.millis().saturating_sub(time.millis()).max(0);
        Some(std::time::Duration::from_millis(
            u64::try_from(ms).unwrap_or(0),
        ))
    }

    /// The topic: `topic`, else `type`.
    #[must_use]
    pub fn topic_name(&self) -> &str {
        self.topic
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(&self.ty)
    }

    /// Compact JSON with sorted keys.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serialising plain strings and already-valid raw JSON cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct P {
        order_id: String,
    }

    #[test]
    fn lag_is_now_minus_the_event_time_never_negative() {
        let now = Timestamp::parse_rfc3339("2026-01-01T00:00:12.500Z").unwrap();
        let lag = |time: Option<&str>| {
            let mut event = CloudEvent::new("t", "test", &(), now).unwrap();
            event.time = time.map(str::to_owned);
            event.lag(now)
        };
        let ms = std::time::Duration::from_millis;
        assert_eq!(lag(Some("2026-01-01T00:00:00Z")), Some(ms(12_500)));
        assert_eq!(lag(Some("2026-01-01T01:00:00+01:00")), Some(ms(12_500)));
        assert_eq!(lag(Some("2026-01-01T00:01:00Z")), Some(ms(0)));
        assert_eq!(lag(Some("yesterday")), None);
        assert_eq!(lag(None), None);
    }

    #[test]
    fn data_fields_are_what_data_field_reads() {
        let data = r#"{"order_id":"o-1","n":7,"x":1.5e300,"ok":true,"none":null,"lines":[{"a":1}],"nested":{"order_id":"no"},"esc":"a\"b","order_id2":-3}"#;
        let event = CloudEvent::decode(
            format!(r#"{{"data":{data},"id":"e","specversion":"1.0"}}"#).as_bytes(),
        )
        .unwrap();
        let fields = event.data_fields();
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["order_id", "n", "x", "ok", "esc", "order_id2"]);
        for name in [
            "order_id",
            "n",
            "x",
            "ok",
            "none",
            "lines",
            "nested",
            "esc",
            "order_id2",
        ] {
            let kept = fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            assert_eq!(kept, event.data_field(name), "{name}");
        }
        let twice = CloudEvent::decode(
            br#"{"data":{"k":"first","j":1,"k":"last","j":[2]},"id":"e","specversion":"1.0"}"#,
        )
        .unwrap();
        assert_eq!(twice.data_fields(), [("k".to_owned(), "last".to_owned())]);
        assert_eq!(twice.data_field("k").as_deref(), Some("last"));
        assert_eq!(twice.data_field("j"), None);
        let listed = CloudEvent::decode(br#"{"data":[1,2],"id":"e","specversion":"1.0"}"#).unwrap();
        assert!(listed.data_fields().is_empty());
    }

    #[test]
    fn decodes_dapr_written_event_with_sorted_keys() {
        let body = br#"{"data":{"order_id":"o-1"},"datacontenttype":"application/json","id":"e-1","pubsubname":"pubsub-redis","source":"payment-service","specversion":"1.0","time":"2026-11-22T10:00:00Z","topic":"payment.confirmed","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"","type":"com.dapr.event.sent"}"#;
        let ev = CloudEvent::decode(body).unwrap();
        assert_eq!(ev.topic_name(), "payment.confirmed");
        assert_eq!(
            ev.payload::<P>().unwrap(),
            P {
                order_id: "o-1".into()
            }
        );
    }

    #[test]
    fn rejects_bad_envelopes_with_reasons() {
        let not_utf8 = CloudEvent::decode(b"{\"id\":\"e\xff\",\"specversion\":\"1.0\",\"data\":1}")
            .unwrap_err();
        assert!(
            matches!(&not_utf8, DecodeError::NotCloudEvent(e) if e.to_string().contains("unicode")),
            "{not_utf8}"
        );
        assert!(matches!(
            CloudEvent::decode(b"not json"),
            Err(DecodeError::NotCloudEvent(_))
        ));
        assert!(matches!(
            CloudEvent::decode(br#"{"id":"x","specversion":"1.0"}"#),
            Err(DecodeError::MissingData { .. })
        ));
        assert!(matches!(
            CloudEvent::decode(br#"{"id":"x","specversion":"1.0","data":null}"#),
            Err(DecodeError::MissingData { .. })
        ));
        assert!(matches!(
            CloudEvent::decode(br#"{"id":"","specversion":"1.0","data":{}}"#),
            Err(DecodeError::MissingId)
        ));
        assert!(matches!(
            CloudEvent::decode(br#"{"id":"x","specversion":"0.3","data":{}}"#),
            Err(DecodeError::BadSpecVersion { .. })
        ));
        assert!(matches!(
            CloudEvent::decode(br#"{"id":"x","specversion":"1.0","data_base64":"AAA="}"#),
            Err(DecodeError::BinaryData { .. })
        ));
        let ev =
            CloudEvent::decode(br#"{"id":"x","specversion":"1.0","data":{"nope":1}}"#).unwrap();
        assert!(matches!(
            ev.payload::<P>(),
            Err(DecodeError::BadPayload { .. })
        ));
    }

    #[test]
    fn reads_ordering_keys_from_data() {
        let ev = CloudEvent::decode(
            br#"{"id":"x","specversion":"1.0","data":{"order_id":"o-9","n":3,"o":{"a":1}}}"#,
        )
        .unwrap();
        assert_eq!(ev.data_field("order_id").as_deref(), Some("o-9"));
        assert_eq!(ev.data_field("n").as_deref(), Some("3"));
        assert_eq!(ev.data_field("o"), None);
        assert_eq!(ev.data_field("missing"), None);
    }

    #[test]
    fn unwraps_json_carried_as_a_string() {
        let ev = CloudEvent::decode(
            br#"{"id":"x","specversion":"1.0","data":"{\"order_id\":\"o-2\"}"}"#,
        )
        .unwrap();
        assert_eq!(ev.payload::<P>().unwrap().order_id, "o-2");
    }

    #[test]
    fn writes_sorted_keys_and_round_trips() {
        let ev = CloudEvent::new(
            "payment.confirmed",
            "order-worker",
            &P {
                order_id: "o".into(),
            },
            Timestamp::from_millis(0),
        )
        .unwrap();
        let json = ev.to_json();
        let order = [
            "\"data\"",
            "\"datacontenttype\"",
            "\"id\"",
            "\"pubsubname\"",
            "\"source\"",
            "\"specversion\"",
            "\"time\"",
            "\"topic\"",
            "\"type\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(
            json.starts_with(
                r#"{"data":{"order_id":"o"},"datacontenttype":"application/json","id":""#
            ),
            "{json}"
        );
        let back = CloudEvent::decode(json.as_bytes()).unwrap();
        assert_eq!(back.ty, "payment.confirmed");
        assert_eq!(back.source, "order-worker");
    }
}
