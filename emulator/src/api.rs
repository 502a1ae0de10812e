//! The emulator's HTTP API: publish, invoke, functions, dead letters, recent invocations,
//! sagas ([`crate::sagas`]), health and Prometheus metrics, and the dashboard ([`crate::dashboard`]), all behind the
//! access checks of [`crate::access`]. Errors are values turned into responses in one place
//! ([`ApiError`], beside the state every handler shares in [`crate::http`]).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use conveyor_domain::Timestamp;
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::{HandlerError, Input, Meta, Trigger};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::Access;
use crate::operations;

pub use crate::http::{ApiError, ApiState};
pub use crate::operations::MAX_EVENT_BYTES;

type ApiResult = Result<Json<Value>, ApiError>;

/// The router, behind `access` ([`crate::access`]): every request, the dashboard's included,
/// is judged there before a route sees it.
pub fn router(state: ApiState, access: Access) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/functions", get(functions))
        .route("/invocations", get(invocations))
        .route("/publish/{topic}", post(publish))
        .route("/invoke/{function}", post(invoke))
        .route("/dlq", get(dlq_all))
        .route("/dlq/{function}", get(dlq_list))
        .route("/dlq/{function}/redrive", post(dlq_redrive))
        .route("/api/sagas", get(crate::sagas::list))
        .route("/api/sagas/{id}", get(crate::sagas::show))
        .route("/api/sagas/{id}/abort", post(crate::sagas::abort))
        .route("/api/sagas/{id}/retry", post(crate::sagas::retry))
        .merge(crate::dashboard::routes())
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            Arc::new(access),
            crate::access::layer::guard,
        ))
}

async fn metrics(State(s): State<ApiState>) -> Result<String, ApiError> {
    let backlog = s.deps.store.outbox_backlog().await?;
    // Every function gets a series, zero when it has no dead letters; every topic function a
    // consumer lag, zero when nothing waits for it.
    let depths = per_function(&s, false, &s.broker.dlq_depths().await?);
    let lags = per_function(&s, true, &s.broker.consumer_lags().await?);
    s.stats.set_backlogs(backlog, &depths);
    s.stats.set_consumer_lags(&lags);
    Ok(s.stats.encode())
}

/// `counted` for each function `up` runs (only its topic functions when `topics_only`), zero
/// for those it leaves out.
fn per_function(s: &ApiState, topics_only: bool, counted: &[(String, i64)]) -> Vec<(String, i64)> {
    s.functions
        .iter()
        .map(|f| f.spec())
        .filter(|spec| !topics_only || spec.schedule().is_none())
        .map(|spec| {
            let n = counted.iter().find(|(n, _)| n == spec.name);
            (spec.name.to_owned(), n.map_or(0, |(_, d)| *d))
        })
        .collect()
}

async fn functions(State(s): State<ApiState>) -> Json<Value> {
    let now = s.deps.clock.now();
    let list: Vec<Value> = s
        .functions
        .iter()
        .map(|f| {
            let spec = f.spec();
            let trigger = match spec.trigger {
                Trigger::Topics(topics) => json!({ "topics": topics }),
                Trigger::Schedule(cron) => {
                    let next: Vec<String> = Schedule::parse(cron)
                        .map(|c| c.upcoming(now, 3).iter().map(|t| t.to_rfc3339()).collect())
                        .unwrap_or_default();
                    json!({ "schedule": cron, "next": next })
                }
            };
            json!({
                "name": spec.name,
                "service": spec.service.name(),
                "trigger": trigger,
                "max_deliveries": spec.retry.max_deliveries,
                "concurrency": spec.concurrency,
                "timeout_ms": spec.timeout.as_millis(),
            })
        })
        .collect();
    Json(Value::Array(list))
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn invocations(State(s): State<ApiState>, Query(q): Query<Limit>) -> Json<Value> {
    Json(json!(s.events.latest_attempts(q.limit.unwrap_or(100))))
}

async fn publish(
    State(s): State<ApiState>,
    Path(topic): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let answer = operations::publish(
        s.broker.as_ref(),
        Some(&s.deps.store),
        &topic,
        &body,
        s.deps.clock.now(),
    )
    .await?;
    Ok(Json(answer))
}

async fn invoke(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let function = s.function(&name)?;
    let spec = function.spec();
    let result = match spec.trigger {
        Trigger::Topics(topics) => {
            let event = operations::to_cloudevent(
                topics.first().copied().unwrap_or_default(),
                &body,
                s.deps.clock.now(),
            )?;
            function
                .invoke(
                    &s.deps,
                    Input::Event {
                        event: &event,
                        attempt: 1,
                        deadline: None,
                    },
                )
                .await
        }
        Trigger::Schedule(_) => {
            let scheduled = s.deps.clock.now();
            // A manual run is its own tick, never deduplicated against the scheduler's.
            let mut meta = Meta::for_tick(spec.name, scheduled, 1);
            meta.event_id = format!("{}@manual-{}", spec.name, uuid_like(scheduled)).into();
            conveyor_transport::tick::fire(function.as_ref(), &s.deps, meta, scheduled, &s.stats)
                .await
        }
    };
    Ok(Json(match result {
        Ok(h) => {
            json!({ "outcome": if h.duplicate { "duplicate" } else { "handled" }, "produced": h.produced, "report": h.report.map(|r| json!({"processed": r.processed, "more": r.more})) })
        }
        Err(e @ HandlerError::Retry(_)) => json!({ "outcome": "retry", "error": e.chain() }),
        Err(e @ HandlerError::Drop(_)) => json!({ "outcome": "drop", "error": e.chain() }),
    }))
}

fn uuid_like(t: Timestamp) -> String {
    format!("{}-{}", t.millis(), rand::random::<u32>())
}

async fn dlq_all(State(s): State<ApiState>) -> ApiResult {
    letters(&s, None).await
}

async fn dlq_list(State(s): State<ApiState>, Path(name): Path<String>) -> ApiResult {
    s.function(&name)?;
    letters(&s, Some(&name)).await
}

async fn letters(s: &ApiState, function: Option<&str>) -> ApiResult {
    Ok(Json(
        operations::dead_letters(s.broker.as_ref(), function).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct RedriveRequest {
    ids: Option<Vec<String>>,
}

async fn dlq_redrive(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    s.function(&name)?;
    let request: RedriveRequest = if body.is_empty() {
        RedriveRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"ids\": [...]}}: {e}"),
            )
        })?
    };
    Ok(Json(
        operations::redrive(s.broker.as_ref(), &name, request.ids.as_deref()).await?,
    ))
}
