//! The sagas' operator surface on a running emulator (embedded broker on SQLite): the HTTP API
//! (list, show, abort, retry and their refusals), the `conveyor saga` commands against it, the
//! saga metrics on `/metrics` after sagas ran, and the dashboard's saga pages; and the same
//! commands with `--database`, straight on a database with no emulator. Each test runs
//! one test saga of its own name (so the process-wide saga metrics are told apart), whose
//! steps the test answers by publishing their replies.
//!
//! The test saga: `first` (compensated by `undo`, which gives up after one unanswered send),
//! then `second`. Replies and starts carry `saga_id`.

mod api;
mod cli;
mod database;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conveyor_domain::SagaId;
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::access::Access;
use conveyor_emulator::api::ApiState;
use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::saga::{
    self, Command, Compensation, Incoming, Orchestrator, Outcome, Outgoing, Reply, Retry,
    SagaCodec, SagaDefinition, SagaMessage, SagaState, Step,
};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
use conveyor_sqs::SqsSettings;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const START: &str = "test.ops.start";
pub(crate) const FIRST_DONE: &str = "test.ops.first_done";
pub(crate) const SECOND_DONE: &str = "test.ops.second_done";
pub(crate) const UNDONE: &str = "test.ops.undone";

pub(crate) struct Codec(SagaDefinition);

impl Codec {
    /// The test saga called `name`, its first step waiting `first_timeout` for a reply.
    fn new(name: &'static str, first_timeout: Duration) -> Self {
        let undo = Compensation::new("test.ops.undo", &[UNDONE])
            .timeout(Duration::from_secs(1))
            .backoff(Retry::ONCE)
            .gives_up_after(1);
        let steps = vec![
            Step::new("first", "test.ops.first", &[FIRST_DONE])
                .timeout(first_timeout)
                .retry(Retry::ONCE)
                .compensated_by(undo),
            Step::new("second", "test.ops.second", &[SECOND_DONE])
                .timeout(Duration::from_secs(60))
                .retry(Retry::ONCE),
        ];
        Self(SagaDefinition::new(name, steps).unwrap())
    }
}

impl SagaCodec for Codec {
    fn definition(&self) -> &SagaDefinition {
        &self.0
    }

    fn read(&self, topic: &str, data: &Value) -> Result<Incoming, HandlerError> {
        let id = data["saga_id"].as_str().unwrap_or_default();
        let saga = SagaId::parse(id).map_err(HandlerError::drop)?;
        Ok(if topic == START {
            Incoming::Start {
                saga,
                data: data.clone(),
            }
        } else {
            Incoming::Reply {
                saga,
                reply: Reply::on(topic),
            }
        })
    }

    fn command(&self, state: &SagaState, command: &Command) -> Result<Outgoing, HandlerError> {
        Ok(Outgoing {
            topic: command.topic,
            payload: json!({"saga_id": state.id, "command_id": command.id(), "attempt": command.attempt}),
        })
    }

    fn finished(&self, _: &SagaState, _: &Outcome) -> Result<Option<Outgoing>, HandlerError> {
        Ok(None)
    }
}

/// An orchestrator of the test saga; `N` tells the tests' functions apart.
#[derive(Debug)]
pub(crate) struct OpsSaga<const N: usize>;

fn codec_of<const N: usize>() -> &'static Codec {
    static CODECS: std::sync::OnceLock<[Codec; 4]> = std::sync::OnceLock::new();
    &CODECS.get_or_init(|| {
        [
            Codec::new("test-ops-api", Duration::from_secs(60)),
            Codec::new("test-ops-cli", Duration::from_secs(60)),
            Codec::new("test-ops-metrics", Duration::from_millis(1_500)),
            Codec::new("test-ops-sqs", Duration::from_secs(60)),
        ]
    })[N]
}

impl<const N: usize> TopicHandler for OpsSaga<N> {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        [
            "test-ops-api",
            "test-ops-cli",
            "test-ops-metrics",
            "test-ops-sqs",
        ][N],
        Service::Order,
        &[START, FIRST_DONE, SECOND_DONE, UNDONE, saga::TIMER_FIRED],
    );

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        saga::orchestrate(codec_of::<N>(), &message, cx)
            .await
            .map(|_| ())
    }
}

impl<const N: usize> Orchestrator for OpsSaga<N> {
    fn codec(&self) -> &dyn SagaCodec {
        codec_of::<N>()
    }
}

/// The emulator running `function` alone, on its own SQLite file.
pub(crate) struct App {
    pub(crate) running: Running,
    pub(crate) state: ApiState,
    _dir: tempfile::TempDir,
}

pub(crate) async fn spawn(function: Arc<dyn Function>) -> App {
    spawn_on(function, None).await
}

/// The emulator running `function` alone, on its own SQLite file, on the embedded broker or
/// on the SQS queues of `sqs`.
pub(crate) async fn spawn_on(function: Arc<dyn Function>, sqs: Option<SqsSettings>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("sagas.db").display()),
        functions: vec![function],
        consumer: ConsumerSettings {
            batch: 16,
            idle_poll: Duration::from_millis(20),
        },
        relay_every: Duration::from_millis(100),
        sqs,
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let state = running.api_state();
    App {
        running,
        state,
        _dir: dir,
    }
}

/// One request through the router, as a local client sends it.
pub(crate) async fn call(
    state: &ApiState,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8790")
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let access = Access::local("127.0.0.1:8790".parse().unwrap());
    let response = conveyor_emulator::api::router(state.clone(), access)
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Publishes `{"saga_id": saga}` on `topic` through the API.
pub(crate) async fn send(state: &ApiState, topic: &str, saga: &str) {
    let (status, answer) = call(
        state,
        "POST",
        &format!("/publish/{topic}"),
        Some(json!({ "saga_id": saga })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// `GET /api/sagas/{id}` once `check` holds (15 s at most).
pub(crate) async fn saga_when(state: &ApiState, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (status, v) = call(state, "GET", &format!("/api/sagas/{id}"), None).await;
        if status == StatusCode::OK && check(&v) {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, seen) = call(state, "GET", "/invocations?limit=20", None).await;
    let (_, dlq) = call(state, "GET", "/dlq", None).await;
    panic!(
        "saga {id} never got there; last: {last:#}; invocations: {seen:#}; dead letters: {dlq:#}"
    );
}

pub(crate) fn has_status(status: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["status"] == status
}

/// `conveyor <args> <target>` as an operator runs it (the binary, without the environment's
/// API address or token), with what it printed.
pub(crate) async fn conveyor(args: &[&str], target: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(args)
        .args(target)
        .env_remove("CONVEYOR_API")
        .env_remove("CONVEYOR_API_TOKEN")
        .output()
        .await
        .unwrap()
}

/// What a command that succeeded printed; its stderr when it failed.
pub(crate) fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
