//! What a host counts: Prometheus metrics per function ([`Stats`]), and the [`Journal`] port
//! through which a transport reports deliveries that never reached the function (the emulator's
//! event log implements it; a production host needs none).

use std::collections::HashMap;
use std::fmt;
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
    retried: Family<FunctionLabel, Counter>,
    dead_lettered: Family<FunctionLabel, Counter>,
    cron_runs: Family<FunctionLabel, Counter>,
    latency: Family<FunctionLabel, Histogram, fn() -> Histogram>,
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
            retried: Family::default(),
            dead_lettered: Family::default(),
            cron_runs: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
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

    /// Where deliveries the function never saw are reported.
    #[must_use]
    pub fn journal(&self) -> &dyn Journal {
        self.journal.as_ref()
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
    }
}
