//! `bindings.cron` callbacks: daprd probes each job's route with `OPTIONS /<job>` at start and
//! fires it with `POST /<job>` (empty body) on its schedule.
//!
//! A firing runs one tick of the job through the runtime's pipeline. Its id is
//! `<job>@<scheduled minute>`, so when every replica's sidecar fires the same tick, or daprd
//! retries a firing, the job runs once. daprd starts each firing in its own goroutine whatever
//! the previous one is doing; a firing that finds the job still running is skipped (answered
//! 200: the running tick covers it, and a cron binding has no retry to feed).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::http::StatusCode;
use conveyor_domain::Timestamp;
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::{Deps, Function, Meta};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use conveyor_transport::metrics::Stats;
use conveyor_transport::tick;

/// A job the worker serves.
#[derive(Debug)]
pub struct JobEntry {
    /// The job.
    pub function: Arc<dyn Function>,
    /// Its parsed schedule (fire times are rounded down to it).
    pub schedule: Option<Schedule>,
    /// Held while a tick runs: a job never overlaps itself in one worker.
    pub running: Mutex<()>,
}

impl JobEntry {
    /// An entry for `function`.
    #[must_use]
    pub fn new(function: Arc<dyn Function>) -> Self {
        let schedule = function.spec().schedule().and_then(|c| {
            Schedule::parse(c)
                .inspect_err(|e| tracing::error!(error = %e, "job has an invalid schedule"))
                .ok()
        });
        Self {
            function,
            schedule,
            running: Mutex::new(()),
        }
    }

    /// The tick a firing at `now` stands for: the latest fire time at or before it (daprd fires
    /// a few milliseconds after the minute).
    #[must_use]
    pub fn tick_at(&self, now: Timestamp) -> Timestamp {
        self.schedule
            .as_ref()
            .and_then(|s| s.latest_at_or_before(now))
            .unwrap_or(now)
    }
}

/// What became of one firing, whoever fired it (a cron binding, the Jobs API over HTTP or
/// gRPC); each protocol maps it to its own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// The tick ran (or had run already: `duplicate`).
    Ran {
        /// The tick the firing stood for.
        tick: Timestamp,
        /// Another firing of the same tick ran it already.
        duplicate: bool,
        /// Rows the job handled.
        processed: u64,
        /// Whether rows were left for the next tick.
        more: bool,
        /// Events it staged.
        produced: usize,
        /// Events published after commit.
        published: usize,
    },
    /// The previous tick was still running in this worker; this firing did nothing.
    Skipped,
    /// The tick failed; the next firing (or the Scheduler's retry) tries again.
    Failed {
        /// The tick the firing stood for.
        tick: Timestamp,
        /// Why, with its causes.
        error: String,
    },
}

impl TickOutcome {
    /// Whether the firing succeeded as far as the caller's retries are concerned.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        !matches!(self, Self::Failed { .. })
    }

    /// The answer body for `job`.
    #[must_use]
    pub fn to_json(&self, job: &str) -> Value {
        match self {
            Self::Ran {
                tick,
                duplicate,
                processed,
                more,
                produced,
                published,
            } => json!({
                "function": job,
                "tick": tick.to_rfc3339(),
                "outcome": if *duplicate { "duplicate" } else { "ticked" },
                "processed": processed,
                "more": more,
                "produced": produced,
                "published": published,
            }),
            Self::Skipped => json!({
                "function": job,
                "outcome": "skipped",
                "reason": "previous tick still running",
            }),
            Self::Failed { tick, error } => json!({
                "function": job,
                "tick": tick.to_rfc3339(),
                "outcome": "failed",
                "error": error,
            }),
        }
    }
}

/// Runs one tick of `job` with `deps`, counted in `stats`, unless one is running already.
pub async fn run_tick(deps: &Deps, stats: &Stats, job: &JobEntry) -> TickOutcome {
    let name = job.function.spec().name;
    let Ok(_running) = job.running.try_lock() else {
        tracing::info!(
            function = name,
            "the previous tick is still running; skipping this firing"
        );
        return TickOutcome::Skipped;
    };
    let started = Instant::now();
    let tick = job.tick_at(deps.clock.now());
    let meta = Meta::for_tick(name, tick, 1);
    match tick::fire(job.function.as_ref(), deps, meta, tick, stats).await {
        Ok(handled) => {
            let report = handled.report.unwrap_or_default();
            let outcome = if handled.duplicate {
                "duplicate"
            } else {
                "ticked"
            };
            tracing::info!(function = name, tick = %tick, outcome, processed = report.processed, more = report.more, published = handled.published, took_ms = started.elapsed().as_millis(), "tick done");
            TickOutcome::Ran {
                tick,
                duplicate: handled.duplicate,
                processed: report.processed,
                more: report.more,
                produced: handled.produced.len(),
                published: handled.published,
            }
        }
        Err(e) => {
            tracing::error!(function = name, tick = %tick, error = %e, "tick failed; the next firing tries again");
            TickOutcome::Failed {
                tick,
                error: e.chain(),
            }
        }
    }
}

/// `POST /<job>` (a cron binding's firing): runs one tick; 500 when it failed.
pub async fn fire(deps: &Deps, stats: &Stats, job: &JobEntry) -> (StatusCode, Json<Value>) {
    let outcome = run_tick(deps, stats, job).await;
    let status = if outcome.succeeded() {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(outcome.to_json(job.function.spec().name)))
}
