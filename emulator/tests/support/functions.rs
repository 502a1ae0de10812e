//! Purpose-built functions and helpers shared by the emulator's transport tests (embedded and
//! Redis): a ping payload, a handler that fails a set number of times, one that always fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_runtime::{
    CloudEvent, Context, FunctionSpec, HandlerError, RetryPolicy, Service, TopicHandler,
};
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};

/// Waits up to 15 s for `check` to hold.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ping {
    pub(crate) n: u32,
}

impl Validate for Ping {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.n == 0 {
            Err(ValidationError::new("n must be positive"))
        } else {
            Ok(())
        }
    }
}

pub(crate) const FAST_RETRY: RetryPolicy = RetryPolicy {
    max_deliveries: 4,
    initial_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(100),
};

/// `payload` as a CloudEvent on `topic` from `source` at `time`, ready to publish.
pub(crate) fn event_row(
    topic: &str,
    source: &str,
    payload: &impl Serialize,
    time: Timestamp,
) -> OutboxRow {
    CloudEvent::new(topic, source, payload, time)
        .unwrap()
        .into_outbox_row()
}

pub(crate) fn ping(n: u32) -> OutboxRow {
    event_row("test.ping", "test", &Ping { n }, Timestamp::from_millis(0))
}

pub(crate) fn raw(body: &str) -> OutboxRow {
    OutboxRow::bare("raw".to_owned(), "test.ping".to_owned(), body.to_owned())
}

/// Counts calls; fails transiently on the first `fail_first` deliveries of each event.
#[derive(Debug, Default)]
pub(crate) struct Flaky {
    pub(crate) calls: Arc<AtomicU32>,
    pub(crate) fail_first: u32,
}

impl TopicHandler for Flaky {
    type Payload = Ping;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-flaky", Service::Order, &["test.ping"])
            .with_retry(FAST_RETRY);

    async fn handle(&self, ping: Ping, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if cx.attempt() <= self.fail_first {
            return Err(HandlerError::retry(format!(
                "transient failure {call} of ping {}",
                ping.n
            )));
        }
        Ok(())
    }
}

/// Always fails transiently.
#[derive(Debug, Default)]
pub(crate) struct Broken {
    pub(crate) calls: Arc<AtomicU32>,
}

impl TopicHandler for Broken {
    type Payload = Ping;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-broken", Service::Order, &["test.ping"])
            .with_retry(FAST_RETRY);

    async fn handle(&self, _ping: Ping, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(HandlerError::retry("database unavailable"))
    }
}
