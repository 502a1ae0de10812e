//! What an operator may do to a saga, as engine inputs: abort a running saga, retry a failed
//! one. Anything else is refused with the saga's status ([`Ignored::NotAbortable`],
//! [`Ignored::NotRetryable`]), so the caller can say why.
//!
//! - **Abort** is allowed while the saga is [`SagaStatus::Running`] only. The step awaited
//!   (sent, or waiting out its backoff before a resend) is marked [`StepStatus::Aborted`]: its
//!   command may have been applied, so it is undone like a timed-out step; then the steps
//!   done are undone, latest first, exactly as after a failure. A compensating saga is
//!   already being undone, a failed one needs a retry, a finished one has nothing left to do.
//! - **Retry** is allowed while the saga is [`SagaStatus::Failed`] only (a compensation gave
//!   up after its sends): that compensation is sent again with a fresh budget of sends (its
//!   attempt numbers keep counting, so no two sends share one), and the compensation goes on
//!   from there.

use conveyor_domain::Timestamp;

use super::Engine;
use crate::effects::{Effect, Ignored};
use crate::route::Phase;
use crate::state::{SagaState, SagaStatus, StepStatus};

impl Engine<'_> {
    pub(super) fn on_abort(
        &self,
        st: &mut SagaState,
        reason: &str,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), Ignored> {
        if st.status != SagaStatus::Running {
            return Err(Ignored::NotAbortable(st.status));
        }
        st.timer = None;
        if let Some(i) = st.current {
            let step = &mut st.steps[i];
            if step.status == StepStatus::Running {
                step.status = StepStatus::Aborted;
                step.reason = Some(format!("aborted while awaited: {reason}"));
                step.settled_at = Some(now);
            }
        }
        self.compensate(st, format!("aborted by an operator: {reason}"), now, fx);
        Ok(())
    }

    pub(super) fn on_retry(
        &self,
        st: &mut SagaState,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), Ignored> {
        let stopped = st
            .current
            .filter(|&i| st.steps[i].status == StepStatus::CompensationFailed);
        let (SagaStatus::Failed, Some(i)) = (st.status, stopped) else {
            return Err(Ignored::NotRetryable(st.status));
        };
        st.status = SagaStatus::Compensating;
        st.steps[i].operator_retries += 1;
        st.steps[i].settled_at = None;
        self.send(st, i, Phase::Compensate, now, fx);
        Ok(())
    }
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
