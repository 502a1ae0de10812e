//! What `conveyor bench` runs: the plan and its groups of scenarios.

use conveyor_store::redact::Redacted;

/// What `conveyor bench` runs.
// Debug: below, by hand (the URLs without their passwords).
#[derive(Clone)]
pub struct BenchPlan {
    /// Repetitions of each scenario.
    pub runs: usize,
    /// Events per throughput run.
    pub events: u64,
    /// Events per latency run.
    pub latency_events: u64,
    /// Publish rate of the latency runs, per second.
    pub rate: u32,
    /// Redis URL, for the Redis scenarios and the ceiling.
    pub redis: Option<String>,
    /// The scenario groups to run; all when empty.
    pub only: Vec<Scenario>,
    /// A PostgreSQL URL whose database may create others, for the payment flow.
    pub postgres: Option<String>,
    /// Events per payment-flow run.
    pub flow_events: u64,
    /// Checkouts per saga run.
    pub sagas: u64,
    /// Where the release Lambda binaries are (`target/lambda` or `target/release`).
    pub lambda_dir: std::path::PathBuf,
}

impl std::fmt::Debug for BenchPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchPlan")
            .field("runs", &self.runs)
            .field("events", &self.events)
            .field("redis", &self.redis.as_deref().map(Redacted))
            .field("postgres", &self.postgres.as_deref().map(Redacted))
            .field("only", &self.only)
            .field("sagas", &self.sagas)
            .finish_non_exhaustive()
    }
}

/// A group of scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The no-op function on the embedded broker.
    Embedded,
    /// The no-op function on Redis Streams.
    Redis,
    /// The emulator's time to ready and idle memory.
    Startup,
    /// `redis-benchmark` XADD.
    Ceiling,
    /// The no-op function on Redis across read batch sizes and concurrency limits.
    Scaling,
    /// `order-payment-confirmed` on PostgreSQL.
    Flow,
    /// `order-payment-confirmed` on the embedded default: the embedded broker on SQLite.
    EmbeddedFlow,
    /// `order-payment-confirmed` on PostgreSQL with the event store on and off, in turn.
    EventStore,
    /// The release Lambda binaries: sizes and spawn -> first Runtime API poll.
    Lambda,
    /// The no-op drain on Redis over TLS beside plain TCP, on a `redis-server` the bench starts.
    Tls,
    /// The no-op drain on Redis with 1, 2 and 4 instances on one consumer group.
    Instances,
    /// The Dapr host (`conveyor worker`) under a load generator playing daprd: the no-op and,
    /// with `--postgres`, the payment flow, per delivery (HTTP single, HTTP bulk, gRPC single,
    /// gRPC bulk).
    Dapr,
    /// The orchestrated checkout on PostgreSQL (via Redis with `--redis`): sagas ended per
    /// second and the worker's CPU per saga.
    Saga,
}

impl BenchPlan {
    /// Whether `scenario` is part of the plan.
    #[must_use]
    pub fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}
