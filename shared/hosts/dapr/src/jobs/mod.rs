//! Jobs through Dapr's Jobs API (the Scheduler), the alternative to one `bindings.cron`
//! component per job (`--schedules jobs`).
//!
//! At start the worker makes sure the Scheduler knows each of its jobs under the job's name,
//! with the job's schedule ([`register`]); a restart that finds them already scheduled alike
//! changes nothing. When a tick is due, the Scheduler picks one connected replica of the app
//! and its sidecar calls the job callback: `POST /job/<name>` over HTTP (here), or
//! `OnJobEventAlpha1` (or the stable `OnJobEvent`) over gRPC
//! ([`crate::grpc::callback`]). Both run [`on_job_event`]: one tick of the job through the
//! runtime's pipeline, the same as a cron binding's firing ([`super::bindings::run_tick`]),
//! so a tick fired twice (a Scheduler retry, a binding left over during a migration) runs once.
//!
//! A failed tick answers 500: the Scheduler retries the trigger under the job's failure policy
//! (by default up to 3 times, 1 s apart) before it waits for the next tick. A gRPC
//! `OnJobEventAlpha1` maps the same [`on_job_event`] result: a tick that ran, was a duplicate or
//! was skipped is an empty `JobEventResponse`, a failed one an `INTERNAL` status, an
//! [`UnknownJob`] `NOT_FOUND` with its message.
//!
//! # Layout
//! - [`api`] — the sidecar's Jobs API (get, schedule), behind a trait the gRPC client can
//!   implement too
//! - [`register`] — scheduling the worker's jobs at start, idempotently, retried until the
//!   sidecar answers

pub mod api;
pub mod register;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::bindings::TickOutcome;
use super::state::WorkerState;

/// A job callback named a job this worker does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no job named {name:?} in {app_id} (mode {mode}); it serves {served}. A job scheduled by another version of the worker? Delete it with `DELETE /v1.0/jobs/{name}` on the sidecar"
)]
pub struct UnknownJob {
    /// The name the callback gave.
    pub name: String,
    /// The worker's app id.
    pub app_id: &'static str,
    /// The worker's mode.
    pub mode: &'static str,
    /// The jobs it serves, comma-separated ("no job" when none).
    pub served: String,
}

/// A job's trigger, whichever protocol brought it: runs one tick of the job called `name`.
///
/// # Errors
/// [`UnknownJob`] when the worker serves no job of that name.
pub async fn on_job_event(state: &WorkerState, name: &str) -> Result<TickOutcome, UnknownJob> {
    let Some(job) = state.job(name) else {
        let served: Vec<&str> = state.bindings();
        return Err(UnknownJob {
            name: name.to_owned(),
            app_id: state.app_id(),
            mode: state.mode().name(),
            served: if served.is_empty() {
                "no job".to_owned()
            } else {
                served.join(", ")
            },
        });
    };
    Ok(super::bindings::run_tick(state.deps(), state.stats(), job).await)
}

/// `POST /job/<name>`: the HTTP job callback. 200 when the tick ran (or was skipped or a
/// duplicate), 500 when it failed (the Scheduler retries), 404 for a job the worker does not
/// serve. The body daprd sends (the job's data) is not needed: the name says everything.
pub async fn http_callback(State(state): State<WorkerState>, Path(name): Path<String>) -> Response {
    match on_job_event(&state, &name).await {
        Ok(outcome) => {
            let status = if outcome.succeeded() {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (status, Json(outcome.to_json(&name))).into_response()
        }
        Err(unknown) => {
            tracing::warn!(job = %name, error = %unknown, "job callback for a job this worker does not serve");
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": unknown.to_string() })),
            )
                .into_response()
        }
    }
}
