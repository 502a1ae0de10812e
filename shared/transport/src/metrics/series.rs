//! The metrics' label sets, their histograms' buckets, and the circuit breaker's states as the
//! gauge counts them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::histogram::Histogram;

/// The label every per-function metric carries.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionLabel {
    /// Function name.
    pub function: String,
}

pub(super) fn label(function: &str) -> FunctionLabel {
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

pub(super) fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Upper bounds of the event lag buckets, in seconds: fine below the 1 s target, and 10 s (the
/// alert threshold) is a bound of its own, so "lag over 10 s" reads exactly off the histogram.
pub const EVENT_LAG_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

pub(super) fn lag_histogram() -> Histogram {
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
