//! Several events of one function in one transaction. A host hands over the entries of one
//! read this way: the inbox rows are claimed by one statement, the handlers run one after the
//! other on the same transaction, their outbox rows are staged by one statement, then one
//! commit and one publish. Per event the database sees only the handler's own statements.
//!
//! Each event's effects still commit together with its inbox row and its outbox rows (the whole
//! batch commits at once). If a handler fails, the transaction is rolled back, that event's
//! result is its handler's failure, and every other event of the batch is handled again on its
//! own ([`invoke::handle_event`]): a failing handler runs once per delivery, as it would
//! alone, and a failing event costs the others a second pass but never changes their outcome.
//! If the database fails (claiming, staging, committing), every event is handled again on its
//! own.
//!
//! A host that is stopping says so through `stop`: the batch then runs no further handler,
//! commits what it handled, releases the inbox rows of the rest and returns them as retryable
//! failures, which the host leaves unacknowledged for the next instance.

use std::ops::Range;

use conveyor_domain::Timestamp;
use conveyor_store::{OutboxRow, Tx};
use tracing::Instrument;

use crate::cloudevent::CloudEvent;
use crate::context::{Context, Deps, Meta};
use crate::contract::TopicHandler;
use crate::error::HandlerError;
use crate::invoke::{self, Handled};
use crate::spec::Idempotency;

/// One event of a batch, as a host received it.
#[derive(Debug, Clone, Copy)]
pub struct EventInput<'a> {
    /// The envelope.
    pub event: &'a CloudEvent,
    /// Delivery number (1 = first).
    pub attempt: u32,
    /// When the host gives up.
    pub deadline: Option<Timestamp>,
}

impl<'a> EventInput<'a> {
    /// `event`'s first delivery, with no deadline (tests, and hosts that set none).
    #[must_use]
    pub fn first(event: &'a CloudEvent) -> Self {
        Self {
            event,
            attempt: 1,
            deadline: None,
        }
    }
}

/// Whether the host is stopping: no further handler should start.
pub type Stop<'a> = &'a (dyn Fn() -> bool + Sync);

/// The result of an event the batch did not run because the host is stopping.
pub(crate) fn not_run() -> HandlerError {
    HandlerError::retry("not run: the host is stopping")
}

/// Handles `events` in one transaction where the function has an inbox (else one by one), and
/// returns one result per event, in order.
pub async fn handle_events<H: TopicHandler>(
    handler: &H,
    deps: &Deps,
    events: &[EventInput<'_>],
    stop: Stop<'_>,
) -> Vec<Result<Handled, HandlerError>> {
    if events.len() < 2 || H::SPEC.idempotency == Idempotency::Stateless {
        return one_by_one(handler, deps, events, stop).await;
    }
    let mut results: Vec<Option<Result<Handled, HandlerError>>> =
        events.iter().map(|_| None).collect();
    let mut work = Vec::with_capacity(events.len());
    for (i, input) in events.iter().enumerate() {
        match invoke::decode::<H>(input.event) {
            Ok(payload) => work.push((
                i,
                payload,
                Meta::from_event(input.event, input.attempt, input.deadline),
            )),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    let indexes: Vec<usize> = work.iter().map(|(i, ..)| *i).collect();
    match together(handler, deps, work, stop).await {
        Ok(handled) => {
            for (i, h) in indexes.iter().zip(handled) {
                results[*i] = Some(h);
            }
        }
        Err(failed) => {
            tracing::info!(
                function = H::SPEC.name,
                events = indexes.len(),
                error = %failed.error.chain(),
                "an event of the batch failed; handling the others one by one"
            );
            if let Some(i) = failed.at {
                results[i] = Some(Err(failed.error));
            }
            for i in indexes.into_iter().filter(|i| Some(*i) != failed.at) {
                let input = &events[i];
                results[i] = Some(if stop() {
                    Err(not_run())
                } else {
                    invoke::handle_event(handler, deps, input.event, input.attempt, input.deadline)
                        .await
                });
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(HandlerError::retry("the event was not handled"))))
        .collect()
}

async fn one_by_one<H: TopicHandler>(
    handler: &H,
    deps: &Deps,
    events: &[EventInput<'_>],
    stop: Stop<'_>,
) -> Vec<Result<Handled, HandlerError>> {
    let mut out = Vec::with_capacity(events.len());
    for (i, input) in events.iter().enumerate() {
        out.push(if i > 0 && stop() {
            Err(not_run())
        } else {
            invoke::handle_event(handler, deps, input.event, input.attempt, input.deadline).await
        });
    }
    out
}

/// Why a batch did not commit.
struct Failed {
    /// The event (its index in the host's batch) whose handler failed; `None` when the database
    /// failed.
    at: Option<usize>,
    /// The failure.
    error: HandlerError,
}

impl Failed {
    fn database(error: impl Into<HandlerError>) -> Self {
        Self {
            at: None,
            error: error.into(),
        }
    }
}

/// What became of one event of a committed batch.
enum Produced {
    /// Handled before.
    Duplicate,
    /// Handled now: its range of the batch's outbox rows.
    Rows(Range<usize>),
    /// Not run (the host is stopping); its inbox row was released.
    NotRun,
}

async fn together<H: TopicHandler>(
    handler: &H,
    deps: &Deps,
    work: Vec<(usize, H::Payload, Meta<'_>)>,
    stop: Stop<'_>,
) -> Result<Vec<Result<Handled, HandlerError>>, Failed> {
    let now = deps.clock.now();
    let mut tx = deps.store.begin().await.map_err(Failed::database)?;
    let (produced, staged) = match run_all(handler, &mut tx, work, now, stop).await {
        Ok(done) => done,
        Err(e) => {
            invoke::rollback(tx).await;
            return Err(e);
        }
    };
    crate::fault::batch_commit(crate::fault::BatchCommit::Before).await;
    tx.commit().await.map_err(Failed::database)?;
    crate::fault::batch_commit(crate::fault::BatchCommit::After).await;
    let accepted = invoke::publish_committed(deps, &staged).await;
    Ok(produced
        .into_iter()
        .map(|produced| match produced {
            Produced::Duplicate => Ok(Handled {
                duplicate: true,
                ..Handled::default()
            }),
            Produced::Rows(range) => Ok(Handled {
                duplicate: false,
                produced: staged[range.clone()].iter().map(|r| r.id.clone()).collect(),
                published: accepted[range].iter().filter(|ok| **ok).count(),
                report: None,
            }),
            Produced::NotRun => Err(not_run()),
        })
        .collect())
}

/// Claims the inbox rows, runs each claimed event's handler and stages every outbox row.
async fn run_all<H: TopicHandler>(
    handler: &H,
    tx: &mut Tx,
    work: Vec<(usize, H::Payload, Meta<'_>)>,
    now: Timestamp,
    stop: Stop<'_>,
) -> Result<(Vec<Produced>, Vec<OutboxRow>), Failed> {
    let claimed = {
        let ids: Vec<&str> = work.iter().map(|(_, _, m)| &*m.event_id).collect();
        tx.inbox_claim_many(H::SPEC.name, &ids, now)
            .await
            .map_err(Failed::database)?
    };
    let mut produced = Vec::with_capacity(work.len());
    let mut staged = Vec::new();
    let mut unrun = Vec::new();
    for ((at, payload, meta), claimed) in work.into_iter().zip(claimed) {
        if !claimed {
            tracing::debug!(function = H::SPEC.name, event_id = %meta.event_id, "duplicate delivery; already handled");
            produced.push(Produced::Duplicate);
            continue;
        }
        if !unrun.is_empty() || stop() {
            unrun.push(meta.event_id.into_owned());
            produced.push(Produced::NotRun);
            continue;
        }
        let span = tracing::info_span!(
            "handle",
            function = H::SPEC.name,
            event_id = %meta.event_id,
            correlation_id = %meta.correlation_id,
            attempt = meta.attempt
        );
        let mut cx = Context::new(&meta, H::SPEC.service.app_id(), now, tx);
        invoke::within_timeout(&H::SPEC, handler.handle(payload, &mut cx))
            .instrument(span)
            .await
            .map_err(|error| Failed {
                at: Some(at),
                error,
            })?;
        let start = staged.len();
        staged.extend(cx.into_staged());
        produced.push(Produced::Rows(start..staged.len()));
    }
    tx.inbox_release(H::SPEC.name, &unrun)
        .await
        .map_err(Failed::database)?;
    tx.outbox_stage(&staged, now)
        .await
        .map_err(Failed::database)?;
    Ok((produced, staged))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use conveyor_domain::events::{DomainEvent, Validate, ValidationError};
    use conveyor_domain::{ManualClock, Timestamp};
    use conveyor_store::testing::TestDb;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::{FunctionSpec, MemoryPublisher, Service};

    const ASKED: &str = "batch.asked";
    const DONE: &str = "batch.done";

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Ask {
        key: String,
        fail: bool,
    }

    impl Validate for Ask {
        fn validate(&self) -> Result<(), ValidationError> {
            Ok(())
        }
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Done {
        key: String,
    }

    impl DomainEvent for Done {
        fn topic(&self) -> &'static str {
            DONE
        }
    }

    /// Records every call, fails where asked, publishes what it handled.
    #[derive(Debug, Default)]
    struct Counting {
        calls: Mutex<Vec<String>>,
    }

    impl TopicHandler for Counting {
        type Payload = Ask;

        const SPEC: FunctionSpec = FunctionSpec::on_topics("counting", Service::Order, &[ASKED]);

        async fn handle(&self, ask: Ask, cx: &mut Context<'_>) -> Result<(), HandlerError> {
            self.calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(ask.key.clone());
            if ask.fail {
                return Err(HandlerError::retry(format!("{} asked to fail", ask.key)));
            }
            cx.publish(&Done { key: ask.key })
        }
    }

    fn event(key: &str, fail: bool, at: Timestamp) -> CloudEvent {
        let ask = Ask {
            key: key.to_owned(),
            fail,
        };
        let mut event = CloudEvent::new(ASKED, "test", &ask, at).expect("serialises");
        event.id = format!("e-{key}");
        event
    }

    #[tokio::test]
    async fn a_failing_handler_runs_once_and_the_others_commit_without_it() {
        let db = TestDb::sqlite().await;
        let at = Timestamp::parse_rfc3339("2026-12-01T10:00:00Z").expect("valid time");
        let publisher = Arc::new(MemoryPublisher::new());
        let deps = Deps {
            store: db.store().clone(),
            publisher: publisher.clone(),
            clock: Arc::new(ManualClock::new(at)),
        };
        let handler = Counting::default();
        let events = [
            event("a", false, at),
            event("b", true, at),
            event("c", false, at),
        ];
        let inputs: Vec<EventInput<'_>> = events.iter().map(EventInput::first).collect();

        let results = handle_events(&handler, &deps, &inputs, &|| false).await;

        assert!(results[0].as_ref().is_ok_and(|h| !h.duplicate));
        let failure = results[1].as_ref().expect_err("b fails");
        assert!(failure.chain().contains("b asked to fail"), "{failure:?}");
        assert!(results[2].as_ref().is_ok_and(|h| !h.duplicate));
        let calls = handler
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        assert_eq!(
            calls.iter().filter(|k| *k == "b").count(),
            1,
            "the failing handler runs once: {calls:?}"
        );
        let mut published: Vec<String> = publisher
            .events()
            .iter()
            .filter(|e| e.ty == DONE)
            .map(|e| e.payload::<Done>().expect("decodes").key)
            .collect();
        published.sort();
        assert_eq!(published, ["a", "c"], "each success commits once");

        // Delivered again: a and c are duplicates, b runs (and fails) once more.
        let again = handle_events(&handler, &deps, &inputs, &|| false).await;
        assert!(again[0].as_ref().is_ok_and(|h| h.duplicate));
        assert!(again[1].is_err());
        assert!(again[2].as_ref().is_ok_and(|h| h.duplicate));
        let calls = handler
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        assert_eq!(calls.iter().filter(|k| *k == "b").count(), 2, "{calls:?}");
        db.close().await;
    }
}
