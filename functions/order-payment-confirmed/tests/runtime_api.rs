//! The real Lambda binary against a local Lambda Runtime API, PostgreSQL and a fake AWS
//! endpoint (SQS for the DLQ, EventBridge for publishing): one SQS batch with a good record, a
//! record for an unknown order and a body that is not JSON.

#[path = "../../../shared/runtime/tests/support/fake_aws.rs"]
mod fake_aws;
#[path = "../../../shared/runtime/tests/support/runtime_api.rs"]
mod runtime_api;

use conveyor_domain::OrderId;
use conveyor_domain::events::samples;
use conveyor_domain::order::{OrderStatus, PaymentMethod};
use conveyor_runtime::CloudEvent;
use conveyor_store::testing::TestDb;
use conveyor_testkit::{seed, start};
use fake_aws::FakeAws;
use runtime_api::{Outcome, RuntimeApi, WAIT};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const NOT_JSON: &str = "this is not json";

/// The function's process; its output is kept for failure messages.
struct Lambda {
    child: Child,
    output: Arc<Mutex<String>>,
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, output: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = output.lock().unwrap_or_else(PoisonError::into_inner);
            out.push_str(&line);
            out.push('\n');
        }
    });
}

impl Lambda {
    fn spawn(api: &RuntimeApi, db: &TestDb, aws: &FakeAws, dlq: Option<String>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_order-payment-confirmed"));
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "order-payment-confirmed")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("DATABASE_URL", db.url())
            .env("CONVEYOR_EVENT_BUS", "bus")
            .env("AWS_ENDPOINT_URL", aws.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = dlq {
            command.env("CONVEYOR_DLQ_URL", url);
        }
        let mut child = command.spawn().expect("spawn the function binary");
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), Arc::clone(&output));
        collect(child.stderr.take().unwrap(), Arc::clone(&output));
        Self { child, output }
    }

    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asserts the process is still serving, then stops it.
    async fn stop(mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the function exited early:\n{}",
            self.output()
        );
        self.child.start_kill().unwrap();
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the function stops when killed")
            .unwrap();
    }
}

fn record(message_id: &str, body: &str) -> Value {
    json!({"messageId": message_id, "receiptHandle": format!("rh-{message_id}"), "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795341600120",
            "ApproximateFirstReceiveTimestamp": "1795341600155"},
        "messageAttributes": {}, "md5OfBody": fake_aws::md5_hex(body), "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:order-payment-confirmed", "awsRegion": "us-east-1"})
}

fn payment(event_id: &str, order: &str) -> String {
    let mut payment = samples::payment_confirmed();
    payment.order_id = OrderId::parse(order).unwrap();
    let mut event =
        CloudEvent::new("payment.confirmed", "payment-service", &payment, start()).unwrap();
    event_id.clone_into(&mut event.id);
    event.traceparent = Some(format!("00-{TRACE_ID}-00f067aa0ba902b7-01"));
    event.correlationid = Some(format!("corr-{order}"));
    event.to_json()
}

/// The batch every run gets: good, unknown order (retried), not JSON (dropped).
fn batch() -> Value {
    json!({"Records": [
        record("m-good", &payment("evt-good", "ord-1001")),
        record("m-unknown", &payment("evt-unknown", "ord-9999")),
        record("m-bad", NOT_JSON),
    ]})
}

fn failed_ids(outcome: &Outcome, output: &str) -> BTreeSet<String> {
    let Outcome::Response(body) = outcome else {
        panic!("expected a batch response, got {outcome:?}\n{output}");
    };
    let object = body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 1, "{body}");
    let failures = object["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures");
    let ids: BTreeSet<String> = failures
        .iter()
        .map(|f| {
            assert_eq!(f.as_object().unwrap().len(), 1, "{f}");
            f["itemIdentifier"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), failures.len(), "{body}");
    ids
}

async fn seeded_db() -> TestDb {
    let db = TestDb::postgres().await;
    let order = seed::order::order("ord-1001", PaymentMethod::Prepaid, start());
    seed::order::insert(db.store(), &order).await;
    db
}

/// The order was confirmed and exactly one status change went to EventBridge, carrying the
/// incoming trace.
async fn assert_confirmed_and_published(db: &TestDb, aws: &FakeAws, output: &str) {
    let order = seed::order::load(db.store(), &OrderId::parse("ord-1001").unwrap())
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::PaymentConfirmed, "{output}");
    let calls = aws.put_events_calls();
    assert_eq!(calls.len(), 1, "{calls:?}\n{output}");
    assert_eq!(calls[0].len(), 1, "{calls:?}");
    let entry = &calls[0][0];
    assert_eq!(entry["EventBusName"], "bus");
    assert_eq!(entry["DetailType"], "orders.order.status_changed");
    assert_eq!(entry["Source"], "order-worker");
    let detail = CloudEvent::decode(entry["Detail"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(detail.ty, "orders.order.status_changed");
    let traceparent = detail.traceparent.unwrap_or_default();
    assert!(
        traceparent.starts_with(&format!("00-{TRACE_ID}-")),
        "{traceparent}"
    );
    assert_eq!(detail.correlationid.as_deref(), Some("corr-ord-1001"));
}

#[tokio::test]
async fn without_a_dlq_both_failures_are_reported_and_bad_invocations_do_not_stop_it() {
    let db = seeded_db().await;
    let aws = FakeAws::start().await;
    let mut api = RuntimeApi::start().await;
    let lambda = Lambda::spawn(&api, &db, &aws, None);

    let outcome = api.invoke(batch()).await;
    let expected: BTreeSet<String> = ["m-unknown", "m-bad"].map(str::to_owned).into();
    assert_eq!(failed_ids(&outcome, &lambda.output()), expected);
    assert_confirmed_and_published(&db, &aws, &lambda.output()).await;
    assert!(aws.sent_messages().is_empty());

    // Not an SQS event: reported as an error with a stable type, and the function goes on.
    let outcome = api.invoke(json!({"hello": "world"})).await;
    let Outcome::Error(error) = &outcome else {
        panic!("expected an error, got {outcome:?}\n{}", lambda.output());
    };
    assert_eq!(error["errorType"], "Conveyor.Drop", "{error}");
    let outcome = api.invoke(json!({"Records": []})).await;
    assert!(failed_ids(&outcome, &lambda.output()).is_empty());

    lambda.stop().await;
    db.close().await;
}

#[tokio::test]
async fn with_a_dlq_the_bad_body_goes_there_and_only_the_retry_is_reported() {
    let db = seeded_db().await;
    let aws = FakeAws::start().await;
    let mut api = RuntimeApi::start().await;
    let dlq = aws.queue_url("order-payment-confirmed-dlq");
    let lambda = Lambda::spawn(&api, &db, &aws, Some(dlq.clone()));

    let outcome = api.invoke(batch()).await;
    let expected: BTreeSet<String> = ["m-unknown".to_owned()].into();
    assert_eq!(failed_ids(&outcome, &lambda.output()), expected);

    let sent = aws.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}\n{}", lambda.output());
    assert_eq!(sent[0]["QueueUrl"], dlq.as_str());
    assert_eq!(sent[0]["MessageBody"], NOT_JSON);
    let error = &sent[0]["MessageAttributes"]["conveyor-error"];
    assert_eq!(error["DataType"], "String");
    let text = error["StringValue"].as_str().unwrap_or_default();
    assert!(text.starts_with("body is not a CloudEvent"), "{text}");
    let function = &sent[0]["MessageAttributes"]["conveyor-function"]["StringValue"];
    assert_eq!(function, "order-payment-confirmed");
    assert_confirmed_and_published(&db, &aws, &lambda.output()).await;

    lambda.stop().await;
    db.close().await;
}
