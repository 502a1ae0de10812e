//! What a scenario needs from a host, whichever it is: start with a set of functions, publish,
//! tell when nothing is waiting or in flight, read dead letters and counters, redrive, crash
//! and come back; and the differences a host declares instead of meeting an assertion.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use conveyor_runtime::Function;
use conveyor_store::OutboxRow;
use conveyor_store::queue::DeadLetter;
use conveyor_transport::metrics::Stats;
use tokio::time::Instant;

use crate::db::Db;

/// One dead letter as the scenarios compare it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Letter {
    /// The CloudEvent id.
    pub(crate) event_id: String,
    /// Why, as the delivery policy worded it; `None` where the host keeps no reason (see
    /// [`Differences::letter_reasons`]).
    pub(crate) reason: Option<String>,
    /// Deliveries made.
    pub(crate) attempts: u32,
}

impl Letter {
    /// A dead letter read through a [`conveyor_transport::broker::Broker`].
    pub(crate) fn of(letter: &DeadLetter) -> Self {
        Self {
            event_id: letter.event_id.clone(),
            reason: Some(letter.error.clone()),
            attempts: letter.attempts,
        }
    }
}

/// A function's counters, as the host's metrics count them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Deliveries handled, duplicates included (`conveyor_events_handled_total`).
    pub(crate) handled: u64,
    /// Deliveries that failed transiently (`conveyor_events_retried_total`).
    pub(crate) retried: u64,
    /// Deliveries moved to the dead letters (`conveyor_events_dead_lettered_total`).
    pub(crate) dead_lettered: u64,
}

impl Counters {
    /// The counters of `function` in `stats`, read from its Prometheus exposition.
    pub(crate) fn of(stats: &Stats, function: &str) -> Self {
        let text = stats.encode();
        let read = |metric: &str| -> u64 {
            let prefix = format!("conveyor_{metric}_total{{function=\"{function}\"}} ");
            text.lines()
                .find_map(|line| line.strip_prefix(&prefix))
                .map_or(0, |n| n.trim().parse().expect("a counter is a number"))
        };
        Self {
            handled: read("events_handled"),
            retried: read("events_retried"),
            dead_lettered: read("events_dead_lettered"),
        }
    }

    /// The counters of `function` over every incarnation of a host (a crash starts new metrics).
    pub(crate) fn sum(stats: &[Arc<Stats>], function: &str) -> Self {
        stats
            .iter()
            .map(|s| Self::of(s, function))
            .fold(Self::default(), |a, b| Self {
                handled: a.handled + b.handled,
                retried: a.retried + b.retried,
                dead_lettered: a.dead_lettered + b.dead_lettered,
            })
    }
}

/// Where a host genuinely differs from the others, declared by its `Host` impl with the reason;
/// the scenarios read these instead of loosening an assertion for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Differences {
    /// Whether a dead letter keeps the reason the delivery policy gave.
    pub(crate) letter_reasons: bool,
    /// The delivery number the handler sees when an event comes back after a crash.
    pub(crate) attempt_after_crash: u32,
    /// Whether a failing event holds back the later events of its key until it succeeds or is
    /// dead-lettered (rather than only while one of its deliveries runs).
    pub(crate) key_held_until_resolved: bool,
    /// Whether the dead letter of a body that is no CloudEvent keeps the id the body was
    /// published under (rather than none: a letter's event id is the CloudEvent's, and such a
    /// body has none).
    pub(crate) raw_letter_keeps_published_id: bool,
}

/// The differences of a host that has none.
pub(crate) const CONFORMING: Differences = Differences {
    letter_reasons: true,
    attempt_after_crash: 2,
    key_held_until_resolved: true,
    raw_letter_keeps_published_id: false,
};

/// A host the scenarios run on.
pub(crate) trait Host: Sized {
    /// Its name in messages.
    const NAME: &'static str;
    /// Where it differs.
    const DIFFERENCES: Differences;

    /// Starts the host with `functions` over the test's database.
    fn start(db: &Db, functions: Vec<Arc<dyn Function>>) -> impl Future<Output = Self>;

    /// Publishes `events` as a producer would (each to the functions subscribed to its topic).
    fn publish(&self, events: &[OutboxRow]) -> impl Future<Output = ()>;

    /// Publishes `body`, which is no CloudEvent, to `topic` as a producer outside conveyor
    /// would put it on the transport (each subscribed function gets it), under the message id
    /// `id` where the transport keeps one.
    fn publish_raw(&self, id: &str, topic: &str, body: &str) -> impl Future<Output = ()>;

    /// Whether nothing waits for delivery, for a retry or in a handler.
    fn idle(&self) -> impl Future<Output = bool>;

    /// The dead letters of `function`, sorted.
    fn dead_letters(&self, function: &'static str) -> impl Future<Output = Vec<Letter>>;

    /// Delivers every dead letter of `function` again, to it only; returns how many.
    fn redrive(&self, function: &'static str) -> impl Future<Output = usize>;

    /// The counters of `function` so far, over every incarnation.
    fn counters(&self, function: &'static str) -> Counters;

    /// Kills the host with its handlers mid-flight (nothing in flight is finished, acknowledged
    /// or recorded) and starts it again on the same durable state.
    fn crash(&mut self) -> impl Future<Output = ()>;

    /// Shuts down gracefully.
    fn stop(self) -> impl Future<Output = ()>;
}

/// How long the host must stay idle to count as settled: longer than any retry backoff of the
/// suite's functions, so an event between two deliveries is not taken for done.
const QUIET: Duration = Duration::from_millis(300);
/// How long a scenario may take to settle.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `host` has stayed idle for [`QUIET`].
pub(crate) async fn settle<H: Host>(host: &H) {
    let deadline = Instant::now() + PATIENCE;
    let mut quiet_since: Option<Instant> = None;
    loop {
        if host.idle().await {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= QUIET {
                return;
            }
        } else {
            quiet_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "{}: still busy after {PATIENCE:?}",
            H::NAME
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
