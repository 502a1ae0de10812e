//! The pipeline every host runs around a handler: decode, validate, claim the inbox row, run the
//! handler, stage its events in the outbox, commit, then publish. The handler's state change,
//! the inbox row and the outbox rows commit together, so a duplicate delivery finds the inbox
//! row and does nothing, and a crash after commit leaves the events for the relay.

use std::task::Poll;

use futures::FutureExt;

use conveyor_domain::Timestamp;
use conveyor_domain::events::Validate;
use conveyor_store::{OutboxRow, Tx};

use crate::cloudevent::CloudEvent;
use crate::context::{Context, Deps, Meta};
use crate::contract::{JobReport, ScheduleHandler, TopicHandler};
use crate::error::HandlerError;
use crate::spec::{FunctionSpec, Idempotency};

/// A successful invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// The event had been handled before; nothing ran.
    pub duplicate: bool,
    /// Ids of the events the invocation produced (committed to the outbox).
    pub produced: Vec<String>,
    /// How many of them reached the transport right away (the relay publishes the rest).
    pub published: usize,
    /// For a job: what the run did.
    pub report: Option<JobReport>,
}

/// Runs a topic handler on one decoded CloudEvent.
///
/// # Errors
/// [`HandlerError::Drop`] for a payload that does not decode or validate; otherwise what the
/// handler or the store returned. On error nothing was committed.
pub async fn handle_event<H: TopicHandler>(
    handler: &H,
    deps: &Deps,
    event: &CloudEvent,
    attempt: u32,
    deadline: Option<Timestamp>,
) -> Result<Handled, HandlerError> {
    let payload = decode::<H>(event)?;
    let meta = Meta::from_event(event, attempt, deadline);
    let now = deps.clock.now();
    if H::SPEC.idempotency == Idempotency::Stateless {
        let mut cx = Context::stateless(&meta, H::SPEC.service.app_id(), now);
        within_timeout(&H::SPEC, handler.handle(payload, &mut cx)).await?;
        let staged = cx.into_staged();
        if staged.is_empty() {
            return Ok(Handled::default());
        }
        // Boxed, as the transactional part below: the database's futures are large, and an
        // invocation that needs none of them should not build (and move) room for them.
        return Box::pin(publish_stateless(deps, staged, now, None)).await;
    }
    Box::pin(handle_in_tx(handler, deps, payload, &meta, now)).await
}

/// The part of [`handle_event`] for a function with an inbox: one transaction around the inbox
/// row, the handler's changes and its outbox rows.
async fn handle_in_tx<H: TopicHandler>(
    handler: &H,
    deps: &Deps,
    payload: H::Payload,
    meta: &Meta<'_>,
    now: Timestamp,
) -> Result<Handled, HandlerError> {
    let Some(mut tx) = begin_once(deps, &H::SPEC, meta, now).await? else {
        return Ok(Handled {
            duplicate: true,
            ..Handled::default()
        });
    };
    let mut cx = Context::new(meta, H::SPEC.service.app_id(), now, &mut tx);
    let result = within_timeout(&H::SPEC, handler.handle(payload, &mut cx)).await;
    let staged = cx.into_staged();
    match result {
        Ok(()) => commit_and_publish(deps, tx, staged, now, None).await,
        Err(e) => {
            rollback(tx).await;
            Err(e)
        }
    }
}

/// The event's payload, decoded and validated.
pub(crate) fn decode<H: TopicHandler>(event: &CloudEvent) -> Result<H::Payload, HandlerError> {
    let payload: H::Payload = event.payload()?;
    payload.validate()?;
    Ok(payload)
}

/// Runs one tick of a job.
///
/// # Errors
/// What the job or the store returned; nothing was committed.
pub async fn run_tick<H: ScheduleHandler>(
    handler: &H,
    deps: &Deps,
    meta: &Meta<'_>,
    scheduled: Timestamp,
) -> Result<Handled, HandlerError> {
    let now = deps.clock.now();
    if H::SPEC.idempotency == Idempotency::Stateless {
        let mut cx = Context::stateless(meta, H::SPEC.service.app_id(), now);
        let report = within_timeout(&H::SPEC, handler.run_once(scheduled, &mut cx)).await?;
        return publish_stateless(deps, cx.into_staged(), now, Some(report)).await;
    }
    let Some(mut tx) = begin_once(deps, &H::SPEC, meta, now).await? else {
        return Ok(Handled {
            duplicate: true,
            ..Handled::default()
        });
    };
    let mut cx = Context::new(meta, H::SPEC.service.app_id(), now, &mut tx);
    let result = within_timeout(&H::SPEC, handler.run_once(scheduled, &mut cx)).await;
    let staged = cx.into_staged();
    match result {
        Ok(report) => commit_and_publish(deps, tx, staged, now, Some(report)).await,
        Err(e) => {
            rollback(tx).await;
            Err(e)
        }
    }
}

/// Opens the transaction and claims the inbox row; `None` for a duplicate.
async fn begin_once(
    deps: &Deps,
    spec: &FunctionSpec,
    meta: &Meta<'_>,
    now: Timestamp,
) -> Result<Option<Tx>, HandlerError> {
    let mut tx = deps.store.begin().await?;
    if tx.inbox_claim(spec.name, &meta.event_id, now).await? {
        Ok(Some(tx))
    } else {
        rollback(tx).await;
        tracing::debug!(function = spec.name, event_id = %meta.event_id, "duplicate delivery; already handled");
        Ok(None)
    }
}

/// Runs a handler's future within the function's timeout; a timeout or a panic is a
/// [`HandlerError::Retry`] naming the function.
pub(crate) async fn within_timeout<T>(
    spec: &FunctionSpec,
    fut: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, HandlerError> {
    // A panic is a failure like any other: the caller rolls the transaction back and the host
    // decides (a retry), instead of an unwinding task leaving its delivery held by nobody.
    let mut fut = std::pin::pin!(std::panic::AssertUnwindSafe(fut).catch_unwind());
    let panicked = |payload: Box<dyn std::any::Any + Send>| {
        let what = crate::error::panic_text(payload.as_ref());
        HandlerError::retry(format!("{} panicked: {what}", spec.name))
    };
    // A handler that does not wait is done at its first poll, before any timer is set (one
    // that never waits cannot be interrupted anyway).
    if let Poll::Ready(result) = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
    {
        return result.unwrap_or_else(|payload| Err(panicked(payload)));
    }
    match tokio::time::timeout(spec.timeout, fut).await {
        Ok(result) => result.unwrap_or_else(|payload| Err(panicked(payload))),
        Err(_) => Err(HandlerError::retry(format!(
            "{} timed out after {:?}",
            spec.name, spec.timeout
        ))),
    }
}

pub(crate) async fn rollback(tx: Tx) {
    if let Err(e) = tx.rollback().await {
        tracing::warn!(error = %e, "rollback failed; the connection discards the transaction");
    }
}

async fn commit_and_publish(
    deps: &Deps,
    mut tx: Tx,
    staged: Vec<OutboxRow>,
    now: Timestamp,
    report: Option<JobReport>,
) -> Result<Handled, HandlerError> {
    tx.outbox_stage(&staged, now).await?;
    tx.commit().await?;
    let produced: Vec<String> = staged.iter().map(|r| r.id.clone()).collect();
    let published = publish_committed(deps, &staged)
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count();
    Ok(Handled {
        duplicate: false,
        produced,
        published,
        report,
    })
}

/// A stateless function's events: published now (the delivery is acknowledged only after),
/// or, where publishing is deferred to a relay, written to the outbox in a transaction of
/// their own.
async fn publish_stateless(
    deps: &Deps,
    staged: Vec<OutboxRow>,
    now: Timestamp,
    report: Option<JobReport>,
) -> Result<Handled, HandlerError> {
    let produced: Vec<String> = staged.iter().map(|r| r.id.clone()).collect();
    let published = if staged.is_empty() {
        0
    } else if deps.publisher.is_deferred() {
        let mut tx = deps.store.begin().await?;
        tx.outbox_stage(&staged, now).await?;
        tx.commit().await?;
        0
    } else {
        deps.publisher
            .publish(&staged)
            .await
            .map_err(|e| HandlerError::retry(format!("publishing the function's events: {e}")))?;
        staged.len()
    };
    Ok(Handled {
        duplicate: false,
        produced,
        published,
        report,
    })
}

/// Publishes committed rows and deletes the ones the transport accepted. Failures are logged,
/// not returned: the effect is committed and the relay will publish what is left. Returns, per
/// row, whether the transport accepted it.
pub async fn publish_committed(deps: &Deps, rows: &[OutboxRow]) -> Vec<bool> {
    if rows.is_empty() || deps.publisher.is_deferred() {
        return vec![false; rows.len()];
    }
    let accepted: Vec<bool> = match deps.publisher.publish(rows).await {
        Ok(()) => vec![true; rows.len()],
        Err(e) => {
            let failed = e.unpublished(rows);
            tracing::warn!(error = %e, left = failed.len(), "publish after commit failed; the relay will retry");
            rows.iter()
                .map(|r| !failed.contains(&r.id.as_str()))
                .collect()
        }
    };
    let ids: Vec<String> = rows
        .iter()
        .zip(&accepted)
        .filter(|(_, ok)| **ok)
        .map(|(r, _)| r.id.clone())
        .collect();
    if let Err(e) = deps.store.outbox_delete(&ids).await {
        // Harmless beyond a duplicate publish: consumers are idempotent by event id.
        tracing::warn!(error = %e, "could not delete published outbox rows; they will be published again");
    }
    accepted
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::spec::Service;

    const SPEC: FunctionSpec = FunctionSpec::on_topics("t", Service::Order, &["x"])
        .with_timeout(Duration::from_millis(50));

    #[tokio::test]
    async fn a_handler_is_timed_out_only_if_it_waits_too_long() {
        assert_eq!(
            within_timeout(&SPEC, async { Ok::<_, HandlerError>(1) })
                .await
                .unwrap(),
            1
        );
        let waited = within_timeout(&SPEC, async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, HandlerError>(2)
        })
        .await;
        assert_eq!(waited.unwrap(), 2);
        let stuck = within_timeout(&SPEC, async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, HandlerError>(3)
        })
        .await
        .unwrap_err();
        assert!(stuck.is_retry(), "{stuck}");
        assert!(stuck.chain().contains("timed out after 50ms"), "{stuck}");
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_retry_whether_it_panics_at_once_or_after_waiting() {
        let at_once = within_timeout(&SPEC, async {
            if SPEC.timeout > Duration::ZERO {
                panic!("boom at once");
            }
            Ok::<_, HandlerError>(())
        })
        .await
        .unwrap_err();
        assert!(at_once.is_retry(), "{at_once}");
        assert!(
            at_once.chain().contains("t panicked: boom at once"),
            "{at_once}"
        );
        let later = within_timeout(&SPEC, async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if SPEC.timeout > Duration::ZERO {
                panic!("{} later", "boom");
            }
            Ok::<_, HandlerError>(())
        })
        .await
        .unwrap_err();
        assert!(later.chain().contains("t panicked: boom later"), "{later}");
    }
}
