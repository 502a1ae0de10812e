//! The suite's test functions, one topic each (a bystander shares two others' topics), and the
//! events they take. Every function that takes effect records it in the database inside its
//! invocation's transaction, behind the inbox claim: an effect rolled back leaves no row, and a
//! duplicate that ran would leave a second one.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use conveyor_domain::events::{DomainEvent, Validate, ValidationError};
use conveyor_domain::{Clock, SystemClock, Timestamp};
use conveyor_runtime::{
    CloudEvent, Context, FunctionSpec, HandlerError, RetryPolicy, Service, TopicHandler,
};
use conveyor_store::OutboxRow;
use conveyor_store::sqlx;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::db::EFFECTS;

/// Short backoffs, so retries cost milliseconds (where the host times them).
const RETRY: RetryPolicy = RetryPolicy {
    max_deliveries: 4,
    initial_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_millis(200),
};

/// Long enough for SQS: the Lambda adapter starts no record within a second of the invocation's
/// deadline, and the local event source mapping sets the deadline one timeout ahead.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A function of the suite with the defaults above.
const fn spec(name: &'static str, topics: &'static [&'static str]) -> FunctionSpec {
    FunctionSpec::on_topics(name, Service::Order, topics)
        .with_retry(RETRY)
        .with_timeout(TIMEOUT)
}

/// What every test event carries: a key (the ordering key of [`Ordered`]) and a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Probe {
    pub(crate) key: String,
    pub(crate) n: u32,
}

impl Validate for Probe {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.n == 0 {
            Err(ValidationError::new("n must be positive"))
        } else {
            Ok(())
        }
    }
}

/// An event for the functions subscribed to `topic`, ready to publish.
pub(crate) fn event(topic: &str, key: &str, n: u32) -> OutboxRow {
    event_at(topic, key, n, SystemClock.now())
}

/// [`event`], with `time` as the CloudEvent's time.
pub(crate) fn event_at(topic: &str, key: &str, n: u32, time: Timestamp) -> OutboxRow {
    let probe = Probe {
        key: key.to_owned(),
        n,
    };
    let ce = CloudEvent::new(topic, "conformance", &probe, time).expect("a probe serialises");
    OutboxRow {
        ordering_key: Some(key.to_owned()),
        ..ce.into_outbox_row()
    }
}

/// Records the invocation's effect in its transaction, with the cause its event names.
async fn record(function: &str, probe: &Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
    let (event_id, attempt) = (cx.event_id().to_owned(), i64::from(cx.attempt()));
    let caused_by = cx.causation_id().map(str::to_owned);
    let insert = format!(
        "INSERT INTO {EFFECTS} (function, event_id, key, n, attempt, caused_by) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    );
    sqlx::query(&insert)
        .bind(function)
        .bind(event_id)
        .bind(probe.key.as_str())
        .bind(i64::from(probe.n))
        .bind(attempt)
        .bind(caused_by)
        .execute(cx.tx()?.conn())
        .await
        .map_err(HandlerError::retry)?;
    Ok(())
}

/// Takes effect.
#[derive(Debug, Default)]
pub(crate) struct Good;

impl TopicHandler for Good {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec("conformance-good", &["conformance.good"]);

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        record(Self::SPEC.name, &probe, cx).await
    }
}

/// Takes effect; subscribed beside [`Good`] and [`Fixable`], so each of their events reaches two
/// functions.
#[derive(Debug, Default)]
pub(crate) struct Bystander;

impl TopicHandler for Bystander {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec(
        "conformance-bystander",
        &["conformance.good", "conformance.fixable"],
    );

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        record(Self::SPEC.name, &probe, cx).await
    }
}

/// Fails transiently on its first [`Flaky::FAILURES`] deliveries of an event, then takes effect.
#[derive(Debug, Default)]
pub(crate) struct Flaky;

impl Flaky {
    /// Deliveries that fail.
    pub(crate) const FAILURES: u32 = 2;
}

impl TopicHandler for Flaky {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec("conformance-flaky", &["conformance.flaky"]);

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if cx.attempt() <= Self::FAILURES {
            return Err(HandlerError::retry("dependency not ready"));
        }
        record(Self::SPEC.name, &probe, cx).await
    }
}

/// Refuses every event as poison.
#[derive(Debug, Default)]
pub(crate) struct Poison;

impl Poison {
    /// The error it drops event `n` with.
    pub(crate) fn error(n: u32) -> HandlerError {
        HandlerError::drop(format!("poison pill {n}"))
    }
}

impl TopicHandler for Poison {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec("conformance-poison", &["conformance.poison"]);

    async fn handle(&self, probe: Probe, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        Err(Self::error(probe.n))
    }
}

/// Records its effect, then sleeps far past its timeout; two deliveries.
#[derive(Debug, Default)]
pub(crate) struct Slow;

impl TopicHandler for Slow {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec("conformance-slow", &["conformance.slow"])
        .with_retry(RetryPolicy {
            max_deliveries: 2,
            ..RETRY
        })
        .with_timeout(Duration::from_millis(1_500));

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        record(Self::SPEC.name, &probe, cx).await?;
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
}

/// What a test shares with [`Crashy`]: the signal that its first delivery is mid-handler.
#[derive(Debug, Default)]
pub(crate) struct CrashPoint {
    inside: Notify,
    crashed: AtomicBool,
}

impl CrashPoint {
    /// Waits until the first delivery has recorded its effect and hangs there.
    pub(crate) fn reached(&self) -> impl Future<Output = ()> + '_ {
        self.inside.notified()
    }
}

/// On its first delivery ever, records its effect (uncommitted) and hangs, for the host to crash
/// under it; every later delivery takes effect.
#[derive(Debug, Default)]
pub(crate) struct Crashy {
    pub(crate) point: Arc<CrashPoint>,
}

impl TopicHandler for Crashy {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec("conformance-crashy", &["conformance.crashy"])
        .with_timeout(Duration::from_millis(1_500));

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        record(Self::SPEC.name, &probe, cx).await?;
        if !self.point.crashed.swap(true, Ordering::SeqCst) {
            self.point.inside.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// On its first delivery ever, records its effect (uncommitted) and panics; every later
/// delivery takes effect.
#[derive(Debug, Default)]
pub(crate) struct Panicky {
    pub(crate) panicked: Arc<AtomicBool>,
}

impl TopicHandler for Panicky {
    type Payload = Probe;
    const SPEC: FunctionSpec = spec("conformance-panicky", &["conformance.panicky"])
        .with_timeout(Duration::from_millis(1_500));

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        record(Self::SPEC.name, &probe, cx).await?;
        assert!(
            self.panicked.swap(true, Ordering::SeqCst),
            "a bug in the handler (its first delivery panics, as planned)"
        );
        Ok(())
    }
}

/// Ordered by `key`: the event [`Ordered::FLAKY`] fails transiently on its first
/// [`Ordered::FAILURES`] deliveries, the event [`Ordered::POISON`] is dropped as poison, and
/// every other event takes effect at once and publishes a [`FollowUp`] for [`Follower`]. Every
/// run is logged, in the order they start.
#[derive(Debug, Default)]
pub(crate) struct Ordered {
    pub(crate) runs: Arc<Mutex<Vec<(String, u32)>>>,
}

impl Ordered {
    /// The (key, n) of the event that fails transiently at first.
    pub(crate) const FLAKY: (&'static str, u32) = ("a", 1);
    /// Deliveries of [`Ordered::FLAKY`] that fail.
    pub(crate) const FAILURES: u32 = 2;
    /// The (key, n) of the event dropped as poison.
    pub(crate) const POISON: (&'static str, u32) = ("c", 2);

    /// The error it drops [`Ordered::POISON`] with.
    pub(crate) fn poison() -> HandlerError {
        HandlerError::drop("a poison step")
    }

    /// The (key, n) of every run so far, in the order they started.
    pub(crate) fn runs(runs: &Mutex<Vec<(String, u32)>>) -> Vec<(String, u32)> {
        runs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl TopicHandler for Ordered {
    type Payload = Probe;
    const SPEC: FunctionSpec =
        spec("conformance-ordered", &["conformance.ordered"]).ordered_by("key");

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((probe.key.clone(), probe.n));
        let step = (probe.key.as_str(), probe.n);
        if step == Self::FLAKY && cx.attempt() <= Self::FAILURES {
            return Err(HandlerError::retry("the first step of a is not ready"));
        }
        if step == Self::POISON {
            return Err(Self::poison());
        }
        record(Self::SPEC.name, &probe, cx).await?;
        cx.publish(&FollowUp(probe))
    }
}

/// What [`Ordered`] publishes for each event it takes effect on: the same key and number.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct FollowUp(Probe);

impl DomainEvent for FollowUp {
    fn topic(&self) -> &'static str {
        "conformance.ordered.done"
    }
}

/// Ordered by `key`: takes effect for each [`FollowUp`].
#[derive(Debug, Default)]
pub(crate) struct Follower;

impl TopicHandler for Follower {
    type Payload = Probe;
    const SPEC: FunctionSpec =
        spec("conformance-follower", &["conformance.ordered.done"]).ordered_by("key");

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        record(Self::SPEC.name, &probe, cx).await
    }
}

/// Fails transiently while its downstream is broken; three deliveries.
#[derive(Debug)]
pub(crate) struct Fixable {
    pub(crate) broken: Arc<AtomicBool>,
}

impl Fixable {
    /// The error while broken.
    pub(crate) fn error() -> HandlerError {
        HandlerError::retry("downstream unavailable")
    }
}

impl TopicHandler for Fixable {
    type Payload = Probe;
    const SPEC: FunctionSpec =
        spec("conformance-fixable", &["conformance.fixable"]).with_retry(RetryPolicy {
            max_deliveries: 3,
            ..RETRY
        });

    async fn handle(&self, probe: Probe, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(Self::error());
        }
        record(Self::SPEC.name, &probe, cx).await
    }
}
