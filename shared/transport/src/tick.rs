//! Cron ticks as every host runs them: [`fire`] runs one tick and counts it, and the
//! [`TickLock`] port decides which of several instances fires a tick (Redis implements it; a
//! host alone, or instances sharing a database, need none: the inbox lets a tick's id through
//! once).

use std::fmt;

use conveyor_domain::Timestamp;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{Deps, Function, Handled, HandlerError, Input, Meta};

use crate::metrics::{Outcome, Stats};

/// Decides which of several instances fires a tick.
pub trait TickLock: Send + Sync + fmt::Debug {
    /// `true` if this instance takes `job`'s tick scheduled at `tick` (the first to ask wins).
    fn acquire<'a>(&'a self, job: &'a str, tick: Timestamp) -> BoxFuture<'a, bool>;
}

/// Runs one tick of `job` with the given identity, recording it in `stats`.
///
/// # Errors
/// What the job returned.
pub async fn fire(
    job: &dyn Function,
    deps: &Deps,
    meta: Meta<'_>,
    scheduled: Timestamp,
    stats: &Stats,
) -> Result<Handled, HandlerError> {
    let started = std::time::Instant::now();
    let name = job.spec().name;
    let result = job
        .invoke(
            deps,
            Input::Tick {
                meta: Box::new(meta),
                scheduled,
            },
        )
        .await;
    let outcome = match &result {
        Ok(h) if h.duplicate => Outcome::Duplicate,
        Ok(_) => Outcome::Ticked,
        Err(_) => Outcome::TickFailed,
    };
    stats.record(name, outcome, started.elapsed());
    result
}
