//! What a reply topic means to a saga: the step it settles, forward or compensation, and
//! whether it completes, fails or asks for a retry.

/// Whether a message belongs to a step's forward command or to its compensation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The step's own command.
    Forward,
    /// Its compensation.
    Compensate,
}

/// What a reply topic means to a saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// The step (or its compensation) is done.
    Completes,
    /// The step failed for good.
    Fails,
    /// The compensation failed for now; send it again.
    Retries,
}

/// A reply topic's place in a saga: which step, which phase, what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyRoute {
    /// The step's index.
    pub step: usize,
    /// Forward or compensation.
    pub phase: Phase,
    /// Its meaning.
    pub kind: ReplyKind,
}
