//! What goes into the engine (a reply, a timer firing) and what comes out (the new state, the
//! commands to send, the end of the saga), and why an input changed nothing.

use conveyor_domain::{SagaId, Timestamp};

use crate::route::Phase;
use crate::state::{SagaState, SagaStatus, StepStatus};

/// A reply to one of the saga's commands, read from an event by the saga's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The topic it came on (the definition says what it means).
    pub topic: String,
    /// The id it returned (payment, reservation, fulfillment, ...), kept for the compensation.
    pub result: Option<String>,
    /// The reason a failure gave.
    pub reason: Option<String>,
}

impl Reply {
    /// A reply on `topic` carrying nothing else.
    #[must_use]
    pub fn on(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            result: None,
            reason: None,
        }
    }

    /// With the id it returned.
    #[must_use]
    pub fn with_result(mut self, result: impl Into<String>) -> Self {
        self.result = Some(result.into());
        self
    }

    /// With a failure reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// One input to a running saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A reply arrived.
    Reply(Reply),
    /// The timer numbered `seq` fell due.
    Timer {
        /// The timer's number ([`crate::Timer::seq`]).
        seq: u64,
    },
    /// An operator aborts a running saga: the step awaited is given up (its outcome unknown)
    /// and the steps done are undone, latest first, as after a failure.
    Abort {
        /// Why, as the operator gave it.
        reason: String,
    },
    /// An operator retries a [`SagaStatus::Failed`] saga: the compensation that gave up is
    /// sent again, with as many sends as it had at first.
    Retry,
}

/// A command to send: the saga's code turns it into an event on `topic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The saga (every command carries it; replies are matched by it).
    pub saga: SagaId,
    /// The step's index.
    pub step: usize,
    /// The step's name.
    pub step_name: &'static str,
    /// The step's command or its compensation.
    pub phase: Phase,
    /// Where to send it.
    pub topic: &'static str,
    /// Which send this is (1 = first). Every send of one command carries the same content
    /// otherwise, and the same [`Command::id`].
    pub attempt: u32,
}

impl Command {
    /// The id every send of this command shares (`<saga>/<step>/<phase>`), by which a
    /// consumer recognises a repeated command.
    #[must_use]
    pub fn id(&self) -> String {
        let phase = match self.phase {
            Phase::Forward => "forward",
            Phase::Compensate => "compensate",
        };
        format!("{}/{}/{phase}", self.saga, self.step_name)
    }
}

/// How a saga ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// [`SagaStatus::Completed`] or [`SagaStatus::Compensated`].
    pub status: SagaStatus,
    /// Why it was compensated.
    pub reason: Option<String>,
}

/// Something the caller must do after storing the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a command.
    Send(Command),
    /// The saga ended: tell whoever started it.
    Finished(Outcome),
    /// A compensation gave up: the saga is [`SagaStatus::Failed`] and waits for an operator
    /// (nobody is told it ended; it has not).
    Stopped {
        /// The step whose compensation gave up.
        step: usize,
        /// Why.
        reason: String,
    },
}

/// Why an input changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The saga had already ended.
    Finished,
    /// The topic is none of the saga's replies.
    UnknownTopic(String),
    /// The reply's step (or its compensation) is not awaited: a duplicate, or a late reply.
    NotAwaited {
        /// The step.
        step: usize,
        /// Where it is.
        status: StepStatus,
    },
    /// Not the current timer: a reply came first, or it fired twice.
    StaleTimer(u64),
    /// The saga is [`SagaStatus::Failed`]: only an operator's retry moves it.
    Stopped,
    /// An abort of a saga that is not running (compensating, failed or finished).
    NotAbortable(SagaStatus),
    /// A retry of a saga that is not failed.
    NotRetryable(SagaStatus),
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state to store (unchanged when the input was ignored).
    pub state: SagaState,
    /// What to do, in order.
    pub effects: Vec<Effect>,
    /// Why nothing changed, when nothing did.
    pub ignored: Option<Ignored>,
}

impl Transition {
    pub(crate) fn changed(state: SagaState, effects: Vec<Effect>) -> Self {
        Self {
            state,
            effects,
            ignored: None,
        }
    }

    pub(crate) fn ignored(state: SagaState, why: Ignored) -> Self {
        Self {
            state,
            effects: Vec::new(),
            ignored: Some(why),
        }
    }

    /// The commands to send.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.effects.iter().filter_map(|e| match e {
            Effect::Send(c) => Some(c),
            Effect::Finished(_) | Effect::Stopped { .. } => None,
        })
    }

    /// The outcome, when this input ended the saga.
    #[must_use]
    pub fn outcome(&self) -> Option<&Outcome> {
        self.effects.iter().find_map(|e| match e {
            Effect::Finished(o) => Some(o),
            Effect::Send(_) | Effect::Stopped { .. } => None,
        })
    }

    /// The next deadline.
    #[must_use]
    pub fn deadline(&self) -> Option<Timestamp> {
        self.state.deadline()
    }
}

/// A stored state that does not fit the definition applied to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "saga state of {found} ({found_steps} steps) does not fit definition {expected} ({steps} steps)"
)]
pub struct StateMismatch {
    /// The definition's name.
    pub expected: &'static str,
    /// Its step count.
    pub steps: usize,
    /// The state's definition.
    pub found: String,
    /// The state's step count.
    pub found_steps: usize,
}
