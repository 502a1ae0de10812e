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

/// `POST /<job>`: runs one tick with `deps`, counted in `stats`, unless one is running already.
pub async fn fire(deps: &Deps, stats: &Stats, job: &JobEntry) -> (StatusCode, Json<Value>) {
    let name = job.function.spec().name;
    let Ok(_running) = job.running.try_lock() else {
        tracing::info!(
            function = name,
            "the previous tick is still running; skipping this firing"
        );
        return (
            StatusCode::OK,
            Json(
                json!({ "function": name, "outcome": "skipped", "reason": "previous tick still running" }),
            ),
        );
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
            (
                StatusCode::OK,
                Json(json!({
                    "function": name,
                    "tick": tick.to_rfc3339(),
                    "outcome": outcome,
                    "processed": report.processed,
                    "more": report.more,
                    "produced": handled.produced.len(),
                    "published": handled.published,
                })),
            )
        }
        Err(e) => {
            tracing::error!(function = name, tick = %tick, error = %e, "tick failed; the next firing tries again");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({
                    "function": name,
                    "tick": tick.to_rfc3339(),
                    "outcome": "failed",
                    "error": e.chain(),
                })),
            )
        }
    }
}
