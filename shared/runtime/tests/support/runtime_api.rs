//! A local Lambda Runtime API: the routes a runtime client polls and posts to, serving queued
//! invocations one at a time and handing back what the function answered.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;

/// How long an invocation may take: its deadline, and how long [`RuntimeApi::invoke`] waits.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// What the function posted back for one invocation.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Debug)]
struct Api {
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    done: mpsc::UnboundedSender<(String, Outcome)>,
}

/// The Runtime API routes a Lambda runtime client uses, served from a queue.
#[derive(Debug)]
pub(crate) struct RuntimeApi {
    /// `127.0.0.1:<port>`, for `AWS_LAMBDA_RUNTIME_API`.
    pub(crate) address: String,
    queue: mpsc::UnboundedSender<(String, Value)>,
    done: mpsc::UnboundedReceiver<(String, Outcome)>,
    count: u32,
}

impl RuntimeApi {
    /// Starts on a free port of 127.0.0.1.
    pub(crate) async fn start() -> Self {
        let (queue, next) = mpsc::unbounded_channel();
        let (done_tx, done) = mpsc::unbounded_channel();
        let api = Arc::new(Api {
            next: tokio::sync::Mutex::new(next),
            done: done_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            queue,
            done,
            count: 0,
        }
    }

    /// Queues one invocation and waits for what the function posts back.
    pub(crate) async fn invoke(&mut self, payload: Value) -> Outcome {
        self.count += 1;
        let id = format!("req-{}", self.count);
        self.queue.send((id.clone(), payload)).unwrap();
        let (answered, outcome) = tokio::time::timeout(WAIT, self.done.recv())
            .await
            .expect("the function answers within the timeout")
            .expect("the Runtime API is running");
        assert_eq!(answered, id);
        outcome
    }
}

async fn next_invocation(State(api): State<Arc<Api>>) -> impl IntoResponse {
    // Blocks until an invocation is queued, as the real API does.
    let Some((id, payload)) = api.next.lock().await.recv().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            HeaderMap::new(),
            String::new(),
        );
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + WAIT;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, value.parse().unwrap());
    };
    set("lambda-runtime-aws-request-id", id);
    set(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:local".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
    );
    (StatusCode::OK, headers, payload.to_string())
}

async fn response(State(api): State<Arc<Api>>, Path(id): Path<String>, body: String) -> StatusCode {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = api.done.send((id, Outcome::Response(body)));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Arc<Api>>, Path(id): Path<String>, body: String) -> StatusCode {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = api.done.send((id, Outcome::Error(body)));
    StatusCode::ACCEPTED
}
