//! Deliveries as daprd makes them, answered SUCCESS / RETRY / DROP per the handler contract,
//! for what the conformance suite (`tests/tests/conformance`, which drives the worker as daprd
//! does through success, retries, poison, duplicates and redrive) does not cover: the variety of
//! undecodable bodies answered DROP, bulk deliveries, a real catalog function on a seeded
//! database, and shutdown with deliveries in flight.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use conveyor_catalog as catalog;
use conveyor_dapr::Mode;
use conveyor_domain::events::samples;
use conveyor_domain::order::{Order, OrderRepository, PaymentMethod};
use conveyor_domain::{Currency, CustomerId, Money, OrderId, ProductId, Quantity};
use conveyor_runtime::{Function, Service, topic};
use serde_json::json;

use super::harness::{
    FakeSidecar, Slow, TRACEPARENT, TestWorker, call, config, dapr_event, deliver,
};
use crate::functions::{Flaky, eventually};

#[tokio::test]
async fn bodies_that_are_no_usable_cloudevent_are_answered_drop_without_running_the_handler() {
    let sidecar = FakeSidecar::start().await;
    let flaky = Flaky::default();
    let flaky_calls = Arc::clone(&flaky.calls);
    let functions: Vec<Arc<dyn Function>> = vec![topic(flaky)];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;

    // Beyond the conformance suite's invalid payload and body that is not JSON: the wrong
    // payload type, no data, JSON that is not an object.
    let poison = [
        dapr_event("e-3", "test.ping", &json!({ "unexpected": true })),
        br#"{"id":"e-4","specversion":"1.0","source":"x","type":"test.ping"}"#.to_vec(),
        b"[1,2,3]".to_vec(),
    ];
    for body in &poison {
        let status = deliver(&worker, "/test-flaky", body).await.dapr_status();
        assert_eq!(status, "DROP", "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(
        flaky_calls.load(Ordering::SeqCst),
        0,
        "poison never reaches the handler"
    );
    worker.stop().await;
}

#[tokio::test]
async fn bulk_deliveries_are_answered_entry_by_entry() {
    let sidecar = FakeSidecar::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![topic(Flaky::default())];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    let event = |id: &str, n: u32| -> serde_json::Value {
        serde_json::from_slice(&dapr_event(id, "test.ping", &json!({ "n": n }))).unwrap()
    };
    let bulk = json!({
        "id": "b-1",
        "type": "com.dapr.event.sent.bulk",
        "topic": "test.ping",
        "pubsubname": "pubsub-redis",
        "metadata": {},
        "entries": [
            { "entryId": "a", "event": event("bulk-1", 1), "metadata": {}, "contentType": "application/cloudevents+json" },
            { "entryId": "b", "event": event("bulk-2", 0), "metadata": {}, "contentType": "application/cloudevents+json" },
            { "entryId": "c", "event": "aGVsbG8=", "metadata": {}, "contentType": "application/octet-stream" },
        ],
    });
    let answer = call(
        "POST",
        &worker.url("/test-flaky"),
        &[("content-type", "application/json")],
        bulk.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({ "statuses": [
            { "entryId": "a", "status": "SUCCESS" },
            { "entryId": "b", "status": "DROP" },
            { "entryId": "c", "status": "DROP" },
        ]})
    );
    worker.stop().await;
}

/// A placed, unpaid order in the order service's tables.
async fn seed_order(worker: &TestWorker, id: &str) -> Order {
    let now = conveyor_domain::Timestamp::parse_rfc3339("2026-11-22T09:55:00Z").unwrap();
    let line = conveyor_domain::events::order::OrderLine {
        product_id: ProductId::parse("sku-mug").unwrap(),
        quantity: Quantity::new(2),
        unit_price: Money::from_minor(1250).unwrap(),
    };
    let order = Order::place(
        OrderId::parse(id).unwrap(),
        CustomerId::parse("cus-1").unwrap(),
        PaymentMethod::Prepaid,
        Currency::parse("USD").unwrap(),
        vec![line],
        now,
    )
    .unwrap();
    let mut tx = worker.store.begin().await.unwrap();
    tx.insert_order(&order).await.unwrap();
    tx.commit().await.unwrap();
    order
}

#[tokio::test]
async fn a_real_payment_confirmation_updates_the_order_and_publishes_through_the_sidecar() {
    let sidecar = FakeSidecar::start().await;
    let functions = Mode::Event.select(Service::Order, catalog::all());
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    let order = seed_order(&worker, "ord-dapr-1").await;
    let mut payment = serde_json::to_value(samples::payment_confirmed()).unwrap();
    payment["order_id"] = json!("ord-dapr-1");
    payment["amount"] = json!(order.total.to_major_f64());
    let mut body: serde_json::Value =
        serde_json::from_slice(&dapr_event("pay-evt-1", "payment.confirmed", &payment)).unwrap();
    body["correlationid"] = json!("corr-dapr-1");
    let body = conveyor_gen::compact_json(&body).into_bytes();

    assert_eq!(
        deliver(&worker, "/order-payment-confirmed", &body)
            .await
            .dapr_status(),
        "SUCCESS"
    );
    eventually("the status change is published", || async {
        !sidecar.accepted().is_empty()
    })
    .await;
    let published = sidecar.accepted();
    assert_eq!(published.len(), 1);
    let p = &published[0];
    assert_eq!(p.pubsub, "pubsub-redis");
    assert_eq!(p.topic, "orders.order.status_changed");
    assert_eq!(p.content_type, "application/cloudevents+json");
    let ce = &p.body;
    assert_eq!(ce["type"], "orders.order.status_changed");
    assert_eq!(ce["source"], "order-worker");
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["correlationid"], "corr-dapr-1");
    assert_eq!(ce["data"]["order_id"], "ord-dapr-1");
    assert_eq!(ce["data"]["new_status"], "payment_confirmed");
    let trace_id = TRACEPARENT.split('-').nth(1).unwrap();
    let tp = ce["traceparent"].as_str().unwrap();
    assert_eq!(
        tp.split('-').nth(1),
        Some(trace_id),
        "same trace as the payment"
    );
    assert_ne!(tp, TRACEPARENT, "a child span");
    assert_eq!(
        p.traceparent.as_deref(),
        Some(tp),
        "trace in the header too"
    );
    assert_eq!(ce["traceid"], ce["traceparent"]);

    // daprd redelivers (e.g. after a sidecar restart): handled once, published once.
    assert_eq!(
        deliver(&worker, "/order-payment-confirmed", &body)
            .await
            .dapr_status(),
        "SUCCESS"
    );
    // An unknown order is not there yet: transient.
    let mut stray = payment.clone();
    stray["order_id"] = json!("ord-dapr-unknown");
    let stray = dapr_event("pay-evt-2", "payment.confirmed", &stray);
    let status = deliver(&worker, "/order-payment-confirmed", &stray)
        .await
        .dapr_status();
    assert_eq!(status, "RETRY");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sidecar.accepted().len(), 1);
    assert_eq!(worker.store.outbox_backlog().await.unwrap(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_deliveries_in_flight_finish() {
    let sidecar = FakeSidecar::start().await;
    let slow = Slow::default();
    let (started, done) = (Arc::clone(&slow.started), Arc::clone(&slow.done));
    let functions: Vec<Arc<dyn Function>> = vec![topic(slow)];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    let url = worker.url("/test-slow");
    let in_flight = tokio::spawn(async move {
        let body = dapr_event("slow-1", "test.ping", &json!({ "n": 1 }));
        call(
            "POST",
            &url,
            &[("content-type", "application/cloudevents+json")],
            &body,
        )
        .await
    });
    let health = worker.url("/healthz");
    eventually("the delivery is in flight", || async {
        started.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(done.load(Ordering::SeqCst), 0);
    worker.stop().await;
    assert_eq!(
        done.load(Ordering::SeqCst),
        1,
        "the handler finished before the worker stopped"
    );
    assert_eq!(in_flight.await.unwrap().dapr_status(), "SUCCESS");
    let refused = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>()
        .get(health.parse().unwrap())
        .await;
    assert!(refused.is_err(), "no new connections after shutdown");
}
