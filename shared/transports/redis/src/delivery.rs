//! Handling one stream entry, the way the embedded consumer handles a leased message: decode
//! (a body that is not a CloudEvent goes to the dead letters at once), invoke, then acknowledge,
//! retry, or dead-letter.
//!
//! A transient failure is retried after an exponential backoff with jitter while the entry stays
//! pending (the heartbeat keeps it fresh); the retry claims it back with an `XCLAIM` that only
//! succeeds while this instance still owns it, and counts the delivery in the pending list. When the count
//! reaches the function's `max_deliveries`, the entry is dead-lettered: `XADD` to the dead-letter
//! stream and `XACK`, in one transaction.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use ::redis::Value;
use conveyor_domain::Timestamp;
use conveyor_runtime::{CloudEvent, EventInput, HandlerError, Input};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::Instrument;

use super::dlq::{LetterFields, Owned, dead_letter_owned};
use super::owned::{self, Owner};
use super::received::Delivery;
use super::shared::{Shared, stopped};
use super::wire::{self, Entry};
use conveyor_transport::metrics::Outcome;
use conveyor_transport::policy::{self, Decision};

/// What is left to do with an entry after a delivery.
pub(super) enum Step {
    /// Nothing: acknowledged, dead-lettered, taken over, or left pending at shutdown.
    Done,
    /// Deliver it again after this delay.
    RetryAfter(Duration),
}

/// Handles `delivery` until it is acknowledged, dead-lettered, taken over by another instance,
/// or abandoned (left pending) at shutdown.
pub(super) async fn deliver(
    shared: &Shared,
    delivery: Delivery,
    permit: Option<OwnedSemaphorePermit>,
    mut shutdown: watch::Receiver<bool>,
) {
    let step = step_one(shared, &delivery, permit, &mut shutdown).await;
    // Retries (and the rarer paths below: the ownership check, dead-lettering) are boxed, so
    // the future of a delivery that is handled at once stays small to build and move.
    if let Step::RetryAfter(_) = step {
        Box::pin(finish(shared, delivery, step, shutdown)).await;
    }
}

/// A concurrency slot: `permit`, or a new one; `None` at shutdown.
async fn slot(
    shared: &Shared,
    permit: Option<OwnedSemaphorePermit>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<OwnedSemaphorePermit> {
    if permit.is_some() {
        return permit;
    }
    if *shutdown.borrow() {
        return None;
    }
    // A free slot is taken without building the wait.
    if let Ok(p) = std::sync::Arc::clone(&shared.permits).try_acquire_owned() {
        return Some(p);
    }
    tokio::select! {
        p = std::sync::Arc::clone(&shared.permits).acquire_owned() => p.ok(),
        () = stopped(shutdown) => None,
    }
}

/// Whether the entry is still this instance's at `now`: after waiting here for half the
/// processing timeout, another instance may have claimed it (if this one stalled long enough
/// for its heartbeat to lapse).
async fn ours(shared: &Shared, delivery: &Delivery, now: Instant) -> bool {
    let waited = now.saturating_duration_since(delivery.delivered);
    let taken = waited >= shared.processing_timeout / 2
        && !Box::pin(still_ours(shared, &delivery.entry)).await;
    if taken {
        tracing::info!(entry = %delivery.entry.id, "entry taken over by another instance while it waited here");
    }
    !taken
}

/// Takes a concurrency slot (`permit`, or a new one), then delivers the entry once.
async fn step_one(
    shared: &Shared,
    delivery: &Delivery,
    permit: Option<OwnedSemaphorePermit>,
    shutdown: &mut watch::Receiver<bool>,
) -> Step {
    let Some(slot) = slot(shared, permit, shutdown).await else {
        return Step::Done;
    };
    // One reading of the clock for the ownership check and the handler's start.
    let now = Instant::now();
    let stepped = if ours(shared, delivery, now).await {
        step(shared, delivery, now).await
    } else {
        Step::Done
    };
    drop(slot);
    stepped
}

/// Takes a concurrency slot (`permit`, or a new one), then delivers every entry of `batch`
/// once, in one invocation of the function (a function with an inbox handles them in one
/// transaction). Returns each entry with what is left to do, in order.
pub(super) async fn steps(
    shared: &Shared,
    batch: Vec<Delivery>,
    permit: Option<OwnedSemaphorePermit>,
    shutdown: &mut watch::Receiver<bool>,
) -> Vec<(Delivery, Step)> {
    let Some(slot) = slot(shared, permit, shutdown).await else {
        return batch.into_iter().map(|d| (d, Step::Done)).collect();
    };
    let mut mine = Vec::with_capacity(batch.len());
    let now = Instant::now();
    for delivery in &batch {
        mine.push(ours(shared, delivery, now).await);
    }
    let runnable: Vec<&Delivery> = batch
        .iter()
        .zip(&mine)
        .filter_map(|(d, ours)| ours.then_some(d))
        .collect();
    let mut stepped = match runnable.as_slice() {
        [] => Vec::new(),
        [one] => vec![step(shared, one, now).await],
        many => step_many(shared, many, shutdown).await,
    }
    .into_iter();
    drop(slot);
    batch
        .into_iter()
        .zip(mine)
        .map(|(d, ours)| {
            let step = if ours { stepped.next() } else { None };
            (d, step.unwrap_or(Step::Done))
        })
        .collect()
}

/// After a delivery: the entry's retries, each after its delay, until nothing is left to do.
pub(super) async fn finish(
    shared: &Shared,
    mut delivery: Delivery,
    mut step: Step,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Step::RetryAfter(delay) = step {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return,
        }
        let Some(entry) = claim_again(shared, &delivery.entry).await else {
            return;
        };
        delivery = delivery.retried(entry);
        step = step_one(shared, &delivery, None, &mut shutdown).await;
    }
}

/// Whether this instance still owns the entry in the pending list (resetting its idle time if
/// so): nobody claimed it while it waited here.
async fn still_ours(shared: &Shared, entry: &Entry) -> bool {
    match owned::claim(
        &mut shared.broker.connection(),
        owner(shared, entry),
        &entry.id,
        true,
    )
    .await
    {
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
async fn claim_again(shared: &Shared, entry: &Entry) -> Option<Entry> {
    match owned::claim(
        &mut shared.broker.connection(),
        owner(shared, entry),
        &entry.id,
        false,
    )
    .await
    {
        Ok(v) => wire::entries(&entry.stream, v).into_iter().next(),
        Err(e) => {
            tracing::warn!(error = %e, "could not claim the entry for its retry; the reclaim loop will");
            None
        }
    }
}

fn owner<'a>(shared: &'a Shared, entry: &'a Entry) -> Owner<'a> {
    Owner {
        stream: &entry.stream,
        group: shared.spec.name,
        consumer: &shared.settings.instance,
    }
}

/// An entry read for a delivery: its CloudEvent (the delivery's own, decoded once) and what
/// every log line and record names.
struct Prepared<'d> {
    /// The envelope, lent to the function; or why there is none.
    event: Result<&'d CloudEvent, HandlerError>,
    topic: Cow<'static, str>,
    span: tracing::Span,
}

impl<'d> Prepared<'d> {
    /// `delivery` to `function`, read from the stream of `topic` (`None` for the inbox: the
    /// entry's `topic` field, else the event's, names it).
    fn new(function: &'static str, topic: Option<&'static str>, delivery: &'d Delivery) -> Self {
        let event = delivery
            .event()
            .map_err(|e| HandlerError::drop(e.to_string()));
        let event_id = event.as_ref().map_or("", |e| e.id.as_str());
        let correlation_id = event
            .as_ref()
            .ok()
            .and_then(|e| e.correlationid.as_deref())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "deliver",
            function,
            event_id = %event_id,
            correlation_id = %correlation_id,
            attempt = delivery.attempt,
            entry = %delivery.entry.id
        );
        let topic = match topic {
            Some(topic) => Cow::Borrowed(topic),
            None => Cow::Owned(
                delivery
                    .entry
                    .topic
                    .clone()
                    .or_else(|| event.as_ref().ok().map(|e| e.topic_name().to_owned()))
                    .unwrap_or_default(),
            ),
        };
        Self { event, topic, span }
    }

    /// The CloudEvent id; empty for a body that is not a CloudEvent.
    fn event_id(&self) -> &str {
        self.event.as_ref().map_or("", |e| e.id.as_str())
    }
}

fn prepare<'d>(shared: &Shared, delivery: &'d Delivery) -> Prepared<'d> {
    let topic = shared.broker.topic_of(&shared.spec, &delivery.entry.stream);
    Prepared::new(shared.spec.name, topic, delivery)
}

/// Delivers one entry; `started` is when its handling began.
async fn step(shared: &Shared, delivery: &Delivery, started: Instant) -> Step {
    let mut prepared = prepare(shared, delivery);
    let span = prepared.span.clone();
    let work = async {
        if let Err(step) = runnable(shared, delivery, &mut prepared, started).await {
            return step;
        }
        let Ok(event) = prepared.event else {
            return Step::Done;
        };
        let input = Input::Event {
            event,
            attempt: delivery.attempt,
            deadline: Some(deadline(shared)),
        };
        let result = shared.function.invoke(&shared.deps, input).await;
        settle(shared, delivery, &prepared, result, started).await
    };
    // Entering a span nobody listens to still costs a check per poll.
    if span.is_disabled() {
        work.await
    } else {
        work.instrument(span).await
    }
}

/// Delivers several entries with one invocation of the function.
async fn step_many(
    shared: &Shared,
    deliveries: &[&Delivery],
    shutdown: &watch::Receiver<bool>,
) -> Vec<Step> {
    let started = Instant::now();
    let mut steps: Vec<Option<Step>> = deliveries.iter().map(|_| None).collect();
    let mut prepared: Vec<Prepared<'_>> = deliveries.iter().map(|d| prepare(shared, d)).collect();
    for (i, (delivery, prep)) in deliveries.iter().zip(&mut prepared).enumerate() {
        let span = prep.span.clone();
        if let Err(step) = runnable(shared, delivery, prep, started)
            .instrument(span)
            .await
        {
            steps[i] = Some(step);
        }
    }
    let deadline = Some(deadline(shared));
    let (events, inputs): (Vec<usize>, Vec<EventInput<'_>>) = prepared
        .iter()
        .enumerate()
        .filter(|(i, _)| steps[*i].is_none())
        .filter_map(|(i, prep)| {
            let event = *prep.event.as_ref().ok()?;
            let input = EventInput {
                event,
                attempt: deliveries[i].attempt,
                deadline,
            };
            Some((i, input))
        })
        .unzip();
    let stop = || *shutdown.borrow();
    let results = shared
        .function
        .invoke_events(&shared.deps, &inputs, &stop)
        .await;
    for (i, result) in events.iter().zip(results) {
        let prep = &prepared[*i];
        let step = settle(shared, deliveries[*i], prep, result, started)
            .instrument(prep.span.clone())
            .await;
        steps[*i] = Some(step);
    }
    steps.into_iter().map(|s| s.unwrap_or(Step::Done)).collect()
}

fn deadline(shared: &Shared) -> Timestamp {
    shared
        .deps
        .clock
        .now()
        .add_millis(i64::try_from(shared.spec.timeout.as_millis()).unwrap_or(i64::MAX))
}

/// Whether the entry's CloudEvent can go to the function; for an entry past its deliveries or
/// not a CloudEvent, the step after dead-lettering it.
async fn runnable(
    shared: &Shared,
    delivery: &Delivery,
    prepared: &mut Prepared<'_>,
    started: Instant,
) -> Result<(), Step> {
    let spec = &shared.spec;
    let attempt = delivery.attempt;
    if let Some(Decision::DeadLetter { reason, attempts }) = policy::overdue(spec, attempt) {
        // The function never saw this delivery: the log gets its attempt from here.
        shared
            .stats
            .journal()
            .not_run(spec.name, prepared.event_id(), attempt, &reason);
        Box::pin(give_up(
            shared, delivery, prepared, reason, attempts, started,
        ))
        .await;
        return Err(Step::Done);
    }
    let e = match &mut prepared.event {
        Ok(_) => return Ok(()),
        Err(e) => std::mem::replace(e, HandlerError::drop("the entry's error was taken")),
    };
    // Written by something else than conveyor: the dashboard shows it under its entry id.
    let body = String::from_utf8_lossy(delivery.entry.data.as_deref().unwrap_or_default());
    shared.stats.journal().undeliverable(
        spec.name,
        &delivery.entry.id,
        &prepared.topic,
        &body,
        &e.chain(),
    );
    Err(Box::pin(settle(shared, delivery, prepared, Err(e), started)).await)
}

/// Acknowledges, schedules a retry, or dead-letters the entry after the function's `result`.
async fn settle(
    shared: &Shared,
    delivery: &Delivery,
    prepared: &Prepared<'_>,
    result: Result<conveyor_runtime::Handled, HandlerError>,
    started: Instant,
) -> Step {
    let (spec, attempt) = (&shared.spec, delivery.attempt);
    let decision = policy::decide(spec, attempt, result.as_ref());
    let counted = Outcome::of(&decision);
    match decision {
        Decision::Acknowledge { duplicate } => {
            shared.acker.ack(&delivery.entry.stream, &delivery.entry.id);
            let produced = result.as_ref().map_or(0, |h| h.produced.len());
            tracing::info!(duplicate, produced, "handled");
            shared.stats.record(spec.name, counted, started.elapsed());
            Step::Done
        }
        Decision::RetryAfter(delay) => {
            let error = result
                .as_ref()
                .err()
                .map(HandlerError::chain)
                .unwrap_or_default();
            tracing::warn!(error, delay_ms = delay.as_millis(), "failed; will retry");
            shared.stats.record(spec.name, counted, started.elapsed());
            Step::RetryAfter(delay)
        }
        Decision::DeadLetter { reason, attempts } => {
            Box::pin(give_up(
                shared, delivery, prepared, reason, attempts, started,
            ))
            .await;
            Step::Done
        }
    }
}

/// Dead-letters the entry after `attempts` deliveries and records the outcome.
async fn give_up(
    shared: &Shared,
    delivery: &Delivery,
    prepared: &Prepared<'_>,
    reason: String,
    attempts: u32,
    started: Instant,
) {
    let (topic, event_id) = (&prepared.topic, prepared.event_id());
    dead_letter(shared, delivery, topic, event_id, &reason, attempts).await;
    shared
        .stats
        .record(shared.spec.name, Outcome::DeadLettered, started.elapsed());
}

/// `XADD <function>.dlq ...` and `XACK` in one script, only while this instance still owns the
/// entry ([`dead_letter_owned`]): an instance that claimed it meanwhile dead-letters it itself,
/// so each delivery gives one dead letter. On failure the entry stays pending and is delivered
/// (and dead-lettered) again later.
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
    let dlq = shared.settings.dlq_key(shared.spec.name);
    let owned = Owned {
        stream: &entry.stream,
        group: shared.spec.name,
        consumer: &shared.settings.instance,
        id: &entry.id,
        dlq: &dlq,
        maxlen: shared.settings.maxlen,
    };
    match dead_letter_owned(&mut shared.broker.connection(), owned, &letter).await {
        Ok(true) => tracing::error!(error = reason, "dead-lettered"),
        Ok(false) => tracing::warn!(
            error = reason,
            "not dead-lettered here: another instance has claimed the entry (or it was acknowledged), and it decides"
        ),
        Err(e) => {
            tracing::error!(error = reason, redis_error = %e, "could not dead-letter; the entry stays pending and is delivered again")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const EVENT: &[u8] =
        br#"{"data":{"order_id":"o-1"},"id":"e-1","source":"s","specversion":"1.0","type":"t"}"#;

    fn entry(data: Option<&[u8]>) -> Entry {
        Entry {
            stream: Arc::from("orders"),
            id: "1-0".to_owned(),
            data: data.map(<[u8]>::to_vec),
            topic: None,
        }
    }

    #[test]
    fn an_entry_is_decoded_once_for_its_key_its_run_and_its_retries() {
        let mut delivery = Delivery::new(entry(Some(EVENT)), 1);
        assert_eq!(delivery.ordering_key("order_id").as_deref(), Some("o-1"));
        // From here the entry's bytes are no CloudEvent: were it decoded again, it would not run.
        delivery.entry.data = Some(b"not json".to_vec());
        let prepared = Prepared::new("f", Some("t"), &delivery);
        assert_eq!(prepared.event_id(), "e-1");
        assert_eq!(prepared.topic, "t");
        drop(prepared);
        let retried = delivery.retried(entry(Some(b"not json")));
        assert_eq!(retried.attempt, 2);
        assert_eq!(retried.event().map(|e| e.id.as_str()).ok(), Some("e-1"));
    }

    #[test]
    fn an_entry_without_a_cloudevent_says_why_and_names_its_topic_from_the_entry() {
        let mut no_data = entry(None);
        no_data.topic = Some("orders.redriven".to_owned());
        let delivery = Delivery::new(no_data, 1);
        let prepared = Prepared::new("f", None, &delivery);
        assert_eq!(prepared.event_id(), "");
        assert_eq!(prepared.topic, "orders.redriven");
        let error = prepared.event.as_ref().err().map(HandlerError::chain);
        assert_eq!(error.as_deref(), Some("stream entry has no data field"));
        let poison = Delivery::new(entry(Some(b"{")), 1);
        let prepared = Prepared::new("f", None, &poison);
        let error = prepared.event.as_ref().err().map(HandlerError::chain);
        assert!(error.is_some_and(|e| e.starts_with("body is not a CloudEvent")));
        assert!(
            !prepared
                .event
                .as_ref()
                .err()
                .is_some_and(HandlerError::is_retry)
        );
    }
}
