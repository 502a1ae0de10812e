//! [`SidecarPublisher`]: publishes committed outbox rows through the Dapr sidecar's HTTP publish
//! API (`POST /v1.0/publish/<pubsub>/<topic>`), each as the full CloudEvent with content type
//! `application/cloudevents+json`, so daprd keeps its id, type, source, correlation id and
//! trace instead of wrapping it in a new envelope.
//!
//! Events go one at a time, in order. A failed request is retried with a doubling backoff; an
//! event that still fails counts against a [`CircuitBreaker`]. While the circuit is open nothing
//! is sent: the publisher reports the events as unpublished, they stay in the outbox, and the
//! relay publishes them once a trial publish has closed the circuit again.

use std::time::{Duration, Instant};

use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{CloudEvent, PublishError, Publisher};
use conveyor_store::OutboxRow;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::breaker::{CircuitBreaker, Permit};
use super::config::{PublisherSettings, WorkerConfig};

/// The content type that makes daprd take the body as the CloudEvent itself.
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Publishes through the sidecar, with retries and a circuit breaker.
#[derive(Debug)]
pub struct SidecarPublisher {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    pubsub: String,
    token: Option<String>,
    settings: PublisherSettings,
    breaker: CircuitBreaker,
}

/// Why one event was not published.
#[derive(Debug)]
enum Failure {
    /// Worth retrying (5xx, 429, connection refused, timeout).
    Transient(String),
    /// The sidecar refused it (4xx): retrying the same request now will not help.
    Refused(String),
}

impl Failure {
    fn reason(&self) -> &str {
        match self {
            Self::Transient(r) | Self::Refused(r) => r,
        }
    }
}

impl SidecarPublisher {
    /// A publisher for the worker's sidecar.
    #[must_use]
    pub fn new(config: &WorkerConfig) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", config.sidecar()),
            pubsub: config.pubsub.clone(),
            token: config.dapr_api_token.clone(),
            settings: config.publisher,
            breaker: CircuitBreaker::new(
                config.publisher.failure_threshold,
                config.publisher.open_for,
            ),
        }
    }

    /// The circuit breaker (for metrics and tests).
    #[must_use]
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The publish URL of `topic`.
    #[must_use]
    pub fn url(&self, topic: &str) -> String {
        format!("{}/v1.0/publish/{}/{topic}", self.base, self.pubsub)
    }

    fn request(&self, row: &OutboxRow) -> Result<Request<Full<Bytes>>, Failure> {
        let mut builder = Request::post(self.url(&row.topic))
            .header(hyper::header::CONTENT_TYPE, CLOUDEVENTS_CONTENT_TYPE);
        // The trace travels in the headers too, so daprd's publish span joins it.
        if let Ok(event) = serde_json::from_str::<CloudEvent>(&row.body) {
            if let Some(tp) = event.traceparent.filter(|t| !t.is_empty()) {
                builder = builder.header("traceparent", tp);
            }
            if let Some(ts) = event.tracestate.filter(|t| !t.is_empty()) {
                builder = builder.header("tracestate", ts);
            }
        }
        if let Some(token) = &self.token {
            builder = builder.header("dapr-api-token", token);
        }
        builder
            .body(Full::new(Bytes::from(row.body.clone())))
            .map_err(|e| Failure::Refused(format!("cannot build the publish request: {e}")))
    }

    async fn send(&self, row: &OutboxRow) -> Result<(), Failure> {
        let request = self.request(row)?;
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Failure::Transient(format!("sidecar unreachable: {e}")))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if status.is_success() {
                return Ok(());
            }
            let text = format!(
                "sidecar answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                Err(Failure::Transient(text))
            } else {
                Err(Failure::Refused(text))
            }
        };
        match tokio::time::timeout(self.settings.request_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Transient(format!(
                "no answer from the sidecar within {:?}",
                self.settings.request_timeout
            ))),
        }
    }

    /// One event, with retries.
    async fn publish_one(&self, row: &OutboxRow) -> Result<(), Failure> {
        let mut delay = self.settings.backoff;
        let mut attempt = 1;
        loop {
            match self.send(row).await {
                Ok(()) => return Ok(()),
                Err(Failure::Transient(reason)) if attempt < self.settings.attempts => {
                    tracing::debug!(event_id = %row.id, topic = %row.topic, attempt, %reason, "publish failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn unpublished(&self, rows: &[OutboxRow], from: usize, reason: String) -> PublishError {
        if from == 0 {
            PublishError::Transport {
                target: format!("{}/v1.0/publish/{}", self.base, self.pubsub),
                source: reason.into(),
            }
        } else {
            PublishError::Partial {
                failed_ids: rows[from..].iter().map(|r| r.id.clone()).collect(),
                total: rows.len(),
                reason,
            }
        }
    }
}

impl Publisher for SidecarPublisher {
    fn publish<'a>(&'a self, rows: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            for (i, row) in rows.iter().enumerate() {
                if let Permit::Rejected(wait) = self.breaker.permit(Instant::now()) {
                    return Err(self.unpublished(
                        rows,
                        i,
                        format!(
                            "circuit open after repeated publish failures; next trial in {:?}",
                            round(wait)
                        ),
                    ));
                }
                match self.publish_one(row).await {
                    Ok(()) => self.breaker.success(),
                    Err(failure) => {
                        if self.breaker.failure(Instant::now()) {
                            tracing::warn!(
                                reason = failure.reason(),
                                open_for = ?self.settings.open_for,
                                "publish circuit opened; events wait in the outbox"
                            );
                        }
                        let reason = failure.reason().to_owned();
                        return Err(self.unpublished(rows, i, reason));
                    }
                }
            }
            Ok(())
        })
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
