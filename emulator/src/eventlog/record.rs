//! Where the log's entries come from. [`Recorded`] wraps a function, so every host (embedded,
//! Redis, SQS, the scheduler, `POST /invoke`) logs its attempts the same way, with the ids of the
//! events each produced; [`RecordingBroker`] wraps the transport, so every event accepted for
//! publishing (by handlers, the relay, the API, the demo) is logged once.

use std::sync::Arc;
use std::time::Instant;

use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{
    Deps, EventInput, Function, FunctionSpec, Handled, HandlerError, Input, PublishError,
    Publisher, Stop,
};
use conveyor_store::OutboxRow;
use conveyor_store::queue::DeadLetter;

use super::{Attempt, EventLog};
use conveyor_transport::broker::{Broker, BrokerError};
use conveyor_transport::metrics::Outcome;
use conveyor_transport::policy;

/// A function whose invocations are logged.
#[derive(Debug)]
pub struct Recorded {
    inner: Arc<dyn Function>,
    log: Arc<EventLog>,
}

impl Recorded {
    /// Wraps `inner`.
    #[must_use]
    pub fn wrap(inner: Arc<dyn Function>, log: &Arc<EventLog>) -> Arc<dyn Function> {
        Arc::new(Self {
            inner,
            log: Arc::clone(log),
        })
    }
}

/// How an invocation ended, as the hosts classify it: a tick by its result, an event by the
/// delivery policy every host follows.
fn outcome(
    spec: &FunctionSpec,
    tick: bool,
    attempt: u32,
    result: &Result<Handled, HandlerError>,
) -> Outcome {
    match (tick, result) {
        (_, Ok(h)) if h.duplicate => Outcome::Duplicate,
        (true, Ok(_)) => Outcome::Ticked,
        (true, Err(_)) => Outcome::TickFailed,
        (false, result) => Outcome::of(&policy::decide_with(
            spec,
            attempt,
            result.as_ref(),
            |delay| delay,
        )),
    }
}

impl Function for Recorded {
    fn spec(&self) -> FunctionSpec {
        self.inner.spec()
    }

    fn invoke<'a>(
        &'a self,
        deps: &'a Deps,
        input: Input<'a>,
    ) -> BoxFuture<'a, Result<Handled, HandlerError>> {
        Box::pin(async move {
            let (event_id, correlation_id, attempt, tick) = match &input {
                Input::Event { event, attempt, .. } => (
                    event.id.clone(),
                    event.correlationid.clone(),
                    *attempt,
                    false,
                ),
                Input::Tick { meta, .. } => (
                    meta.event_id.clone().into_owned(),
                    Some(meta.correlation_id.clone().into_owned()),
                    meta.attempt,
                    true,
                ),
            };
            let started = Instant::now();
            let result = self.inner.invoke(deps, input).await;
            self.log_attempt(event_id, correlation_id, attempt, tick, &result, started);
            result
        })
    }

    fn invoke_events<'a>(
        &'a self,
        deps: &'a Deps,
        events: &'a [EventInput<'a>],
        stop: Stop<'a>,
    ) -> BoxFuture<'a, Vec<Result<Handled, HandlerError>>> {
        Box::pin(async move {
            let started = Instant::now();
            let results = self.inner.invoke_events(deps, events, stop).await;
            for (input, result) in events.iter().zip(&results) {
                let event = input.event;
                self.log_attempt(
                    event.id.clone(),
                    event.correlationid.clone(),
                    input.attempt,
                    false,
                    result,
                    started,
                );
            }
            results
        })
    }

    fn saga(&self) -> Option<&dyn conveyor_runtime::saga::SagaCodec> {
        self.inner.saga()
    }
}

impl Recorded {
    fn log_attempt(
        &self,
        event_id: String,
        correlation_id: Option<String>,
        attempt: u32,
        tick: bool,
        result: &Result<Handled, HandlerError>,
        started: Instant,
    ) {
        let spec = self.inner.spec();
        self.log.attempted(Attempt {
            seq: 0,
            function: spec.name,
            event_id,
            correlation_id,
            attempt,
            outcome: outcome(&spec, tick, attempt, result),
            error: result.as_ref().err().map(HandlerError::chain),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            at: super::now(),
            produced: result
                .as_ref()
                .map(|h| h.produced.clone())
                .unwrap_or_default(),
            tick,
        });
    }
}

/// A transport whose accepted events are logged.
#[derive(Debug)]
pub struct RecordingBroker {
    inner: Arc<dyn Broker>,
    log: Arc<EventLog>,
}

impl RecordingBroker {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: Arc<dyn Broker>, log: &Arc<EventLog>) -> Self {
        Self {
            inner,
            log: Arc::clone(log),
        }
    }
}

impl Publisher for RecordingBroker {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let result = self.inner.publish(events).await;
            match &result {
                Ok(()) => self.log.published(events),
                Err(PublishError::Partial { failed_ids, .. }) => {
                    let sent: Vec<OutboxRow> = events
                        .iter()
                        .filter(|e| !failed_ids.contains(&e.id))
                        .cloned()
                        .collect();
                    self.log.published(&sent);
                }
                Err(_) => {}
            }
            result
        })
    }

    fn is_deferred(&self) -> bool {
        self.inner.is_deferred()
    }
}

impl Broker for RecordingBroker {
    fn subscribers(&self, topic: &str) -> Vec<&'static str> {
        self.inner.subscribers(topic)
    }

    fn dead_letters<'a>(
        &'a self,
        function: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>> {
        self.inner.dead_letters(function, limit)
    }

    fn redrive<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        self.inner.redrive(function, ids)
    }

    fn deliver<'a>(
        &'a self,
        function: &'a str,
        events: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        self.inner.deliver(function, events)
    }

    fn delete_dead_letters<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        self.inner.delete_dead_letters(function, ids)
    }

    fn edit_dead_letter<'a>(
        &'a self,
        function: &'a str,
        id: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrokerError>> {
        self.inner.edit_dead_letter(function, id, body)
    }

    fn depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        self.inner.depths()
    }

    fn consumer_lags(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        self.inner.consumer_lags()
    }

    fn dlq_depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        self.inner.dlq_depths()
    }
}
