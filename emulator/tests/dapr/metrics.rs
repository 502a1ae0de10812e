//! The worker's `GET /metrics` after deliveries as daprd makes them: each event's lag, the
//! duplicates the inbox skipped, the events dropped to the dead-letter topic (the worker's
//! DLQ depth), the sidecar publisher's calls and its circuit breaker's state.

use std::sync::Arc;

use conveyor_dapr::Mode;
use conveyor_domain::{Clock, SystemClock};
use conveyor_runtime::{Function, Service, topic};
use serde_json::{Value, json};

use super::harness::{Echo, FakeSidecar, TestWorker, call, config, dapr_event, deliver};
use crate::functions::eventually;

async fn scrape(worker: &TestWorker) -> String {
    let answer = call("GET", &worker.url("/metrics"), &[], b"").await;
    assert_eq!(answer.status, 200);
    String::from_utf8(answer.body).unwrap()
}

/// The value of the series named exactly `series` (name and labels), if scraped.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a sample is a number"))
}

/// A ping as daprd delivers it, stamped with `time`.
fn ping_at(id: &str, n: u32, time: &str) -> Vec<u8> {
    let mut event: Value =
        serde_json::from_slice(&dapr_event(id, "test.ping", &json!({ "n": n }))).unwrap();
    event["time"] = json!(time);
    serde_json::to_vec(&event).unwrap()
}

#[tokio::test]
async fn the_worker_exports_lag_duplicates_dead_letters_publishes_and_its_circuit() {
    let sidecar = FakeSidecar::start().await;
    sidecar.answer(500);
    let functions: Vec<Arc<dyn Function>> = vec![topic(Echo)];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    let echo = |name: &str| format!("conveyor_{name}{{function=\"test-echo\"}}");
    let lag_bucket = |le: &str| {
        format!("conveyor_event_lag_seconds_bucket{{le=\"{le}\",function=\"test-echo\"}}")
    };

    // Nothing delivered yet: every topic function has a DLQ depth of zero, the circuit is closed.
    let text = scrape(&worker).await;
    assert_eq!(value(&text, &echo("dlq_depth")), Some(0.0), "{text}");
    assert_eq!(
        value(
            &text,
            "conveyor_publisher_circuit_state{publisher=\"sidecar\"}"
        ),
        Some(0.0),
        "{text}"
    );

    // Three fresh events whose publishes fail open the circuit; one an hour late; the first
    // again (a duplicate); a body that is no CloudEvent (dropped to the dead-letter topic).
    let now = SystemClock.now();
    for n in 1..=3 {
        let body = ping_at(&format!("ping-{n}"), n, &now.to_rfc3339());
        assert_eq!(
            deliver(&worker, "/test-echo", &body).await.dapr_status(),
            "SUCCESS"
        );
    }
    let late = ping_at("ping-late", 4, &now.add_millis(-3_600_000).to_rfc3339());
    assert_eq!(
        deliver(&worker, "/test-echo", &late).await.dapr_status(),
        "SUCCESS"
    );
    let again = ping_at("ping-1", 1, &now.to_rfc3339());
    assert_eq!(
        deliver(&worker, "/test-echo", &again).await.dapr_status(),
        "SUCCESS"
    );
    assert_eq!(
        deliver(&worker, "/test-echo", b"{").await.dapr_status(),
        "DROP"
    );

    let text = scrape(&worker).await;
    let read = |s: &str| value(&text, s).unwrap_or_else(|| panic!("{s} in {text}"));
    assert_eq!(read(&echo("event_lag_seconds_count")), 5.0);
    assert_eq!(read(&lag_bucket("10.0")), 4.0, "{text}");
    assert_eq!(read(&lag_bucket("300.0")), 4.0, "{text}");
    assert_eq!(read(&lag_bucket("+Inf")), 5.0, "{text}");
    assert!(read(&echo("event_lag_seconds_sum")) >= 3600.0, "{text}");
    assert_eq!(read(&echo("events_duplicates_skipped_total")), 1.0);
    assert_eq!(read(&echo("dlq_depth")), 1.0);
    assert_eq!(
        read("conveyor_publisher_circuit_state{publisher=\"sidecar\"}"),
        1.0,
        "three failed publishes open the circuit"
    );
    assert!(read("conveyor_publish_failed_total{transport=\"dapr\"}") >= 3.0);

    // The sidecar recovers: the relay's trial closes the circuit and publishes the outbox.
    sidecar.answer(204);
    eventually("the circuit to close and the outbox to drain", || async {
        let text = scrape(&worker).await;
        value(
            &text,
            "conveyor_publisher_circuit_state{publisher=\"sidecar\"}",
        ) == Some(0.0)
            && value(&text, "conveyor_outbox_backlog") == Some(0.0)
    })
    .await;
    let text = scrape(&worker).await;
    let calls = value(&text, "conveyor_publish_seconds_count{transport=\"dapr\"}").unwrap();
    let failed = value(&text, "conveyor_publish_failed_total{transport=\"dapr\"}").unwrap();
    assert!(calls > failed, "a successful publish was timed: {text}");
    assert_eq!(sidecar.accepted().len(), 4, "one event per handled ping");
    worker.stop().await;
}
