//! Saga metrics, per definition: sagas started, completed, compensated and failed (stopped
//! after a compensation gave up), steps timed out, and the latency of each step (first send to
//! its reply or time-out). They are read off each stored transition (the state before and
//! after), in the process that applied it, and kept in one set per process; a host's
//! Prometheus registry takes them with [`register`] (the emulator's and the Dapr worker's
//! `/metrics` do, under the `conveyor_` prefix).
//!
//! A transition is counted once it is stored in its transaction; a transaction that fails to
//! commit after that (a database failure at the commit) and is handled again counts twice. The
//! counters are meant for rates and alerts, the `sagas` table is the record.

use std::sync::LazyLock;

use conveyor_saga::{SagaState, SagaStatus, StepStatus, Transition};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label of the per-saga counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DefinitionLabel {
    /// The saga's definition.
    pub definition: String,
}

/// The label of the per-step metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabel {
    /// The saga's definition.
    pub definition: String,
    /// The step's index in it.
    pub step: String,
}

fn step_histogram() -> Histogram {
    // 1 ms .. ~9 min: steps wait for other services, sometimes for minutes.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

struct SagaMetrics {
    started: Family<DefinitionLabel, Counter>,
    completed: Family<DefinitionLabel, Counter>,
    compensated: Family<DefinitionLabel, Counter>,
    failed: Family<DefinitionLabel, Counter>,
    timeouts: Family<StepLabel, Counter>,
    step_seconds: Family<StepLabel, Histogram, fn() -> Histogram>,
}

static METRICS: LazyLock<SagaMetrics> = LazyLock::new(|| SagaMetrics {
    started: Family::default(),
    completed: Family::default(),
    compensated: Family::default(),
    failed: Family::default(),
    timeouts: Family::default(),
    step_seconds: Family::new_with_constructor(step_histogram),
});

/// Adds the saga metrics to `registry` (they are shared: every registry sees the same counts).
pub fn register(registry: &mut Registry) {
    let m = &*METRICS;
    registry.register("saga_started", "Sagas started", m.started.clone());
    registry.register(
        "saga_completed",
        "Sagas that completed every step",
        m.completed.clone(),
    );
    registry.register(
        "saga_compensated",
        "Sagas that ended with their done steps undone",
        m.compensated.clone(),
    );
    registry.register(
        "saga_failed",
        "Sagas stopped because a compensation gave up (an operator may retry them)",
        m.failed.clone(),
    );
    registry.register(
        "saga_step_timeouts",
        "Steps given up after their last send went unanswered",
        m.timeouts.clone(),
    );
    registry.register(
        "saga_step_seconds",
        "From a step's first send to its reply or time-out",
        m.step_seconds.clone(),
    );
}

fn definition(state: &SagaState) -> DefinitionLabel {
    DefinitionLabel {
        definition: state.definition.clone(),
    }
}

/// Counts a saga just started.
pub fn observe_start(state: &SagaState) {
    METRICS.started.get_or_create(&definition(state)).inc();
}

/// Counts what changed from `before` to the stored transition `t` of a reply or a timer: a
/// step that stopped running was settled (its latency observed), and one that neither
/// completed nor failed timed out (it may be undone in the same transition).
pub fn observe(before: &SagaState, t: &Transition) {
    let after = &t.state;
    for (i, (was, now)) in before.steps.iter().zip(&after.steps).enumerate() {
        if was.status != StepStatus::Running || now.status == StepStatus::Running {
            continue;
        }
        let label = StepLabel {
            definition: after.definition.clone(),
            step: i.to_string(),
        };
        if !matches!(now.status, StepStatus::Completed | StepStatus::Failed) {
            METRICS.timeouts.get_or_create(&label).inc();
        }
        if let (Some(from), Some(to)) = (now.started_at, now.settled_at) {
            let ms = u64::try_from(to.millis().saturating_sub(from.millis())).unwrap_or(0);
            #[allow(clippy::cast_precision_loss)] // milliseconds, far below 2^52
            let seconds = ms as f64 / 1_000.0;
            METRICS.step_seconds.get_or_create(&label).observe(seconds);
        }
    }
    observe_end(before, t);
}

/// Counts how an operator's action left the saga (an abort gives up the step awaited without
/// settling it: neither a time-out nor a step latency).
pub fn observe_end(before: &SagaState, t: &Transition) {
    let after = &t.state;
    if before.status == after.status {
        return;
    }
    let family = match after.status {
        SagaStatus::Completed => &METRICS.completed,
        SagaStatus::Compensated => &METRICS.compensated,
        SagaStatus::Failed => &METRICS.failed,
        SagaStatus::Running | SagaStatus::Compensating => return,
    };
    family.get_or_create(&definition(after)).inc();
}
