//! Publishing through the sidecar: full CloudEvents with the trace, and, while the sidecar
//! fails, a circuit that opens after three failed events, keeps the events in the outbox, and
//! lets the relay publish every one of them, once, after it closes.

use std::collections::BTreeMap;
use std::sync::Arc;

use conveyor_dapr::Mode;
use conveyor_runtime::{Function, Service, topic};
use serde_json::json;

use super::harness::{Echo, FakeSidecar, TRACEPARENT, TestWorker, config, dapr_event, deliver};
use crate::functions::eventually;

#[tokio::test]
async fn events_go_out_as_full_cloudevents_with_the_trace() {
    let sidecar = FakeSidecar::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![topic(Echo)];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    let ping = dapr_event("ping-1", "test.ping", &json!({ "n": 7 }));
    assert_eq!(
        deliver(&worker, "/test-echo", &ping).await.dapr_status(),
        "SUCCESS"
    );
    eventually("one publish", || async { sidecar.accepted().len() == 1 }).await;
    let p = &sidecar.accepted()[0];
    assert_eq!(
        (p.pubsub.as_str(), p.topic.as_str()),
        ("pubsub-redis", "test.echoed")
    );
    assert_eq!(p.content_type, "application/cloudevents+json");
    let ce = &p.body;
    for field in [
        "id",
        "source",
        "type",
        "specversion",
        "datacontenttype",
        "time",
        "topic",
        "pubsubname",
        "traceid",
        "traceparent",
        "correlationid",
    ] {
        assert!(
            ce.get(field).is_some_and(|v| !v.is_null()),
            "{field} in {ce}"
        );
    }
    assert_eq!(ce["data"], json!({ "n": 7 }));
    assert_eq!(ce["source"], "order-worker");
    assert_eq!(ce["type"], "test.echoed");
    assert_eq!(ce["topic"], "test.echoed");
    assert_eq!(
        ce["correlationid"], "ping-1",
        "the first event of a flow is its correlation id"
    );
    assert_eq!(ce["causationid"], "ping-1", "the event handled caused it");
    let tp = ce["traceparent"].as_str().unwrap();
    assert_eq!(tp.split('-').nth(1), TRACEPARENT.split('-').nth(1));
    assert_eq!(p.traceparent.as_deref(), Some(tp));
    assert!(uuid::Uuid::parse_str(ce["id"].as_str().unwrap()).is_ok());
    worker.stop().await;
}

#[tokio::test]
async fn the_circuit_opens_on_failures_and_the_outbox_is_published_once_it_closes() {
    let sidecar = FakeSidecar::start().await;
    sidecar.answer(500);
    let functions: Vec<Arc<dyn Function>> = vec![topic(Echo)];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    let breaker = worker.worker_publisher.breaker();

    // Three events whose publishes fail (two attempts each) open the circuit. Handling still
    // succeeds: the effects are committed and the events wait in the outbox.
    for n in 1..=3 {
        let ping = dapr_event(&format!("ping-{n}"), "test.ping", &json!({ "n": n }));
        assert_eq!(
            deliver(&worker, "/test-echo", &ping).await.dapr_status(),
            "SUCCESS"
        );
    }
    assert!(breaker.is_open(), "three failed events open the circuit");
    let sent_while_closed = sidecar.requests().len();
    assert!(
        sent_while_closed >= 6,
        "two attempts per event: {sent_while_closed}"
    );

    // While open, nothing reaches the sidecar.
    for n in 4..=5 {
        let ping = dapr_event(&format!("ping-{n}"), "test.ping", &json!({ "n": n }));
        assert_eq!(
            deliver(&worker, "/test-echo", &ping).await.dapr_status(),
            "SUCCESS"
        );
    }
    assert_eq!(
        sidecar.requests().len(),
        sent_while_closed,
        "nothing sent while open"
    );
    assert_eq!(worker.store.outbox_backlog().await.unwrap(), 5);

    // The sidecar recovers; after the open period one trial goes through, the circuit closes
    // and the relay publishes the backlog.
    sidecar.answer(204);
    eventually("the backlog is published", || async {
        worker.store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    assert!(!breaker.is_open());
    let mut per_ping: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for p in sidecar.accepted() {
        *per_ping
            .entry(p.body["data"]["n"].as_u64().unwrap())
            .or_default() += 1;
        ids.insert(p.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        per_ping,
        (1..=5).map(|n| (n, 1)).collect(),
        "each event published once"
    );
    assert_eq!(ids.len(), 5);
    worker.stop().await;
}
