//! Handling one stream entry, the way the embedded consumer handles a leased message: decode
//! (a body that is not a CloudEvent goes to the dead letters at once), invoke, then acknowledge,
//! retry, or dead-letter.
//!
//! A transient failure is retried after an exponential backoff with jitter while the entry stays
//! pending; the retry claims it back with `XCLAIM <min-idle>`, which only succeeds if no other
//! instance claimed it meanwhile and counts the delivery in the pending list. When the count
//! reaches the function's `max_deliveries`, the entry is dead-lettered: `XADD` to the dead-letter
//! stream and `XACK`, in one transaction.

use std::time::{Duration, Instant};

use ::redis::Value;
use conveyor_domain::Timestamp;
use conveyor_runtime::{CloudEvent, HandlerError, Input};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::Instrument;

use super::consumer::{Shared, stopped};
use super::dlq::LetterFields;
use super::wire::{self, Entry};
use crate::stats::Outcome;

/// An entry delivered to this instance.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The entry.
    pub entry: Entry,
    /// Its delivery count (1 = first).
    pub attempt: u32,
    /// When this instance received it.
    pub delivered: Instant,
}

impl Delivery {
    /// Received now.
    #[must_use]
    pub fn new(entry: Entry, attempt: u32) -> Self {
        Self {
            entry,
            attempt,
            delivered: Instant::now(),
        }
    }
}

enum Step {
    Done,
    RetryAfter(Duration),
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Handles `delivery` until it is acknowledged, dead-lettered, taken over by another instance,
/// or abandoned (left pending) at shutdown.
pub(super) async fn deliver(
    shared: &Shared,
    mut delivery: Delivery,
    mut permit: Option<OwnedSemaphorePermit>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let slot = match permit.take() {
            Some(p) => p,
            None => tokio::select! {
                p = std::sync::Arc::clone(&shared.permits).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                () = stopped(&mut shutdown) => return,
            },
        };
        let waited = delivery.delivered.elapsed();
        if waited >= shared.processing_timeout / 2
            && !still_ours(shared, &delivery.entry, waited).await
        {
            tracing::info!(entry = %delivery.entry.id, "entry taken over by another instance while it waited here");
            return;
        }
        let delay = match step(shared, &delivery).await {
            Step::Done => return,
            Step::RetryAfter(delay) => delay,
        };
        drop(slot);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return,
        }
        match claim_again(shared, &delivery.entry, delivery.delivered.elapsed()).await {
            Some(entry) => delivery = Delivery::new(entry, delivery.attempt + 1),
            None => return,
        }
    }
}

/// `XCLAIM` with `JUSTID` and a minimum idle time of how long the entry has been here: succeeds
/// (and resets the idle time) only if nobody claimed it since.
async fn still_ours(shared: &Shared, entry: &Entry, held_for: Duration) -> bool {
    let reply: Result<Value, _> = ::redis::cmd("XCLAIM")
        .arg(&*entry.stream)
        .arg(shared.spec.name)
        .arg(&shared.settings.instance)
        .arg(millis(held_for) * 9 / 10)
        .arg(&entry.id)
        .arg("JUSTID")
        .query_async(&mut shared.broker.connection())
        .await;
    match reply {
        Ok(Value::Array(ids)) => !ids.is_empty(),
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(error = %e, "could not check ownership; handling anyway");
            true
        }
    }
}

/// Claims the entry back for its next delivery (counted in the pending list); `None` if another
/// instance took it or it no longer exists.
async fn claim_again(shared: &Shared, entry: &Entry, held_for: Duration) -> Option<Entry> {
    let reply: Result<Value, _> = ::redis::cmd("XCLAIM")
        .arg(&*entry.stream)
        .arg(shared.spec.name)
        .arg(&shared.settings.instance)
        .arg(millis(held_for) * 9 / 10)
        .arg(&entry.id)
        .query_async(&mut shared.broker.connection())
        .await;
    match reply {
        Ok(v) => wire::entries(&entry.stream, v).into_iter().next(),
        Err(e) => {
            tracing::warn!(error = %e, "could not claim the entry for its retry; the reclaim loop will");
            None
        }
    }
}

async fn step(shared: &Shared, delivery: &Delivery) -> Step {
    let decoded = match &delivery.entry.data {
        Some(body) => CloudEvent::decode(body).map_err(HandlerError::from),
        None => Err(HandlerError::drop("stream entry has no data field")),
    };
    let event_id = decoded.as_ref().map(|e| e.id.clone()).unwrap_or_default();
    let correlation_id = decoded
        .as_ref()
        .ok()
        .and_then(|e| e.correlationid.clone())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "deliver",
        function = shared.spec.name,
        event_id = %event_id,
        correlation_id = %correlation_id,
        attempt = delivery.attempt,
        entry = %delivery.entry.id
    );
    outcome(shared, delivery, decoded, &event_id)
        .instrument(span)
        .await
}

async fn outcome(
    shared: &Shared,
    delivery: &Delivery,
    decoded: Result<CloudEvent, HandlerError>,
    event_id: &str,
) -> Step {
    let (spec, deps, attempt) = (&shared.spec, &shared.deps, delivery.attempt);
    let started = Instant::now();
    let record = |outcome, error| {
        shared.stats.record(
            spec.name,
            event_id,
            attempt,
            outcome,
            error,
            started.elapsed(),
        );
    };
    let topic = shared
        .broker
        .topic_of(spec, &delivery.entry.stream)
        .map(str::to_owned)
        .or_else(|| delivery.entry.topic.clone())
        .or_else(|| decoded.as_ref().ok().map(|e| e.topic_name().to_owned()))
        .unwrap_or_default();
    if attempt > spec.retry.max_deliveries {
        let reason = format!(
            "gave up after {} deliveries: no delivery finished (the consumer crashed or stalled)",
            attempt - 1
        );
        dead_letter(shared, delivery, &topic, event_id, &reason, attempt - 1).await;
        record(Outcome::DeadLettered, Some(reason));
        return Step::Done;
    }
    if let Err(e) = &decoded {
        // Written by something else than conveyor: the dashboard shows it under its entry id.
        let body = String::from_utf8_lossy(delivery.entry.data.as_deref().unwrap_or_default());
        shared.stats.events().undeliverable(
            spec.name,
            &delivery.entry.id,
            &topic,
            &body,
            &e.chain(),
        );
    }
    let result = match decoded {
        Ok(event) => {
            let deadline = deps
                .clock
                .now()
                .add_millis(i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX));
            let input = Input::Event {
                event: &event,
                attempt,
                deadline: Some(deadline),
            };
            shared.function.invoke(deps, input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(handled) => {
            shared.acker.ack(&delivery.entry.stream, &delivery.entry.id);
            tracing::info!(
                duplicate = handled.duplicate,
                produced = handled.produced.len(),
                "handled"
            );
            record(
                if handled.duplicate {
                    Outcome::Duplicate
                } else {
                    Outcome::Handled
                },
                None,
            );
            Step::Done
        }
        Err(e @ HandlerError::Retry(_)) if attempt < spec.retry.max_deliveries => {
            let delay = jittered(spec.retry.backoff(attempt));
            tracing::warn!(error = %e, delay_ms = delay.as_millis(), "failed; will retry");
            record(Outcome::Retry, Some(e.chain()));
            Step::RetryAfter(delay)
        }
        Err(e) => {
            let reason = if e.is_retry() {
                format!("gave up after {attempt} deliveries: {}", e.chain())
            } else {
                e.chain()
            };
            dead_letter(shared, delivery, &topic, event_id, &reason, attempt).await;
            record(Outcome::DeadLettered, Some(reason));
            Step::Done
        }
    }
}

/// `XADD <function>.dlq ...` and `XACK`, in one transaction. On failure the entry stays pending
/// and is delivered (and dead-lettered) again later.
async fn dead_letter(
    shared: &Shared,
    delivery: &Delivery,
    topic: &str,
    event_id: &str,
    reason: &str,
    attempts: u32,
) {
    let entry = &delivery.entry;
    let letter = LetterFields {
        data: entry.data.as_deref().unwrap_or_default(),
        error: reason,
        function: shared.spec.name,
        attempts,
        first_delivered_at: Timestamp::from_millis(wire::id_millis(&entry.id).unwrap_or(0)),
        failed_at: shared.deps.clock.now(),
        topic,
        event_id,
        source_id: &entry.id,
    };
    let mut add = ::redis::cmd("XADD");
    add.arg(shared.settings.dlq_key(shared.spec.name))
        .arg("MAXLEN")
        .arg("~")
        .arg(shared.settings.maxlen)
        .arg("*");
    letter.write(&mut add);
    let mut pipe = ::redis::pipe();
    pipe.atomic()
        .add_command(add)
        .ignore()
        .cmd("XACK")
        .arg(&*entry.stream)
        .arg(shared.spec.name)
        .arg(&entry.id)
        .ignore();
    match pipe
        .query_async::<()>(&mut shared.broker.connection())
        .await
    {
        Ok(()) => tracing::error!(error = reason, "dead-lettered"),
        Err(e) => {
            tracing::error!(error = reason, redis_error = %e, "could not dead-letter; the entry stays pending and is delivered again")
        }
    }
}

/// `base` scaled by a random factor in [0.5, 1.5), so retries of many entries spread out.
fn jittered(base: Duration) -> Duration {
    base.mul_f64(0.5 + rand::random::<f64>())
}
