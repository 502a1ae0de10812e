//! [`Function`], the type-erased form hosts use to run any function of the catalog, over the
//! handler traits a function implements (defined in [`crate::contract`], re-exported here).

use std::fmt;
use std::sync::Arc;

use conveyor_domain::Timestamp;

pub use crate::contract::{JobReport, ScheduleHandler, TopicHandler};

use crate::batch::{self, EventInput, Stop};
use crate::cloudevent::CloudEvent;
use crate::context::{Deps, Meta};
use crate::error::HandlerError;
use crate::invoke::{self, Handled};
use crate::publish::BoxFuture;
use crate::saga;
use crate::spec::FunctionSpec;

/// What a host hands to a function.
#[derive(Debug)]
pub enum Input<'a> {
    /// A decoded CloudEvent, with its delivery count (1 = first) and deadline.
    Event {
        /// The envelope.
        event: &'a CloudEvent,
        /// Delivery number.
        attempt: u32,
        /// When the host gives up.
        deadline: Option<Timestamp>,
    },
    /// A schedule tick.
    Tick {
        /// Identity of the run (see [`Meta::for_tick`]); boxed, since events, far more common,
        /// need none.
        meta: Box<Meta<'a>>,
        /// The time the tick was scheduled for.
        scheduled: Timestamp,
    },
}

/// Any function, type-erased, as the catalog holds it.
pub trait Function: Send + Sync + fmt::Debug {
    /// The declaration.
    fn spec(&self) -> FunctionSpec;

    /// Runs the function once on `input` through the inbox/outbox pipeline.
    fn invoke<'a>(
        &'a self,
        deps: &'a Deps,
        input: Input<'a>,
    ) -> BoxFuture<'a, Result<Handled, HandlerError>>;

    /// Runs the function on several events (entries a host received together), one result per
    /// event in order. A topic function with an inbox handles them in one transaction (see
    /// [`crate::batch`]); otherwise they run one by one. Once `stop` says the host is
    /// stopping, events not yet started are not run (a retryable failure each).
    fn invoke_events<'a>(
        &'a self,
        deps: &'a Deps,
        events: &'a [EventInput<'a>],
        stop: Stop<'a>,
    ) -> BoxFuture<'a, Vec<Result<Handled, HandlerError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(events.len());
            for (i, e) in events.iter().enumerate() {
                if i > 0 && stop() {
                    out.push(Err(crate::batch::not_run()));
                    continue;
                }
                let input = Input::Event {
                    event: e.event,
                    attempt: e.attempt,
                    deadline: e.deadline,
                };
                out.push(self.invoke(deps, input).await);
            }
            out
        })
    }

    /// The saga it orchestrates, if it is a saga orchestrator ([`orchestrator`]): how an
    /// operator's abort or retry ([`crate::saga::operate`]) reaches the saga's own code.
    fn saga(&self) -> Option<&dyn saga::SagaCodec> {
        None
    }
}

/// Wraps a [`TopicHandler`] as a [`Function`].
#[derive(Debug, Default, Clone)]
pub struct TopicFunction<H>(pub H);

/// Wraps a saga orchestrator (a [`TopicHandler`] that is a [`saga::Orchestrator`]) as a
/// [`Function`] that also offers its saga ([`Function::saga`]).
#[derive(Debug, Default, Clone)]
pub struct OrchestratorFunction<H>(pub TopicFunction<H>);

/// Wraps a [`ScheduleHandler`] as a [`Function`].
#[derive(Debug, Default, Clone)]
pub struct ScheduleFunction<H>(pub H);

/// A topic handler as a catalog entry.
pub fn topic<H: TopicHandler + fmt::Debug>(handler: H) -> Arc<dyn Function> {
    Arc::new(TopicFunction(handler))
}

/// A saga orchestrator as a catalog entry.
///
/// An orchestrator cannot be ordered (`ordered_by`), which the compiler checks: an ordered
/// function's queue is FIFO on SQS, and a FIFO queue takes no per-message delay, which the
/// orchestrator's timers on Lambda are.
pub fn orchestrator<H: saga::Orchestrator + fmt::Debug>(handler: H) -> Arc<dyn Function> {
    const { assert_unordered(&H::SPEC) };
    Arc::new(OrchestratorFunction(TopicFunction(handler)))
}

/// Refuses (at compile time, in a `const` block) an ordered orchestrator: see
/// [`orchestrator`].
pub(crate) const fn assert_unordered(spec: &FunctionSpec) {
    assert!(
        spec.ordering_key.is_none(),
        "a saga orchestrator cannot be ordered: its SQS queue would be FIFO, which takes no delay messages for its timers"
    );
}

/// A schedule handler as a catalog entry.
pub fn schedule<H: ScheduleHandler + fmt::Debug>(handler: H) -> Arc<dyn Function> {
    Arc::new(ScheduleFunction(handler))
}

impl<H: TopicHandler + fmt::Debug> Function for TopicFunction<H> {
    fn spec(&self) -> FunctionSpec {
        H::SPEC
    }

    fn invoke<'a>(
        &'a self,
        deps: &'a Deps,
        input: Input<'a>,
    ) -> BoxFuture<'a, Result<Handled, HandlerError>> {
        Box::pin(async move {
            match input {
                Input::Event {
                    event,
                    attempt,
                    deadline,
                } => invoke::handle_event(&self.0, deps, event, attempt, deadline).await,
                Input::Tick { .. } => Err(HandlerError::drop(format!(
                    "{} is a topic function; it has no schedule",
                    H::SPEC.name
                ))),
            }
        })
    }

    fn invoke_events<'a>(
        &'a self,
        deps: &'a Deps,
        events: &'a [EventInput<'a>],
        stop: Stop<'a>,
    ) -> BoxFuture<'a, Vec<Result<Handled, HandlerError>>> {
        Box::pin(batch::handle_events(&self.0, deps, events, stop))
    }
}

impl<H: saga::Orchestrator + fmt::Debug> Function for OrchestratorFunction<H> {
    fn spec(&self) -> FunctionSpec {
        H::SPEC
    }

    fn invoke<'a>(
        &'a self,
        deps: &'a Deps,
        input: Input<'a>,
    ) -> BoxFuture<'a, Result<Handled, HandlerError>> {
        self.0.invoke(deps, input)
    }

    fn invoke_events<'a>(
        &'a self,
        deps: &'a Deps,
        events: &'a [EventInput<'a>],
        stop: Stop<'a>,
    ) -> BoxFuture<'a, Vec<Result<Handled, HandlerError>>> {
        self.0.invoke_events(deps, events, stop)
    }

    fn saga(&self) -> Option<&dyn saga::SagaCodec> {
        Some(self.0.0.codec())
    }
}

impl<H: ScheduleHandler + fmt::Debug> Function for ScheduleFunction<H> {
    fn spec(&self) -> FunctionSpec {
        H::SPEC
    }

    fn invoke<'a>(
        &'a self,
        deps: &'a Deps,
        input: Input<'a>,
    ) -> BoxFuture<'a, Result<Handled, HandlerError>> {
        Box::pin(async move {
            match input {
                Input::Tick { meta, scheduled } => {
                    invoke::run_tick(&self.0, deps, &meta, scheduled).await
                }
                Input::Event { .. } => Err(HandlerError::drop(format!(
                    "{} is a scheduled job; it takes no events",
                    H::SPEC.name
                ))),
            }
        })
    }
}
