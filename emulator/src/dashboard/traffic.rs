//! The event stream: `GET /api/events` (filters: topic, function, status, order_id,
//! correlation_id; `limit`, `before` to page), `GET /api/events/{id}` and
//! `GET /api/flows/{correlation_id}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::eventlog::query::EventFilter;
use crate::http::{ApiError, ApiState};

/// Most events one list returns.
const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(flatten)]
    filter: EventFilter,
    limit: Option<usize>,
    before: Option<u64>,
}

/// `GET /api/events`.
pub(crate) async fn events(State(s): State<ApiState>, Query(q): Query<ListQuery>) -> Json<Value> {
    let limit = q.limit.unwrap_or(100).min(MAX_LIMIT);
    let subscribers = |topic: &str| s.broker.subscribers(topic);
    let list = s.events.events(&q.filter, limit, q.before, &subscribers);
    Json(json!({ "cursor": s.events.cursor(), "events": list }))
}

/// `GET /api/events/{id}`.
pub(crate) async fn event(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let subscribers = |topic: &str| s.broker.subscribers(topic);
    let detail = s.events.detail(&id, &subscribers).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("event {id} is not in the recent events"),
        )
    })?;
    Ok(Json(json!(detail)))
}

/// `GET /api/flows/{correlation_id}`.
pub(crate) async fn flow(
    State(s): State<ApiState>,
    Path(correlation_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let subscribers = |topic: &str| s.broker.subscribers(topic);
    let flow = s.events.flow(&correlation_id, &subscribers);
    if flow.events.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no recent events with correlation id {correlation_id}"),
        ));
    }
    Ok(Json(json!(flow)))
}
