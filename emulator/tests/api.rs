//! The HTTP API over a running embedded emulator, driven in-process through the router.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conveyor_domain::Timestamp;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::access::Access;
use conveyor_emulator::api::{self, ApiState};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, RetryPolicy, ScheduleHandler,
    Service, TopicHandler,
};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    order_id: String,
}

impl Validate for Order {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.order_id.is_empty() {
            Err(ValidationError::new("order_id must not be empty"))
        } else {
            Ok(())
        }
    }
}

#[derive(Debug, Default)]
struct Echo(Arc<AtomicU32>);

impl TopicHandler for Echo {
    type Payload = Order;
    const SPEC: FunctionSpec = FunctionSpec::on_topics("api-echo", Service::Order, &["api.order"])
        .with_retry(RetryPolicy {
            max_deliveries: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        });
    async fn handle(&self, order: Order, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if order.order_id == "explode" {
            Err(HandlerError::retry("always fails"))
        } else {
            Ok(())
        }
    }
}

#[derive(Debug, Default)]
struct Job(Arc<AtomicU32>);

impl ScheduleHandler for Job {
    const SPEC: FunctionSpec = FunctionSpec::on_schedule("api-job", Service::Order, "0 3 * * *");
    async fn run_once(
        &self,
        _scheduled: Timestamp,
        _cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        Ok(JobReport {
            processed: u64::from(self.0.fetch_add(1, Ordering::SeqCst) + 1),
            more: false,
        })
    }
}

/// The address the in-process API stands for.
const LISTEN: &str = "127.0.0.1:8790";

fn local() -> Access {
    Access::local(LISTEN.parse().unwrap())
}

async fn call(
    state: &ApiState,
    method: &str,
    uri: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, Value, String) {
    // As curl sends it: the emulator's address as Host, JSON for what changes state.
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", LISTEN)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, Body::from))
        .unwrap();
    let response = api::router(state.clone(), local())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

async fn until(what: &str, state: &ApiState, uri: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..250 {
        let (_, v, _) = call(state, "GET", uri, None).await;
        if check(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn publish_invoke_dead_letters_redrive_metrics_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let (calls, runs) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let functions: Vec<Arc<dyn Function>> = vec![
        conveyor_runtime::topic(Echo(Arc::clone(&calls))),
        conveyor_runtime::schedule(Job(Arc::clone(&runs))),
    ];
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("api.db").display()),
        functions,
        consumer: ConsumerSettings {
            batch: 8,
            idle_poll: Duration::from_millis(50),
        },
        relay_every: Duration::from_millis(200),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let state = running.api_state();

    assert_eq!(call(&state, "GET", "/healthz", None).await.2, "ok");
    let (_, functions, _) = call(&state, "GET", "/functions", None).await;
    assert_eq!(functions.as_array().unwrap().len(), 2);
    assert_eq!(functions[1]["trigger"]["schedule"], "0 3 * * *");
    assert_eq!(functions[1]["trigger"]["next"].as_array().unwrap().len(), 3);

    // Publish a bare payload: it is wrapped, fanned out, handled.
    let (status, published, _) = call(
        &state,
        "POST",
        "/publish/api.order",
        Some(br#"{"order_id":"o-1"}"#.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(published["subscribers"], json!(["api-echo"]));
    until("the event to be handled", &state, "/invocations", |v| {
        v.as_array()
            .is_some_and(|a| a.iter().any(|i| i["outcome"] == "handled"))
    })
    .await;

    // Poison and exhausted events land in the DLQ with their reasons; redrive targets one function.
    call(
        &state,
        "POST",
        "/publish/api.order",
        Some(br#"{"order_id":""}"#.to_vec()),
    )
    .await;
    call(
        &state,
        "POST",
        "/publish/api.order",
        Some(br#"{"order_id":"explode"}"#.to_vec()),
    )
    .await;
    let letters = until("two dead letters", &state, "/dlq/api-echo", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let reasons: Vec<&str> = letters
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["error"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("order_id must not be empty")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("gave up after 1 deliveries: always fails")),
        "{reasons:?}"
    );
    let before = calls.load(Ordering::SeqCst);
    let (_, redriven, _) = call(&state, "POST", "/dlq/api-echo/redrive", None).await;
    assert_eq!(redriven["redriven"], 2);
    until(
        "redriven letters to come back",
        &state,
        "/dlq/api-echo",
        |v| v.as_array().is_some_and(|a| a.len() == 2),
    )
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before + 1,
        "the explode event ran again; the invalid one never reaches the handler"
    );

    // Invoke runs a function once, synchronously, and reports the outcome; a job runs a tick.
    let (_, outcome, _) = call(
        &state,
        "POST",
        "/invoke/api-echo",
        Some(br#"{"order_id":"o-2"}"#.to_vec()),
    )
    .await;
    assert_eq!(outcome["outcome"], "handled");
    let (_, outcome, _) = call(
        &state,
        "POST",
        "/invoke/api-echo",
        Some(br#"{"order_id":"explode"}"#.to_vec()),
    )
    .await;
    assert_eq!(
        (outcome["outcome"].as_str(), outcome["error"].as_str()),
        (Some("retry"), Some("always fails"))
    );
    for expected in [1, 2] {
        let (_, outcome, _) = call(&state, "POST", "/invoke/api-job", None).await;
        assert_eq!(
            outcome["report"]["processed"], expected,
            "each manual run is its own tick"
        );
    }
    let (status, _, _) = call(&state, "POST", "/invoke/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Oversized and malformed bodies are refused at publish with a clear error.
    let (status, err, _) = call(
        &state,
        "POST",
        "/publish/api.order",
        Some(vec![b' '; api::MAX_EVENT_BYTES + 1]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the 262144-byte limit")
    );
    let (status, _, _) = call(
        &state,
        "POST",
        "/publish/api.order",
        Some(b"{nope".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, _, metrics) = call(&state, "GET", "/metrics", None).await;
    assert!(
        metrics.contains("conveyor_dlq_depth{function=\"api-echo\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("conveyor_cron_runs_total{function=\"api-job\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("conveyor_handler_seconds_bucket"),
        "{metrics}"
    );
    running.shutdown().await;
}
