//! Scheduling the worker's jobs at start, idempotently: each job is read back first and
//! scheduled (with `overwrite`) only when the Scheduler has none of its name or one with
//! another schedule. A restart, or a second replica starting, finds them alike and leaves
//! them be, so their next fire times are not reset.
//!
//! The sidecar may start after the worker (or not be ready for the Jobs API yet), so the
//! worker keeps trying in the background, backing off up to 30 s, until every job is
//! scheduled or it shuts down.

use std::sync::Arc;
use std::time::Duration;

use conveyor_runtime::cron::Schedule;
use tokio::sync::watch;

use super::api::{JobSpec, JobsApi, JobsApiError};
use crate::bindings::JobEntry;

/// What registering did to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// The Scheduler had it already, with the same schedule: left alone.
    Unchanged,
    /// It was scheduled (new, or its schedule changed).
    Scheduled,
}

/// The job the Scheduler should have for `entry`; `None` for a job without a valid schedule
/// (logged when the worker started).
#[must_use]
pub fn spec(entry: &JobEntry) -> Option<JobSpec> {
    let schedule: &Schedule = entry.schedule.as_ref()?;
    Some(JobSpec {
        name: entry.function.spec().name.to_owned(),
        schedule: schedule.to_dapr(),
    })
}

/// Makes the Scheduler hold each of `jobs`; what it did to each, in order.
///
/// # Errors
/// The first job the Jobs API could not read or schedule (those before it are done).
pub async fn register_all(
    api: &dyn JobsApi,
    jobs: &[Arc<JobEntry>],
) -> Result<Vec<(String, Registration)>, JobsApiError> {
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs.iter().filter_map(|j| spec(j.as_ref())) {
        let existing = api.get(&job.name).await?;
        let registration = if existing.is_some_and(|e| e.schedule == job.schedule) {
            Registration::Unchanged
        } else {
            api.schedule(&job).await?;
            Registration::Scheduled
        };
        tracing::info!(job = %job.name, schedule = %job.schedule, ?registration, "job registered with the Scheduler");
        done.push((job.name, registration));
    }
    Ok(done)
}

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// [`register_all`] until it succeeds or `stop` turns true, first retry after `backoff`,
/// doubling up to 30 s. Returns what the successful pass did (`None` when stopped first).
pub async fn keep_registering(
    api: Arc<dyn JobsApi>,
    jobs: Vec<Arc<JobEntry>>,
    mut backoff: Duration,
    mut stop: watch::Receiver<bool>,
) -> Option<Vec<(String, Registration)>> {
    loop {
        match register_all(api.as_ref(), &jobs).await {
            Ok(done) => return Some(done),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot schedule the jobs yet; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|stopped| *stopped) => return None,
        }
        backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
    }
}
