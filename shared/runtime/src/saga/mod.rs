//! Orchestrated sagas as conveyor functions: the definition API and engine of
//! [`conveyor_saga`] (re-exported here), run inside a topic function's transaction.
//!
//! An orchestrator is an ordinary topic function subscribed to its saga's start topic, its
//! reply topics and [`TIMER_FIRED`]. Its handler calls [`orchestrate`] with a [`SagaCodec`]
//! (the saga's own code: how its events read, how its commands are written). In the one
//! transaction that claims the event's inbox row, [`orchestrate`] loads the saga (locked),
//! applies the engine, stores the new state and its timer, and stages the commands in the
//! outbox; so a crash anywhere resumes from the last committed event and every command is
//! staged once, built from the stored state.
//!
//! Timers are rows of a due-timer table. [`timers::fire_due`] takes those that fell due and
//! stages one [`TIMER_FIRED`] event each (its id fixed by the saga and the timer's number, so a
//! timer fired twice is handled once); [`timers::run`] polls it, which hosts with a process
//! of their own (the emulator, the Dapr worker) run beside the orchestrator. On Lambda the
//! orchestrator arms each timer as an SQS delay message to its own queue instead (module
//! `lambda::timers`, feature `lambda`).
//!
//! An operator may abort a running saga or retry a failed one ([`operate`]), through the
//! same engine and in one transaction with the commands it sends. What the sagas do is
//! counted in [`metrics`].
//!
//! # Layout
//! - this module — the timer event, the codec trait, [`orchestrate`]
//! - [`timers`] — the due-timer poller
//! - [`operate`] — an operator's abort or retry
//! - [`metrics`] — counters and step latency per definition

pub mod metrics;
pub mod operate;
pub mod timers;

pub use operate::{OperateError, Operation, operate};

use conveyor_domain::SagaId;
use conveyor_domain::events::{DomainEvent, Validate, ValidationError};
pub use conveyor_saga::{
    Command, Compensation, DefinitionError, Effect, Engine, Ignored, Input, Outcome, Phase, Reply,
    Retry, SagaDefinition, SagaState, SagaStatus, Step, StepState, StepStatus, Timer, TimerPurpose,
    Transition,
};
pub use conveyor_saga::{DueTimer, SagaRepository, SagaSummary};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::HandlerError;

/// The timer event (defined with the other payloads in the domain, so `events/` has its
/// schema and sample).
pub use conveyor_domain::events::saga::{TIMER_FIRED, TimerFired};

/// Whatever an orchestrator consumes, kept as JSON until [`orchestrate`] knows by its topic
/// what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaMessage(pub serde_json::Value);

impl Validate for SagaMessage {
    /// Checked by the saga's [`SagaCodec::read`], which knows the shape per topic.
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// An event a saga's code read: what starts a saga, or a reply to one of its commands.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Starts the saga `saga` with `data` (kept in its state; commands are built from it).
    Start {
        /// The saga.
        saga: SagaId,
        /// The start payload.
        data: serde_json::Value,
    },
    /// A reply for the saga `saga`.
    Reply {
        /// The saga.
        saga: SagaId,
        /// What it says.
        reply: Reply,
    },
}

/// An event to publish: a topic and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Where.
    pub topic: &'static str,
    /// What.
    pub payload: serde_json::Value,
}

impl Serialize for Outgoing {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.payload.serialize(s)
    }
}

impl DomainEvent for Outgoing {
    fn topic(&self) -> &'static str {
        self.topic
    }
}

/// A saga's own code: its definition, how the events it consumes read and how its commands
/// and its final announcement are written.
pub trait SagaCodec: Send + Sync {
    /// The definition.
    fn definition(&self) -> &SagaDefinition;

    /// Reads an event that came on `topic` (a start topic or a reply topic).
    ///
    /// # Errors
    /// [`HandlerError::Drop`] for a payload that does not fit its topic.
    fn read(&self, topic: &str, data: &serde_json::Value) -> Result<Incoming, HandlerError>;

    /// The payload of `command`, built from the stored state alone (so every send of one
    /// command carries the same content).
    ///
    /// # Errors
    /// [`HandlerError::Drop`] when the state cannot build it (corrupt start data).
    fn command(&self, state: &SagaState, command: &Command) -> Result<Outgoing, HandlerError>;

    /// The event that tells whoever started the saga how it ended, if any.
    ///
    /// # Errors
    /// As [`SagaCodec::command`].
    fn finished(
        &self,
        state: &SagaState,
        outcome: &Outcome,
    ) -> Result<Option<Outgoing>, HandlerError>;
}

/// A topic handler that orchestrates a saga: it offers its codec, so an operator's action
/// ([`operate`]) reaches the saga's own code. Wrapped by [`crate::handler::orchestrator`].
pub trait Orchestrator: crate::contract::TopicHandler {
    /// The saga's code.
    fn codec(&self) -> &dyn SagaCodec;
}

/// What [`orchestrate`] did with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Orchestrated {
    /// The engine applied it (stored and staged), or ignored it ([`Transition::ignored`]).
    Applied(Box<Transition>),
    /// A start for a saga that exists already (a repeated start): nothing done.
    AlreadyStarted(SagaId),
    /// A reply or timer for no saga of this definition (for instance a payment of an order
    /// that goes the choreographed way): nothing done.
    NotOurs,
}

/// Applies the event the handler is running on to its saga, inside the handler's transaction:
/// load (locked), engine, store state and timer, stage commands and the final event.
///
/// # Errors
/// [`HandlerError::Drop`] for a payload that does not fit its topic or a stored state that
/// does not fit the definition; [`HandlerError::Retry`] for database errors.
pub async fn orchestrate<C: SagaCodec + ?Sized>(
    codec: &C,
    message: &SagaMessage,
    cx: &mut Context<'_>,
) -> Result<Orchestrated, HandlerError> {
    let def = codec.definition();
    let now = cx.now();
    let topic = cx.topic().to_owned();
    let (saga, input) = if topic == TIMER_FIRED {
        let fired: TimerFired =
            serde_json::from_value(message.0.clone()).map_err(HandlerError::drop)?;
        if fired.definition != def.name() {
            return Ok(Orchestrated::NotOurs);
        }
        (fired.saga_id, Input::Timer { seq: fired.seq })
    } else {
        match codec.read(&topic, &message.0)? {
            Incoming::Start { saga, data } => return start(codec, saga, data, cx).await,
            Incoming::Reply { saga, reply } => (saga, Input::Reply(reply)),
        }
    };
    let Some(state) = cx.tx()?.load_saga(def.name(), &saga).await? else {
        tracing::debug!(saga = def.name(), %saga, %topic, "no such saga; not ours");
        return Ok(Orchestrated::NotOurs);
    };
    let t = Engine::new(def)
        .apply(&state, &input, now)
        .map_err(HandlerError::drop)?;
    if let Some(why) = &t.ignored {
        tracing::debug!(saga = def.name(), %saga, %topic, ?why, "input changes nothing");
    } else {
        store_and_stage(codec, &t, cx).await?;
        metrics::observe(&state, &t);
    }
    Ok(Orchestrated::Applied(Box::new(t)))
}

/// Whether a saga of `definition` with the id `saga` was ever started, read in the handler's
/// transaction without a lock (the orchestrator handling one of its inputs is not waited
/// for): how a choreographed function tells an entity on a saga's path (whose events
/// the saga consumes) from one of its own. An id that cannot be a saga id has none.
///
/// # Errors
/// [`HandlerError::Retry`] for database errors.
pub async fn exists(
    cx: &mut Context<'_>,
    definition: &str,
    saga: &str,
) -> Result<bool, HandlerError> {
    let Ok(id) = SagaId::parse(saga) else {
        return Ok(false);
    };
    Ok(cx.tx()?.read_saga(definition, &id).await?.is_some())
}

async fn start<C: SagaCodec + ?Sized>(
    codec: &C,
    saga: SagaId,
    data: serde_json::Value,
    cx: &mut Context<'_>,
) -> Result<Orchestrated, HandlerError> {
    let t = Engine::new(codec.definition()).start(saga, data, cx.now());
    if !cx.tx()?.create_saga(&t.state).await? {
        return Ok(Orchestrated::AlreadyStarted(t.state.id));
    }
    stage(codec, &t, cx)?;
    metrics::observe_start(&t.state);
    Ok(Orchestrated::Applied(Box::new(t)))
}

async fn store_and_stage<C: SagaCodec + ?Sized>(
    codec: &C,
    t: &Transition,
    cx: &mut Context<'_>,
) -> Result<(), HandlerError> {
    cx.tx()?.save_saga(&t.state).await?;
    stage(codec, t, cx)
}

/// Stages the transition's commands and final event in the outbox, keyed by the saga.
fn stage<C: SagaCodec + ?Sized>(
    codec: &C,
    t: &Transition,
    cx: &mut Context<'_>,
) -> Result<(), HandlerError> {
    for effect in &t.effects {
        let event = match effect {
            Effect::Send(command) => Some(codec.command(&t.state, command)?),
            Effect::Finished(outcome) => codec.finished(&t.state, outcome)?,
            // A stopped saga has not ended: nobody is told; an operator retries it.
            Effect::Stopped { .. } => None,
        };
        if let Some(event) = event {
            cx.publish_keyed(&event, Some(t.state.id.as_str()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
