//! Why a saga description is refused: one variant per mistake, named by saga and step.

use crate::route::Phase;

/// Why a saga description is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The saga's name is empty.
    #[error("a saga needs a name")]
    NoName,
    /// No steps at all.
    #[error("saga {saga} has no steps")]
    NoSteps {
        /// The saga.
        saga: &'static str,
    },
    /// Two steps share a name (or one is empty).
    #[error("saga {saga}: step name {step:?} is empty or used twice")]
    BadStepName {
        /// The saga.
        saga: &'static str,
        /// The name.
        step: &'static str,
    },
    /// A step that a later step's failure must undo has no compensation.
    #[error("saga {saga}: step {step} needs a compensation (a later step can fail)")]
    MissingCompensation {
        /// The saga.
        saga: &'static str,
        /// The step.
        step: &'static str,
    },
    /// A step (or compensation) that no reply can complete.
    #[error("saga {saga}: step {step} has no reply that completes its {phase:?} command")]
    NoCompletingReply {
        /// The saga.
        saga: &'static str,
        /// The step.
        step: &'static str,
        /// Forward or compensation.
        phase: Phase,
    },
    /// A reply topic listed twice: the engine could not tell which step it settles.
    #[error("saga {saga}: reply topic {topic} is used by {first} and by {second}")]
    DuplicateReplyTopic {
        /// The saga.
        saga: &'static str,
        /// The topic.
        topic: &'static str,
        /// Its first use (`step/phase`).
        first: String,
        /// Its second use.
        second: String,
    },
    /// A topic used both as a command and as a reply: the saga would consume its own commands.
    #[error("saga {saga}: topic {topic} is both a command and a reply")]
    ReplyIsCommand {
        /// The saga.
        saga: &'static str,
        /// The topic.
        topic: &'static str,
    },
    /// A zero reply timeout or zero attempts: the step could never be waited for.
    #[error("saga {saga}: step {step} has a zero timeout or zero attempts")]
    NeverWaits {
        /// The saga.
        saga: &'static str,
        /// The step.
        step: &'static str,
    },
}
