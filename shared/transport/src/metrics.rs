//! What a host counts: Prometheus metrics per function ([`Stats`]), and the [`Journal`] port
//! through which a transport reports deliveries that never reached the function (the emulator's
//! event log implements it; a production host needs none).
//!
//! The series, all under the `conveyor_` prefix (names as Prometheus scrapes them):
//!
//! | series | type | labels | what |
//! |---|---|---|---|
//! | `events_received_total` | counter | `function` | deliveries taken from the broker |
//! | `events_handled_total` | counter | `function` | deliveries handled (duplicates included) |
//! | `events_duplicates_skipped_total` | counter | `function` | deliveries the inbox skipped as already handled |
//! | `events_retried_total` | counter | `function` | deliveries that failed transiently |
//! | `events_dead_lettered_total` | counter | `function` | deliveries moved to the dead letters |
//! | `cron_runs_total` | counter | `function` | job ticks run |
//! | `handler_seconds` | histogram | `function` | processing time of a delivery or tick |
//! | `event_lag_seconds` | histogram | `function` | handler start minus the event's `time` |
//! | `consumer_lag` | gauge | `function` | events not yet delivered to the function's group or queue |
//! | `publish_seconds` | histogram | `transport` | one publish call of the outbox publisher |
//! | `publish_failed_total` | counter | `transport` | publish calls that did not publish everything |
//! | `publisher_circuit_state` | gauge | `publisher` | 0 closed, 1 open, 2 half-open |
//! | `outbox_backlog` | gauge | | committed events not yet published |
//! | `dlq_depth` | gauge | `function` | dead letters per function |

mod journal;
mod series;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;

pub use journal::{Journal, NoJournal};
pub use series::{
    CircuitState, EVENT_LAG_BUCKETS, FunctionLabel, LATENCY_BUCKETS, PublisherLabel, TransportLabel,
};
use series::{label, lag_histogram, latency_histogram};

/// How one invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Handled.
    Handled,
    /// Already handled before; skipped.
    Duplicate,
    /// Failed transiently; will be retried.
    Retry,
    /// Moved to the dead letters.
    DeadLettered,
    /// A job tick that ran.
    Ticked,
    /// A job tick that failed.
    TickFailed,
}

impl Outcome {
    /// How a delivery that ended in `decision` is counted.
    #[must_use]
    pub fn of(decision: &crate::policy::Decision) -> Self {
        use crate::policy::Decision;
        match decision {
            Decision::Acknowledge { duplicate: true } => Self::Duplicate,
            Decision::Acknowledge { duplicate: false } => Self::Handled,
            Decision::RetryAfter(_) => Self::Retry,
            Decision::DeadLetter { .. } => Self::DeadLettered,
        }
    }
}

/// One function's metrics, looked up once and then shared: recording an invocation costs
/// no label allocation and no lookup in each metric family.
#[derive(Debug)]
struct Handles {
    received: Counter,
    handled: Counter,
    duplicates: Counter,
    retried: Counter,
    dead_lettered: Counter,
    cron_runs: Counter,
    latency: Histogram,
    lag: Histogram,
}

impl Handles {
    fn record(&self, outcome: Outcome, took: Duration) {
        match outcome {
            Outcome::Handled => {
                self.received.inc();
                self.handled.inc();
            }
            Outcome::Duplicate => {
                self.received.inc();
                self.handled.inc();
                self.duplicates.inc();
            }
            Outcome::Retry => {
                self.received.inc();
                self.retried.inc();
            }
            Outcome::DeadLettered => {
                self.received.inc();
                self.dead_lettered.inc();
            }
            Outcome::Ticked | Outcome::TickFailed => {
                self.cron_runs.inc();
            }
        }
        self.latency.observe(took.as_secs_f64());
    }
}

/// One transport's publish metrics ([`Stats::publishes`]).
#[derive(Debug, Clone)]
pub struct PublishMetrics {
    latency: Histogram,
    failed: Counter,
}

impl PublishMetrics {
    /// Records one publish call that took `took`; `published` is whether every event it
    /// carried was accepted.
    pub fn record(&self, took: Duration, published: bool) {
        self.latency.observe(took.as_secs_f64());
        if !published {
            self.failed.inc();
        }
    }
}

/// Metrics of one host, and its journal.
#[derive(Debug)]
pub struct Stats {
    handles: RwLock<HashMap<&'static str, Arc<Handles>, foldhash::fast::RandomState>>,
    registry: Registry,
    received: Family<FunctionLabel, Counter>,
    handled: Family<FunctionLabel, Counter>,
    duplicates: Family<FunctionLabel, Counter>,
    retried: Family<FunctionLabel, Counter>,
    dead_lettered: Family<FunctionLabel, Counter>,
    cron_runs: Family<FunctionLabel, Counter>,
    latency: Family<FunctionLabel, Histogram, fn() -> Histogram>,
    lag: Family<FunctionLabel, Histogram, fn() -> Histogram>,
    consumer_lag: Family<FunctionLabel, Gauge>,
    publish_latency: Family<TransportLabel, Histogram, fn() -> Histogram>,
    publish_failed: Family<TransportLabel, Counter>,
    circuit: Family<PublisherLabel, Gauge>,
    outbox_backlog: Gauge,
    dlq_depth: Family<FunctionLabel, Gauge>,
    journal: Arc<dyn Journal>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Empty metrics, registered under the `conveyor_` prefix, without a journal.
    #[must_use]
    pub fn new() -> Self {
        Self::with_journal(Arc::new(NoJournal))
    }

    /// Empty metrics whose transports report to `journal`.
    #[must_use]
    pub fn with_journal(journal: Arc<dyn Journal>) -> Self {
        let mut registry = Registry::with_prefix("conveyor");
        let stats = Self {
            received: Family::default(),
            handled: Family::default(),
            duplicates: Family::default(),
            retried: Family::default(),
            dead_lettered: Family::default(),
            cron_runs: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            lag: Family::new_with_constructor(lag_histogram as fn() -> Histogram),
            consumer_lag: Family::default(),
            publish_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            publish_failed: Family::default(),
            circuit: Family::default(),
            outbox_backlog: Gauge::default(),
            dlq_depth: Family::default(),
            journal,
            registry: Registry::default(),
            handles: RwLock::default(),
        };
        registry.register(
            "events_received",
            "Deliveries taken from the broker",
            stats.received.clone(),
        );
        registry.register(
            "events_handled",
            "Deliveries handled (duplicates included)",
            stats.handled.clone(),
        );
        registry.register(
            "events_duplicates_skipped",
            "Deliveries the inbox skipped as already handled (also counted as handled)",
            stats.duplicates.clone(),
        );
        registry.register(
            "events_retried",
            "Deliveries that failed transiently",
            stats.retried.clone(),
        );
        registry.register(
            "events_dead_lettered",
            "Deliveries moved to the dead letters",
            stats.dead_lettered.clone(),
        );
        registry.register("cron_runs", "Job ticks run", stats.cron_runs.clone());
        registry.register("handler_seconds", "Handler latency", stats.latency.clone());
        registry.register(
            "event_lag_seconds",
            "Handler start minus the event's time attribute",
            stats.lag.clone(),
        );
        registry.register(
            "consumer_lag",
            "Events not yet delivered to the function's consumer group or queue",
            stats.consumer_lag.clone(),
        );
        registry.register(
            "publish_seconds",
            "Latency of one publish call of the outbox publisher",
            stats.publish_latency.clone(),
        );
        registry.register(
            "publish_failed",
            "Publish calls that did not publish every event they carried",
            stats.publish_failed.clone(),
        );
        registry.register(
            "publisher_circuit_state",
            "Circuit breaker of the publisher: 0 closed, 1 open, 2 half-open",
            stats.circuit.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Committed events not yet published",
            stats.outbox_backlog.clone(),
        );
        registry.register(
            "dlq_depth",
            "Dead letters per function",
            stats.dlq_depth.clone(),
        );
        // Sagas: counted where an orchestrator applies its inputs (a separate set, shared).
        conveyor_runtime::saga::metrics::register(&mut registry);
        Self { registry, ..stats }
    }

    /// Counts one finished delivery or run in the metrics.
    pub fn record(&self, function: &'static str, outcome: Outcome, took: Duration) {
        let known = self.handles.read().unwrap_or_else(PoisonError::into_inner);
        match known.get(function) {
            Some(h) => h.record(outcome, took),
            None => {
                drop(known);
                self.handles(function).record(outcome, took);
            }
        }
    }

    /// Records how late `function` started on an event: `lag` is handler start minus the
    /// event's time (a negative lag, from clocks that disagree, counts as zero).
    pub fn record_lag(&self, function: &'static str, lag: Duration) {
        self.handles(function).lag.observe(lag.as_secs_f64());
    }

    /// Records one publish call to `transport` that took `took`; `published` is whether every
    /// event it carried was accepted.
    pub fn record_publish(&self, transport: &str, took: Duration, published: bool) {
        self.publishes(transport).record(took, published);
    }

    /// `transport`'s publish metrics, looked up once for a publisher to keep: recording a call
    /// then costs no label allocation and no lookup.
    #[must_use]
    pub fn publishes(&self, transport: &str) -> PublishMetrics {
        let l = TransportLabel {
            transport: transport.to_owned(),
        };
        PublishMetrics {
            latency: self.publish_latency.get_or_create(&l).clone(),
            failed: self.publish_failed.get_or_create(&l).clone(),
        }
    }

    /// Sets the circuit breaker gauge of `publisher`.
    pub fn set_circuit(&self, publisher: &str, state: CircuitState) {
        self.circuit
            .get_or_create(&PublisherLabel {
                publisher: publisher.to_owned(),
            })
            .set(state.value());
    }

    /// Sets the consumer lag gauges read from the broker at scrape time.
    pub fn set_consumer_lags(&self, lags: &[(String, i64)]) {
        for (function, n) in lags {
            self.consumer_lag.get_or_create(&label(function)).set(*n);
        }
    }

    /// `function`'s metric handles, made on first use.
    fn handles(&self, function: &'static str) -> Arc<Handles> {
        if let Some(h) = self
            .handles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(function)
        {
            return Arc::clone(h);
        }
        let l = label(function);
        let made = Arc::new(Handles {
            received: self.received.get_or_create(&l).clone(),
            handled: self.handled.get_or_create(&l).clone(),
            duplicates: self.duplicates.get_or_create(&l).clone(),
            retried: self.retried.get_or_create(&l).clone(),
            dead_lettered: self.dead_lettered.get_or_create(&l).clone(),
            cron_runs: self.cron_runs.get_or_create(&l).clone(),
            latency: self.latency.get_or_create(&l).clone(),
            lag: self.lag.get_or_create(&l).clone(),
        });
        Arc::clone(
            self.handles
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(function)
                .or_insert(made),
        )
    }

    /// Deliveries of `function` handled so far (duplicates included).
    #[must_use]
    pub fn handled(&self, function: &str) -> u64 {
        self.handled.get_or_create(&label(function)).get()
    }

    /// Deliveries of `function` moved to the dead letters so far.
    #[must_use]
    pub fn dead_lettered(&self, function: &str) -> u64 {
        self.dead_lettered.get_or_create(&label(function)).get()
    }

    /// Where deliveries the function never saw are reported.
    #[must_use]
    pub fn journal(&self) -> &dyn Journal {
        self.journal.as_ref()
    }

    /// Sets the gauges read from the store at scrape time.
    pub fn set_backlogs(&self, outbox: i64, dlq: &[(String, i64)]) {
        self.outbox_backlog.set(outbox);
        self.set_dlq_depths(dlq);
    }

    /// Sets the dead-letter gauges.
    pub fn set_dlq_depths(&self, dlq: &[(String, i64)]) {
        for (function, n) in dlq {
            self.dlq_depth.get_or_create(&label(function)).set(*n);
        }
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests;
