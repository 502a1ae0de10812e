//! What the emulator counts and remembers: Prometheus metrics per function and the dashboard's
//! bounded [`EventLog`], which also holds the recent invocations (memory stays flat at any event
//! rate).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::eventlog::{Attempt, EventLog};

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

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
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

/// One function's metrics, looked up once and then shared: recording an invocation costs
/// no label allocation and no lookup in each metric family.
#[derive(Debug)]
struct Handles {
    received: Counter,
    handled: Counter,
    retried: Counter,
    dead_lettered: Counter,
    cron_runs: Counter,
    latency: Histogram,
}

impl Handles {
    fn record(&self, outcome: Outcome, took: Duration) {
        match outcome {
            Outcome::Handled | Outcome::Duplicate => {
                self.received.inc();
                self.handled.inc();
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

/// Metrics and recent invocations of one emulator.
#[derive(Debug)]
pub struct Stats {
    handles: RwLock<HashMap<&'static str, Arc<Handles>, foldhash::fast::RandomState>>,
    registry: Registry,
    received: Family<FunctionLabel, Counter>,
    handled: Family<FunctionLabel, Counter>,
    retried: Family<FunctionLabel, Counter>,
    dead_lettered: Family<FunctionLabel, Counter>,
    cron_runs: Family<FunctionLabel, Counter>,
    latency: Family<FunctionLabel, Histogram, fn() -> Histogram>,
    outbox_backlog: Gauge,
    dlq_depth: Family<FunctionLabel, Gauge>,
    events: std::sync::Arc<EventLog>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Empty metrics, registered under the `conveyor_` prefix.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("conveyor");
        let stats = Self {
            received: Family::default(),
            handled: Family::default(),
            retried: Family::default(),
            dead_lettered: Family::default(),
            cron_runs: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            outbox_backlog: Gauge::default(),
            dlq_depth: Family::default(),
            events: std::sync::Arc::new(EventLog::new()),
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

    /// Counts one finished delivery or run in the metrics (what it was is in the
    /// [`EventLog`]: the function's wrapper logs each invocation, the hosts what never reached
    /// the function).
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
            retried: self.retried.get_or_create(&l).clone(),
            dead_lettered: self.dead_lettered.get_or_create(&l).clone(),
            cron_runs: self.cron_runs.get_or_create(&l).clone(),
            latency: self.latency.get_or_create(&l).clone(),
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

    /// Recent events, attempts and per-function totals, for the dashboard.
    #[must_use]
    pub fn events(&self) -> &std::sync::Arc<EventLog> {
        &self.events
    }

    /// The most recent invocations (and deliveries dead-lettered without one), newest first.
    #[must_use]
    pub fn recent(&self, limit: usize) -> Vec<Attempt> {
        self.events.latest_attempts(limit)
    }

    /// Sets the gauges read from the store at scrape time.
    pub fn set_backlogs(&self, outbox: i64, dlq: &[(String, i64)]) {
        self.outbox_backlog.set(outbox);
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
    fn counts_outcomes_and_reads_recent_invocations_from_the_log() {
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
        stats
            .events()
            .not_run("f", "e-1", 5, "gave up after 4 deliveries");
        let recent = stats.recent(10);
        assert_eq!(recent.len(), 1, "only the log holds invocations");
        assert_eq!(
            (
                recent[0].event_id.as_str(),
                recent[0].attempt,
                recent[0].outcome
            ),
            ("e-1", 5, Outcome::DeadLettered)
        );
    }
}
