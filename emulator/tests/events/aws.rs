//! Payloads decode into their Rust types; the AWS shapes decode the way the Lambda adapter
//! reads them (`aws_lambda_events` types, then the CloudEvent, then the payload).

use std::path::Path;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use conveyor_domain::events::ALL_TOPICS;
use conveyor_gen::events::{self, CORRELATION_ID, TRACEPARENT};
use conveyor_runtime::CloudEvent;
use serde_json::{Value, json};

use super::{file, rendered};

#[test]
fn every_payload_decodes_into_its_rust_type_and_validates() {
    let files = rendered();
    for topic in ALL_TOPICS {
        let sample = file(&files, &format!("samples/{topic}.json"));
        events::check_payload(topic, &sample).unwrap_or_else(|e| panic!("{topic}: {e}"));
        let mut empty = sample.clone();
        empty
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k == "timestamp");
        assert!(events::check_payload(topic, &empty).is_err(), "{topic}");
    }
    let mut declined = file(&files, "samples/payment.failed.json");
    declined["failure_reason"] = json!("  ");
    let err = events::check_payload("payment.failed", &declined).unwrap_err();
    assert!(err.contains("failure_reason"), "{err}");
    assert!(events::check_payload("no.such.topic", &json!({})).is_err());
}

#[test]
fn aws_shapes_decode_like_the_lambda_adapter_reads_them() {
    let files = rendered();
    for topic in ALL_TOPICS {
        let info = events::topic_info(topic).unwrap();
        for name in [(*topic).to_owned(), format!("{topic}.eventbridge")] {
            let text = &files[Path::new(&format!("sqs/{name}.json"))];
            let sqs: SqsEvent = serde_json::from_str(text).expect("an SQS event");
            let [record] = &sqs.records[..] else {
                panic!("sqs/{name}.json has one record")
            };
            assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
            assert_eq!(record.attributes["ApproximateReceiveCount"], "1");
            assert!(
                record
                    .event_source_arn
                    .as_deref()
                    .unwrap()
                    .ends_with(info.queue)
            );
            let mut body = record.body.clone().expect("a body");
            if name.ends_with(".eventbridge") {
                let envelope: EventBridgeEvent = serde_json::from_str(&body).expect("envelope");
                assert_eq!(
                    (envelope.detail_type.as_str(), envelope.source.as_str()),
                    (*topic, info.source)
                );
                body = envelope.detail.to_string();
            }
            let event = CloudEvent::decode(body.as_bytes()).expect("a CloudEvent");
            assert_eq!((event.topic_name(), event.ty.as_str()), (*topic, *topic));
            assert_eq!(event.id, format!("evt-{topic}-0001"));
            assert_eq!(event.source, info.source);
            assert_eq!(event.traceparent.as_deref(), Some(TRACEPARENT));
            assert_eq!(event.traceid.as_deref(), Some(TRACEPARENT));
            assert_eq!(event.correlationid.as_deref(), Some(CORRELATION_ID));
            let payload: Value = event.payload().expect("payload");
            events::check_payload(topic, &payload).expect("valid payload");
        }
    }
    for name in ["scheduled-event", "scheduler-envelope"] {
        let text = &files[Path::new(&format!("schedule/{name}.json"))];
        let envelope: EventBridgeEvent = serde_json::from_str(text).expect("an envelope");
        assert_eq!(envelope.detail_type, "Scheduled Event");
        assert!(envelope.time.is_some(), "{name} has a time");
    }
}
