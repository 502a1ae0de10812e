//! [`SidecarPublisher`]: publishes committed outbox rows through the Dapr sidecar, over the
//! API the worker's app protocol names: HTTP ([`http`]: `POST /v1.0/publish/<pubsub>/<topic>`)
//! or gRPC ([`grpc`]: `PublishEvent`, and `BulkPublishEvent` for a run of events of one
//! topic). Either way each event is the full CloudEvent with content type
//! `application/cloudevents+json`, so daprd keeps its id, type, source, correlation id and
//! trace instead of wrapping it in a new envelope.
//!
//! What the two transports share is here: events go in order, a call at a time (one event, or
//! one bulk); a failed call is retried with a doubling backoff (a bulk retries only the entries
//! the sidecar refused); a call that still fails counts against a [`CircuitBreaker`]. While the
//! circuit is open nothing is sent: the publisher reports the events as unpublished, they stay
//! in the outbox, and the relay publishes them once a trial publish has closed the circuit.

mod grpc;
mod http;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{CloudEvent, Function, PublishError, Publisher};
use conveyor_store::OutboxRow;

use super::breaker::{CircuitBreaker, Permit};
use super::config::{PublisherSettings, WorkerConfig};
use super::protocol::AppProtocol;

pub use grpc::MAX_BULK;

pub use crate::protocol::CLOUDEVENTS_CONTENT_TYPE;

/// Publishes through the sidecar, with retries and a circuit breaker.
#[derive(Debug)]
pub struct SidecarPublisher {
    transport: Transport,
    settings: PublisherSettings,
    breaker: CircuitBreaker,
}

/// The sidecar API events go through.
#[derive(Debug)]
enum Transport {
    Http(http::HttpTransport),
    Grpc(grpc::GrpcTransport),
}

/// Why events were not published.
#[derive(Debug)]
enum Failure {
    /// Worth retrying (5xx, 429, unavailable, connection refused, timeout).
    Transient(String),
    /// The sidecar refused it (4xx, invalid argument): retrying the same request now will not
    /// help.
    Refused(String),
}

impl Failure {
    fn reason(&self) -> &str {
        match self {
            Self::Transient(r) | Self::Refused(r) => r,
        }
    }
}

/// A call that did not publish everything it carried.
#[derive(Debug)]
struct Rejected {
    failure: Failure,
    /// The positions in the call of the events not published; `None`: all of them.
    failed: Option<Vec<usize>>,
}

impl Rejected {
    fn all(failure: Failure) -> Self {
        Self {
            failure,
            failed: None,
        }
    }
}

/// The trace of `row`'s event, to pass on beside it so daprd's publish span joins it.
fn trace_of(row: &OutboxRow) -> (Option<String>, Option<String>) {
    match serde_json::from_str::<CloudEvent>(&row.body) {
        Ok(event) => (
            event.traceparent.filter(|t| !t.is_empty()),
            event.tracestate.filter(|t| !t.is_empty()),
        ),
        Err(_) => (None, None),
    }
}

/// The topics some function consumes with an ordering key: among the catalog's and `functions`.
fn ordered_topics(functions: &[Arc<dyn Function>]) -> HashSet<String> {
    conveyor_catalog::all()
        .iter()
        .chain(functions)
        .map(|f| f.spec())
        .filter(|spec| spec.ordering_key.is_some())
        .flat_map(|spec| spec.topics().iter().map(|t| (*t).to_owned()))
        .collect()
}

impl SidecarPublisher {
    /// A publisher for the worker's sidecar, over the API of its app protocol. `functions`
    /// (the worker's) join the catalog's in saying which topics are consumed in order.
    #[must_use]
    pub fn new(config: &WorkerConfig, functions: &[Arc<dyn Function>]) -> Self {
        let transport = match config.app_protocol {
            AppProtocol::Http => Transport::Http(http::HttpTransport::new(config)),
            AppProtocol::Grpc => {
                Transport::Grpc(grpc::GrpcTransport::new(config, ordered_topics(functions)))
            }
        };
        Self {
            transport,
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

    /// Where events go: the HTTP publish URL of `topic`, or the gRPC API.
    #[must_use]
    pub fn url(&self, topic: &str) -> String {
        match &self.transport {
            Transport::Http(http) => http.url(topic),
            Transport::Grpc(grpc) => grpc.target(),
        }
    }

    fn target(&self) -> String {
        match &self.transport {
            Transport::Http(http) => http.target(),
            Transport::Grpc(grpc) => grpc.target(),
        }
    }

    /// How many of `rows`, from the first, go in one call.
    fn batch(&self, rows: &[OutboxRow]) -> usize {
        match &self.transport {
            Transport::Http(_) => rows.len().min(1),
            Transport::Grpc(grpc) => grpc.batch(rows),
        }
    }

    async fn send(&self, batch: &[&OutboxRow]) -> Result<(), Rejected> {
        let call = async {
            match &self.transport {
                Transport::Http(http) => http.send(batch).await,
                Transport::Grpc(grpc) => grpc.send(batch).await,
            }
        };
        match tokio::time::timeout(self.settings.request_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Rejected::all(Failure::Transient(format!(
                "no answer from the sidecar within {:?}",
                self.settings.request_timeout
            )))),
        }
    }

    /// One call's events, with retries of those not published. On failure: why, and the
    /// positions in `unit` of the events still not published.
    async fn publish_unit(&self, unit: &[OutboxRow]) -> Result<(), (Failure, Vec<usize>)> {
        let mut pending: Vec<usize> = (0..unit.len()).collect();
        let mut delay = self.settings.backoff;
        let mut attempt = 1;
        loop {
            let batch: Vec<&OutboxRow> = pending.iter().map(|&k| &unit[k]).collect();
            let Err(rejected) = self.send(&batch).await else {
                return Ok(());
            };
            let still: Vec<usize> = match rejected.failed {
                Some(failed) => failed
                    .into_iter()
                    .filter_map(|j| pending.get(j).copied())
                    .collect(),
                None => pending.clone(),
            };
            match rejected.failure {
                Failure::Transient(reason)
                    if attempt < self.settings.attempts && !still.is_empty() =>
                {
                    tracing::debug!(events = still.len(), topic = %unit[0].topic, attempt, %reason, "publish failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                    pending = still;
                }
                failure => return Err((failure, still)),
            }
        }
    }

    fn unpublished(
        &self,
        rows: &[OutboxRow],
        failed_ids: Vec<String>,
        reason: String,
    ) -> PublishError {
        if failed_ids.len() == rows.len() {
            PublishError::Transport {
                target: self.target(),
                source: reason.into(),
            }
        } else {
            PublishError::Partial {
                failed_ids,
                total: rows.len(),
                reason,
            }
        }
    }
}

impl Publisher for SidecarPublisher {
    fn publish<'a>(&'a self, rows: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let mut from = 0;
            while from < rows.len() {
                if let Permit::Rejected(wait) = self.breaker.permit(Instant::now()) {
                    return Err(self.unpublished(
                        rows,
                        rows[from..].iter().map(|r| r.id.clone()).collect(),
                        format!(
                            "circuit open after repeated publish failures; next trial in {:?}",
                            round(wait)
                        ),
                    ));
                }
                let n = self.batch(&rows[from..]).max(1);
                let unit = &rows[from..from + n];
                match self.publish_unit(unit).await {
                    Ok(()) => self.breaker.success(),
                    Err((failure, still)) => {
                        if self.breaker.failure(Instant::now()) {
                            tracing::warn!(
                                reason = failure.reason(),
                                open_for = ?self.settings.open_for,
                                "publish circuit opened; events wait in the outbox"
                            );
                        }
                        let mut failed: Vec<String> =
                            still.iter().map(|&k| unit[k].id.clone()).collect();
                        failed.extend(rows[from + n..].iter().map(|r| r.id.clone()));
                        return Err(self.unpublished(rows, failed, failure.reason().to_owned()));
                    }
                }
                from += n;
            }
            Ok(())
        })
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
