//! The cron scheduler: one task per job, firing at the job's 5-field UTC schedule.
//!
//! - A job never overlaps itself: its task runs one tick at a time.
//! - A tick runs once even when several emulators share the database: the tick's id is
//!   `<job>@<minute>` and the inbox lets only the first run through.
//! - Missed ticks (the process was paused or busy past a tick) run once, for the latest tick
//!   that fell due, never as a burst.
//! - With a [`TickLock`] (Redis), a tick fires once across instances even when they do not
//!   share a database.

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::{Deps, Function, Meta};
use conveyor_transport::metrics::Stats;
use conveyor_transport::tick::{TickLock, fire};
use tokio::sync::watch;

/// The tick to run when waking at `now` with `next` the tick that was awaited: the latest tick
/// due at or before `now` (so a long pause yields one run, not one per missed tick), or `None`
/// if nothing is due yet.
#[must_use]
pub fn due_tick(schedule: &Schedule, next: Timestamp, now: Timestamp) -> Option<Timestamp> {
    if now < next {
        return None;
    }
    Some(schedule.latest_at_or_before(now).unwrap_or(next).max(next))
}

/// Runs `job` on its schedule until `shutdown` turns `true`; a tick in progress finishes first.
pub async fn run(
    job: Arc<dyn Function>,
    deps: Deps,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) {
    run_with_lock(job, deps, stats, None, shutdown).await;
}

/// As [`run`], firing only the ticks `lock` grants this instance.
pub async fn run_with_lock(
    job: Arc<dyn Function>,
    deps: Deps,
    stats: Arc<Stats>,
    lock: Option<Arc<dyn TickLock>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let spec = job.spec();
    let Some(schedule) = spec.schedule().and_then(|c| Schedule::parse(c).ok()) else {
        tracing::error!(function = spec.name, "not a job with a valid schedule");
        return;
    };
    let Some(mut next) = schedule.next_after(deps.clock.now()) else {
        return;
    };
    while !*shutdown.borrow() {
        let wait = Duration::from_millis(
            u64::try_from(next.millis() - deps.clock.now().millis()).unwrap_or(0),
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => continue,
        }
        let now = deps.clock.now();
        let Some(tick) = due_tick(&schedule, next, now) else {
            continue;
        };
        if tick > next {
            tracing::warn!(function = spec.name, missed_since = %next, running = %tick, "missed ticks; running once for the latest");
        }
        if let Some(lock) = &lock
            && !lock.acquire(spec.name, tick).await
        {
            tracing::info!(function = spec.name, tick = %tick, "tick taken by another instance");
        } else {
            let meta = Meta::for_tick(spec.name, tick, 1);
            match fire(job.as_ref(), &deps, meta, tick, &stats).await {
                Ok(h) if h.duplicate => {
                    tracing::info!(function = spec.name, tick = %tick, "tick already run by another instance")
                }
                Ok(h) => {
                    let r = h.report.unwrap_or_default();
                    tracing::info!(function = spec.name, tick = %tick, processed = r.processed, more = r.more, published = h.produced.len(), "tick done");
                }
                Err(e) => {
                    tracing::error!(function = spec.name, tick = %tick, error = %e, "tick failed; the next tick tries again")
                }
            }
        }
        match schedule.next_after(tick.max(now)) {
            Some(n) => next = n,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn runs_the_awaited_tick_once_due() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            due_tick(&s, t("2026-11-22T10:05:00Z"), t("2026-11-22T10:04:59Z")),
            None
        );
        assert_eq!(
            due_tick(&s, t("2026-11-22T10:05:00Z"), t("2026-11-22T10:05:00.010Z")),
            Some(t("2026-11-22T10:05:00Z"))
        );
    }

    #[test]
    fn a_long_pause_runs_once_for_the_latest_missed_tick() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            due_tick(&s, t("2026-11-22T10:05:00Z"), t("2026-11-22T11:02:30Z")),
            Some(t("2026-11-22T11:00:00Z"))
        );
    }
}
