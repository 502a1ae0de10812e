//! conveyor-saga: orchestrated sagas, without I/O.
//!
//! A saga is a [`SagaDefinition`]: steps in order, each a command sent as an event, settled by
//! a reply event (matched to the saga by its id), with a timeout, a retry policy and a
//! compensation. The [`Engine`] applies one input (a reply, a timer firing) to a stored
//! [`SagaState`] and returns the new state plus the commands to send and the next deadline.
//! The runtime stores the state in the transaction that claimed the input, next to the inbox
//! row and the outbox rows of the commands ([`SagaRepository`] is the store's part), so a
//! crash anywhere resumes from the last committed input.
//!
//! # Layout
//! - [`step`] — a step: command, replies, timeout, retry policy, compensation
//! - [`route`] — what a reply topic means (step, phase, kind)
//! - [`definition`] — the checked sequence of steps
//! - `check` — the checks a definition must pass
//! - [`error`] — [`DefinitionError`], what they refuse
//! - [`state`] — the stored state: saga, steps, the one timer
//! - [`effects`] — engine inputs and outputs
//! - [`engine`] — the state machine
//! - [`ports`] — the repository the store implements

mod check;
pub mod definition;
pub mod effects;
pub mod engine;
pub mod error;
pub mod ports;
pub mod route;
pub mod state;
pub mod step;

pub use definition::SagaDefinition;
pub use effects::{Command, Effect, Ignored, Input, Outcome, Reply, StateMismatch, Transition};
pub use engine::Engine;
pub use error::DefinitionError;
pub use ports::{DueTimer, SagaRepository, SagaSummary};
pub use route::{Phase, ReplyKind, ReplyRoute};
pub use state::{SagaState, SagaStatus, StepState, StepStatus, Timer, TimerPurpose};
pub use step::{Compensation, Retry, Step};
