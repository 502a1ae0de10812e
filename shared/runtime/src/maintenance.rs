//! Retention of the runtime's bookkeeping rows, and the bounded pruning run every host shares:
//! the long-running hosts call [`prune`] from their maintenance loop, the scheduled
//! `conveyor-maintenance` function calls [`prune_inbox`] in its tick's transaction.
//!
//! An inbox row is what makes a redelivered event a duplicate, so it must outlive every
//! redelivery: SQS keeps a message up to 14 days, hence the default [`Retention::inbox`] of 14
//! days. Dead letters (the embedded broker's, `conveyor up` only) are kept 30 days by default.
//! The event store ([`conveyor_store::events`]) keeps events 365 days by default; on PostgreSQL
//! each run also makes the day partitions of today and the next [`PARTITIONS_AHEAD`] days, and
//! retention drops whole days.
//! Published outbox rows are never kept (they are deleted as they are published), and
//! unpublished ones are never pruned: that would lose events.

use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_store::retention::PRUNE_BATCH;
use conveyor_store::{Store, StoreError, Tx};

use crate::contract::JobReport;

/// Environment variable: days an inbox (idempotency) row is kept.
pub const INBOX_RETENTION_DAYS: &str = "CONVEYOR_INBOX_RETENTION_DAYS";
/// Environment variable: days a dead letter of the embedded broker is kept.
pub const DEAD_LETTER_RETENTION_DAYS: &str = "CONVEYOR_DEAD_LETTER_RETENTION_DAYS";
/// Environment variable: days the event store keeps an event.
pub const EVENT_RETENTION_DAYS: &str = "CONVEYOR_EVENT_RETENTION_DAYS";
/// Environment variable: pruning statements (of 1,000 rows each) per run and table.
pub const PRUNE_BATCHES: &str = "CONVEYOR_PRUNE_BATCHES";

/// Default days an inbox row is kept: SQS's longest message retention.
pub const DEFAULT_INBOX_DAYS: u32 = 14;
/// Default days a dead letter is kept.
pub const DEFAULT_DEAD_LETTER_DAYS: u32 = 30;
/// Default days the event store keeps an event.
pub const DEFAULT_EVENT_DAYS: u32 = 365;
/// Day partitions of the event store made ahead of today (PostgreSQL).
pub const PARTITIONS_AHEAD: u32 = 3;
/// Default pruning statements per run and table.
pub const DEFAULT_BATCHES: u32 = 10;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A retention setting that does not parse. Its `Debug` is its sentence too, so a binary that
/// returns it from `main` prints what to fix, not a struct.
#[derive(thiserror::Error)]
#[error(
    "{variable} is {value:?}: set it to a whole number of {unit} from 1 to 36500, or unset it for {default}"
)]
pub struct RetentionError {
    variable: &'static str,
    value: String,
    unit: &'static str,
    default: u32,
}

impl std::fmt::Debug for RetentionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// How long bookkeeping rows are kept, and how much one run prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long an inbox row is kept after its event was received.
    pub inbox: Duration,
    /// How long a dead letter is kept after it failed.
    pub dead_letters: Duration,
    /// How long the event store keeps an event after its time.
    pub events: Duration,
    /// Statements of at most [`PRUNE_BATCH`] rows one run makes per table.
    pub batches: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            inbox: days(DEFAULT_INBOX_DAYS),
            dead_letters: days(DEFAULT_DEAD_LETTER_DAYS),
            events: days(DEFAULT_EVENT_DAYS),
            batches: DEFAULT_BATCHES,
        }
    }
}

fn days(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 24 * 60 * 60)
}

impl Retention {
    /// Reads [`INBOX_RETENTION_DAYS`], [`DEAD_LETTER_RETENTION_DAYS`],
    /// [`EVENT_RETENTION_DAYS`] and [`PRUNE_BATCHES`];
    /// unset or empty variables keep their defaults.
    ///
    /// # Errors
    /// A variable that is not a whole number from 1 to 36,500.
    pub fn from_env() -> Result<Self, RetentionError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Retention::from_env`] over any lookup (tests pass a map).
    ///
    /// # Errors
    /// As [`Retention::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RetentionError> {
        let read = |variable: &'static str, unit: &'static str, default: u32| match lookup(variable)
            .filter(|v| !v.trim().is_empty())
        {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=36_500).contains(n))
                .ok_or(RetentionError {
                    variable,
                    value,
                    unit,
                    default,
                }),
        };
        Ok(Self {
            inbox: days(read(INBOX_RETENTION_DAYS, "days", DEFAULT_INBOX_DAYS)?),
            dead_letters: days(read(
                DEAD_LETTER_RETENTION_DAYS,
                "days",
                DEFAULT_DEAD_LETTER_DAYS,
            )?),
            events: days(read(EVENT_RETENTION_DAYS, "days", DEFAULT_EVENT_DAYS)?),
            batches: read(PRUNE_BATCHES, "statements", DEFAULT_BATCHES)?,
        })
    }

    /// Inbox rows received before this instant are pruned at `now`.
    #[must_use]
    pub fn inbox_cutoff(&self, now: Timestamp) -> Timestamp {
        cutoff(now, self.inbox)
    }

    /// Stored events older than this instant are removed at `now`.
    #[must_use]
    pub fn event_cutoff(&self, now: Timestamp) -> Timestamp {
        cutoff(now, self.events)
    }

    /// Dead letters that failed before this instant are pruned at `now`.
    #[must_use]
    pub fn dead_letter_cutoff(&self, now: Timestamp) -> Timestamp {
        cutoff(now, self.dead_letters)
    }
}

fn cutoff(now: Timestamp, keep: Duration) -> Timestamp {
    let ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX / 2);
    now.add_millis(-ms.min(365_000 * DAY_MS))
}

/// What one pruning run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Inbox rows deleted.
    pub inbox: u64,
    /// Dead letters deleted.
    pub dead_letters: u64,
    /// Stored events deleted one by one (SQLite; PostgreSQL's DEFAULT partition).
    pub events: u64,
    /// Day partitions of the event store dropped (PostgreSQL).
    pub partitions_dropped: usize,
    /// Day partitions of the event store made (PostgreSQL).
    pub partitions_made: usize,
    /// A table still had rows past retention when the run reached its bound.
    pub more: bool,
}

/// Prunes the inbox at `now` within the tick's transaction: at most `retention.batches`
/// statements of [`PRUNE_BATCH`] rows, stopping at the first that finds fewer.
///
/// # Errors
/// The database error.
pub async fn prune_inbox(
    tx: &mut Tx,
    now: Timestamp,
    retention: &Retention,
) -> Result<JobReport, StoreError> {
    let before = retention.inbox_cutoff(now);
    let mut report = JobReport::default();
    for _ in 0..retention.batches {
        let n = tx.inbox_prune(before, PRUNE_BATCH).await?;
        report.processed += n;
        report.more = n >= u64::from(PRUNE_BATCH);
        if !report.more {
            break;
        }
    }
    Ok(report)
}

/// Keeps the event store within the tick's transaction: its day partitions made ahead (on
/// PostgreSQL), then at most `retention.batches` statements of [`PRUNE_BATCH`] rows of what is
/// past its retention (whole day partitions dropped on PostgreSQL). What the scheduled
/// `conveyor-maintenance` does for the event store on hosts without a maintenance loop (Lambda).
///
/// # Errors
/// The database error.
pub async fn prune_events(
    tx: &mut Tx,
    now: Timestamp,
    retention: &Retention,
) -> Result<JobReport, StoreError> {
    tx.events_prepare(now, PARTITIONS_AHEAD).await?;
    let pruned = tx
        .events_prune(retention.event_cutoff(now), PRUNE_BATCH, retention.batches)
        .await?;
    Ok(JobReport {
        processed: pruned.rows,
        more: pruned.more,
    })
}

/// One maintenance run of a long-running host at `now`: the inbox, with `dead_letters` (the
/// embedded broker's tables exist) the dead letters, and the event store (its day partitions
/// made ahead, then what is past its retention), each statement committed on its own so no run
/// holds locks for long.
///
/// # Errors
/// The first database error; what was deleted before it stays deleted.
pub async fn prune(
    store: &Store,
    now: Timestamp,
    retention: &Retention,
    dead_letters: bool,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    let (inbox, more) = repeat(retention.batches, || {
        store.inbox_prune(retention.inbox_cutoff(now), PRUNE_BATCH)
    })
    .await?;
    pruned.inbox = inbox;
    pruned.more = more;
    if dead_letters {
        let (letters, more) = repeat(retention.batches, || {
            store.dead_letters_prune(retention.dead_letter_cutoff(now), PRUNE_BATCH)
        })
        .await?;
        pruned.dead_letters = letters;
        pruned.more |= more;
    }
    pruned.partitions_made = store.events_prepare(now, PARTITIONS_AHEAD).await?.len();
    let events = store
        .events_prune(retention.event_cutoff(now), PRUNE_BATCH, retention.batches)
        .await?;
    pruned.events = events.rows;
    pruned.partitions_dropped = events.partitions.len();
    pruned.more |= events.more;
    Ok(pruned)
}

/// Runs `statement` up to `times` times while each deletes a full batch: (rows, more left).
async fn repeat<F, Fut>(times: u32, statement: F) -> Result<(u64, bool), StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let (mut total, mut more) = (0, false);
    for _ in 0..times {
        let n = statement().await?;
        total += n;
        more = n >= u64::from(PRUNE_BATCH);
        if !more {
            break;
        }
    }
    Ok((total, more))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_outlive_the_longest_sqs_retention() {
        let r = Retention::from_lookup(lookup(&[])).unwrap();
        assert_eq!(r, Retention::default());
        assert_eq!(r.inbox, Duration::from_secs(14 * 86_400));
        assert_eq!(r.dead_letters, Duration::from_secs(30 * 86_400));
        let now = Timestamp::from_millis(100 * DAY_MS);
        assert_eq!(r.inbox_cutoff(now), Timestamp::from_millis(86 * DAY_MS));
        assert_eq!(
            r.dead_letter_cutoff(now),
            Timestamp::from_millis(70 * DAY_MS)
        );
        assert_eq!(r.events, days(365));
        let later = Timestamp::from_millis(400 * DAY_MS);
        assert_eq!(r.event_cutoff(later), Timestamp::from_millis(35 * DAY_MS));
    }

    #[test]
    fn reads_the_variables_and_names_a_bad_one() {
        let r = Retention::from_lookup(lookup(&[
            (INBOX_RETENTION_DAYS, "21"),
            (DEAD_LETTER_RETENTION_DAYS, " 7 "),
            (EVENT_RETENTION_DAYS, "30"),
            (PRUNE_BATCHES, "3"),
        ]))
        .unwrap();
        assert_eq!(r.inbox, days(21));
        assert_eq!(r.dead_letters, days(7));
        assert_eq!(r.events, days(30));
        assert_eq!(r.batches, 3);
        for bad in ["0", "two weeks", "-3", "40000"] {
            let e = Retention::from_lookup(lookup(&[(INBOX_RETENTION_DAYS, bad)])).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "CONVEYOR_INBOX_RETENTION_DAYS is {bad:?}: set it to a whole number of days from 1 to 36500, or unset it for 14"
                )
            );
        }
    }
}
