//! Metrics taken around what a host runs and publishes, as decorators, so every host records
//! them at the same point without each transport repeating it:
//!
//! - [`Measured`] wraps a [`Function`]: each event's lag (the handler's start, read from the
//!   host's clock, minus the CloudEvent's `time`) goes into `conveyor_event_lag_seconds`;
//! - [`Timed`] wraps a [`Publisher`]: each publish call's latency goes into
//!   `conveyor_publish_seconds{transport}`, and a call that did not publish every event into
//!   `conveyor_publish_failed_total{transport}`.

use std::sync::Arc;
use std::time::Instant;

use conveyor_domain::Timestamp;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{
    CloudEvent, Deps, EventInput, Function, FunctionSpec, Handled, HandlerError, Input,
    PublishError, Publisher, Stop,
};
use conveyor_store::OutboxRow;

use crate::metrics::{PublishMetrics, Stats};

/// A function whose events' lag is recorded before it runs.
#[derive(Debug)]
pub struct Measured {
    inner: Arc<dyn Function>,
    stats: Arc<Stats>,
}

impl Measured {
    /// Wraps `inner`, recording into `stats`.
    #[must_use]
    pub fn wrap(inner: Arc<dyn Function>, stats: &Arc<Stats>) -> Arc<dyn Function> {
        Arc::new(Self {
            inner,
            stats: Arc::clone(stats),
        })
    }

    fn observe(&self, name: &'static str, now: Timestamp, event: &CloudEvent) {
        if let Some(lag) = event.lag(now) {
            self.stats.record_lag(name, lag);
        }
    }
}

impl Function for Measured {
    fn spec(&self) -> FunctionSpec {
        self.inner.spec()
    }

    fn invoke<'a>(
        &'a self,
        deps: &'a Deps,
        input: Input<'a>,
    ) -> BoxFuture<'a, Result<Handled, HandlerError>> {
        if let Input::Event { event, .. } = &input {
            self.observe(self.inner.spec().name, deps.clock.now(), event);
        }
        self.inner.invoke(deps, input)
    }

    fn invoke_events<'a>(
        &'a self,
        deps: &'a Deps,
        events: &'a [EventInput<'a>],
        stop: Stop<'a>,
    ) -> BoxFuture<'a, Vec<Result<Handled, HandlerError>>> {
        let (name, now) = (self.inner.spec().name, deps.clock.now());
        for input in events {
            self.observe(name, now, input.event);
        }
        self.inner.invoke_events(deps, events, stop)
    }

    fn saga(&self) -> Option<&dyn conveyor_runtime::saga::SagaCodec> {
        self.inner.saga()
    }
}

/// A publisher whose calls are timed under a transport's name.
#[derive(Debug)]
pub struct Timed {
    inner: Arc<dyn Publisher>,
    metrics: PublishMetrics,
}

impl Timed {
    /// Wraps `inner`, recording its calls into `stats` under `transport`.
    #[must_use]
    pub fn wrap(
        inner: Arc<dyn Publisher>,
        transport: &'static str,
        stats: &Arc<Stats>,
    ) -> Arc<dyn Publisher> {
        Arc::new(Self {
            inner,
            metrics: stats.publishes(transport),
        })
    }
}

impl Publisher for Timed {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            // A deferred publisher sends nothing: there is no call to time.
            if events.is_empty() || self.inner.is_deferred() {
                return self.inner.publish(events).await;
            }
            let started = Instant::now();
            let result = self.inner.publish(events).await;
            self.metrics.record(started.elapsed(), result.is_ok());
            result
        })
    }

    fn is_deferred(&self) -> bool {
        self.inner.is_deferred()
    }
}

#[cfg(test)]
mod tests {
    use conveyor_runtime::MemoryPublisher;

    use super::*;

    fn event_at(time: Option<&str>) -> CloudEvent {
        let mut event = CloudEvent::new("t", "test", &(), Timestamp::from_millis(0)).unwrap();
        event.time = time.map(str::to_owned);
        event
    }

    #[tokio::test]
    async fn timed_publisher_counts_calls_and_failures() {
        let stats = Arc::new(Stats::new());
        let memory = Arc::new(MemoryPublisher::default());
        let timed = Timed::wrap(memory.clone(), "memory", &stats);
        let row = event_at(Some("2026-01-01T00:00:00Z")).into_outbox_row();
        timed.publish(std::slice::from_ref(&row)).await.unwrap();
        memory.set_failing(true);
        assert!(timed.publish(std::slice::from_ref(&row)).await.is_err());
        memory.set_failing(false);
        timed.publish(&[]).await.unwrap();
        let text = stats.encode();
        for line in [
            "conveyor_publish_seconds_count{transport=\"memory\"} 2",
            "conveyor_publish_failed_total{transport=\"memory\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
