//! One function's consume loop on the embedded broker: lease a batch, handle each message under
//! the function's concurrency limit, then ack, retry later with backoff and jitter, or
//! dead-letter. A message whose lease runs out (a crash, a hang) is delivered again; the inbox
//! makes the redelivery harmless. A consumer waiting idle is handed what is published for it in
//! memory, leased already ([`crate::handoff`]): the publish's insert is the only write on the
//! way to the handler.
//!
//! A function with an inbox gets up to [`TX_BATCH`] leased messages at once, in one
//! invocation: their inbox rows, effects and outgoing events commit in one transaction (a
//! SQLite commit is the costly part of a delivery); each message is then settled on its own.
//! Other functions get one message per task.
//!
//! Acknowledgements are group-committed: each handled message's sequence number goes to the
//! consumer's acker task, which deletes whatever has gathered while its previous statement ran
//! in one statement. Under load that is one write per batch instead of one per message; when
//! idle, a lone acknowledgement goes out at once. An acknowledgement still waiting when the
//! process dies leaves its message leased, so it is delivered again when the lease ends, as
//! after a crash mid-handler (the inbox answers it as a duplicate).

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::Clock;
use conveyor_runtime::cloudevent::DecodeError;
use conveyor_runtime::{
    CloudEvent, Deps, EventInput, Function, FunctionSpec, Handled, HandlerError, Idempotency, Input,
};
use conveyor_store::Store;
use conveyor_store::queue::Leased;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::broker::EmbeddedBroker;
use crate::handoff::{Handoff, lease_millis};
use conveyor_transport::metrics::{Outcome, Stats};
use conveyor_transport::policy::{self, Decision};

/// How a consumer polls.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerSettings {
    /// Most messages leased at once.
    pub batch: usize,
    /// Longest sleep between polls when no wake-up comes (delayed retries become visible).
    pub idle_poll: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            batch: 64,
            idle_poll: Duration::from_millis(250),
        }
    }
}

/// What the consumer did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Handled (or a duplicate) and acknowledged.
    Acked {
        /// It had been handled before.
        duplicate: bool,
    },
    /// Failed transiently; delivered again after the delay.
    RetryLater(Duration),
    /// Moved to the dead letters.
    DeadLettered,
}

/// Consumes until `shutdown` turns `true`; then stops leasing and waits for in-flight handlers,
/// so nothing acknowledged is lost and nothing unhandled is acknowledged.
pub async fn run(
    function: Arc<dyn Function>,
    deps: Deps,
    broker: Arc<EmbeddedBroker>,
    stats: Arc<Stats>,
    settings: ConsumerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let spec = function.spec();
    let permits = Arc::new(Semaphore::new(spec.concurrency.max(1) as usize));
    let waker = broker.waker(spec.name);
    let lease_ms = lease_millis(&spec);
    // Messages published while this consumer waits idle come over in memory, already leased.
    let handoff = broker.handoff(spec.name);
    let mut handed = handoff.and_then(Handoff::take);
    let (acks, acked) = mpsc::unbounded_channel();
    let acker = tokio::spawn(acker(deps.store.clone(), acked, waker.clone()));
    let mut in_flight = JoinSet::new();
    while !*shutdown.borrow() {
        while in_flight.try_join_next().is_some() {}
        // Each free permit runs one invocation of up to `together` messages.
        let free = permits
            .available_permits()
            .saturating_mul(together(&spec))
            .min(settings.batch);
        // Messages handed over while this loop was busy come first.
        let mut leased = Vec::new();
        if let Some(rx) = handed.as_mut() {
            while let Ok(m) = rx.try_recv() {
                leased.push(m);
            }
        }
        let wanted = free.saturating_sub(leased.len());
        if wanted > 0 {
            let now = broker.clock().now();
            match deps
                .store
                .queue_lease(spec.name, wanted as i64, now, now.add_millis(lease_ms))
                .await
            {
                Ok(more) => leased.extend(more),
                Err(e) => {
                    tracing::warn!(function = spec.name, error = %e, "lease failed; retrying");
                }
            }
        }
        if leased.is_empty() {
            // Idle with room to spare: a publish may hand its message over instead of waking.
            let idle = handoff.filter(|_| free > 0 && handed.is_some());
            if let Some(h) = idle {
                h.set_idle(true);
            }
            let notified = async {
                match &waker {
                    Some(w) => w.notified().await,
                    None => std::future::pending().await,
                }
            };
            let received = async {
                match handed.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = notified => {}
                Some(m) = received => leased.push(m),
                () = tokio::time::sleep(settings.idle_poll) => {}
                _ = shutdown.changed() => {}
            }
            if let Some(h) = idle {
                h.set_idle(false);
            }
            if leased.is_empty() {
                continue;
            }
        }
        let mut leased = leased.into_iter().peekable();
        while leased.peek().is_some() {
            let chunk: Vec<Leased> = leased.by_ref().take(together(&spec)).collect();
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            let (function, deps, stats) = (Arc::clone(&function), deps.clone(), Arc::clone(&stats));
            let queue_clock = Arc::clone(broker.clock());
            let acks = acks.clone();
            in_flight.spawn(async move {
                deliver_chunk(
                    function.as_ref(),
                    &deps,
                    queue_clock.as_ref(),
                    &chunk,
                    &stats,
                    &acks,
                )
                .await;
                drop(permit);
            });
        }
    }
    while in_flight.join_next().await.is_some() {}
    if let (Some(h), Some(rx)) = (handoff, handed) {
        h.give_back(rx, &deps.store, broker.clock().now()).await;
    }
    // Every handler is done: the acker writes what is left and ends with the channel.
    drop(acks);
    if let Err(e) = acker.await {
        tracing::error!(function = spec.name, error = %e, "the acker failed; unacknowledged messages will be delivered again");
    }
}

/// Most messages a function with an inbox handles in one transaction (one invocation of its
/// batch: the inbox rows, the effects and the outgoing events of all of them commit together;
/// one that fails is retried or dead-lettered on its own, see `conveyor_runtime::batch`).
pub const TX_BATCH: usize = 32;

/// How many leased messages go to the function at once: [`TX_BATCH`] for a function with an
/// inbox, else one (each in its own task, up to the function's concurrency).
fn together(spec: &FunctionSpec) -> usize {
    if spec.idempotency == Idempotency::Inbox {
        TX_BATCH
    } else {
        1
    }
}

/// Most sequence numbers one acknowledgement statement deletes.
const ACK_BATCH: usize = 512;

/// Deletes acknowledged messages: waits for one, takes every other one already waiting (up to
/// [`ACK_BATCH`]), deletes them in one statement, and wakes the consumer (a message it frees may
/// be the one an ordering key was waiting behind). Ends when every sender is gone and the
/// channel is empty.
async fn acker(store: Store, mut acked: mpsc::UnboundedReceiver<i64>, waker: Option<Arc<Notify>>) {
    let mut batch = Vec::with_capacity(ACK_BATCH);
    while acked.recv_many(&mut batch, ACK_BATCH).await > 0 {
        if let Err(e) = store.queue_ack(&batch).await {
            tracing::warn!(error = %e, messages = batch.len(), "ack failed; the messages will be delivered again and found in the inbox");
        }
        batch.clear();
        if let Some(w) = &waker {
            w.notify_one();
        }
    }
}

/// How a handled message is acknowledged.
#[derive(Clone, Copy)]
enum Ack<'a> {
    /// Deleted by this call.
    Direct,
    /// Handed to the consumer's [`acker`].
    Gathered(&'a mpsc::UnboundedSender<i64>),
}

/// Handles one leased message and records the outcome in the queue and in `stats`. The
/// handler reads `deps.clock`; retries and dead letters are timed by `queue_clock`, the broker's.
pub async fn handle(
    function: &dyn Function,
    deps: &Deps,
    queue_clock: &dyn Clock,
    message: &Leased,
    stats: &Stats,
) -> Disposition {
    deliver(function, deps, queue_clock, message, stats, Ack::Direct).await
}

async fn deliver(
    function: &dyn Function,
    deps: &Deps,
    queue_clock: &dyn Clock,
    message: &Leased,
    stats: &Stats,
    ack: Ack<'_>,
) -> Disposition {
    let decoded = CloudEvent::decode(message.body.as_bytes());
    let span = span_of(function.spec().name, message, &decoded);
    handle_in_span(function, deps, queue_clock, message, decoded, stats, ack)
        .instrument(span)
        .await
}

/// The span of one delivery.
fn span_of(
    function: &str,
    message: &Leased,
    decoded: &Result<CloudEvent, DecodeError>,
) -> tracing::Span {
    let correlation_id = decoded
        .as_ref()
        .ok()
        .and_then(|e| e.correlationid.as_deref())
        .unwrap_or_default();
    tracing::info_span!(
        "deliver",
        function,
        event_id = %message.event_id,
        correlation_id = %correlation_id,
        attempt = message.attempts
    )
}

/// Delivers `messages` with one invocation of the function (one transaction for a function
/// with an inbox); each is then acknowledged, retried or dead-lettered on its own. A message
/// that is no CloudEvent is settled alone, without reaching the function.
async fn deliver_chunk(
    function: &dyn Function,
    deps: &Deps,
    queue_clock: &dyn Clock,
    messages: &[Leased],
    stats: &Stats,
    acks: &mpsc::UnboundedSender<i64>,
) {
    if let [one] = messages {
        deliver(function, deps, queue_clock, one, stats, Ack::Gathered(acks)).await;
        return;
    }
    let spec = function.spec();
    let started = std::time::Instant::now();
    let deadline = deps
        .clock
        .now()
        .add_millis(i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX));
    let mut runnable: Vec<(&Leased, CloudEvent, tracing::Span)> =
        Vec::with_capacity(messages.len());
    for message in messages {
        let decoded = CloudEvent::decode(message.body.as_bytes());
        let span = span_of(spec.name, message, &decoded);
        match decoded {
            Ok(event) => runnable.push((message, event, span)),
            Err(e) => {
                handle_in_span(
                    function,
                    deps,
                    queue_clock,
                    message,
                    Err(e),
                    stats,
                    Ack::Gathered(acks),
                )
                .instrument(span)
                .await;
            }
        }
    }
    let inputs: Vec<EventInput<'_>> = runnable
        .iter()
        .map(|(message, event, _)| EventInput {
            event,
            attempt: message.attempts,
            deadline: Some(deadline),
        })
        .collect();
    let results = function.invoke_events(deps, &inputs, &|| false).await;
    for ((message, _, span), result) in runnable.iter().zip(results) {
        settle(
            &spec,
            deps,
            queue_clock,
            message,
            result,
            stats,
            Ack::Gathered(acks),
            started,
        )
        .instrument(span.clone())
        .await;
    }
}

async fn handle_in_span(
    function: &dyn Function,
    deps: &Deps,
    queue_clock: &dyn Clock,
    message: &Leased,
    decoded: Result<CloudEvent, DecodeError>,
    stats: &Stats,
    ack: Ack<'_>,
) -> Disposition {
    let spec = function.spec();
    let started = std::time::Instant::now();
    let now = deps.clock.now();
    let deadline = now.add_millis(i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX));
    if let Err(e) = &decoded {
        stats.journal().undeliverable(
            spec.name,
            &message.event_id,
            &message.topic,
            &message.body,
            &e.to_string(),
        );
    }
    let result = match decoded {
        Ok(event) => {
            function
                .invoke(
                    deps,
                    Input::Event {
                        event: &event,
                        attempt: message.attempts,
                        deadline: Some(deadline),
                    },
                )
                .await
        }
        Err(e) => Err(HandlerError::from(e)),
    };
    settle(
        &spec,
        deps,
        queue_clock,
        message,
        result,
        stats,
        ack,
        started,
    )
    .await
}

/// What follows a delivery's result: the policy's decision, recorded in `stats`, then the
/// message acknowledged, made visible again after the backoff, or dead-lettered.
#[allow(clippy::too_many_arguments)]
async fn settle(
    spec: &FunctionSpec,
    deps: &Deps,
    queue_clock: &dyn Clock,
    message: &Leased,
    result: Result<Handled, HandlerError>,
    stats: &Stats,
    ack: Ack<'_>,
    started: std::time::Instant,
) -> Disposition {
    let decision = policy::decide(spec, message.attempts, result.as_ref());
    stats.record(spec.name, Outcome::of(&decision), started.elapsed());
    match decision {
        Decision::Acknowledge { duplicate } => {
            match ack {
                Ack::Gathered(acks) if acks.send(message.seq).is_ok() => {}
                _ => {
                    if let Err(e) = deps.store.queue_ack(&[message.seq]).await {
                        tracing::warn!(error = %e, "ack failed; the message will be delivered again and found in the inbox");
                    }
                }
            }
            let produced = result.as_ref().map_or(0, |h| h.produced.len());
            tracing::info!(duplicate, produced, "handled");
            Disposition::Acked { duplicate }
        }
        Decision::RetryAfter(delay) => {
            let error = result
                .as_ref()
                .err()
                .map(HandlerError::chain)
                .unwrap_or_default();
            let at = queue_clock
                .now()
                .add_millis(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            if let Err(store) = deps.store.queue_retry(message.seq, at, &error).await {
                tracing::warn!(error = %store, "could not schedule the retry; the lease expiry will redeliver");
            }
            tracing::warn!(error, delay_ms = delay.as_millis(), "failed; will retry");
            Disposition::RetryLater(delay)
        }
        Decision::DeadLetter { reason, .. } => {
            match deps
                .store
                .queue_dead_letter(message, &reason, queue_clock.now())
                .await
            {
                Ok(Some(id)) => tracing::error!(error = reason, dead_letter = %id, "dead-lettered"),
                Ok(None) => {
                    tracing::warn!(
                        error = reason,
                        "not dead-lettered here: the lease ran out and a later delivery of the message decides"
                    )
                }
                Err(store) => {
                    tracing::error!(error = reason, store_error = %store, "could not dead-letter; the lease expiry will redeliver")
                }
            }
            Disposition::DeadLettered
        }
    }
}
