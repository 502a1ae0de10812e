//! What daprd discovers: `GET /dapr/subscribe` lists every topic function of the service with
//! its route and dead-letter topic; each mode exposes only its callbacks; the app token guards
//! every callback but not health and metrics.

use std::collections::BTreeSet;

use conveyor_catalog as catalog;
use conveyor_dapr::{Mode, Subscriptions, WorkerConfig};
use conveyor_runtime::Service;
use serde_json::Value;

use super::harness::{FakeSidecar, TestWorker, call, config};

fn listed(subscriptions: &Value) -> BTreeSet<(String, String, String, String)> {
    subscriptions
        .as_array()
        .expect("an array")
        .iter()
        .map(|s| {
            let field = |k: &str| {
                s[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {s}"))
                    .to_owned()
            };
            (
                field("pubsubname"),
                field("topic"),
                field("route"),
                field("deadLetterTopic"),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_topic_function_of_the_service_is_subscribed_with_route_and_dead_letter_topic() {
    let sidecar = FakeSidecar::start().await;
    for service in Service::ALL {
        let functions = Mode::All.select(service, catalog::all());
        let worker = TestWorker::start(config(service, Mode::All, &sidecar), &functions).await;
        let answer = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
        assert_eq!(answer.status, 200);
        let expected: BTreeSet<_> = catalog::specs()
            .into_iter()
            .filter(|s| s.service == service)
            .flat_map(|s| {
                s.topics().iter().map(move |t| {
                    (
                        "pubsub-redis".to_owned(),
                        (*t).to_owned(),
                        format!("/{}", s.name),
                        format!("{}.dlq", s.name),
                    )
                })
            })
            .collect();
        assert!(!expected.is_empty(), "{service:?} has topic functions");
        assert_eq!(listed(&answer.json()), expected, "{service:?}");
        worker.stop().await;
    }
}

async fn status(worker: &TestWorker, method: &str, path: &str) -> u16 {
    call(method, &worker.url(path), &[], b"").await.status
}

#[tokio::test]
async fn each_mode_exposes_only_its_callbacks() {
    let sidecar = FakeSidecar::start().await;
    let (topic_route, job_route) = ("/order-payment-confirmed", "/order-cod-auto-confirm");

    let cron = Mode::Cron.select(Service::Order, catalog::all());
    let worker = TestWorker::start(config(Service::Order, Mode::Cron, &sidecar), &cron).await;
    let subs = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
    assert_eq!(
        subs.json(),
        Value::Array(vec![]),
        "cron mode subscribes to nothing"
    );
    assert_eq!(status(&worker, "POST", topic_route).await, 404);
    assert_eq!(status(&worker, "OPTIONS", job_route).await, 200);
    worker.stop().await;

    let event = Mode::Event.select(Service::Order, catalog::all());
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &event).await;
    let subs = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
    // payment.confirmed, payment.failed, order-compensation's 2, notification-dispatch's 4,
    // order-checkout-saga's 12, order-checkout-confirmation's 1 and order-checkout-finished's 1.
    assert_eq!(subs.json().as_array().unwrap().len(), 22);
    // daprd does not start a binding whose probe gets 404.
    assert_eq!(status(&worker, "OPTIONS", job_route).await, 404);
    assert_eq!(status(&worker, "POST", job_route).await, 404);
    worker.stop().await;

    let all = Mode::All.select(Service::Order, catalog::all());
    assert_eq!(all.len(), cron.len() + event.len());
    let worker = TestWorker::start(config(Service::Order, Mode::All, &sidecar), &all).await;
    let subs = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
    assert_eq!(subs.json().as_array().unwrap().len(), 22);
    assert_eq!(status(&worker, "OPTIONS", job_route).await, 200);
    worker.stop().await;
}

#[tokio::test]
async fn declarative_subscriptions_leave_the_programmatic_list_empty() {
    let sidecar = FakeSidecar::start().await;
    let functions = Mode::Event.select(Service::Fulfillment, catalog::all());
    let config = WorkerConfig {
        subscriptions: Subscriptions::Declarative,
        ..config(Service::Fulfillment, Mode::Event, &sidecar)
    };
    let worker = TestWorker::start(config, &functions).await;
    let subs = call("GET", &worker.url("/dapr/subscribe"), &[], b"").await;
    assert_eq!(subs.json(), Value::Array(vec![]));
    worker.stop().await;
}

#[tokio::test]
async fn the_app_token_guards_every_callback() {
    let sidecar = FakeSidecar::start().await;
    let functions = Mode::All.select(Service::Order, catalog::all());
    let config = WorkerConfig {
        app_api_token: Some("s3cret".to_owned()),
        ..config(Service::Order, Mode::All, &sidecar)
    };
    let worker = TestWorker::start(config, &functions).await;
    let good = [("dapr-api-token", "s3cret")];
    let bad = [("dapr-api-token", "s3cre7")];
    for (method, path) in [
        ("GET", "/dapr/subscribe"),
        ("POST", "/order-payment-confirmed"),
        ("OPTIONS", "/order-cod-auto-confirm"),
        ("POST", "/order-cod-auto-confirm"),
    ] {
        assert_eq!(
            call(method, &worker.url(path), &[], b"").await.status,
            401,
            "{method} {path}"
        );
        assert_eq!(
            call(method, &worker.url(path), &bad, b"").await.status,
            401,
            "{method} {path}"
        );
    }
    assert_eq!(
        call("GET", &worker.url("/dapr/subscribe"), &good, b"")
            .await
            .status,
        200
    );
    assert_eq!(
        call(
            "OPTIONS",
            &worker.url("/order-cod-auto-confirm"),
            &good,
            b""
        )
        .await
        .status,
        200
    );
    let garbage = call(
        "POST",
        &worker.url("/order-payment-confirmed"),
        &[good[0], ("content-type", "application/cloudevents+json")],
        b"{",
    )
    .await;
    assert_eq!(garbage.dapr_status(), "DROP");
    assert_eq!(
        call("GET", &worker.url("/healthz"), &[], b"").await.status,
        200
    );
    let metrics = call("GET", &worker.url("/metrics"), &[], b"").await;
    assert_eq!(metrics.status, 200);
    assert!(String::from_utf8_lossy(&metrics.body).contains("conveyor_outbox_backlog 0"));
    worker.stop().await;
}
