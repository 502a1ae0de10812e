//! A stand-in for the two AWS APIs the Lambda host calls, on 127.0.0.1: SQS `SendMessage`
//! (awsJson1_0) and EventBridge `PutEvents` (awsJson1_1), dispatched on `X-Amz-Target` as the
//! SDKs send them. Every request is recorded; switches make it answer HTTP 500 or reject single
//! PutEvents entries, by the `id` of the CloudEvent in their `Detail`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use md5::{Digest, Md5};
use serde_json::{Value, json};

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// `X-Amz-Target`, e.g. `AmazonSQS.SendMessage`.
    pub(crate) target: String,
    /// `Content-Type`.
    pub(crate) content_type: String,
    /// The JSON body.
    pub(crate) body: Value,
}

/// After `pass` more requests, answer `fail` requests with HTTP 500 (`u32::MAX`: all).
#[derive(Debug, Default, Clone, Copy)]
struct Failing {
    pass: u32,
    fail: u32,
}

#[derive(Debug, Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    /// Which requests are answered with HTTP 500.
    failing: Mutex<Failing>,
    /// CloudEvent id -> rejections left (`None`: every time).
    rejects: Mutex<HashMap<String, Option<u32>>>,
    next_id: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running fake; stops with the test's runtime.
#[derive(Debug, Clone)]
pub(crate) struct FakeAws {
    url: String,
    shared: Arc<Shared>,
}

impl FakeAws {
    /// Starts on a free port of 127.0.0.1.
    pub(crate) async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/", post(handle))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake AWS");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A queue URL on this endpoint.
    pub(crate) fn queue_url(&self, name: &str) -> String {
        format!("{}/000000000000/{name}", self.url)
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Bodies of the requests to `target` (`AmazonSQS.SendMessage`, `AWSEvents.PutEvents`).
    pub(crate) fn calls(&self, target: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == target)
            .map(|r| r.body)
            .collect()
    }

    /// SendMessage request bodies.
    pub(crate) fn sent_messages(&self) -> Vec<Value> {
        self.calls("AmazonSQS.SendMessage")
    }

    /// The entries of each PutEvents call.
    pub(crate) fn put_events_calls(&self) -> Vec<Vec<Value>> {
        self.calls("AWSEvents.PutEvents")
            .into_iter()
            .map(|b| b["Entries"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Answers the next `n` requests with HTTP 500.
    pub(crate) fn fail_next(&self, n: u32) {
        self.fail_after(0, n);
    }

    /// Answers `pass` more requests as usual, then `fail` with HTTP 500 (`u32::MAX`: all).
    pub(crate) fn fail_after(&self, pass: u32, fail: u32) {
        *lock(&self.shared.failing) = Failing { pass, fail };
    }

    /// Answers every request with HTTP 500 (`false` to stop).
    pub(crate) fn fail_always(&self, on: bool) {
        self.fail_after(0, if on { u32::MAX } else { 0 });
    }

    /// Rejects the PutEvents entry carrying CloudEvent `id` the next `times` times (`None`:
    /// always).
    pub(crate) fn reject_event(&self, id: &str, times: Option<u32>) {
        lock(&self.shared.rejects).insert(id.to_owned(), times);
    }
}

/// The MD5 of a message body, in hex, as SQS reports it.
pub(crate) fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn aws_json(version: &str, status: StatusCode, body: &Value) -> Response {
    let content_type = format!("application/x-amz-json-{version}");
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let target = text("x-amz-target");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    lock(&shared.requests).push(Recorded {
        target: target.clone(),
        content_type: text("content-type"),
        body: body.clone(),
    });
    let version = if target.starts_with("AmazonSQS.") {
        "1.0"
    } else {
        "1.1"
    };
    {
        let mut failing = lock(&shared.failing);
        if failing.pass > 0 {
            failing.pass -= 1;
        } else if failing.fail > 0 {
            if failing.fail != u32::MAX {
                failing.fail -= 1;
            }
            let error = json!({"__type": "InternalFailure", "message": "injected failure"});
            return aws_json(version, StatusCode::INTERNAL_SERVER_ERROR, &error);
        }
    }
    let id = {
        let mut next = lock(&shared.next_id);
        *next += 1;
        format!("00000000-0000-4000-8000-{:012}", *next)
    };
    match target.as_str() {
        "AmazonSQS.SendMessage" => {
            let message = body["MessageBody"].as_str().unwrap_or_default();
            let answer = json!({"MessageId": id, "MD5OfMessageBody": md5_hex(message)});
            aws_json(version, StatusCode::OK, &answer)
        }
        "AWSEvents.PutEvents" => put_events(&shared, &body, &id),
        _ => {
            let error = json!({"__type": "UnknownOperationException", "message": target});
            aws_json(version, StatusCode::BAD_REQUEST, &error)
        }
    }
}

fn put_events(shared: &Shared, body: &Value, call_id: &str) -> Response {
    let mut rejects = lock(&shared.rejects);
    let mut failed = 0;
    let entries: Vec<Value> = body["Entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let detail: Value = entry["Detail"]
                .as_str()
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null);
            let event_id = detail["id"].as_str().unwrap_or_default();
            let reject = match rejects.get_mut(event_id) {
                Some(None) => true,
                Some(Some(left)) if *left > 0 => {
                    *left -= 1;
                    true
                }
                _ => false,
            };
            if reject {
                failed += 1;
                json!({"ErrorCode": "InternalFailure", "ErrorMessage": "injected rejection"})
            } else {
                json!({"EventId": format!("{call_id}-{i}")})
            }
        })
        .collect();
    let answer = json!({"FailedEntryCount": failed, "Entries": entries});
    aws_json("1.1", StatusCode::OK, &answer)
}
