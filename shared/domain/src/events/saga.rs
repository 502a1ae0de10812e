//! Events of the saga runtime itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Validate, ValidationError, fixed_topic};
use crate::{SagaId, Timestamp};

/// The topic a saga's fired timers come on.
pub const TIMER_FIRED: &str = "saga.timer_fired";

/// `saga.timer_fired`: a saga's timer fell due (published by the timer poller; consumed by the
/// saga's orchestrator, which ignores a timer that is no longer its current one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimerFired {
    /// The saga's definition.
    pub definition: String,
    /// The saga.
    pub saga_id: SagaId,
    /// The timer's number.
    pub seq: u64,
    /// When it fell due.
    pub due: Timestamp,
}

impl Validate for TimerFired {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.definition.trim().is_empty() {
            return Err(ValidationError::new("definition must not be empty"));
        }
        Ok(())
    }
}

fixed_topic!(TimerFired => TIMER_FIRED);
