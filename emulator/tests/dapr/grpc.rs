//! `conveyor worker --app-protocol grpc` as daprd sees it: the tests play daprd over gRPC
//! (the `AppCallback` services called exactly as daprd calls them: subscriptions, single and
//! bulk events, cron bindings, the app token, the health check); `grpc_publish.rs` plays the
//! sidecar's gRPC publish API.
//! The same deliveries over HTTP answer the same statuses (`routes.rs`, `delivery.rs`,
//! `publish.rs`; the conformance suite runs every daprd-side scenario on both protocols).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use conveyor_dapr::grpc::daprd::{bulk_entry, topic_event};
use conveyor_dapr::grpc::proto::runtime::{
    BindingEventRequest, TopicEventBulkRequest, TopicEventRequest,
    topic_event_response::TopicEventResponseStatus as Wire,
};
use conveyor_dapr::{BulkSubscribe, Mode};
use conveyor_runtime::{Function, Service, schedule, topic};
use serde_json::json;
use tonic::Code;

use super::grpc_harness::{Daprd, FakeDaprApi, grpc_config, with_token};
use super::harness::{FakeSidecar, TestWorker, Tick, call, config, dapr_event};
use crate::functions::Flaky;

const TOKEN: &str = "app-token-4711";

/// The request daprd makes for the CloudEvent `body` on `test.ping`, routed to `path`.
pub(super) fn ping_request(body: &[u8], path: &str) -> TopicEventRequest {
    topic_event(body, "test.ping", "pubsub-redis", path).expect("a CloudEvent object")
}

pub(super) fn ping(id: &str, n: u32) -> Vec<u8> {
    dapr_event(id, "test.ping", &json!({ "n": n }))
}

pub(super) async fn status(
    daprd: &mut Daprd,
    request: TopicEventRequest,
    token: Option<&str>,
) -> Wire {
    let answer = daprd
        .app
        .on_topic_event(with_token(request, token))
        .await
        .expect("the worker answers");
    Wire::try_from(answer.into_inner().status).expect("a known status")
}

#[tokio::test]
async fn subscriptions_and_bindings_are_listed_as_over_http_and_without_the_token() {
    let sidecar = FakeSidecar::start().await;
    let api = FakeDaprApi::start().await;
    let functions: Vec<Arc<dyn Function>> =
        vec![topic(Flaky::default()), schedule(Tick::default())];
    let bulk = Some(BulkSubscribe {
        max_messages: 50,
        max_await_ms: 25,
    });
    let mut http = config(Service::Order, Mode::All, &sidecar);
    http.bulk_subscribe = bulk;
    let mut grpc = grpc_config(Service::Order, Mode::All, &api);
    grpc.bulk_subscribe = bulk;
    grpc.app_api_token = Some(TOKEN.to_owned());
    let over_http = TestWorker::start(http, &functions).await;
    let over_grpc = TestWorker::start(grpc, &functions).await;

    let listed = call("GET", &over_http.url("/dapr/subscribe"), &[], b"")
        .await
        .json();
    let expected: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["pubsubname"].as_str().unwrap().to_owned(),
                s["topic"].as_str().unwrap().to_owned(),
                s["route"].as_str().unwrap().to_owned(),
                s["deadLetterTopic"].as_str().unwrap().to_owned(),
                s["bulkSubscribe"].clone(),
            )
        })
        .collect();
    assert_eq!(expected.len(), 1);

    // daprd sends no token with these two calls: they answer without one.
    let mut daprd = Daprd::connect(&over_grpc.base).await;
    let subscriptions = daprd
        .app
        .list_topic_subscriptions(())
        .await
        .expect("listed without a token")
        .into_inner()
        .subscriptions;
    let got: Vec<_> = subscriptions
        .iter()
        .map(|s| {
            let routes = s.routes.as_ref().expect("routes");
            assert!(routes.rules.is_empty());
            let b = s.bulk_subscribe.expect("bulk settings");
            (
                s.pubsub_name.clone(),
                s.topic.clone(),
                routes.default.clone(),
                s.dead_letter_topic.clone(),
                json!({
                    "enabled": b.enabled,
                    "maxMessagesCount": b.max_messages_count,
                    "maxAwaitDurationMs": b.max_await_duration_ms,
                }),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let bindings = daprd
        .app
        .list_input_bindings(())
        .await
        .expect("listed without a token")
        .into_inner()
        .bindings;
    assert_eq!(bindings, ["test-tick"]);
    over_http.stop().await;
    over_grpc.stop().await;
}

#[tokio::test]
async fn events_are_answered_success_retry_and_drop_by_the_http_rules() {
    let api = FakeDaprApi::start().await;
    let flaky = Flaky {
        fail_first: 1,
        ..Flaky::default()
    };
    let calls = Arc::clone(&flaky.calls);
    let functions: Vec<Arc<dyn Function>> = vec![topic(flaky)];
    let worker =
        TestWorker::start(grpc_config(Service::Order, Mode::Event, &api), &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;

    // A transient failure, then success on daprd's retry.
    let good = ping_request(&ping("g-1", 1), "/test-flaky");
    assert_eq!(status(&mut daprd, good.clone(), None).await, Wire::Retry);
    assert_eq!(status(&mut daprd, good.clone(), None).await, Wire::Success);
    // A duplicate of a handled event: success, the handler not run again.
    assert_eq!(status(&mut daprd, good, None).await, Wire::Success);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Poison: an invalid payload, the wrong payload type, no data, binary data, an unknown
    // route. None reaches the handler.
    let mut binary = ping_request(&ping("b-1", 1), "/test-flaky");
    binary.data_content_type = "application/octet-stream".to_owned();
    let mut no_data = ping_request(&ping("d-1", 1), "/test-flaky");
    no_data.data.clear();
    let poison = [
        ping_request(&ping("p-1", 0), "/test-flaky"),
        ping_request(
            &dapr_event("p-2", "test.ping", &json!({ "unexpected": true })),
            "/test-flaky",
        ),
        binary,
        no_data,
        ping_request(&ping("p-3", 1), "/no-such-function"),
    ];
    for request in poison {
        let id = request.id.clone();
        assert_eq!(status(&mut daprd, request, None).await, Wire::Drop, "{id}");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "poison never reaches the handler"
    );

    // No path (a subscription daprd routes by topic only): the one function on the topic.
    let unrouted = ping_request(&ping("u-1", 2), "");
    assert_eq!(status(&mut daprd, unrouted, None).await, Wire::Retry);
    worker.stop().await;
}

#[tokio::test]
async fn a_retry_past_the_max_deliveries_is_dropped_as_over_http() {
    let api = FakeDaprApi::start().await;
    let flaky = Flaky {
        fail_first: u32::MAX,
        ..Flaky::default()
    };
    let functions: Vec<Arc<dyn Function>> = vec![topic(flaky)];
    let worker =
        TestWorker::start(grpc_config(Service::Order, Mode::Event, &api), &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    let event = ping_request(&ping("r-1", 1), "/test-flaky");
    // FAST_RETRY allows four deliveries.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(status(&mut daprd, event.clone(), None).await);
    }
    assert_eq!(answers, [Wire::Retry, Wire::Retry, Wire::Retry, Wire::Drop]);
    worker.stop().await;
}

#[tokio::test]
async fn bulk_deliveries_are_answered_entry_by_entry_on_both_names() {
    let api = FakeDaprApi::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![topic(Flaky::default())];
    let worker =
        TestWorker::start(grpc_config(Service::Order, Mode::Event, &api), &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    let bulk = |prefix: &str| TopicEventBulkRequest {
        id: format!("{prefix}-bulk"),
        entries: vec![
            bulk_entry("a", &ping(&format!("{prefix}-1"), 1)),
            bulk_entry("b", &ping(&format!("{prefix}-2"), 0)),
            bulk_entry("c", b"aGVsbG8="),
            bulk_entry("d", &ping(&format!("{prefix}-3"), 3)),
        ],
        metadata: Default::default(),
        topic: "test.ping".to_owned(),
        pubsub_name: "pubsub-redis".to_owned(),
        r#type: "com.dapr.event.sent.bulk".to_owned(),
        path: "/test-flaky".to_owned(),
    };
    let expected = vec![
        ("a".to_owned(), Wire::Success),
        ("b".to_owned(), Wire::Drop),
        ("c".to_owned(), Wire::Drop),
        ("d".to_owned(), Wire::Success),
    ];
    let statuses = |response: tonic::Response<_>| -> Vec<(String, Wire)> {
        let response: conveyor_dapr::grpc::proto::runtime::TopicEventBulkResponse =
            response.into_inner();
        response
            .statuses
            .into_iter()
            .map(|s| (s.entry_id, Wire::try_from(s.status).unwrap()))
            .collect()
    };
    let stable = daprd.app.on_bulk_topic_event(bulk("s")).await.unwrap();
    assert_eq!(statuses(stable), expected);
    // The deprecated name, as an older daprd calls it.
    #[allow(deprecated)]
    let older = daprd
        .alpha
        .on_bulk_topic_event_alpha1(bulk("o"))
        .await
        .unwrap();
    assert_eq!(statuses(older), expected);
    // Delivered again: the handled entries are duplicates, answered SUCCESS.
    let again = daprd.app.on_bulk_topic_event(bulk("s")).await.unwrap();
    assert_eq!(statuses(again), expected);
    worker.stop().await;
}

#[tokio::test]
async fn cron_bindings_fire_through_on_binding_event() {
    let api = FakeDaprApi::start().await;
    let tick = Tick::default();
    let runs = Arc::clone(&tick.runs);
    let functions: Vec<Arc<dyn Function>> = vec![schedule(tick)];
    let worker = TestWorker::start(grpc_config(Service::Order, Mode::Cron, &api), &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    let firing = |name: &str| BindingEventRequest {
        name: name.to_owned(),
        data: Vec::new(),
        metadata: [(
            "readTimeUTC".to_owned(),
            "2026-11-22 10:00:00 +0000 UTC".to_owned(),
        )]
        .into(),
    };
    daprd
        .app
        .on_binding_event(firing("test-tick"))
        .await
        .expect("the tick runs");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let unknown = daprd
        .app
        .on_binding_event(firing("no-such-job"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    worker.stop().await;
}

#[tokio::test]
async fn the_app_token_is_checked_on_every_call_that_carries_work() {
    let api = FakeDaprApi::start().await;
    let flaky = Flaky::default();
    let calls = Arc::clone(&flaky.calls);
    let tick = Tick::default();
    let runs = Arc::clone(&tick.runs);
    let functions: Vec<Arc<dyn Function>> = vec![topic(flaky), schedule(tick)];
    let mut config = grpc_config(Service::Order, Mode::All, &api);
    config.app_api_token = Some(TOKEN.to_owned());
    let worker = TestWorker::start(config, &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;

    for token in [None, Some("wrong")] {
        let event = ping_request(&ping("t-1", 1), "/test-flaky");
        let refused = daprd
            .app
            .on_topic_event(with_token(event, token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{token:?}");
        let bulk = TopicEventBulkRequest {
            entries: vec![bulk_entry("a", &ping("t-2", 1))],
            topic: "test.ping".to_owned(),
            path: "/test-flaky".to_owned(),
            ..Default::default()
        };
        let refused = daprd
            .app
            .on_bulk_topic_event(with_token(bulk.clone(), token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        #[allow(deprecated)]
        let refused = daprd
            .alpha
            .on_bulk_topic_event_alpha1(with_token(bulk, token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        let firing = BindingEventRequest {
            name: "test-tick".to_owned(),
            ..Default::default()
        };
        let refused = daprd
            .app
            .on_binding_event(with_token(firing, token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    let event = ping_request(&ping("t-1", 1), "/test-flaky");
    assert_eq!(status(&mut daprd, event, Some(TOKEN)).await, Wire::Success);
    let firing = BindingEventRequest {
        name: "test-tick".to_owned(),
        ..Default::default()
    };
    daprd
        .app
        .on_binding_event(with_token(firing, Some(TOKEN)))
        .await
        .expect("with the token the tick runs");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    worker.stop().await;
}

#[tokio::test]
async fn the_health_check_and_the_http_probes_share_the_app_port() {
    let api = FakeDaprApi::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![topic(Flaky::default())];
    let mut config = grpc_config(Service::Order, Mode::Event, &api);
    config.app_api_token = Some(TOKEN.to_owned());
    let worker = TestWorker::start(config, &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    // daprd's health probe carries no token.
    daprd.health.health_check(()).await.expect("healthy");
    // The kubelet and Prometheus still speak HTTP/1.1 to the same port.
    let healthz = call("GET", &worker.url("/healthz"), &[], b"").await;
    assert_eq!(
        (healthz.status, healthz.body.as_slice()),
        (200, b"ok".as_slice())
    );
    let metrics = call("GET", &worker.url("/metrics"), &[], b"").await;
    assert_eq!(metrics.status, 200);
    // No HTTP callbacks on a gRPC app.
    let subscribe = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
    assert_eq!(subscribe.status, 404);
    worker.stop().await;
}
