//! AWS shapes around a CloudEvent: the SQS event a Lambda receives (body = the CloudEvent, or an
//! EventBridge envelope holding it) and the three payloads a cron function can be invoked with.
//! Built as JSON by hand, field for field what SQS, EventBridge and Scheduler send, so the
//! output stays deterministic; the tests decode them with `aws_lambda_events`.

use conveyor_domain::Timestamp;
use serde_json::{Value, json};

use super::super::compact_json;
use super::SAMPLE_TIME;

/// Region and account of every sample ARN (the moto / LocalStack default account).
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
/// The cron function the schedule samples are addressed to.
const SAMPLE_JOB: &str = "warehouse-reservation-expiry";

/// A stable UUID-shaped id derived from `seed` (FNV-1a), so ids do not move when topics are
/// added or reordered.
fn stable_uuid(seed: &str) -> String {
    let hash = |salt: u64| {
        seed.bytes().fold(0xcbf2_9ce4_8422_2325 ^ salt, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let (a, b) = (hash(0), hash(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Unix milliseconds of an RFC 3339 time, as SQS writes its timestamp attributes.
fn millis(time: &str) -> i64 {
    Timestamp::parse_rfc3339(time).map_or(0, Timestamp::millis)
}

/// An SQS event with one record from `queue` whose body is `body` (compact JSON); `name` (the
/// file stem) seeds the message id and receipt handle.
pub(super) fn sqs_event(name: &str, queue: &str, body: &Value, time: &str) -> Value {
    let sent = millis(time) + 120;
    json!({
        "Records": [{
            "messageId": stable_uuid(&format!("sqs/{name}")),
            "receiptHandle": format!("AQEB{}", stable_uuid(&format!("receipt/{name}")).replace('-', "")),
            "body": compact_json(body),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": sent.to_string(),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": (sent + 35).to_string()
            },
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"),
            "awsRegion": REGION
        }]
    })
}

/// What a rule targeting the queue without `InputPath` delivers: the full EventBridge event,
/// `detail-type` = topic, `source` = publishing app, `detail` = the CloudEvent.
pub(super) fn eventbridge_envelope(topic: &str, source: &str, event: &Value, time: &str) -> Value {
    json!({
        "version": "0",
        "id": stable_uuid(&format!("eventbridge/{topic}")),
        "detail-type": topic,
        "source": source,
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [],
        "detail": event
    })
}

/// The schedule samples by file stem: Scheduler's input, a classic scheduled rule's event and
/// Scheduler's own envelope (whose `detail` is a string).
pub(super) fn schedule_samples() -> Vec<(&'static str, Value)> {
    vec![
        ("scheduler", json!({ "scheduled_time": SAMPLE_TIME })),
        (
            "scheduled-event",
            json!({
                "version": "0",
                "id": stable_uuid("schedule/scheduled-event"),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "time": SAMPLE_TIME,
                "region": REGION,
                "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{SAMPLE_JOB}")],
                "detail": {}
            }),
        ),
        (
            "scheduler-envelope",
            json!({
                "version": "0",
                "id": stable_uuid("schedule/scheduler-envelope"),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": ACCOUNT,
                "time": SAMPLE_TIME,
                "region": REGION,
                "resources": [format!("arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{SAMPLE_JOB}")],
                "detail": "{}"
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_uuids_are_uuid_shaped_and_differ_per_seed() {
        let a = stable_uuid("sqs/payment.confirmed");
        assert_eq!(a, stable_uuid("sqs/payment.confirmed"));
        assert_ne!(a, stable_uuid("sqs/payment.failed"));
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{a}");
    }
}
