//! The dashboard: its JSON API in-process through the router, and its pages in headless
//! Chromium against a served emulator. Each test runs the whole catalog on its own SQLite file,
//! seeded with the demo's orders.
//! Editing and deleting dead letters is also checked on Redis Streams.

mod api;
mod browser;
mod redis;
mod sagas;
mod stored;
mod stored_page;
mod token;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conveyor_catalog as catalog;
use conveyor_domain::OrderId;
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::access::Access;
use conveyor_emulator::api::ApiState;
use conveyor_emulator::demo;
use conveyor_emulator::up::{self, Running, UpConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A running emulator with the demo's three orders placed and their events handled.
pub(crate) struct App {
    pub(crate) running: Running,
    pub(crate) state: ApiState,
    pub(crate) orders: Vec<OrderId>,
    _dir: tempfile::TempDir,
}

/// The handlers of a `payment.confirmed` flow, sorted: the payment's and the status change's
/// consumers (notification-dispatch reads both), and the warehouse's reaction to the fulfillment.
pub(crate) const PAYMENT_FLOW: [&str; 7] = [
    "fulfillment-order-status-changed",
    "notification-dispatch",
    "notification-dispatch",
    "order-checkout-saga",
    "order-payment-confirmed",
    "warehouse-fulfillment-status-changed",
    "warehouse-order-status-changed",
];

/// The whole catalog, seeded with the demo's orders.
pub(crate) async fn spawn_app(run: &str) -> App {
    spawn_app_with(run, catalog::all()).await
}

/// The catalog without notification-dispatch and order-checkout-saga, which also consume
/// `payment.confirmed`: a poison payment then leaves one dead letter (order-payment-confirmed's),
/// the one the DLQ tests fix.
pub(crate) async fn spawn_app_one_payment_consumer(run: &str) -> App {
    let functions = catalog::all()
        .into_iter()
        .filter(|f| {
            !matches!(
                f.spec().name,
                "notification-dispatch" | "order-checkout-saga"
            )
        })
        .collect();
    spawn_app_with(run, functions).await
}

async fn spawn_app_with(
    run: &str,
    functions: Vec<std::sync::Arc<dyn conveyor_runtime::Function>>,
) -> App {
    let dir = tempfile::tempdir().unwrap();
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("dash.db").display()),
        functions,
        consumer: ConsumerSettings {
            batch: 32,
            idle_poll: Duration::from_millis(50),
        },
        relay_every: Duration::from_millis(200),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let orders = demo::seed(&running.deps, running.broker.as_ref(), run)
        .await
        .unwrap();
    let state = running.api_state();
    // The seed's events all handled: nothing pending or retrying in the stream.
    until(
        "the seed's events to be handled",
        &state,
        "/api/events?limit=500",
        |v| {
            let events = v["events"].as_array().unwrap();
            events.len() >= 5
                && events
                    .iter()
                    .all(|e| e["status"] == "handled" || e["status"] == "unrouted")
        },
    )
    .await;
    App {
        running,
        state,
        orders,
        _dir: dir,
    }
}

pub(crate) async fn call(
    state: &ApiState,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    // As the dashboard's page sends it: its own Host and Origin, JSON for what changes state.
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8790")
        .header("origin", "http://127.0.0.1:8790")
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let access = Access::local("127.0.0.1:8790".parse().unwrap());
    let response = conveyor_emulator::api::router(state.clone(), access)
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(crate) async fn until(
    what: &str,
    state: &ApiState,
    uri: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let (_, v) = call(state, "GET", uri, None).await;
        if check(&v) {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}; last {uri}: {last:#}");
}

/// A payment.confirmed payload for `order` (the seeded orders total the sample's 49.99).
pub(crate) fn payment_for(order: &OrderId, payment: &str) -> String {
    let mut payload = conveyor_domain::events::samples::for_topic("payment.confirmed").unwrap();
    payload["order_id"] = Value::from(order.as_str());
    payload["payment_id"] = Value::from(payment);
    payload.to_string()
}
