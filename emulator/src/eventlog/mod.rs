//! The emulator's memory of recent traffic, for the dashboard: events as they were published,
//! every delivery attempt and job run with its outcome, duration, error and the events it
//! produced, and per-function totals. Every buffer is bounded (by count, and the event bodies
//! also by bytes), so memory stays flat at any event rate; writers and readers take one short
//! lock, and readers copy out only what they return.
//!
//! # Layout
//! - [`record`] — where entries come from: a publishing decorator and a function decorator
//! - [`query`] — event lists with filters, one event's detail, a flow of one correlation id

pub mod query;
pub mod record;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use conveyor_domain::{Clock, SystemClock, Timestamp};
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use conveyor_transport::metrics::Outcome;

/// Events kept.
pub const EVENTS: usize = 2_000;
/// Bytes of event bodies kept (the oldest go first beyond this).
pub const EVENT_BYTES: usize = 8 * 1024 * 1024;
/// Delivery attempts and runs kept.
pub const ATTEMPTS: usize = 5_000;
/// Runs kept per job, apart from the shared attempt buffer (jobs run rarely).
pub const RUNS_PER_JOB: usize = 20;
/// Durations kept per function for its latency percentiles.
const LATENCY_SAMPLES: usize = 256;

/// Serialises a time as RFC 3339 with milliseconds.
pub(crate) fn rfc3339_millis<S: serde::Serializer>(
    at: &Timestamp,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339())
}

/// The wall clock (the log records when things happened here, whatever clock the functions
/// are given): Unix milliseconds, turned into a date only when shown.
pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

/// One published event.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedEvent {
    /// Position in the log (grows by one per event).
    pub seq: u64,
    /// The CloudEvent id.
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The flow it belongs to (its own id when it started one).
    pub correlation_id: Option<String>,
    /// The event (or tick) whose handling published it, when it says.
    pub causation_id: Option<String>,
    /// `data.order_id`, when the payload has one.
    pub order_id: Option<String>,
    /// The CloudEvent `source`.
    pub source: Option<String>,
    /// When it was published.
    #[serde(serialize_with = "rfc3339_millis")]
    pub at: Timestamp,
    /// The body as published.
    #[serde(skip)]
    pub body: Arc<str>,
}

/// One delivery attempt (or job run).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Position in the log.
    pub seq: u64,
    /// The function.
    pub function: &'static str,
    /// The event id (for a run: the tick id).
    pub event_id: String,
    /// The flow, when known.
    pub correlation_id: Option<String>,
    /// Delivery number.
    pub attempt: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The error, if any.
    pub error: Option<String>,
    /// Handler time in milliseconds.
    pub duration_ms: f64,
    /// When it finished.
    #[serde(serialize_with = "rfc3339_millis")]
    pub at: Timestamp,
    /// Ids of the events it produced.
    pub produced: Vec<String>,
    /// A job run rather than an event delivery.
    pub tick: bool,
}

/// What one function has done since the emulator started.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Totals {
    /// Deliveries handled.
    pub handled: u64,
    /// Deliveries found already handled.
    pub duplicates: u64,
    /// Deliveries that failed transiently.
    pub retried: u64,
    /// Deliveries dead-lettered.
    pub dead_lettered: u64,
    /// Job runs.
    pub runs: u64,
    /// Job runs that failed.
    pub failed_runs: u64,
    /// The last outcome.
    pub last_outcome: Option<Outcome>,
    /// When it happened.
    #[serde(serialize_with = "option_rfc3339")]
    pub last_at: Option<Timestamp>,
    /// The last error.
    pub last_error: Option<String>,
    /// Median handler time of the recent invocations, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile of the same, ms.
    pub p95_ms: Option<f64>,
    #[serde(skip)]
    latencies: VecDeque<f64>,
}

fn option_rfc3339<S: serde::Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339_millis(at, s),
        None => s.serialize_none(),
    }
}

impl Totals {
    fn add(&mut self, attempt: &Attempt) {
        match attempt.outcome {
            Outcome::Handled => self.handled += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Retry => self.retried += 1,
            Outcome::DeadLettered => self.dead_lettered += 1,
            Outcome::Ticked => self.runs += 1,
            Outcome::TickFailed => {
                self.runs += 1;
                self.failed_runs += 1;
            }
        }
        self.last_outcome = Some(attempt.outcome);
        self.last_at = Some(attempt.at);
        if attempt.error.is_some() {
            self.last_error.clone_from(&attempt.error);
        }
        if self.latencies.len() == LATENCY_SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back(attempt.duration_ms);
    }

    fn with_percentiles(&self) -> Self {
        let mut sorted: Vec<f64> = self.latencies.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(i).copied()
        };
        Self {
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            ..self.clone()
        }
    }
}

/// The buffers, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) events: VecDeque<LoggedEvent>,
    event_bytes: usize,
    next_event: u64,
    pub(crate) attempts: VecDeque<Attempt>,
    next_attempt: u64,
    totals: HashMap<&'static str, Totals, foldhash::fast::RandomState>,
    runs: HashMap<&'static str, VecDeque<Attempt>, foldhash::fast::RandomState>,
}

impl Inner {
    pub(crate) fn event(&self, id: &str) -> Option<&LoggedEvent> {
        self.events.iter().rev().find(|e| e.id == id)
    }
}

/// The bounded log; one per emulator.
#[derive(Debug, Default)]
pub struct EventLog {
    inner: Mutex<Inner>,
}

/// What is peeked at in a body that is no CloudEvent a publisher wrote (the rest is skipped,
/// not decoded).
#[derive(Debug, Deserialize)]
struct Peek {
    causationid: Option<String>,
    correlationid: Option<String>,
    source: Option<String>,
    data: Option<PeekData>,
}

#[derive(Debug, Deserialize)]
struct PeekData {
    order_id: Option<Value>,
}

/// A row for `body`, written to the transport by something else than conveyor's publishers,
/// with what can be peeked at in it: its source, correlation id and order id, if it has them.
fn peeked(id: &str, topic: &str, body: &str) -> OutboxRow {
    let mut row = OutboxRow::bare(id.to_owned(), topic.to_owned(), body.to_owned());
    if let Ok(peek) = serde_json::from_str::<Peek>(body) {
        let order_id = peek.data.and_then(|d| d.order_id).and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        row.source = peek.source.unwrap_or_default();
        row.correlation_id = peek.correlationid;
        row.causation_id = peek.causationid;
        row.data_fields = order_id
            .map(|o| vec![("order_id".to_owned(), o)])
            .unwrap_or_default();
    }
    row
}

/// Where the log stands: the newest event and attempt positions (0 = none yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cursor {
    /// Events logged so far.
    pub events: u64,
    /// Attempts logged so far.
    pub attempts: u64,
}

impl EventLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs events the transport accepted, with what their rows carry of their events (the
    /// bodies are not decoded here).
    pub fn published(&self, rows: &[OutboxRow]) {
        let at = now();
        let entries: Vec<(LoggedEvent, usize)> = rows
            .iter()
            .map(|row| {
                let event = LoggedEvent {
                    seq: 0,
                    correlation_id: row.correlation_id.clone().or_else(|| Some(row.id.clone())),
                    causation_id: row.causation_id.clone(),
                    id: row.id.clone(),
                    topic: row.topic.clone(),
                    order_id: row.data_field("order_id").map(str::to_owned),
                    source: Some(row.source.clone()).filter(|s| !s.is_empty()),
                    at,
                    body: Arc::from(row.body.as_str()),
                };
                (event, row.body.len())
            })
            .collect();
        let mut inner = self.lock();
        for (mut event, bytes) in entries {
            inner.next_event += 1;
            event.seq = inner.next_event;
            inner.event_bytes += bytes;
            inner.events.push_back(event);
            while inner.events.len() > EVENTS
                || (inner.event_bytes > EVENT_BYTES && inner.events.len() > 1)
            {
                if let Some(old) = inner.events.pop_front() {
                    inner.event_bytes -= old.body.len();
                }
            }
        }
    }

    /// Logs a delivery that never reached the function because its body is not a usable
    /// CloudEvent (written to the transport by something else than conveyor's publishers):
    /// the entry as an event, unless it is already in the log under `id`, and the
    /// dead-lettering as its one attempt, so the dashboard shows it with its reason.
    pub fn undeliverable(
        &self,
        function: &'static str,
        id: &str,
        topic: &str,
        body: &str,
        reason: &str,
    ) {
        let known = self.lock().events.iter().any(|e| e.id == id);
        if !known {
            self.published(&[peeked(id, topic, body)]);
        }
        self.not_run(function, id, 1, reason);
    }

    /// Logs a delivery the host dead-lettered without running the function (not a usable
    /// CloudEvent, or past its deliveries) as an attempt, with the reason.
    pub fn not_run(&self, function: &'static str, event_id: &str, attempt: u32, reason: &str) {
        self.attempted(Attempt {
            seq: 0,
            function,
            event_id: event_id.to_owned(),
            correlation_id: Some(event_id.to_owned()).filter(|id| !id.is_empty()),
            attempt,
            outcome: Outcome::DeadLettered,
            error: Some(reason.to_owned()),
            duration_ms: 0.0,
            at: now(),
            produced: Vec::new(),
            tick: false,
        });
    }

    /// The newest `limit` attempts and runs, newest first.
    #[must_use]
    pub fn latest_attempts(&self, limit: usize) -> Vec<Attempt> {
        self.lock()
            .attempts
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    /// Logs one attempt or run (its `seq` is assigned here).
    pub fn attempted(&self, mut attempt: Attempt) {
        let mut inner = self.lock();
        inner.next_attempt += 1;
        attempt.seq = inner.next_attempt;
        inner
            .totals
            .entry(attempt.function)
            .or_default()
            .add(&attempt);
        if attempt.tick {
            let runs = inner.runs.entry(attempt.function).or_default();
            if runs.len() == RUNS_PER_JOB {
                runs.pop_front();
            }
            runs.push_back(attempt.clone());
        }
        if inner.attempts.len() == ATTEMPTS {
            inner.attempts.pop_front();
        }
        inner.attempts.push_back(attempt);
    }

    /// The newest positions, for change detection.
    #[must_use]
    pub fn cursor(&self) -> Cursor {
        let inner = self.lock();
        Cursor {
            events: inner.next_event,
            attempts: inner.next_attempt,
        }
    }

    /// One function's totals, with latency percentiles.
    #[must_use]
    pub fn totals(&self, function: &str) -> Totals {
        self.lock()
            .totals
            .get(function)
            .map(Totals::with_percentiles)
            .unwrap_or_default()
    }

    /// A job's recent runs, newest first.
    #[must_use]
    pub fn runs(&self, job: &str) -> Vec<Attempt> {
        self.lock()
            .runs
            .get(job)
            .map(|r| r.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

/// The transports report what never reached a function here, so the dashboard shows it.
impl conveyor_transport::metrics::Journal for EventLog {
    fn not_run(&self, function: &'static str, event_id: &str, attempt: u32, reason: &str) {
        Self::not_run(self, function, event_id, attempt, reason);
    }

    fn undeliverable(
        &self,
        function: &'static str,
        entry_id: &str,
        topic: &str,
        body: &str,
        reason: &str,
    ) {
        Self::undeliverable(self, function, entry_id, topic, body, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(function: &'static str, id: &str, outcome: Outcome, ms: f64) -> Attempt {
        Attempt {
            seq: 0,
            function,
            event_id: id.to_owned(),
            correlation_id: None,
            attempt: 1,
            outcome,
            error: None,
            duration_ms: ms,
            at: now(),
            produced: Vec::new(),
            tick: matches!(outcome, Outcome::Ticked),
        }
    }

    #[test]
    fn buffers_stay_bounded_and_totals_keep_counting() {
        let log = EventLog::new();
        let body =
            r#"{"id":"x","causationid":"e-0","correlationid":"c-1","data":{"order_id":"ord-1"}}"#;
        for i in 0..(EVENTS + 5) {
            log.published(&[peeked(&format!("e{i}"), "t", body)]);
        }
        for i in 0..(ATTEMPTS + 5) {
            #[allow(clippy::cast_precision_loss)]
            log.attempted(attempt(
                "f",
                &format!("e{i}"),
                Outcome::Handled,
                (i % 100) as f64,
            ));
        }
        for i in 0..(RUNS_PER_JOB + 3) {
            log.attempted(attempt("job", &format!("job@{i}"), Outcome::Ticked, 1.0));
        }
        let inner = log.lock();
        assert_eq!(inner.events.len(), EVENTS);
        assert_eq!(inner.attempts.len(), ATTEMPTS);
        assert_eq!(inner.events[0].id, "e5");
        assert_eq!(inner.events[0].order_id.as_deref(), Some("ord-1"));
        assert_eq!(inner.events[0].correlation_id.as_deref(), Some("c-1"));
        assert_eq!(inner.events[0].causation_id.as_deref(), Some("e-0"));
        drop(inner);
        let totals = log.totals("f");
        assert_eq!(totals.handled, (ATTEMPTS + 5) as u64);
        assert!(
            totals.p50_ms.is_some_and(|p| (40.0..60.0).contains(&p)),
            "{totals:?}"
        );
        assert_eq!(log.runs("job").len(), RUNS_PER_JOB);
        assert_eq!(
            log.runs("job")[0].event_id,
            format!("job@{}", RUNS_PER_JOB + 2)
        );
        assert_eq!(log.cursor().events, (EVENTS + 5) as u64);
    }

    #[test]
    fn a_published_event_is_logged_with_what_its_row_carries() {
        let log = EventLog::new();
        log.published(&[OutboxRow {
            source: "order-worker".to_owned(),
            correlation_id: Some("flow-1".to_owned()),
            causation_id: Some("evt-0".to_owned()),
            data_fields: vec![("order_id".to_owned(), "ord-9".to_owned())],
            ..OutboxRow::bare("e1".to_owned(), "t".to_owned(), "not read".to_owned())
        }]);
        let inner = log.lock();
        let logged = &inner.events[0];
        assert_eq!(logged.correlation_id.as_deref(), Some("flow-1"));
        assert_eq!(logged.causation_id.as_deref(), Some("evt-0"));
        assert_eq!(logged.source.as_deref(), Some("order-worker"));
        assert_eq!(logged.order_id.as_deref(), Some("ord-9"));
    }

    #[test]
    fn big_bodies_are_bounded_by_bytes() {
        let log = EventLog::new();
        let body = "x".repeat(EVENT_BYTES / 4);
        for i in 0..10 {
            log.published(&[peeked(&format!("e{i}"), "t", &body)]);
        }
        let inner = log.lock();
        assert!(inner.events.len() <= 4);
        assert_eq!(inner.events.back().map(|e| e.id.as_str()), Some("e9"));
        // Not JSON: still logged, its own flow.
        assert_eq!(
            inner.events[0].correlation_id.as_deref(),
            Some(inner.events[0].id.as_str())
        );
    }
}
