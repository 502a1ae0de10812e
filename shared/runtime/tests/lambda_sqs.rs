//! The Lambda host's SQS batches, on SQLite and PostgreSQL, with a fake SQS for the DLQ.

use crate::support;

use std::collections::BTreeSet;

use conveyor_runtime::lambda::config::AwsSettings;
use conveyor_runtime::lambda::dlq::SqsDeadLetter;
use conveyor_runtime::lambda::emf::{self, BatchMetrics, Counted, Sample};
use conveyor_runtime::lambda::sqs::SqsHost;
use conveyor_runtime::topic;
use conveyor_store::Backend;
use conveyor_store::testing::TestDb;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use support::fake_aws::FakeAws;
use support::probe::{Probe, ask, deps, seen};
use support::sqs_batch::{
    attribute, context, epoch_ms_in, eventbridge, failed, fifo, ids, invocation, record, sns,
    sorted,
};

const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

#[tokio::test]
async fn a_batch_reports_exactly_its_failed_records_and_drops_go_to_the_dlq() {
    for backend in BACKENDS {
        let db = TestDb::of(backend).await;
        let aws = FakeAws::start().await;
        let (deps, publisher) = deps(db.store());
        let no_data =
            r#"{"id":"e-nodata","specversion":"1.0","type":"probe.requested","source":"x"}"#;
        let records = [
            record("m-ok", &ask("e-ok", "a", "ok"), 1),
            record("m-retry", &ask("e-retry", "r", "retry"), 2),
            record("m-notjson", "{this is not json", 1),
            record("m-nodata", no_data, 1),
            record("m-eb", &eventbridge(&ask("e-eb", "b", "ok")), 3),
            record("m-sns", &sns(&ask("e-sns", "c", "ok")), 1),
            record(
                "m-sns-eb",
                &sns(&eventbridge(&ask("e-sns-eb", "d", "ok"))),
                1,
            ),
            record("m-drop", &ask("e-drop", "x", "drop"), 4),
        ];

        // Without a DLQ a drop stays in the queue, for its redrive policy.
        let host = SqsHost::new(topic(Probe), deps.clone(), None);
        let response = host.handle_batch(invocation(&records)).await;
        let expected = ["m-retry", "m-notjson", "m-nodata", "m-drop"];
        assert_eq!(failed(&response), ids(&expected), "{backend:?}");
        let runs = [("a", 1), ("b", 3), ("c", 1), ("d", 1)].map(|(k, n)| (k.to_owned(), n));
        assert_eq!(
            sorted(seen(&publisher)),
            runs,
            "ApproximateReceiveCount is the attempt"
        );

        // With a DLQ drops are sent there and count as handled; the rest are duplicates now.
        let aws_settings = AwsSettings::local(aws.url());
        let dlq = SqsDeadLetter::new("probe", &aws.queue_url("probe-dlq"), &aws_settings);
        let host = SqsHost::new(topic(Probe), deps, Some(dlq));
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(failed(&response), ids(&["m-retry"]), "{backend:?}");
        assert_eq!(
            seen(&publisher).len(),
            4,
            "handled records do not run again"
        );

        let sent = aws.sent_messages();
        let bodies: BTreeSet<&str> = sent
            .iter()
            .map(|m| m["MessageBody"].as_str().unwrap())
            .collect();
        let drop_body = ask("e-drop", "x", "drop");
        let expected: BTreeSet<&str> = ["{this is not json", no_data, drop_body.as_str()].into();
        assert_eq!(bodies, expected);
        for message in &sent {
            assert_eq!(message["QueueUrl"], aws.queue_url("probe-dlq"));
            assert!(message.get("MessageGroupId").is_none(), "{message}");
            let (_, error) = attribute(message, "conveyor-error");
            let (_, source_id) = attribute(message, "conveyor-source-message-id");
            let want = match source_id.as_str() {
                "m-notjson" => "body is not a CloudEvent",
                "m-nodata" => "CloudEvent e-nodata has no data",
                "m-drop" => "x asked to be dropped",
                other => panic!("unexpected DLQ message from {other}"),
            };
            assert!(error.contains(want), "{error}");
            let attempts = if source_id == "m-drop" { "4" } else { "1" };
            assert_eq!(
                attribute(message, "conveyor-attempts"),
                ("Number".into(), attempts.into())
            );
            assert_eq!(
                attribute(message, "conveyor-function"),
                ("String".into(), "probe".into())
            );
            assert_eq!(
                attribute(message, "conveyor-dead-lettered-at").1,
                "2026-11-22T10:00:00.000Z"
            );
            assert_eq!(
                attribute(message, "conveyor-first-received-at").1,
                "1795341600155"
            );
        }
        db.close().await;
    }
}

#[tokio::test]
async fn a_failed_dlq_send_is_reported_and_a_retried_one_is_not() {
    for backend in BACKENDS {
        let db = TestDb::of(backend).await;
        let aws = FakeAws::start().await;
        let (deps, publisher) = deps(db.store());
        let settings = AwsSettings::local(aws.url()).with_max_attempts(2);
        let dlq = SqsDeadLetter::new("probe", &aws.queue_url("probe-dlq"), &settings);
        let host = SqsHost::new(topic(Probe), deps, Some(dlq));

        aws.fail_always(true);
        let records = [
            record("m-drop", &ask("e-drop", "x", "drop"), 1),
            record("m-ok", &ask("e-ok", "a", "ok"), 1),
        ];
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(failed(&response), ids(&["m-drop"]), "{backend:?}");
        assert_eq!(aws.sent_messages().len(), 2, "the SDK tried twice");
        assert_eq!(sorted(seen(&publisher)), [("a".to_owned(), 1)]);

        aws.fail_always(false);
        aws.fail_next(1);
        let records = [record("m-drop-2", &ask("e-drop-2", "y", "drop"), 1)];
        let response = host.handle_batch(invocation(&records)).await;
        assert!(failed(&response).is_empty(), "{response:?}");
        assert_eq!(
            aws.sent_messages().len(),
            4,
            "one failed send, one accepted"
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_retry_on_the_last_allowed_delivery_goes_to_the_dlq_with_the_count() {
    for backend in BACKENDS {
        let db = TestDb::of(backend).await;
        let aws = FakeAws::start().await;
        let (deps, publisher) = deps(db.store());
        // Probe allows five deliveries.
        let records = [
            record("m-fourth", &ask("e-fourth", "r4", "retry"), 4),
            record("m-last", &ask("e-last", "r5", "retry"), 5),
        ];

        // Without a DLQ the last one is reported too, for the queue's redrive policy.
        let host = SqsHost::new(topic(Probe), deps.clone(), None);
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(
            failed(&response),
            ids(&["m-fourth", "m-last"]),
            "{backend:?}"
        );

        let settings = AwsSettings::local(aws.url());
        let dlq = SqsDeadLetter::new("probe", &aws.queue_url("probe-dlq"), &settings);
        let host = SqsHost::new(topic(Probe), deps, Some(dlq));
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(
            failed(&response),
            ids(&["m-fourth"]),
            "a delivery is left for the fourth; the fifth is dead-lettered, not reported"
        );
        let sent = aws.sent_messages();
        assert_eq!(sent.len(), 1, "{sent:?}");
        let letter = &sent[0];
        assert_eq!(letter["MessageBody"], ask("e-last", "r5", "retry"));
        assert_eq!(attribute(letter, "conveyor-source-message-id").1, "m-last");
        assert_eq!(
            attribute(letter, "conveyor-error").1,
            "gave up after 5 deliveries: r5 asked to be retried"
        );
        assert_eq!(
            attribute(letter, "conveyor-attempts"),
            ("Number".into(), "5".into())
        );
        assert!(seen(&publisher).is_empty());
        db.close().await;
    }
}

#[tokio::test]
async fn duplicates_in_one_batch_are_handled_once() {
    for backend in BACKENDS {
        let db = TestDb::of(backend).await;
        let (deps, publisher) = deps(db.store());
        let host = SqsHost::new(topic(Probe), deps, None);
        let body = ask("e-dup", "k", "ok");
        let retry = ask("e-again", "r", "retry");
        let records = [
            record("m-1", &body, 1),
            record("m-2", &body, 1),
            record("m-3", &eventbridge(&body), 1),
            record("m-4", &retry, 1),
            record("m-4", &retry, 1),
        ];
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(failed(&response), ids(&["m-4"]), "{backend:?}");
        assert_eq!(
            sorted(seen(&publisher)),
            [("k".to_owned(), 1)],
            "{backend:?}"
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_record() {
    for backend in BACKENDS {
        let db = TestDb::of(backend).await;
        let (deps, publisher) = deps(db.store());
        let host = SqsHost::new(topic(Probe), deps, None);
        let records = [
            record("m-panic", &ask("e-panic", "p", "panic"), 1),
            record("m-ok", &ask("e-ok", "a", "ok"), 1),
        ];
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(failed(&response), ids(&["m-panic"]), "{backend:?}");
        assert_eq!(sorted(seen(&publisher)), [("a".to_owned(), 1)]);
        db.close().await;
    }
}

#[tokio::test]
async fn a_fifo_batch_stops_at_its_first_failure() {
    for backend in BACKENDS {
        let db = TestDb::of(backend).await;
        let aws = FakeAws::start().await;
        let (deps, publisher) = deps(db.store());
        let settings = AwsSettings::local(aws.url());
        let dlq = SqsDeadLetter::new("probe", &aws.queue_url("probe-dlq.fifo"), &settings);
        let host = SqsHost::new(topic(Probe), deps, Some(dlq));
        let records = [
            fifo(record("m-a", &ask("e-a", "a", "ok"), 1)),
            fifo(record("m-x", &ask("e-x", "x", "drop"), 1)),
            fifo(record("m-r", &ask("e-r", "r", "retry"), 1)),
            fifo(record("m-b", &ask("e-b", "b", "ok"), 1)),
        ];
        let response = host.handle_batch(invocation(&records)).await;
        assert_eq!(failed(&response), ids(&["m-r", "m-b"]), "{backend:?}");
        assert_eq!(
            sorted(seen(&publisher)),
            [("a".to_owned(), 1)],
            "m-b never ran"
        );
        let sent = aws.sent_messages();
        assert_eq!(
            sent.len(),
            1,
            "the drop before the failure was dead-lettered"
        );
        assert_eq!(sent[0]["MessageGroupId"], "g1");
        assert_eq!(sent[0]["MessageDeduplicationId"], "m-x");
        db.close().await;
    }
}

#[tokio::test]
async fn records_are_not_started_when_the_deadline_is_too_close() {
    let db = TestDb::sqlite().await;
    let (deps, publisher) = deps(db.store());
    let host = SqsHost::new(topic(Probe), deps, None);
    let records = [
        record("m-a", &ask("e-a", "a", "ok"), 1),
        record("m-b", &ask("e-b", "b", "ok"), 1),
    ];
    let mut event = invocation(&records);
    event.context.deadline = epoch_ms_in(200);
    let response = host.handle_batch(event).await;
    assert_eq!(failed(&response), ids(&["m-a", "m-b"]));
    assert!(seen(&publisher).is_empty());

    // `Context::default()` has no deadline at all (0): every record runs.
    let mut event = invocation(&records);
    event.context = Context::default();
    let response = host.handle_batch(event).await;
    assert!(failed(&response).is_empty(), "{response:?}");
    assert_eq!(seen(&publisher).len(), 2);
    db.close().await;
}

#[tokio::test]
async fn an_invocation_that_is_not_an_sqs_event_is_a_drop_error() {
    let db = TestDb::sqlite().await;
    let (deps, publisher) = deps(db.store());
    let host = SqsHost::new(topic(Probe), deps, None);
    let error = host
        .handle_invocation(LambdaEvent::new(json!({"hello": "world"}), context(0)))
        .await
        .unwrap_err();
    assert_eq!(error.error_type, "Conveyor.Drop");
    assert!(
        error
            .error_message
            .starts_with("probe expects an SQS event"),
        "{}",
        error.error_message
    );

    let sqs = json!({"Records": [
        {"messageId": "m-ok", "body": ask("e-ok", "a", "ok"), "attributes": {"ApproximateReceiveCount": "2"}},
        {"messageId": "m-bad", "body": "nope"},
    ]});
    let response = host
        .handle_invocation(LambdaEvent::new(sqs, context(epoch_ms_in(60_000))))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
    );
    assert_eq!(sorted(seen(&publisher)), [("a".to_owned(), 2)]);
    db.close().await;
}

/// Every batch's samples, as the host handed them over.
#[derive(Debug, Default)]
struct Sink(std::sync::Mutex<Vec<(String, Vec<Sample>)>>);

impl BatchMetrics for Sink {
    fn batch(&self, function: &str, _at_ms: i64, samples: &[Sample]) {
        self.0
            .lock()
            .unwrap()
            .push((function.to_owned(), samples.to_vec()));
    }
}

#[tokio::test]
async fn each_batch_hands_its_lags_times_and_outcomes_to_the_metrics() {
    let db = TestDb::of(Backend::Sqlite).await;
    let (deps, _) = deps(db.store());
    let sink = std::sync::Arc::new(Sink::default());
    let host = SqsHost::new(topic(Probe), deps, None).with_metrics(sink.clone());
    // An event 12 s older than the host's clock; the others carry the clock's time.
    let mut late: serde_json::Value = serde_json::from_str(&ask("e-late", "l", "ok")).unwrap();
    late["time"] = json!(support::probe::start().add_millis(-12_000).to_rfc3339());
    let records = [
        record("m-ok", &ask("e-ok", "a", "ok"), 1),
        record("m-late", &late.to_string(), 1),
        record("m-retry", &ask("e-retry", "r", "retry"), 1),
    ];
    host.handle_batch(invocation(&records)).await;
    // Delivered again, the handled event is a duplicate.
    host.handle_batch(invocation(&records[..1])).await;

    let batches = sink.0.lock().unwrap().clone();
    assert_eq!(batches.len(), 2);
    let (function, first) = &batches[0];
    assert_eq!(function, "probe");
    let mut lags: Vec<u128> = first
        .iter()
        .filter_map(|s| s.lag)
        .map(|d| d.as_millis())
        .collect();
    lags.sort_unstable();
    assert_eq!(lags, [0, 0, 12_000]);
    let mut counted: Vec<Counted> = first.iter().map(|s| s.counted).collect();
    counted.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        counted,
        [Counted::Handled, Counted::Handled, Counted::Retried]
    );
    assert_eq!(batches[1].1[0].counted, Counted::Duplicate);
    // As CloudWatch gets them: one document a batch, its counts and every lag.
    let doc = &emf::documents("probe", 0, first)[0];
    assert_eq!((&doc["Handled"], &doc["Retried"]), (&json!(2), &json!(1)));
    assert!(
        doc["EventLag"]
            .as_array()
            .unwrap()
            .contains(&json!(12_000.0)),
        "{doc}"
    );
    db.close().await;
}
