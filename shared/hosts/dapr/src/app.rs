//! The worker's HTTP app, the side daprd calls:
//!
//! | route | what |
//! |---|---|
//! | `GET /dapr/subscribe` | one subscription per (topic function, topic): route `/<function>`, `deadLetterTopic` `<function>.dlq` |
//! | `POST /<function>` | a CloudEvent (or a bulk delivery) for a topic function; answers `{"status": ...}` |
//! | `OPTIONS /<job>`, `POST /<job>` | a job's `bindings.cron` probe and firing |
//! | `GET /healthz`, `GET /metrics` | liveness and Prometheus metrics (no token) |
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
use conveyor_runtime::{Deps, Function};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::bindings::{self, JobEntry};
use super::config::{Subscriptions, WorkerConfig};
use super::delivery::{self, Attempts, StatusBody};
use super::keys::KeyLocks;
use super::publisher::CLOUDEVENTS_CONTENT_TYPE;
use conveyor_transport::metrics::Stats;

/// A topic function the worker serves.
#[derive(Debug)]
pub struct TopicEntry {
    /// The function.
    pub function: Arc<dyn Function>,
    /// Caps its invocations in flight at its spec's concurrency.
    pub limit: Semaphore,
}

/// What the routes share.
#[derive(Debug, Clone)]
pub struct WorkerState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    deps: Deps,
    stats: Arc<Stats>,
    pubsub: String,
    subscriptions: Subscriptions,
    app_token: Option<String>,
    topics: Vec<Arc<TopicEntry>>,
    jobs: Vec<Arc<JobEntry>>,
    attempts: Attempts,
    keys: KeyLocks,
}

impl WorkerState {
    /// State over `functions` (already selected for the worker's service and mode).
    /// `publisher` is the sidecar publisher in `deps`, if it is one (for its circuit state).
    #[must_use]
    pub fn new(config: &WorkerConfig, deps: Deps, functions: &[Arc<dyn Function>]) -> Self {
        let (jobs, topics): (Vec<_>, Vec<_>) = functions
            .iter()
            .partition(|f| f.spec().schedule().is_some());
        Self(Arc::new(Inner {
            deps,
            stats: Arc::new(Stats::new()),
            pubsub: config.pubsub.clone(),
            subscriptions: config.subscriptions,
            app_token: config.app_api_token.clone().filter(|t| !t.is_empty()),
            topics: topics
                .into_iter()
                .map(|f| {
                    let permits = usize::try_from(f.spec().concurrency.max(1)).unwrap_or(1);
                    Arc::new(TopicEntry {
                        function: Arc::clone(f),
                        limit: Semaphore::new(permits),
                    })
                })
                .collect(),
            jobs: jobs
                .into_iter()
                .map(|f| Arc::new(JobEntry::new(Arc::clone(f))))
                .collect(),
            attempts: Attempts::default(),
            keys: KeyLocks::default(),
        }))
    }

    /// Process dependencies.
    #[must_use]
    pub fn deps(&self) -> &Deps {
        &self.0.deps
    }

    /// Metrics (`GET /metrics`).
    #[must_use]
    pub fn stats(&self) -> &Arc<Stats> {
        &self.0.stats
    }

    pub(crate) fn attempts(&self) -> &Attempts {
        &self.0.attempts
    }

    /// The per-key locks of ordered functions.
    #[must_use]
    pub fn keys(&self) -> &KeyLocks {
        &self.0.keys
    }

    /// The subscriptions `GET /dapr/subscribe` lists.
    #[must_use]
    pub fn subscriptions(&self) -> Vec<Value> {
        if self.0.subscriptions == Subscriptions::Declarative {
            return Vec::new();
        }
        let mut list = Vec::new();
        for entry in &self.0.topics {
            let spec = entry.function.spec();
            for topic in spec.topics() {
                list.push(json!({
                    "pubsubname": self.0.pubsub,
                    "topic": topic,
                    "route": format!("/{}", spec.name),
                    "deadLetterTopic": spec.dlq_name(),
                }));
            }
        }
        list
    }

    /// The names of the jobs it serves as cron bindings.
    #[must_use]
    pub fn bindings(&self) -> Vec<&'static str> {
        self.0.jobs.iter().map(|j| j.function.spec().name).collect()
    }
}

/// The router daprd talks to.
pub fn router(state: WorkerState) -> Router {
    let mut callbacks = Router::new().route("/dapr/subscribe", get(subscribe));
    for entry in &state.0.topics {
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
    for job in &state.0.jobs {
        let job = Arc::clone(job);
        let path = format!("/{}", job.function.spec().name);
        callbacks = callbacks.route(
            &path,
            post(move |State(s): State<WorkerState>| {
                let job = Arc::clone(&job);
                async move { bindings::fire(&s, &job).await }
            })
            .options(|| async { StatusCode::OK }),
        );
    }
    let callbacks =
        callbacks.route_layer(middleware::from_fn_with_state(state.clone(), check_token));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .merge(callbacks)
        .with_state(state)
}

async fn subscribe(State(s): State<WorkerState>) -> Json<Value> {
    Json(Value::Array(s.subscriptions()))
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
    match s.0.deps.store.outbox_backlog().await {
        Ok(backlog) => s.0.stats.set_backlogs(backlog, &[]),
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox backlog for metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.0.stats.encode(),
    )
        .into_response()
}

async fn check_token(State(s): State<WorkerState>, request: Request, next: Next) -> Response {
    if let Some(expected) = &s.0.app_token {
        let given = request
            .headers()
            .get("dapr-api-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !same(given, expected.as_bytes()) {
            tracing::warn!(path = %request.uri().path(), "callback without a valid dapr-api-token");
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "missing or wrong dapr-api-token" })),
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
