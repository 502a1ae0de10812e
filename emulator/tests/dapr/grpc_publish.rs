//! Publishing through the sidecar's gRPC API (`--app-protocol grpc`): full CloudEvents with
//! the trace and the API token through `PublishEvent`; while the sidecar fails, a circuit that
//! opens, keeps the events in the outbox and lets the relay publish every one of them once
//! after it closes, a run of one topic in one `BulkPublishEvent` (`BulkPublishEventAlpha1` on
//! an older sidecar), an entry the sidecar refused sent again alone. The HTTP publisher's
//! counterparts are in `publish.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use conveyor_dapr::Mode;
use conveyor_dapr::grpc::proto::runtime::topic_event_response::TopicEventResponseStatus as Wire;
use conveyor_runtime::{Function, Service, topic};
use serde_json::json;
use tonic::Code;

use super::grpc::{ping, ping_request, status};
use super::grpc_harness::{Daprd, FakeDaprApi, grpc_config};
use super::harness::{Echo, TRACEPARENT, TestWorker};
use crate::functions::eventually;

#[tokio::test]
async fn events_go_out_through_publish_event_with_the_trace_and_the_token() {
    let api = FakeDaprApi::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![topic(Echo)];
    let mut config = grpc_config(Service::Order, Mode::Event, &api);
    config.dapr_api_token = Some("api-token-1".to_owned());
    let worker = TestWorker::start(config, &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    let event = ping_request(&ping("ping-1", 7), "/test-echo");
    assert_eq!(status(&mut daprd, event, None).await, Wire::Success);
    eventually("one publish", || async { api.accepted().len() == 1 }).await;
    let p = &api.accepted()[0];
    assert_eq!(p.call, "PublishEvent");
    assert_eq!(
        (p.pubsub.as_str(), p.topic.as_str()),
        ("pubsub-redis", "test.echoed")
    );
    assert_eq!(p.content_type, "application/cloudevents+json");
    assert_eq!(p.token.as_deref(), Some("api-token-1"));
    let ce = &p.body;
    assert_eq!(ce["data"], json!({ "n": 7 }));
    assert_eq!(ce["source"], "order-worker");
    assert_eq!(ce["correlationid"], "ping-1");
    let tp = ce["traceparent"].as_str().unwrap();
    assert_eq!(tp.split('-').nth(1), TRACEPARENT.split('-').nth(1));
    assert_eq!(p.traceparent.as_deref(), Some(tp));
    worker.stop().await;
}

/// Delivers pings `range` to the echo function; each is answered SUCCESS.
async fn echo_pings(daprd: &mut Daprd, range: std::ops::RangeInclusive<u32>) {
    for n in range {
        let event = ping_request(&ping(&format!("ping-{n}"), n), "/test-echo");
        assert_eq!(status(daprd, event, None).await, Wire::Success);
    }
}

/// How often each ping's echo was accepted, and the distinct event ids accepted.
fn accepted_per_ping(api: &FakeDaprApi) -> (BTreeMap<u64, usize>, BTreeSet<String>) {
    let mut per_ping = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for p in api.accepted() {
        *per_ping
            .entry(p.body["data"]["n"].as_u64().unwrap())
            .or_default() += 1;
        ids.insert(p.body["id"].as_str().unwrap().to_owned());
    }
    (per_ping, ids)
}

#[tokio::test]
async fn the_circuit_opens_on_failures_and_the_outbox_is_bulk_published_once_it_closes() {
    let api = FakeDaprApi::start().await;
    api.fail_with(Code::Unavailable);
    let functions: Vec<Arc<dyn Function>> = vec![topic(Echo)];
    let worker =
        TestWorker::start(grpc_config(Service::Order, Mode::Event, &api), &functions).await;
    let breaker = worker.worker_publisher.breaker();
    let mut daprd = Daprd::connect(&worker.base).await;

    // Three events whose publishes fail (two attempts each) open the circuit; the handling
    // still succeeds and the events wait in the outbox.
    echo_pings(&mut daprd, 1..=3).await;
    assert!(breaker.is_open(), "three failed events open the circuit");
    let sent_while_closed = api.received().len();
    assert!(
        sent_while_closed >= 6,
        "two attempts per event: {sent_while_closed}"
    );

    // While open, nothing reaches the sidecar.
    echo_pings(&mut daprd, 4..=5).await;
    assert_eq!(
        api.received().len(),
        sent_while_closed,
        "nothing sent while open"
    );
    assert_eq!(worker.store.outbox_backlog().await.unwrap(), 5);

    // The sidecar recovers: the relay's trial publish closes the circuit, and its pass of
    // several events of one topic goes as a bulk publish.
    api.fail_with(Code::Ok);
    eventually("the backlog is published", || async {
        worker.store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    assert!(!breaker.is_open());
    let (per_ping, ids) = accepted_per_ping(&api);
    assert_eq!(
        per_ping,
        (1..=5).map(|n| (n, 1)).collect(),
        "each event published once"
    );
    assert_eq!(ids.len(), 5);
    assert!(
        api.accepted().iter().any(|p| p.call == "BulkPublishEvent"),
        "the relay's backlog went in bulk: {:?}",
        api.accepted().iter().map(|p| p.call).collect::<Vec<_>>()
    );
    worker.stop().await;
}

#[tokio::test]
async fn an_older_sidecar_gets_the_alpha_bulk_and_a_refused_entry_alone_is_sent_again() {
    let api = FakeDaprApi::start().await;
    api.alpha_only();
    api.fail_with(Code::Unavailable);
    let functions: Vec<Arc<dyn Function>> = vec![topic(Echo)];
    let mut config = grpc_config(Service::Order, Mode::Event, &api);
    // One failed event opens the circuit, so the next four wait for the relay together.
    config.publisher.failure_threshold = 1;
    let worker = TestWorker::start(config, &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    echo_pings(&mut daprd, 1..=4).await;
    assert_eq!(worker.store.outbox_backlog().await.unwrap(), 4);

    api.refuse_in_bulk_once(3);
    api.fail_with(Code::Ok);
    eventually("the backlog is published", || async {
        worker.store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    let (per_ping, _) = accepted_per_ping(&api);
    assert_eq!(
        per_ping,
        (1..=4).map(|n| (n, 1)).collect(),
        "each event published once"
    );
    let calls: BTreeSet<&str> = api.accepted().iter().map(|p| p.call).collect();
    assert!(calls.contains("BulkPublishEventAlpha1"), "{calls:?}");
    assert!(!calls.contains("BulkPublishEvent"), "{calls:?}");
    let refused: Vec<_> = api
        .received()
        .into_iter()
        .filter(|p| !p.accepted && p.body["data"]["n"] == 3 && p.call != "PublishEvent")
        .collect();
    assert_eq!(refused.len(), 1, "the refused entry was refused once");
    // Give the relay a moment: nothing is published twice afterwards.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(accepted_per_ping(&api).0, per_ping);
    worker.stop().await;
}
