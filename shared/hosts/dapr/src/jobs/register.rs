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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use conveyor_runtime::publish::BoxFuture;
    use conveyor_runtime::{
        Context, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service, schedule,
    };

    use super::*;

    /// The Scheduler as a map, with a log of the calls and a switch to refuse them.
    #[derive(Default)]
    struct Scheduler {
        jobs: Mutex<BTreeMap<String, String>>,
        calls: Mutex<Vec<String>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl Scheduler {
        fn refusal(&self, job: &str) -> Option<JobsApiError> {
            self.down
                .load(std::sync::atomic::Ordering::SeqCst)
                .then(|| JobsApiError::Unreachable {
                    target: job.to_owned(),
                    reason: "connection refused".to_owned(),
                })
        }
    }

    impl JobsApi for Scheduler {
        fn get<'a>(
            &'a self,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<JobSpec>, JobsApiError>> {
            Box::pin(async move {
                self.calls.lock().unwrap().push(format!("GET {name}"));
                if let Some(e) = self.refusal(name) {
                    return Err(e);
                }
                Ok(self.jobs.lock().unwrap().get(name).map(|s| JobSpec {
                    name: name.to_owned(),
                    schedule: s.clone(),
                }))
            })
        }

        fn schedule<'a>(&'a self, job: &'a JobSpec) -> BoxFuture<'a, Result<(), JobsApiError>> {
            Box::pin(async move {
                self.calls
                    .lock()
                    .unwrap()
                    .push(format!("POST {}", job.name));
                self.jobs
                    .lock()
                    .unwrap()
                    .insert(job.name.clone(), job.schedule.clone());
                Ok(())
            })
        }
    }

    #[derive(Debug)]
    struct Hourly;
    impl ScheduleHandler for Hourly {
        const SPEC: FunctionSpec =
            FunctionSpec::on_schedule("t-hourly", Service::Order, "0 * * * *");
        async fn run_once(
            &self,
            _: conveyor_domain::Timestamp,
            _: &mut Context<'_>,
        ) -> Result<JobReport, HandlerError> {
            Ok(JobReport::default())
        }
    }

    #[derive(Debug)]
    struct Nightly;
    impl ScheduleHandler for Nightly {
        const SPEC: FunctionSpec =
            FunctionSpec::on_schedule("t-nightly", Service::Order, "15 2 * * *");
        async fn run_once(
            &self,
            _: conveyor_domain::Timestamp,
            _: &mut Context<'_>,
        ) -> Result<JobReport, HandlerError> {
            Ok(JobReport::default())
        }
    }

    fn entries() -> Vec<Arc<JobEntry>> {
        vec![
            Arc::new(JobEntry::new(schedule(Hourly))),
            Arc::new(JobEntry::new(schedule(Nightly))),
        ]
    }

    fn calls(scheduler: &Scheduler) -> Vec<String> {
        std::mem::take(&mut *scheduler.calls.lock().unwrap())
    }

    #[tokio::test]
    async fn jobs_are_scheduled_when_missing_or_changed_and_left_alone_otherwise() {
        let scheduler = Scheduler::default();
        let jobs = entries();
        let done = register_all(&scheduler, &jobs).await.unwrap();
        assert_eq!(
            done,
            [
                ("t-hourly".to_owned(), Registration::Scheduled),
                ("t-nightly".to_owned(), Registration::Scheduled)
            ]
        );
        assert_eq!(
            calls(&scheduler),
            [
                "GET t-hourly",
                "POST t-hourly",
                "GET t-nightly",
                "POST t-nightly"
            ]
        );
        assert_eq!(
            scheduler.jobs.lock().unwrap()["t-nightly"],
            "CRON_TZ=UTC 0 15 2 * * *"
        );

        let again = register_all(&scheduler, &jobs).await.unwrap();
        assert!(again.iter().all(|(_, r)| *r == Registration::Unchanged));
        assert_eq!(calls(&scheduler), ["GET t-hourly", "GET t-nightly"]);

        // A schedule changed by another version: scheduled again, with the worker's.
        scheduler
            .jobs
            .lock()
            .unwrap()
            .insert("t-hourly".to_owned(), "@every 1m".to_owned());
        let changed = register_all(&scheduler, &jobs).await.unwrap();
        assert_eq!(changed[0].1, Registration::Scheduled);
        assert_eq!(changed[1].1, Registration::Unchanged);
        assert_eq!(
            scheduler.jobs.lock().unwrap()["t-hourly"],
            "CRON_TZ=UTC 0 0 * * * *"
        );
    }

    #[tokio::test]
    async fn an_unreachable_sidecar_is_asked_again_until_it_answers_or_the_worker_stops() {
        let scheduler = Arc::new(Scheduler::default());
        scheduler
            .down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let (stop, stopped) = watch::channel(false);
        let api: Arc<dyn JobsApi> = Arc::clone(&scheduler) as Arc<dyn JobsApi>;
        let trying = tokio::spawn(keep_registering(
            api,
            entries(),
            Duration::from_millis(10),
            stopped.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(calls(&scheduler).len() >= 2, "asked again");
        scheduler
            .down
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let done = trying
            .await
            .unwrap()
            .expect("scheduled once the sidecar answers");
        assert_eq!(done.len(), 2);

        // Still down at shutdown: it gives up.
        scheduler
            .down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let api: Arc<dyn JobsApi> = Arc::clone(&scheduler) as Arc<dyn JobsApi>;
        let trying = tokio::spawn(keep_registering(
            api,
            entries(),
            Duration::from_secs(5),
            stopped,
        ));
        tokio::time::sleep(Duration::from_millis(30)).await;
        stop.send(true).unwrap();
        assert_eq!(trying.await.unwrap(), None);
    }
}
