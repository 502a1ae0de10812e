//! The due-timer poller: takes the saga timers that fell due and stages one
//! [`TIMER_FIRED`](super::TIMER_FIRED) event each, in one transaction, then publishes them
//! (what publishing misses, the outbox relay publishes later).
//!
//! A timer's event id is fixed by its definition, saga and number, so a timer taken twice
//! (two pollers, a redelivery) is handled once by the orchestrator's inbox, and a timer that
//! the saga no longer waits for is ignored by the engine. The poll interval bounds how late a
//! timer fires: [`DEFAULT_EVERY`] keeps it well within a second on the emulator.

use std::time::Duration;

use super::{DueTimer, SagaRepository};
use conveyor_domain::Timestamp;
use conveyor_store::OutboxRow;
use tokio::sync::watch;

use super::{TIMER_FIRED, TimerFired};
use crate::cloudevent::CloudEvent;
use crate::context::Deps;
use crate::error::HandlerError;
use crate::invoke::publish_committed;

/// How often [`run`] polls by default.
pub const DEFAULT_EVERY: Duration = Duration::from_millis(200);

/// Timers taken per transaction.
pub const BATCH: usize = 200;

/// The event id of a fired timer: the same however often it is taken.
#[must_use]
pub fn event_id(timer: &DueTimer) -> String {
    format!(
        "saga-timer/{}/{}/{}",
        timer.definition, timer.saga, timer.seq
    )
}

/// The outbox row announcing `timer`, published by `source` (the orchestrator's app id).
///
/// # Errors
/// [`HandlerError::Drop`] if the payload cannot be serialised (never, for these types).
pub fn fired_event(
    timer: &DueTimer,
    source: &str,
    now: Timestamp,
) -> Result<OutboxRow, HandlerError> {
    let payload = TimerFired {
        definition: timer.definition.clone(),
        saga_id: timer.saga.clone(),
        seq: timer.seq,
        due: timer.due,
    };
    let mut event =
        CloudEvent::new(TIMER_FIRED, source, &payload, now).map_err(HandlerError::drop)?;
    event.id = event_id(timer);
    event.correlationid = Some(timer.saga.to_string());
    Ok(OutboxRow {
        ordering_key: Some(timer.saga.to_string()),
        ..event.into_outbox_row()
    })
}

/// Takes up to `limit` due timers and stages and publishes their events. Returns how many.
///
/// # Errors
/// [`HandlerError::Retry`] for database errors (nothing was taken).
pub async fn fire_due(deps: &Deps, source: &str, limit: usize) -> Result<usize, HandlerError> {
    let now = deps.clock.now();
    let mut tx = deps.store.begin().await?;
    let due = tx.take_due_saga_timers(now, limit).await?;
    if due.is_empty() {
        crate::invoke::rollback(tx).await;
        return Ok(0);
    }
    let rows = due
        .iter()
        .map(|t| fired_event(t, source, now))
        .collect::<Result<Vec<_>, _>>()?;
    tx.outbox_stage(&rows, now).await?;
    tx.commit().await?;
    for t in &due {
        let late = now.millis() - t.due.millis();
        tracing::debug!(saga = %t.saga, definition = %t.definition, seq = t.seq, late_ms = late, "saga timer fired");
    }
    publish_committed(deps, &rows).await;
    Ok(rows.len())
}

/// Polls [`fire_due`] every `every` until `shutdown` turns `true`; a full batch is followed
/// at once by the next.
pub async fn run(
    deps: Deps,
    source: &'static str,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let wait = match fire_due(&deps, source, BATCH).await {
            Ok(n) if n >= BATCH => Duration::ZERO,
            Ok(_) => every,
            Err(e) => {
                tracing::warn!(error = %e, "saga timers: poll failed; trying again");
                every
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}
