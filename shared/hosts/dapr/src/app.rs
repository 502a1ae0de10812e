//! The worker's HTTP app, the side daprd calls:
//!
//! | route | what |
//! |---|---|
//! | `GET /dapr/subscribe` | one subscription per (topic function, topic): route `/<function>`, `deadLetterTopic` `<function>.dlq` |
//! | `POST /<function>` | a CloudEvent (or a bulk delivery) for a topic function; answers `{"status": ...}` |
//! | `OPTIONS /<job>`, `POST /<job>` | a job's `bindings.cron` probe and firing (`--schedules cron-binding`) |
//! | `POST /job/<job>` | a job's trigger from Dapr's Scheduler (`--schedules jobs`) |
//! | `GET /healthz`, `GET /metrics` | liveness and Prometheus metrics (no token) |
//!
//! `GET /metrics` sets two gauges before it answers: each topic function's `conveyor_dlq_depth`,
//! the deliveries this worker answered `DROP` since it started (it cannot read the dead-letter
//! topics, which live in daprd's broker), and `conveyor_publisher_circuit_state` of the sidecar
//! publisher's breaker.
//!
//! When an app token is configured (`APP_API_TOKEN`, or the file `APP_API_TOKEN_FILE` names),
//! every daprd callback must carry it in the `dapr-api-token` header, or gets 401.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::bindings;
use super::config::Schedules;
use super::delivery::{self, StatusBody};
use super::jobs;
use super::state::{TopicEntry, WorkerState};
use super::subscription::Subscription;
use crate::protocol::CLOUDEVENTS_CONTENT_TYPE;

/// The router daprd talks to.
pub fn router(state: WorkerState) -> Router {
    let mut callbacks = Router::new().route("/dapr/subscribe", get(subscribe));
    for entry in state.topics() {
        let entry = Arc::clone(entry);
        let path = format!("/{}", entry.function.spec().name);
        callbacks = callbacks.route(
            &path,
            post(
                move |State(s): State<WorkerState>, headers: HeaderMap, body: Bytes| {
                    let entry = Arc::clone(&entry);
                    async move { on_event(&s, &entry, &headers, &body).await }
                },
            ),
        );
    }
    let jobs: &[Arc<bindings::JobEntry>] = match state.schedules() {
        Schedules::CronBinding => state.jobs(),
        Schedules::Jobs => {
            callbacks = callbacks.route("/job/{name}", post(jobs::http_callback));
            &[]
        }
    };
    for job in jobs {
        let job = Arc::clone(job);
        let path = format!("/{}", job.function.spec().name);
        callbacks = callbacks.route(
            &path,
            post(move |State(s): State<WorkerState>| {
                let job = Arc::clone(&job);
                async move { bindings::fire(s.deps(), s.stats(), &job).await }
            })
            .options(|| async { StatusCode::OK }),
        );
    }
    let callbacks =
        callbacks.route_layer(middleware::from_fn_with_state(state.clone(), check_token));
    probe_routes().merge(callbacks).with_state(state)
}

/// `GET /healthz` and `GET /metrics` only (no token): what the app port answers over HTTP/1.1
/// beside daprd's gRPC calls.
pub fn probes(state: WorkerState) -> Router {
    probe_routes().with_state(state)
}

fn probe_routes() -> Router<WorkerState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
}

async fn subscribe(State(s): State<WorkerState>) -> Json<Vec<Subscription>> {
    Json(s.subscriptions())
}

async fn on_event(
    state: &WorkerState,
    entry: &TopicEntry,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let is_cloudevent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CLOUDEVENTS_CONTENT_TYPE));
    if !is_cloudevent && let Some(bulk) = delivery::as_bulk(body) {
        return Json(delivery::deliver_bulk(state, entry, bulk).await).into_response();
    }
    let status = delivery::deliver(state, entry, body).await;
    Json(StatusBody { status }).into_response()
}

async fn metrics(State(s): State<WorkerState>) -> Response {
    let stats = s.stats();
    match s.deps().store.outbox_backlog().await {
        Ok(backlog) => stats.set_backlogs(backlog, &[]),
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox backlog for metrics"),
    }
    // The worker cannot read its dead-letter topics (they live in daprd's broker): its DLQ
    // depth is what it dropped to them since it started, every delivery it answered `DROP`.
    let dropped: Vec<(String, i64)> = s
        .topics()
        .iter()
        .map(|e| e.function.spec().name)
        .map(|name| {
            let n = i64::try_from(stats.dead_lettered(name)).unwrap_or(i64::MAX);
            (name.to_owned(), n)
        })
        .collect();
    stats.set_dlq_depths(&dropped);
    stats.set_circuit("sidecar", s.sidecar().breaker().state().into());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.stats().encode(),
    )
        .into_response()
}

async fn check_token(State(s): State<WorkerState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(TOKEN_HEADER)
        .map(axum::http::HeaderValue::as_bytes);
    if !token_accepted(s.app_token(), given) {
        tracing::warn!(path = %request.uri().path(), "callback without a valid dapr-api-token");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "missing or wrong dapr-api-token" })),
        )
            .into_response();
    }
    next.run(request).await
}

pub use crate::protocol::TOKEN_HEADER;

/// Whether a callback that carries `given` may go ahead: always when no token is `expected`,
/// else only with the same token. The same rule on both protocols.
pub(crate) fn token_accepted(expected: Option<&str>, given: Option<&[u8]>) -> bool {
    expected.is_none_or(|expected| same(given.unwrap_or_default(), expected.as_bytes()))
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
