//! What every HTTP handler shares, the API's and the dashboard's alike: the state
//! ([`ApiState`]) and the error response ([`ApiError`]), the one place errors become responses.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use conveyor_runtime::lambda::timers::TimerQueue;
use conveyor_runtime::{Deps, Function};
use serde_json::json;

use crate::eventlog::EventLog;
use crate::operations;
use conveyor_transport::broker::{Broker, BrokerError};
use conveyor_transport::metrics::Stats;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Process dependencies.
    pub deps: Deps,
    /// The transport.
    pub broker: Arc<dyn Broker>,
    /// Metrics.
    pub stats: Arc<Stats>,
    /// Recent events, attempts and runs.
    pub events: Arc<EventLog>,
    /// The functions this emulator runs.
    pub functions: Vec<Arc<dyn Function>>,
    /// On SQS, each saga orchestrator's queue, where an operator's action arms the timer it
    /// sets (no poller fires it there).
    pub saga_timers: Arc<SagaTimers>,
}

/// Saga orchestrators' timer queues, by function name.
pub type SagaTimers = BTreeMap<&'static str, TimerQueue>;

impl ApiState {
    /// The function called `name`, or 404 naming where the list is.
    pub(crate) fn function(&self, name: &str) -> Result<&Arc<dyn Function>, ApiError> {
        self.functions
            .iter()
            .find(|f| f.spec().name == name)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no function {name} in this emulator: GET /functions lists the ones it runs"
                    ),
                )
            })
    }
}

/// An error response: status and message.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    /// An error response with `status` and `message`.
    #[must_use]
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }

    /// What the response says.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.1
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        Self(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<conveyor_store::StoreError> for ApiError {
    fn from(e: conveyor_store::StoreError) -> Self {
        Self(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<operations::PublishError> for ApiError {
    fn from(e: operations::PublishError) -> Self {
        use operations::PublishError as E;
        let status = match &e {
            E::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            E::NotJson(_) | E::Invalid(_) => StatusCode::BAD_REQUEST,
            E::Transport(_) | E::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self(status, e.to_string())
    }
}
