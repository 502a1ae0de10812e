//! The sagas' operator API, for the CLI (`conveyor saga ...`) and the dashboard's saga pages:
//! list, show, abort, retry. Listing and showing read the `sagas` table; abort and retry go
//! through [`conveyor_runtime::saga::operate`], which applies them with the engine in one
//! transaction with the commands they send, as the orchestrator applies a reply. The sagas are
//! those of the orchestrators this emulator runs ([`Function::saga`]). On SQS the timer an
//! action sets is armed as a delay message on the orchestrator's queue, as the orchestrator's
//! host arms the others.
//!
//! The same operations run without an emulator through [`Desk`], straight on a database: how
//! `conveyor saga ... --database <url>` reaches the sagas of Dapr workers and Lambdas. There
//! an action's commands stay in the outbox, and the relay of the host that runs the
//! orchestrator publishes them.
//!
//! - `GET /api/sagas?status=&definition=&limit=` — most recently changed first
//! - `GET /api/sagas/{id}?definition=` — one saga, its steps named from its definition
//! - `POST /api/sagas/{id}/abort` (body `{"reason": "..."}`, optional) — a running saga only
//! - `POST /api/sagas/{id}/retry` — a failed saga only (a compensation that gave up)

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use conveyor_domain::{SagaId, Timestamp};
use conveyor_runtime::lambda::timers::{TimerQueue, arm_state};
use conveyor_runtime::saga::{
    OperateError, Operation, SagaCodec, SagaRepository, SagaState, SagaStatus, TimerPurpose,
};
use conveyor_runtime::{Deps, Function};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{ApiError, ApiState, SagaTimers};

/// Sagas listed when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;
/// The most a listing returns.
pub const MAX_LIMIT: usize = 1_000;

/// `GET /api/sagas` query.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    definition: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/sagas/{id}` query.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OneQuery {
    definition: Option<String>,
}

/// `POST /api/sagas/{id}/abort` body.
#[derive(Debug, Default, Deserialize)]
struct AbortRequest {
    reason: Option<String>,
}

/// The sagas of some orchestrators on one database: what the API and the CLI's database mode
/// do, without HTTP.
#[derive(Debug, Clone, Copy)]
pub struct Desk<'a> {
    deps: &'a Deps,
    functions: &'a [Arc<dyn Function>],
    timers: Timers<'a>,
}

/// Where an action arms the timer it sets, when no due-timer poller fires it (SQS, Lambda).
#[derive(Debug, Clone, Copy)]
pub enum Timers<'a> {
    /// A poller fires timers from the database (embedded broker, Redis, the Dapr worker).
    Polled,
    /// Each orchestrator's own queue, by function name (`up --transport sqs`).
    ByFunction(&'a SagaTimers),
    /// The queue of the orchestrator acted on (its Lambda's `CONVEYOR_SAGA_TIMER_QUEUE_URL`).
    Queue(&'a TimerQueue),
}

impl<'a> Desk<'a> {
    /// The sagas of the orchestrators among `functions`, on `deps`' store; an action publishes
    /// through `deps`' publisher (a deferred one leaves the commands to a relay).
    #[must_use]
    pub fn new(deps: &'a Deps, functions: &'a [Arc<dyn Function>]) -> Self {
        Self {
            deps,
            functions,
            timers: Timers::Polled,
        }
    }

    /// The same, arming the timer an action sets on `timers`.
    #[must_use]
    pub fn arming(self, timers: Timers<'a>) -> Self {
        Self { timers, ..self }
    }

    fn of(s: &'a ApiState) -> Self {
        Self::new(&s.deps, &s.functions).arming(Timers::ByFunction(&s.saga_timers))
    }

    fn timer_queue(self, function: &str) -> Option<&'a TimerQueue> {
        match self.timers {
            Timers::Polled => None,
            Timers::ByFunction(map) => map.get(function),
            Timers::Queue(queue) => Some(queue),
        }
    }

    fn orchestrators(self) -> impl Iterator<Item = &'a Arc<dyn Function>> {
        self.functions.iter().filter(|f| f.saga().is_some())
    }

    fn codec_of(self, definition: &str) -> Option<(&'a Arc<dyn Function>, &'a dyn SagaCodec)> {
        self.functions.iter().find_map(|f| {
            let codec = f.saga()?;
            (codec.definition().name() == definition).then_some((f, codec))
        })
    }
}

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::from(t.to_rfc3339()))
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// `GET /api/sagas`.
pub(crate) async fn list(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Desk::of(&s)
        .list(q.status.as_deref(), q.definition.as_deref(), q.limit)
        .await
        .map(Json)
}

impl Desk<'_> {
    /// The sagas in `status` of `definition` (any when `None` or empty), at most `limit`
    /// ([`DEFAULT_LIMIT`] when `None`), most recently changed first.
    ///
    /// # Errors
    /// 400 for an unknown status; 503 when the database fails.
    pub async fn list(
        self,
        status: Option<&str>,
        definition: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Value, ApiError> {
        let status = match status.filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => Some(SagaStatus::parse(text).ok_or_else(|| {
                let known: Vec<&str> = SagaStatus::ALL.iter().map(|s| s.as_str()).collect();
                bad_request(format!(
                    "unknown saga status {text:?}: use one of {}",
                    known.join(", ")
                ))
            })?),
        };
        let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let definition = definition.filter(|d| !d.is_empty());
        let mut tx = self.deps.store.begin().await?;
        let sagas = tx.list_sagas(definition, status, limit).await?;
        tx.rollback().await?;
        let list: Vec<Value> = sagas
            .iter()
            .map(|one| {
                let step = one.current_step.and_then(|i| {
                    let (_, codec) = self.codec_of(&one.definition)?;
                    codec.definition().steps().get(i).map(|st| st.name)
                });
                json!({
                    "definition": one.definition,
                    "id": one.saga.as_str(),
                    "status": one.status.as_str(),
                    "current_step": one.current_step,
                    "current_step_name": step,
                    "deadline": time(one.deadline),
                    "updated_at": one.updated_at.to_rfc3339(),
                })
            })
            .collect();
        Ok(Value::Array(list))
    }

    /// The saga `id` of these orchestrators (of `definition` when given).
    async fn find(
        self,
        id: &str,
        definition: Option<&str>,
    ) -> Result<(SagaState, &'static str), ApiError> {
        let saga =
            SagaId::parse(id).map_err(|e| bad_request(format!("{id:?} is no saga id: {e}")))?;
        let mut tx = self.deps.store.begin().await?;
        let mut found = Vec::new();
        for f in self.orchestrators() {
            let Some(codec) = f.saga() else { continue };
            let name = codec.definition().name();
            if definition.is_some_and(|d| d != name) {
                continue;
            }
            if let Some(state) = tx.read_saga(name, &saga).await? {
                found.push((state, f.spec().name));
            }
        }
        tx.rollback().await?;
        match found.len() {
            0 => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no saga {id} of the orchestrators here: `conveyor saga list` lists them"),
            )),
            1 => Ok(found.remove(0)),
            _ => Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("sagas of several definitions have the id {id}: add ?definition=<name>"),
            )),
        }
    }

    /// The saga as shown: its state, each step named and sized from its definition.
    fn detail(self, state: &SagaState, function: &str) -> Value {
        let def = self
            .codec_of(&state.definition)
            .map(|(_, c)| c.definition());
        let steps: Vec<Value> = state
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let step = def.and_then(|d| d.steps().get(i));
                let compensation = step.and_then(|s| s.compensation);
                json!({
                    "index": i,
                    "name": step.map(|s| s.name),
                    "command": step.map(|s| s.command),
                    "compensation": compensation.map(|c| c.command),
                    "status": st.status.as_str(),
                    "attempts": st.attempts,
                    "max_attempts": step.map(|s| s.retry.attempts),
                    "compensation_attempts": st.compensation_attempts,
                    "compensation_gives_up_after": compensation.and_then(|c| c.gives_up_after),
                    "operator_retries": st.operator_retries,
                    "result": st.result,
                    "reason": st.reason,
                    "started_at": time(st.started_at),
                    "settled_at": time(st.settled_at),
                })
            })
            .collect();
        let name = |i: usize| def.and_then(|d| d.steps().get(i)).map(|s| s.name);
        let timer = state.timer.map(|t| {
            json!({
                "due": t.due.to_rfc3339(),
                "step": t.step,
                "step_name": name(t.step),
                "phase": format!("{:?}", t.phase).to_lowercase(),
                "purpose": match t.purpose {
                    TimerPurpose::ReplyDeadline => "reply_deadline",
                    TimerPurpose::Resend => "resend",
                },
            })
        });
        let path: Vec<Value> = state
        .compensation_path
        .iter()
        .map(|&i| json!({ "step": i, "name": name(i), "status": state.steps[i].status.as_str() }))
        .collect();
        json!({
            "definition": state.definition,
            "function": function,
            "id": state.id.as_str(),
            "status": state.status.as_str(),
            "current_step": state.current,
            "current_step_name": state.current.and_then(name),
            "deadline": time(state.deadline()),
            "timer": timer,
            "steps": steps,
            "compensation_path": path,
            "failure": state.failure,
            "version": state.version,
            "started_at": state.started_at.to_rfc3339(),
            "updated_at": state.updated_at.to_rfc3339(),
            "data": state.data,
            "can_abort": state.status == SagaStatus::Running,
            "can_retry": state.status == SagaStatus::Failed,
        })
    }

    /// One saga, its steps named from its definition.
    ///
    /// # Errors
    /// 400 for an id that cannot be a saga's; 404 when there is none; 409 when sagas of several
    /// definitions have the id and none is given.
    pub async fn show(self, id: &str, definition: Option<&str>) -> Result<Value, ApiError> {
        let (state, function) = self.find(id, definition).await?;
        Ok(self.detail(&state, function))
    }

    /// Applies `op` to the saga `id`; the saga as it is after.
    ///
    /// # Errors
    /// As [`Desk::show`]; 409 with the reason for a refusal (an abort of a saga that is not
    /// running, a retry of one that is not failed); 503 when the database fails.
    pub async fn act(
        self,
        id: &str,
        definition: Option<&str>,
        op: Operation,
    ) -> Result<Value, ApiError> {
        let (state, _) = self.find(id, definition).await?;
        let Some((f, codec)) = self.codec_of(&state.definition) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no orchestrator of {}", state.definition),
            ));
        };
        let source = f.spec().service.app_id();
        let t = conveyor_runtime::saga::operate(self.deps, codec, source, &state.id, op)
            .await
            .map_err(|e| refused(&e))?;
        // On SQS and Lambda no poller fires the timer the action set: it is armed here, on the
        // orchestrator's queue. Missed, it is armed when the saga's next event arrives.
        if let Some(queue) = self.timer_queue(f.spec().name)
            && let Err(e) = arm_state(queue, &t.state, source, self.deps.clock.now()).await
        {
            tracing::warn!(saga = %t.state.id, error = %e, "the timer of an operator's action was not armed");
        }
        Ok(self.detail(&t.state, f.spec().name))
    }
}

/// `GET /api/sagas/{id}`.
pub(crate) async fn show(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<OneQuery>,
) -> Result<Json<Value>, ApiError> {
    Desk::of(&s)
        .show(&id, q.definition.as_deref())
        .await
        .map(Json)
}

/// The abort an operator asks for, with their reason (a blank one counts as none given).
#[must_use]
pub fn abort_operation(reason: Option<String>) -> Operation {
    let reason = reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "no reason given".to_owned());
    Operation::Abort { reason }
}

/// `POST /api/sagas/{id}/abort`.
pub(crate) async fn abort(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<OneQuery>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: AbortRequest = if body.is_empty() {
        AbortRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| bad_request(format!("expected {{\"reason\": \"...\"}}: {e}")))?
    };
    Desk::of(&s)
        .act(
            &id,
            q.definition.as_deref(),
            abort_operation(request.reason),
        )
        .await
        .map(Json)
}

/// `POST /api/sagas/{id}/retry`.
pub(crate) async fn retry(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<OneQuery>,
) -> Result<Json<Value>, ApiError> {
    Desk::of(&s)
        .act(&id, q.definition.as_deref(), Operation::Retry)
        .await
        .map(Json)
}

fn refused(e: &OperateError) -> ApiError {
    let status = match e {
        OperateError::NotFound { .. } => StatusCode::NOT_FOUND,
        OperateError::NotAbortable { .. } | OperateError::NotRetryable { .. } => {
            StatusCode::CONFLICT
        }
        OperateError::Failed(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, e.to_string())
}
