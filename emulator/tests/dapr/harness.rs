//! The daprd side of the tests: a fake sidecar publish endpoint and Jobs API (a real axum
//! server on 127.0.0.1:0) that records what the worker publishes and schedules and can be told
//! to fail, a worker
//! served in-process on a real TCP listener, an HTTP client, CloudEvents shaped as daprd
//! delivers them, and purpose-built functions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use conveyor_dapr::{Mode, PublisherSettings, Worker, WorkerConfig};
use conveyor_domain::events::DomainEvent;
use conveyor_domain::{Clock, SystemClock, Timestamp};
use conveyor_gen::compact_json;
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
    TopicHandler,
};
use conveyor_store::Store;
use conveyor_store::testing::TestDb;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::functions::{FAST_RETRY, Ping};

pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Serves `app` on a free loopback port until the returned sender is dropped (or sent to).
pub(crate) async fn serve_on_loopback(app: Router) -> (u16, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    (port, stop)
}

/// One publish request the fake sidecar received.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) pubsub: String,
    pub(crate) topic: String,
    pub(crate) content_type: String,
    pub(crate) traceparent: Option<String>,
    pub(crate) body: Value,
    /// The status the fake answered.
    pub(crate) status: u16,
    /// When the fake received it.
    pub(crate) received: Timestamp,
}

/// One call of the fake sidecar's Jobs API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobCall {
    pub(crate) method: String,
    pub(crate) name: String,
    /// The request body (`Null` for a GET).
    pub(crate) body: Value,
    pub(crate) token: Option<String>,
    /// The status the fake answered.
    pub(crate) status: u16,
}

#[derive(Debug, Default)]
struct SidecarState {
    status: AtomicU16,
    requests: Mutex<Vec<Published>>,
    /// The jobs the fake Scheduler holds: name -> schedule.
    jobs: Mutex<BTreeMap<String, String>>,
    job_calls: Mutex<Vec<JobCall>>,
    /// Schedule calls still to refuse with 500 (a Scheduler not reachable yet).
    refuse_schedules: AtomicU32,
}

/// The sidecar's `POST /v1.0/publish/<pubsub>/<topic>`.
pub(crate) struct FakeSidecar {
    pub(crate) port: u16,
    state: Arc<SidecarState>,
    _stop: oneshot::Sender<()>,
}

impl FakeSidecar {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(SidecarState {
            status: AtomicU16::new(204),
            ..SidecarState::default()
        });
        let app = Router::new()
            .route("/v1.0/publish/{pubsub}/{*topic}", post(publish))
            .route("/v1.0/jobs/{name}", get(get_job).post(schedule_job))
            .with_state(Arc::clone(&state));
        let (port, stop) = serve_on_loopback(app).await;
        Self {
            port,
            state,
            _stop: stop,
        }
    }

    /// Answers every publish with `status` from now on.
    pub(crate) fn answer(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Published> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests received after the first `from`.
    pub(crate) fn requests_since(&self, from: usize) -> Vec<Published> {
        let requests = self.state.requests.lock().unwrap();
        requests.get(from..).unwrap_or_default().to_vec()
    }

    /// How many requests it received.
    pub(crate) fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// Refuses the next `n` schedule calls with 500.
    pub(crate) fn refuse_schedules(&self, n: u32) {
        self.state.refuse_schedules.store(n, Ordering::SeqCst);
    }

    /// Every Jobs API call so far.
    pub(crate) fn job_calls(&self) -> Vec<JobCall> {
        self.state.job_calls.lock().unwrap().clone()
    }

    /// The jobs the fake Scheduler holds: name -> schedule.
    pub(crate) fn jobs(&self) -> BTreeMap<String, String> {
        self.state.jobs.lock().unwrap().clone()
    }

    /// The requests it accepted (2xx).
    pub(crate) fn accepted(&self) -> Vec<Published> {
        self.requests()
            .into_iter()
            .filter(|p| (200..300).contains(&p.status))
            .collect()
    }
}

async fn publish(
    State(state): State<Arc<SidecarState>>,
    Path((pubsub, topic)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = state.status.load(Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.requests.lock().unwrap().push(Published {
        pubsub,
        topic,
        content_type: header("content-type").unwrap_or_default(),
        traceparent: header("traceparent"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status,
        received: SystemClock.now(),
    });
    StatusCode::from_u16(status).unwrap()
}

fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("dapr-api-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `GET /v1.0/jobs/<name>`: the job as daprd returns it, or 404.
async fn get_job(
    State(state): State<Arc<SidecarState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let held = state.jobs.lock().unwrap().get(&name).cloned();
    let (status, body) = match held {
        Some(schedule) => (
            StatusCode::OK,
            json!({ "name": name, "schedule": schedule, "data": { "@type": "type.googleapis.com/google.protobuf.Value", "value": null } }).to_string(),
        ),
        None => (StatusCode::NOT_FOUND, json!({ "errorCode": "ERR_JOB_NOT_FOUND" }).to_string()),
    };
    state.job_calls.lock().unwrap().push(JobCall {
        method: "GET".to_owned(),
        name,
        body: Value::Null,
        token: token(&headers),
        status: status.as_u16(),
    });
    (status, body)
}

/// `POST /v1.0/jobs/<name>`: holds the job; without `overwrite` an existing one is refused, as
/// the Scheduler does.
async fn schedule_job(
    State(state): State<Arc<SidecarState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let refused = state
        .refuse_schedules
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = {
        let mut jobs = state.jobs.lock().unwrap();
        let schedule = body["schedule"].as_str().map(str::to_owned);
        match schedule {
            _ if refused => StatusCode::INTERNAL_SERVER_ERROR,
            None => StatusCode::BAD_REQUEST,
            Some(_) if jobs.contains_key(&name) && body["overwrite"] != true => {
                StatusCode::CONFLICT
            }
            Some(schedule) => {
                jobs.insert(name.clone(), schedule);
                StatusCode::NO_CONTENT
            }
        }
    };
    state.job_calls.lock().unwrap().push(JobCall {
        method: "POST".to_owned(),
        name,
        body,
        token: token(&headers),
        status: status.as_u16(),
    });
    status
}

/// A worker served in-process on 127.0.0.1:0, with its own SQLite database.
pub(crate) struct TestWorker {
    pub(crate) base: String,
    pub(crate) store: Store,
    pub(crate) worker_publisher: Arc<conveyor_dapr::publisher::SidecarPublisher>,
    pub(crate) db: Option<TestDb>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

/// Quick settings for tests: short relay, breaker open for `open_for`.
pub(crate) fn config(service: Service, mode: Mode, sidecar: &FakeSidecar) -> WorkerConfig {
    WorkerConfig {
        mode,
        dapr_http_port: sidecar.port,
        relay_every: Duration::from_millis(100),
        shutdown_timeout: Duration::from_secs(5),
        publisher: PublisherSettings {
            attempts: 2,
            backoff: Duration::from_millis(5),
            request_timeout: Duration::from_secs(2),
            failure_threshold: 3,
            open_for: Duration::from_millis(800),
        },
        ..WorkerConfig::new(service)
    }
}

impl TestWorker {
    /// Starts a worker over `functions` on a fresh SQLite database.
    pub(crate) async fn start(config: WorkerConfig, functions: &[Arc<dyn Function>]) -> Self {
        let db = TestDb::sqlite().await;
        let config = WorkerConfig {
            database: db.url().to_owned(),
            ..config
        };
        let mut worker = Self::on(config, functions).await;
        worker.db = Some(db);
        worker
    }

    /// Starts a worker on the database its config names.
    pub(crate) async fn on(config: WorkerConfig, functions: &[Arc<dyn Function>]) -> Self {
        let worker = Worker::start(config, functions)
            .await
            .expect("worker starts");
        let store = worker.deps.store.clone();
        let worker_publisher = Arc::clone(&worker.publisher);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            worker
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("worker serves");
        });
        Self {
            base,
            store,
            worker_publisher,
            db: None,
            stop: Some(stop),
            served: Some(served),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Shuts the worker down gracefully and drops its database.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
        if let Some(db) = self.db.take() {
            db.close().await;
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The pub/sub status of a delivery answer.
    pub(crate) fn dapr_status(&self) -> String {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        self.json()["status"].as_str().unwrap().to_owned()
    }
}

/// Sends a request as daprd would.
pub(crate) async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(Bytes::from(body.to_vec()))).unwrap();
    let response = client.request(request).await.expect("worker answers");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: body.to_vec(),
    }
}

/// A CloudEvent as daprd delivers it: compact, keys sorted, daprd's fields.
pub(crate) fn dapr_event(id: &str, topic: &str, data: &Value) -> Vec<u8> {
    compact_json(&json!({
        "data": data,
        "datacontenttype": "application/json",
        "id": id,
        "pubsubname": "pubsub-redis",
        "source": "payment-service",
        "specversion": "1.0",
        "time": "2026-11-22T10:00:00Z",
        "topic": topic,
        "traceid": TRACEPARENT,
        "traceparent": TRACEPARENT,
        "tracestate": "",
        "type": "com.dapr.event.sent",
    }))
    .into_bytes()
}

/// Delivers `body` to `route` with daprd's headers.
pub(crate) async fn deliver(worker: &TestWorker, route: &str, body: &[u8]) -> Answer {
    call(
        "POST",
        &worker.url(route),
        &[
            ("content-type", "application/cloudevents+json"),
            ("pubsubName", "pubsub-redis"),
            ("traceparent", TRACEPARENT),
        ],
        body,
    )
    .await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Echoed {
    pub(crate) n: u32,
}

impl DomainEvent for Echoed {
    fn topic(&self) -> &'static str {
        "test.echoed"
    }
}

/// Answers every ping with an `Echoed` event.
#[derive(Debug, Default)]
pub(crate) struct Echo;

impl TopicHandler for Echo {
    type Payload = Ping;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-echo", Service::Order, &["test.ping"]).with_retry(FAST_RETRY);

    async fn handle(&self, ping: Ping, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        cx.publish(&Echoed { n: ping.n })
    }
}

/// A job that counts its runs, optionally slowly, and announces each with an `Echoed` event.
#[derive(Debug, Default)]
pub(crate) struct Tick {
    pub(crate) runs: Arc<AtomicU32>,
    pub(crate) pause: Duration,
}

impl ScheduleHandler for Tick {
    const SPEC: FunctionSpec = FunctionSpec::on_schedule("test-tick", Service::Order, "* * * * *");

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        cx.publish(&Echoed { n })?;
        Ok(JobReport::batch(1, 100))
    }
}

/// Takes its time over every ping.
#[derive(Debug, Default)]
pub(crate) struct Slow {
    pub(crate) started: Arc<AtomicU32>,
    pub(crate) done: Arc<AtomicU32>,
}

impl TopicHandler for Slow {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec::on_topics("test-slow", Service::Order, &["test.ping"]);

    async fn handle(&self, _ping: Ping, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(600)).await;
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
