//! The AWS clients of the Lambda host against a fake endpoint speaking the SDKs' JSON
//! protocols: the EventBridge publisher (batching, retrying rejected entries) and the DLQ.

use crate::support;

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsMessage;
use conveyor_runtime::lambda::config::AwsSettings;
use conveyor_runtime::lambda::dlq::SqsDeadLetter;
use conveyor_runtime::lambda::eventbridge::EventBridgePublisher;
use conveyor_runtime::{CloudEvent, PublishError, Publisher};
use conveyor_store::OutboxRow;
use serde_json::Value;
use support::fake_aws::FakeAws;
use support::probe::{Seen, start};

fn rows(n: usize) -> Vec<OutboxRow> {
    (0..n)
        .map(|i| {
            let seen = Seen {
                key: format!("k-{i}"),
                attempt: 1,
            };
            let mut event = CloudEvent::new("probe.seen", "order-worker", &seen, start()).unwrap();
            event.id = format!("e-{i}");
            event.into_outbox_row()
        })
        .collect()
}

/// The CloudEvent ids of each PutEvents call's entries.
fn calls(aws: &FakeAws) -> Vec<Vec<String>> {
    aws.put_events_calls()
        .iter()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let detail: Value =
                        serde_json::from_str(e["Detail"].as_str().unwrap()).unwrap();
                    detail["id"].as_str().unwrap().to_owned()
                })
                .collect()
        })
        .collect()
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("e-{i}")).collect()
}

#[tokio::test]
async fn twenty_five_events_go_out_in_three_calls_of_at_most_ten() {
    let aws = FakeAws::start().await;
    let publisher = EventBridgePublisher::new("bus", &AwsSettings::local(aws.url()));
    let rows = rows(25);
    publisher.publish(&rows).await.unwrap();
    assert_eq!(calls(&aws), [ids(0..10), ids(10..20), ids(20..25)]);

    let requests = aws.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.content_type == "application/x-amz-json-1.1")
    );
    let first = &aws.put_events_calls()[0][0];
    assert_eq!(first["EventBusName"], "bus");
    assert_eq!(first["Source"], "order-worker");
    assert_eq!(first["DetailType"], "probe.seen");
    assert_eq!(first["Detail"], rows[0].body.as_str());
}

#[tokio::test]
async fn entries_rejected_once_are_sent_again_alone() {
    let aws = FakeAws::start().await;
    let publisher = EventBridgePublisher::new("bus", &AwsSettings::local(aws.url()));
    aws.reject_event("e-3", Some(1));
    aws.reject_event("e-17", Some(1));
    aws.reject_event("e-18", Some(1));
    publisher.publish(&rows(25)).await.unwrap();
    let expected = [
        ids(0..10),
        vec!["e-3".to_owned()],
        ids(10..20),
        vec!["e-17".to_owned(), "e-18".to_owned()],
        ids(20..25),
    ];
    assert_eq!(calls(&aws), expected);
}

#[tokio::test]
async fn entries_rejected_every_time_come_back_as_partial_with_their_ids() {
    let aws = FakeAws::start().await;
    let publisher = EventBridgePublisher::new("bus", &AwsSettings::local(aws.url()));
    aws.reject_event("e-4", None);
    aws.reject_event("e-21", None);
    let rows = rows(25);
    let error = publisher.publish(&rows).await.unwrap_err();
    let PublishError::Partial {
        failed_ids,
        total,
        reason,
    } = &error
    else {
        panic!("expected a partial failure, got {error}");
    };
    assert_eq!(failed_ids, &["e-4", "e-21"]);
    assert_eq!(*total, 25);
    assert_eq!(reason, "InternalFailure: injected rejection");
    assert_eq!(error.unpublished(&rows), ["e-4", "e-21"]);
    // Three calls per rejected entry's batch: the batch, then the entry alone twice.
    let alone = calls(&aws).iter().filter(|c| c.len() == 1).count();
    assert_eq!(alone, 4);
}

#[tokio::test]
async fn a_failing_endpoint_leaves_everything_to_the_relay() {
    let aws = FakeAws::start().await;
    let settings = AwsSettings::local(aws.url()).with_max_attempts(1);
    let publisher = EventBridgePublisher::new("bus", &settings);
    aws.fail_always(true);
    let rows = rows(25);
    let error = publisher.publish(&rows).await.unwrap_err();
    assert!(matches!(error, PublishError::Transport { .. }), "{error}");
    assert_eq!(error.unpublished(&rows).len(), 25);
    assert_eq!(aws.requests().len(), 1, "later batches are not attempted");

    // Failing after a first accepted call is partial: only the first ten went out.
    aws.fail_after(1, u32::MAX);
    let error = publisher.publish(&rows).await.unwrap_err();
    assert!(matches!(error, PublishError::Partial { .. }), "{error}");
    assert_eq!(error.unpublished(&rows), ids(10..25));
    assert_eq!(aws.requests().len(), 3);
}

#[tokio::test]
async fn the_dlq_gets_the_body_and_the_failure_and_fifo_fields_when_fifo() {
    let aws = FakeAws::start().await;
    let settings = AwsSettings::local(aws.url());
    let mut record = SqsMessage::default();
    record.message_id = Some("m-1".to_owned());
    record.body = Some("not json".to_owned());
    record
        .attributes
        .insert("MessageGroupId".to_owned(), "ord-1".to_owned());

    let standard = SqsDeadLetter::new("probe", &aws.queue_url("probe-dlq"), &settings);
    standard
        .send(&record, "", 3, "2026-11-22T10:00:00.000Z")
        .await
        .unwrap();
    let fifo = SqsDeadLetter::new("probe", &aws.queue_url("probe-dlq.fifo"), &settings);
    assert!(fifo.queue_url().ends_with("/000000000000/probe-dlq.fifo"));
    fifo.send(&record, "Drop: bad", 3, "2026-11-22T10:00:00.000Z")
        .await
        .unwrap();

    let requests = aws.requests();
    assert!(requests.iter().all(|r| r.target == "AmazonSQS.SendMessage"));
    assert!(
        requests
            .iter()
            .all(|r| r.content_type == "application/x-amz-json-1.0")
    );
    let sent = aws.sent_messages();
    assert_eq!(sent[0]["MessageBody"], "not json");
    assert!(sent[0].get("MessageGroupId").is_none());
    let names = |m: &Value| {
        let mut n: Vec<String> = m["MessageAttributes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        n.sort();
        n
    };
    // An empty reason is left out: SQS rejects empty attribute values.
    assert_eq!(
        names(&sent[0]),
        [
            "conveyor-attempts",
            "conveyor-dead-lettered-at",
            "conveyor-function",
            "conveyor-source-message-id"
        ]
    );
    assert_eq!(sent[1]["MessageGroupId"], "ord-1");
    assert_eq!(sent[1]["MessageDeduplicationId"], "m-1");
    assert_eq!(
        sent[1]["MessageAttributes"]["conveyor-error"]["StringValue"],
        "Drop: bad"
    );
}

#[tokio::test]
async fn a_hung_endpoint_fails_the_call_at_the_call_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut settings = AwsSettings::local(&url);
    settings.call_timeout = Duration::from_millis(300);
    let dlq = SqsDeadLetter::new("probe", &format!("{url}/000000000000/q"), &settings);
    let mut record = SqsMessage::default();
    record.body = Some("x".to_owned());
    let started = Instant::now();
    let sent = tokio::time::timeout(Duration::from_secs(10), dlq.send(&record, "r", 1, "t")).await;
    assert!(sent.expect("the SDK gave up by itself").is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    held.abort();
}

#[test]
fn settings_never_print_secrets() {
    let mut settings = AwsSettings::local("http://127.0.0.1:1");
    settings.secret_access_key = "very-secret".to_owned();
    settings.session_token = Some("token-secret".to_owned());
    let printed = format!("{settings:?}");
    assert!(
        !printed.contains("very-secret") && !printed.contains("token-secret"),
        "{printed}"
    );
    assert!(printed.contains("http://127.0.0.1:1"));
}
