//! Tiny functions for the host tests: a topic handler whose payload says how it should end, and
//! a job that fails on request. Both publish what they saw, so a test can count real runs.
#![allow(dead_code)]

use std::sync::Arc;

use conveyor_domain::events::{DomainEvent, Validate, ValidationError};
use conveyor_domain::{ManualClock, Timestamp};
use conveyor_runtime::{
    CloudEvent, Context, Deps, FunctionSpec, HandlerError, JobReport, MemoryPublisher,
    ScheduleHandler, Service, TopicHandler,
};
use conveyor_store::Store;
use serde::{Deserialize, Serialize};

/// The topic [`Probe`] listens to.
pub(crate) const REQUESTED: &str = "probe.requested";
/// The topic [`Probe`] publishes to.
pub(crate) const SEEN: &str = "probe.seen";
/// The topic [`Job`] publishes to.
pub(crate) const TICKED: &str = "probe.ticked";
/// A W3C traceparent carried by every test event.
pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// What [`Probe`] is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Ask {
    pub(crate) key: String,
    /// `ok`, `retry`, `drop` or `panic`.
    pub(crate) outcome: String,
}

impl Validate for Ask {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.key.is_empty() {
            return Err(ValidationError::new("key is empty"));
        }
        Ok(())
    }
}

/// What [`Probe`] publishes on success.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) key: String,
    pub(crate) attempt: u32,
}

impl DomainEvent for Seen {
    fn topic(&self) -> &'static str {
        SEEN
    }
}

/// A topic function that ends as its payload asks.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Probe;

impl TopicHandler for Probe {
    type Payload = Ask;

    const SPEC: FunctionSpec = FunctionSpec::on_topics("probe", Service::Order, &[REQUESTED]);

    async fn handle(&self, ask: Ask, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        match ask.outcome.as_str() {
            "ok" => cx.publish(&Seen {
                key: ask.key,
                attempt: cx.attempt(),
            }),
            "retry" => Err(HandlerError::retry(format!(
                "{} asked to be retried",
                ask.key
            ))),
            "drop" => Err(HandlerError::drop(format!(
                "{} asked to be dropped",
                ask.key
            ))),
            "panic" => panic!("{} asked to panic", ask.key),
            other => Err(HandlerError::drop(format!("unknown outcome {other}"))),
        }
    }
}

/// What [`Job`] publishes per run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Ticked {
    pub(crate) scheduled: String,
    pub(crate) attempt: u32,
}

impl DomainEvent for Ticked {
    fn topic(&self) -> &'static str {
        TICKED
    }
}

/// How a [`Job`] run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Ok,
    Retry,
    Drop,
}

/// A job that publishes its tick, or fails as configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job(pub(crate) Ending);

impl ScheduleHandler for Job {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("probe-job", Service::Warehouse, "*/5 * * * *");

    async fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        match self.0 {
            Ending::Ok => {
                cx.publish(&Ticked {
                    scheduled: scheduled.to_rfc3339(),
                    attempt: cx.attempt(),
                })?;
                Ok(JobReport::batch(1, 10))
            }
            Ending::Retry => Err(HandlerError::retry("database is restarting")),
            Ending::Drop => Err(HandlerError::drop("the job's configuration is invalid")),
        }
    }
}

/// The instant every test clock starts at.
pub(crate) fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").expect("valid time")
}

/// Deps over `store` with a memory publisher and a clock stopped at [`start`].
pub(crate) fn deps(store: &Store) -> (Deps, Arc<MemoryPublisher>) {
    let publisher = Arc::new(MemoryPublisher::new());
    let deps = Deps {
        store: store.clone(),
        publisher: publisher.clone(),
        clock: Arc::new(ManualClock::new(start())),
    };
    (deps, publisher)
}

/// A CloudEvent asking [`Probe`] for `outcome`, as JSON.
pub(crate) fn ask(id: &str, key: &str, outcome: &str) -> String {
    let payload = Ask {
        key: key.to_owned(),
        outcome: outcome.to_owned(),
    };
    let mut event = CloudEvent::new(REQUESTED, "test-publisher", &payload, start())
        .expect("payload serialises");
    id.clone_into(&mut event.id);
    event.traceparent = Some(TRACEPARENT.to_owned());
    event.to_json()
}

/// The `Seen` events published so far, in order.
pub(crate) fn seen(publisher: &MemoryPublisher) -> Vec<Seen> {
    publisher
        .events()
        .iter()
        .filter(|e| e.ty == SEEN)
        .map(|e| e.payload().expect("Seen decodes"))
        .collect()
}
