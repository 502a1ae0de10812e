//! The sidecar's side, on loopback: a load generator that calls the worker's app as daprd
//! does (a keep-alive HTTP/1.1 client, a bounded number of requests in flight, each answer
//! checked) and a stand-in of the sidecar's publish API that accepts what the worker publishes.
//!
//! Every request body is built before the clock starts, so the measured window holds only the
//! calls. A delivery that is not answered `SUCCESS` fails the run: the figures are of a worker
//! that handled every event.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Delivery;

/// The token daprd sends on every callback (`APP_API_TOKEN`), as the generated Deployments
/// configure it.
pub const APP_TOKEN: &str = "bench-app-token";

/// Entries per bulk delivery: daprd's default `maxMessagesCount`.
pub const BULK_ENTRIES: usize = 100;

/// One prepared call of the app.
#[derive(Debug, Clone)]
pub struct Call {
    body: Bytes,
    entries: usize,
}

/// The calls that deliver `events` (CloudEvent JSON bodies) the way `delivery` says.
#[must_use]
pub fn calls(delivery: Delivery, events: &[String], topic: &str) -> Vec<Call> {
    match delivery {
        Delivery::HttpSingle => events
            .iter()
            .map(|e| Call {
                body: Bytes::from(e.clone()),
                entries: 1,
            })
            .collect(),
        Delivery::HttpBulk => events
            .chunks(BULK_ENTRIES)
            .enumerate()
            .map(|(i, chunk)| {
                let entries: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, e)| {
                        json!({
                            "entryId": format!("{i}-{j}"),
                            "event": serde_json::from_str::<Value>(e).unwrap_or(Value::Null),
                            "contentType": "application/cloudevents+json",
                            "metadata": { "pubsubName": "pubsub-redis" },
                        })
                    })
                    .collect();
                let body = json!({
                    "id": format!("bulk-{i}"),
                    "type": "com.dapr.event.sent.bulk",
                    "topic": topic,
                    "pubsubname": "pubsub-redis",
                    "metadata": {},
                    "entries": entries,
                });
                Call {
                    body: Bytes::from(body.to_string()),
                    entries: chunk.len(),
                }
            })
            .collect(),
    }
}

/// Calls the app at `url` with every one of `calls`, `in_flight` at a time; the events
/// answered `SUCCESS`.
///
/// # Errors
/// The first call that failed or whose answer was not `SUCCESS` for every event.
pub async fn drive(
    delivery: Delivery,
    url: &str,
    calls: Arc<Vec<Call>>,
    in_flight: usize,
) -> Result<u64, String> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(in_flight)
        .build_http();
    let next = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let content_type = match delivery {
        Delivery::HttpSingle => "application/cloudevents+json",
        Delivery::HttpBulk => "application/json",
    };
    let mut callers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let (client, calls, next, delivered) = (
            client.clone(),
            Arc::clone(&calls),
            Arc::clone(&next),
            Arc::clone(&delivered),
        );
        let url = url.to_owned();
        callers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = calls.get(i) else {
                    return Ok::<(), String>(());
                };
                let request = Request::post(&url)
                    .header(header::CONTENT_TYPE, content_type)
                    .header("pubsubname", "pubsub-redis")
                    .header("dapr-api-token", APP_TOKEN)
                    .body(Full::new(call.body.clone()))
                    .map_err(|e| e.to_string())?;
                let response = client.request(request).await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                let succeeded = status == StatusCode::OK && successes(&body) == call.entries;
                if !succeeded {
                    return Err(format!(
                        "call {i} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                delivered.fetch_add(call.entries as u64, Ordering::Relaxed);
            }
        }));
    }
    for caller in callers {
        caller.await.map_err(|e| e.to_string())??;
    }
    Ok(delivered.load(Ordering::Relaxed))
}

/// Events an answer says succeeded: `{"status":"SUCCESS"}` is one, a bulk answer counts its
/// `SUCCESS` statuses.
fn successes(body: &[u8]) -> usize {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    match answer.get("statuses").and_then(Value::as_array) {
        Some(statuses) => statuses.iter().filter(|s| s["status"] == "SUCCESS").count(),
        None => usize::from(answer["status"] == "SUCCESS"),
    }
}

/// The sidecar's publish API: accepts (204) and counts every publish.
#[derive(Debug)]
pub struct Sidecar {
    /// Its port on 127.0.0.1.
    pub port: u16,
    published: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
}

impl Sidecar {
    /// Serves on a free loopback port.
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start() -> Result<Self, String> {
        let published = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&published);
        let app = Router::new().route(
            "/v1.0/publish/{pubsub}/{*topic}",
            post(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                async { StatusCode::NO_CONTENT }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            port,
            published,
            _stop: stop,
        })
    }

    /// Publishes accepted so far.
    #[must_use]
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_calls_carry_up_to_a_hundred_entries_as_objects() {
        let events: Vec<String> = (0..250).map(|n| format!(r#"{{"id":"e{n}"}}"#)).collect();
        let bulk = calls(Delivery::HttpBulk, &events, "t");
        assert_eq!(
            bulk.iter().map(|c| c.entries).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let body: Value = serde_json::from_slice(&bulk[2].body).unwrap();
        assert_eq!(body["entries"][49]["event"]["id"], "e249");
        assert_eq!(body["type"], "com.dapr.event.sent.bulk");
        assert_eq!(calls(Delivery::HttpSingle, &events, "t").len(), 250);
    }

    #[test]
    fn counts_successes_of_single_and_bulk_answers() {
        assert_eq!(successes(br#"{"status":"SUCCESS"}"#), 1);
        assert_eq!(successes(br#"{"status":"RETRY"}"#), 0);
        assert_eq!(
            successes(br#"{"statuses":[{"entryId":"a","status":"SUCCESS"},{"entryId":"b","status":"DROP"}]}"#),
            1
        );
        assert_eq!(successes(b"oops"), 0);
    }
}
