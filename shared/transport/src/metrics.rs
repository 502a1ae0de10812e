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

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// The label every per-function metric carries.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionLabel {
    /// Function name.
    pub function: String,
}

fn label(function: &str) -> FunctionLabel {
    FunctionLabel {
        function: function.to_owned(),
    }
}

/// The label of the publish metrics: which transport the outbox publisher sends to.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    /// Transport name (`embedded`, `redis`, `sqs`, `dapr`).
    pub transport: String,
}

/// The label of the circuit breaker gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PublisherLabel {
    /// The publisher the breaker guards (`sidecar` on the Dapr worker).
    pub publisher: String,
}

/// Upper bounds of the latency buckets (handlers and publish calls), in seconds, 0.1 ms to
/// 10 s: the SLA targets (publishing p95 under 10 ms, processing p95 under 100 ms) are bounds
/// of their own, so the quantiles the alerts compare to them are not interpolated across them.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Upper bounds of the event lag buckets, in seconds: fine below the 1 s target, and 10 s (the
/// alert threshold) is a bound of its own, so "lag over 10 s" reads exactly off the histogram.
pub const EVENT_LAG_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

fn lag_histogram() -> Histogram {
    Histogram::new(EVENT_LAG_BUCKETS)
}

/// A circuit breaker's state as the `publisher_circuit_state` gauge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Publishing (0).
    Closed,
    /// Rejecting publishes (1).
    Open,
    /// One trial publish in flight (2).
    HalfOpen,
}

impl CircuitState {
    /// The gauge's value.
    #[must_use]
    pub fn value(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

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

/// Where a transport reports deliveries the function never saw: those past their last delivery,
/// and entries that are not CloudEvents at all.
pub trait Journal: Send + Sync + fmt::Debug {
    /// A delivery dead-lettered without running the function (attempt `attempt`).
    fn not_run(&self, function: &'static str, event_id: &str, attempt: u32, reason: &str);

    /// An entry that is not a CloudEvent, shown under its transport id with its raw body.
    fn undeliverable(
        &self,
        function: &'static str,
        entry_id: &str,
        topic: &str,
        body: &str,
        reason: &str,
    );
}

/// The journal of a host that keeps none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn not_run(&self, _: &'static str, _: &str, _: u32, _: &str) {}
    fn undeliverable(&self, _: &'static str, _: &str, _: &str, _: &str, _: &str) {}
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
        let l = TransportLabel {
            transport: transport.to_owned(),
        };
        self.publish_latency
            .get_or_create(&l)
            .observe(took.as_secs_f64());
        if !published {
            self.publish_failed.get_or_create(&l).inc();
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
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_per_function() {
        let stats = Stats::new();
        for _ in 0..510 {
            stats.record("f", Outcome::Handled, Duration::from_millis(2));
        }
        stats.record("f", Outcome::DeadLettered, Duration::from_millis(1));
        stats.record("job", Outcome::Ticked, Duration::from_millis(1));
        stats.set_backlogs(4, &[("f".to_owned(), 1)]);
        let text = stats.encode();
        for line in [
            "conveyor_events_handled_total{function=\"f\"} 510",
            "conveyor_events_received_total{function=\"f\"} 511",
            "conveyor_events_dead_lettered_total{function=\"f\"} 1",
            "conveyor_cron_runs_total{function=\"job\"} 1",
            "conveyor_handler_seconds_count{function=\"f\"} 511",
            "conveyor_outbox_backlog 4",
            "conveyor_dlq_depth{function=\"f\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains("conveyor_events_duplicates_skipped_total{function=\"f\"} 1"));
    }

    #[test]
    fn counts_duplicates_apart_and_as_handled() {
        let stats = Stats::new();
        stats.record("f", Outcome::Handled, Duration::from_millis(1));
        stats.record("f", Outcome::Duplicate, Duration::from_millis(1));
        stats.record("f", Outcome::Duplicate, Duration::from_millis(1));
        let text = stats.encode();
        for line in [
            "conveyor_events_handled_total{function=\"f\"} 3",
            "conveyor_events_duplicates_skipped_total{function=\"f\"} 2",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn event_lag_falls_in_buckets_bounded_at_the_alert_threshold() {
        let stats = Stats::new();
        stats.record_lag("f", Duration::from_millis(300));
        stats.record_lag("f", Duration::from_secs(12));
        let text = stats.encode();
        for line in [
            "conveyor_event_lag_seconds_count{function=\"f\"} 2",
            "conveyor_event_lag_seconds_bucket{le=\"0.5\",function=\"f\"} 1",
            "conveyor_event_lag_seconds_bucket{le=\"10.0\",function=\"f\"} 1",
            "conveyor_event_lag_seconds_bucket{le=\"30.0\",function=\"f\"} 2",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn publishes_lags_and_circuits_show_with_their_labels() {
        let stats = Stats::new();
        stats.record_publish("redis", Duration::from_millis(3), true);
        stats.record_publish("redis", Duration::from_millis(4), false);
        stats.set_consumer_lags(&[("f".to_owned(), 7)]);
        stats.set_circuit("sidecar", CircuitState::HalfOpen);
        let text = stats.encode();
        for line in [
            "conveyor_publish_seconds_count{transport=\"redis\"} 2",
            "conveyor_publish_failed_total{transport=\"redis\"} 1",
            "conveyor_consumer_lag{function=\"f\"} 7",
            "conveyor_publisher_circuit_state{publisher=\"sidecar\"} 2",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
