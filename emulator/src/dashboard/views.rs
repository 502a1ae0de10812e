//! What the dashboard shows besides traffic: functions with their totals, schedules with their
//! runs, topics with samples and schemas (the ones `events/` holds, rendered from the same Rust
//! types) and server-side validation, and the cursor the page polls.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use conveyor_domain::events::{ALL_TOPICS, samples};
use conveyor_runtime::Trigger;
use conveyor_runtime::cron::Schedule;
use serde_json::{Value, json};

use crate::http::{ApiError, ApiState};
use conveyor_gen::events::{cloudevent, topic_info};

/// Next fire times shown per job.
const NEXT_RUNS: usize = 5;

fn depth(list: &[(String, i64)], name: &str) -> i64 {
    list.iter().find(|(n, _)| n == name).map_or(0, |(_, d)| *d)
}

/// `GET /api/cursor`: where the event log stands; the page reloads its view when it moves.
pub(crate) async fn cursor(State(s): State<ApiState>) -> Json<Value> {
    Json(json!(s.events.cursor()))
}

/// `GET /api/functions`: every function with its trigger, next fire time, last outcome, totals,
/// latency and depths.
pub(crate) async fn functions(State(s): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let now = s.deps.clock.now();
    let (dlq, queued) = (s.broker.dlq_depths().await?, s.broker.depths().await?);
    let log = s.events;
    let list: Vec<Value> = s
        .functions
        .iter()
        .map(|f| {
            let spec = f.spec();
            let (topics, schedule, next) = match spec.trigger {
                Trigger::Topics(topics) => (topics.to_vec(), None, None),
                Trigger::Schedule(cron) => (
                    Vec::new(),
                    Some(cron),
                    Schedule::parse(cron)
                        .ok()
                        .and_then(|c| c.next_after(now))
                        .map(|t| t.to_rfc3339()),
                ),
            };
            json!({
                "name": spec.name,
                "service": spec.service.name(),
                "trigger": if schedule.is_some() { "schedule" } else { "topic" },
                "topics": topics,
                "schedule": schedule,
                "next": next,
                "totals": log.totals(spec.name),
                "dead_letters": depth(&dlq, spec.name),
                "queued": depth(&queued, spec.name),
                "max_deliveries": spec.retry.max_deliveries,
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /api/schedules`: every job with its cron, next runs and recent runs.
pub(crate) async fn schedules(State(s): State<ApiState>) -> Json<Value> {
    let now = s.deps.clock.now();
    let log = s.events;
    let list: Vec<Value> = s
        .functions
        .iter()
        .filter_map(|f| {
            let spec = f.spec();
            let cron = spec.schedule()?;
            let next: Vec<String> = Schedule::parse(cron)
                .map(|c| {
                    c.upcoming(now, NEXT_RUNS)
                        .iter()
                        .map(|t| t.to_rfc3339())
                        .collect()
                })
                .unwrap_or_default();
            Some(json!({
                "name": spec.name,
                "service": spec.service.name(),
                "cron": cron,
                "next": next,
                "runs": log.runs(spec.name),
                "totals": log.totals(spec.name),
            }))
        })
        .collect();
    Json(Value::Array(list))
}

/// `GET /api/topics`: every topic with its payload type, subscribers and sample payload.
pub(crate) async fn topics(State(s): State<ApiState>) -> Json<Value> {
    let list: Vec<Value> = ALL_TOPICS
        .iter()
        .map(|&topic| {
            json!({
                "topic": topic,
                "payload": topic_info(topic).map(|i| i.payload),
                "subscribers": s.broker.subscribers(topic),
                "sample": samples::for_topic(topic),
            })
        })
        .collect();
    Json(Value::Array(list))
}

fn known(topic: &str) -> Result<conveyor_gen::events::TopicInfo, ApiError> {
    topic_info(topic)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown topic {topic}")))
}

/// `GET /api/topics/{topic}`: one topic with its schema and sample CloudEvent.
pub(crate) async fn topic(
    State(s): State<ApiState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let info = known(&topic)?;
    Ok(Json(json!({
        "topic": info.topic,
        "payload": info.payload,
        "subscribers": s.broker.subscribers(&topic),
        "sample": samples::for_topic(&topic),
        "cloudevent": cloudevent(&topic).ok(),
        "schema": (info.schema)(),
    })))
}

/// Why a payload is not a valid `topic` event: schema violations, then the consumer's own
/// decode and validation (what a handler would reject with a drop).
///
/// # Errors
/// An unknown topic.
pub fn check(topic: &str, payload: &Value) -> Result<Vec<String>, ApiError> {
    let info = known(topic)?;
    let schema = serde_json::to_value((info.schema)())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut errors: Vec<String> = validator
        .iter_errors(payload)
        .map(|e| {
            let at = e.instance_path.to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if errors.is_empty()
        && let Err(e) = (info.check)(payload)
    {
        errors.push(e);
    }
    Ok(errors)
}

/// `POST /api/topics/{topic}/validate`: a payload (or a whole CloudEvent, whose `data` is
/// checked) against the topic's schema and rules.
pub(crate) async fn validate(
    Path(topic): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(Json(
                json!({ "valid": false, "errors": [format!("not JSON: {e}")] }),
            ));
        }
    };
    let payload = if value.get("specversion").is_some() {
        value.get("data").cloned().unwrap_or(Value::Null)
    } else {
        value
    };
    let errors = check(&topic, &payload)?;
    Ok(Json(
        json!({ "valid": errors.is_empty(), "errors": errors }),
    ))
}
