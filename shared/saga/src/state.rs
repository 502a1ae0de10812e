//! A saga's persisted state: where it is, what each step did, what it waits for and until
//! when. Everything the engine decides on is here, so a process that dies between two inputs
//! resumes from the stored state alone.

use conveyor_domain::{SagaId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::route::Phase;

/// The saga as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    /// Steps are being run forward.
    Running,
    /// A step failed or timed out; completed steps are being undone, last first.
    Compensating,
    /// Every step completed (terminal).
    Completed,
    /// Every step that needed undoing was undone (terminal).
    Compensated,
    /// A compensation gave up after its sends ([`Compensation::gives_up_after`]): stopped,
    /// neither replies nor timers change it, until an operator retries it
    /// ([`Input::Retry`](crate::Input::Retry)).
    ///
    /// [`Compensation::gives_up_after`]: crate::Compensation::gives_up_after
    Failed,
}

impl SagaStatus {
    /// Completed or compensated: no input changes it any more.
    #[must_use]
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated)
    }

    /// The name stored and shown (`running`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating => "compensating",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
            Self::Failed => "failed",
        }
    }

    /// Every status, in the order a saga can reach them.
    pub const ALL: [Self; 5] = [
        Self::Running,
        Self::Compensating,
        Self::Completed,
        Self::Compensated,
        Self::Failed,
    ];

    /// The status called `name` (as [`SagaStatus::as_str`] writes it).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    Pending,
    /// Its command was sent; a reply is awaited.
    Running,
    /// Its completing reply arrived.
    Completed,
    /// Its failing reply arrived (nothing to undo).
    Failed,
    /// No reply after every send: its outcome is unknown, so it is undone like a completed
    /// step (a reply arriving later changes nothing).
    TimedOut,
    /// Its reply was still awaited when an operator aborted the saga: its outcome is unknown,
    /// so it is undone like a completed step.
    Aborted,
    /// Its compensation was sent; a reply is awaited.
    Compensating,
    /// Its compensation is done.
    Compensated,
    /// Its compensation gave up after its sends; the saga is [`SagaStatus::Failed`].
    CompensationFailed,
}

impl StepStatus {
    /// The name shown (`pending`, `running`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Aborted => "aborted",
            Self::Compensating => "compensating",
            Self::Compensated => "compensated",
            Self::CompensationFailed => "compensation_failed",
        }
    }
}

/// What a step did, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// Where it is.
    pub status: StepStatus,
    /// Forward sends so far.
    pub attempts: u32,
    /// Compensation sends so far.
    pub compensation_attempts: u32,
    /// Times an operator retried its compensation after it gave up (each grants a fresh
    /// budget of sends).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub operator_retries: u32,
    /// The id its completing reply returned (payment, reservation, fulfillment, ...), for its
    /// compensation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Why it failed or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When its first command was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it was settled (completed, failed, timed out, compensated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<Timestamp>,
}

impl StepState {
    /// A step not started.
    #[must_use]
    pub fn pending() -> Self {
        Self {
            status: StepStatus::Pending,
            attempts: 0,
            compensation_attempts: 0,
            operator_retries: 0,
            result: None,
            reason: None,
            started_at: None,
            settled_at: None,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the saga's one timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerPurpose {
    /// The reply to the last send is overdue.
    ReplyDeadline,
    /// The backoff before the next send is over.
    Resend,
}

/// The one deadline a saga waits for. Each timer set gets a new `seq`; a firing whose `seq` is
/// not the current one is stale (a reply came first, or it fired twice) and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Its number, unique within the saga.
    pub seq: u64,
    /// When it falls due.
    pub due: Timestamp,
    /// The step it concerns.
    pub step: usize,
    /// Forward or compensation.
    pub phase: Phase,
    /// What firing does.
    pub purpose: TimerPurpose,
}

/// A saga instance, as stored between inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaState {
    /// The instance.
    pub id: SagaId,
    /// Its definition's name.
    pub definition: String,
    /// Where it is.
    pub status: SagaStatus,
    /// What started it (the start payload), which its commands are built from.
    pub data: serde_json::Value,
    /// One entry per step of the definition.
    pub steps: Vec<StepState>,
    /// The step being run or undone; `None` once finished.
    pub current: Option<usize>,
    /// The deadline it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    /// Timers set so far (the next one's `seq`).
    pub timers_set: u64,
    /// The steps to undo, in the order they are undone, fixed when compensation starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compensation_path: Vec<usize>,
    /// Why it is compensating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Inputs that changed it (optimistic checks and monitoring).
    pub version: u64,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl SagaState {
    /// The step at `index`.
    ///
    /// # Panics
    /// When the state has fewer steps than its definition (a state from another definition).
    #[must_use]
    pub fn step(&self, index: usize) -> &StepState {
        &self.steps[index]
    }

    /// The next deadline, if any.
    #[must_use]
    pub fn deadline(&self) -> Option<Timestamp> {
        self.timer.map(|t| t.due)
    }
}
