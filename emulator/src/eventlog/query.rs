//! Reading the log: event lists with filters, one event's detail (its CloudEvent, every attempt,
//! the events it caused) and the flow of one correlation id. Each reader indexes the attempts
//! once under the lock and copies out only what it returns.
//!
//! What caused an event is read from the attempt that produced it (which names the function)
//! and, when that attempt is not in the log (it left the buffer, or another process handled the
//! event), from the event's own `causationid` (which names the event only).

use std::collections::HashMap;

use conveyor_domain::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Attempt, EventLog, Inner, LoggedEvent};
use conveyor_transport::metrics::Outcome;

/// What to show of the event stream; every given field must match.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventFilter {
    /// Topic.
    pub topic: Option<String>,
    /// A function it was delivered to.
    pub function: Option<String>,
    /// The event's status (see [`EventSummary::status`]).
    pub status: Option<String>,
    /// `data.order_id`.
    pub order_id: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
}

/// One function's attempts at one event, summed up.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The function.
    pub function: &'static str,
    /// `handled`, `duplicate`, `retrying`, `dead_lettered`, or `pending` (not attempted yet).
    pub status: &'static str,
    /// Attempts made.
    pub attempts: u32,
    /// Handler time over all attempts, ms.
    pub duration_ms: f64,
    /// The last error.
    pub error: Option<String>,
    /// Events the successful attempt produced.
    pub produced: Vec<String>,
    /// Milliseconds from the flow's (or event's) start to the last attempt's end.
    pub offset_ms: Option<i64>,
}

/// One event in a list.
#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    /// The event.
    #[serde(flatten)]
    pub event: LoggedEvent,
    /// `handled`, `retrying`, `dead_lettered`, `pending`, or `unrouted` (nobody subscribes).
    pub status: &'static str,
    /// Per subscribed (or attempting) function.
    pub deliveries: Vec<Delivery>,
}

/// One event with everything known about it.
#[derive(Debug, Clone, Serialize)]
pub struct EventDetail {
    /// The event as listed (absent when it left the log but attempts remain).
    pub summary: Option<EventSummary>,
    /// The CloudEvent as published (a string when it is not JSON).
    pub cloudevent: Value,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// The events its handlers produced.
    pub caused: Vec<Caused>,
    /// The attempt that produced it.
    pub caused_by: Option<Cause>,
}

/// An event caused by another.
#[derive(Debug, Clone, Serialize)]
pub struct Caused {
    /// Its id.
    pub id: String,
    /// Its topic, when still in the log.
    pub topic: Option<String>,
    /// The function that produced it, when an attempt in the log names it.
    pub by: Option<&'static str>,
}

/// Who produced an event.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    /// The event (or tick) being handled.
    pub event_id: String,
    /// The function handling it, when an attempt in the log names it (an event's
    /// `causationid` names the event only).
    pub function: Option<&'static str>,
}

impl Cause {
    /// The cause an event names itself, by its `causationid`.
    fn named_by(event: &LoggedEvent) -> Option<Self> {
        event.causation_id.as_ref().map(|id| Self {
            event_id: id.clone(),
            function: None,
        })
    }
}

/// Every event of one correlation id, each with its handlers and its parent.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// The correlation id.
    pub correlation_id: String,
    /// The first event's publish time.
    pub started_at: Option<String>,
    /// The events, in publish order.
    pub events: Vec<FlowEvent>,
}

/// One event of a flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowEvent {
    /// Id.
    pub id: String,
    /// Topic.
    pub topic: String,
    /// Milliseconds from the flow's start to its publishing.
    pub offset_ms: i64,
    /// What produced it: the attempt, or the event its `causationid` names.
    pub parent: Option<Cause>,
    /// The functions it was (or is to be) delivered to.
    pub handlers: Vec<Delivery>,
}

type Index<'a> = HashMap<&'a str, Vec<&'a Attempt>>;

fn index(inner: &Inner) -> Index<'_> {
    let mut by_event: Index<'_> = HashMap::new();
    for a in inner.attempts.iter().filter(|a| !a.tick) {
        by_event.entry(a.event_id.as_str()).or_default().push(a);
    }
    by_event
}

fn delivery(function: &'static str, attempts: &[&Attempt], start: Option<Timestamp>) -> Delivery {
    let mine: Vec<&&Attempt> = attempts.iter().filter(|a| a.function == function).collect();
    let last = mine.last();
    let status = match last.map(|a| a.outcome) {
        None => "pending",
        Some(Outcome::Handled | Outcome::Ticked) => "handled",
        Some(Outcome::Duplicate) => "duplicate",
        Some(Outcome::Retry) => "retrying",
        Some(Outcome::DeadLettered | Outcome::TickFailed) => "dead_lettered",
    };
    Delivery {
        function,
        status,
        attempts: u32::try_from(mine.len()).unwrap_or(u32::MAX),
        duration_ms: mine.iter().map(|a| a.duration_ms).sum(),
        error: mine.iter().rev().find_map(|a| a.error.clone()),
        produced: mine
            .iter()
            .flat_map(|a| a.produced.iter().cloned())
            .collect(),
        offset_ms: last.zip(start).map(|(a, s)| a.at.millis() - s.millis()),
    }
}

fn deliveries(
    event: &LoggedEvent,
    index: &Index<'_>,
    subscribers: &dyn Fn(&str) -> Vec<&'static str>,
    start: Option<Timestamp>,
) -> Vec<Delivery> {
    let attempts: &[&Attempt] = index.get(event.id.as_str()).map_or(&[], Vec::as_slice);
    let mut functions = subscribers(&event.topic);
    for a in attempts {
        if !functions.contains(&a.function) {
            functions.push(a.function);
        }
    }
    functions
        .into_iter()
        .map(|f| delivery(f, attempts, start.or(Some(event.at))))
        .collect()
}

fn status(deliveries: &[Delivery]) -> &'static str {
    let any = |s: &str| deliveries.iter().any(|d| d.status == s);
    if deliveries.is_empty() {
        "unrouted"
    } else if any("dead_lettered") {
        "dead_lettered"
    } else if any("retrying") {
        "retrying"
    } else if any("pending") {
        "pending"
    } else {
        "handled"
    }
}

fn summary(
    event: &LoggedEvent,
    index: &Index<'_>,
    subscribers: &dyn Fn(&str) -> Vec<&'static str>,
) -> EventSummary {
    let deliveries = deliveries(event, index, subscribers, None);
    EventSummary {
        event: event.clone(),
        status: status(&deliveries),
        deliveries,
    }
}

impl EventLog {
    /// The newest events that pass `filter`, newest first, at most `limit`; `before` pages on
    /// (only events with a smaller `seq`).
    pub fn events(
        &self,
        filter: &EventFilter,
        limit: usize,
        before: Option<u64>,
        subscribers: &dyn Fn(&str) -> Vec<&'static str>,
    ) -> Vec<EventSummary> {
        let inner = self.lock();
        let index = index(&inner);
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| w.is_empty() || have == Some(w))
        };
        inner
            .events
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.seq < b))
            .filter(|e| same(&filter.topic, Some(&e.topic)))
            .filter(|e| same(&filter.order_id, e.order_id.as_deref()))
            .filter(|e| same(&filter.correlation_id, e.correlation_id.as_deref()))
            .map(|e| summary(e, &index, subscribers))
            .filter(|s| same(&filter.status, Some(s.status)))
            .filter(|s| {
                filter
                    .function
                    .as_deref()
                    .is_none_or(|f| f.is_empty() || s.deliveries.iter().any(|d| d.function == f))
            })
            .take(limit)
            .collect()
    }

    /// One event: its CloudEvent, attempts, the events it caused and its cause.
    pub fn detail(
        &self,
        id: &str,
        subscribers: &dyn Fn(&str) -> Vec<&'static str>,
    ) -> Option<EventDetail> {
        let inner = self.lock();
        let index = index(&inner);
        let event = inner.event(id);
        let attempts: Vec<Attempt> = index
            .get(id)
            .map(|a| a.iter().map(|a| (*a).clone()).collect())
            .unwrap_or_default();
        if event.is_none() && attempts.is_empty() {
            return None;
        }
        let mut caused: Vec<Caused> = attempts
            .iter()
            .flat_map(|a| a.produced.iter().map(move |p| (a.function, p)))
            .map(|(by, p)| Caused {
                id: p.clone(),
                topic: inner.event(p).map(|e| e.topic.clone()),
                by: Some(by),
            })
            .collect();
        // The events that name it as their cause, whose attempts the log does not hold.
        for e in inner
            .events
            .iter()
            .filter(|e| e.causation_id.as_deref() == Some(id))
        {
            if !caused.iter().any(|c| c.id == e.id) {
                caused.push(Caused {
                    id: e.id.clone(),
                    topic: Some(e.topic.clone()),
                    by: None,
                });
            }
        }
        let caused_by = inner
            .attempts
            .iter()
            .find(|a| a.produced.iter().any(|p| p == id))
            .map(|a| Cause {
                event_id: a.event_id.clone(),
                function: Some(a.function),
            })
            .or_else(|| event.and_then(Cause::named_by));
        Some(EventDetail {
            summary: event.map(|e| summary(e, &index, subscribers)),
            cloudevent: event.map_or(Value::Null, |e| {
                serde_json::from_str(&e.body).unwrap_or_else(|_| Value::String(e.body.to_string()))
            }),
            attempts,
            caused,
            caused_by,
        })
    }

    /// The flow of `correlation_id`: its events in publish order, each with its handlers.
    pub fn flow(
        &self,
        correlation_id: &str,
        subscribers: &dyn Fn(&str) -> Vec<&'static str>,
    ) -> Flow {
        let inner = self.lock();
        let index = index(&inner);
        let events: Vec<&LoggedEvent> = inner
            .events
            .iter()
            .filter(|e| e.correlation_id.as_deref() == Some(correlation_id))
            .collect();
        let start = events.first().map(|e| e.at);
        let mut parents: HashMap<&str, Cause> = HashMap::new();
        for e in &events {
            for a in index.get(e.id.as_str()).into_iter().flatten() {
                for p in &a.produced {
                    parents.insert(
                        p.as_str(),
                        Cause {
                            event_id: a.event_id.clone(),
                            function: Some(a.function),
                        },
                    );
                }
            }
        }
        Flow {
            correlation_id: correlation_id.to_owned(),
            started_at: start.map(Timestamp::to_rfc3339),
            events: events
                .iter()
                .map(|e| FlowEvent {
                    id: e.id.clone(),
                    topic: e.topic.clone(),
                    offset_ms: start.map_or(0, |s| e.at.millis() - s.millis()),
                    parent: parents
                        .get(e.id.as_str())
                        .cloned()
                        .or_else(|| Cause::named_by(e)),
                    handlers: deliveries(e, &index, subscribers, start),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
