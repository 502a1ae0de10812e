//! The saga engine: a pure function from (stored state, input, now) to (new state, effects).
//! It does no I/O; the caller stores the new state, stages the commands in the outbox and
//! sets the timer, all in the transaction that claimed the input.
//!
//! - Inputs that change nothing (a reply delivered twice, a reply for a step no longer
//!   awaited, a stale timer, anything after the end) come back as [`Ignored`] with the state
//!   unchanged and no effects, so redeliveries are harmless.
//! - A step is sent up to its [`Retry::attempts`](crate::Retry) times, each send waited for
//!   its timeout, with the backoff between a timeout and the next send. A step that never
//!   answers is *timed out*: its outcome is unknown, so it is compensated like a completed one.
//! - On a failure or a time-out the steps that completed (or timed out) are compensated, the
//!   latest first; a compensation is sent again after a transient failure or a time-out until
//!   it succeeds, or, when it [gives up](crate::Compensation::gives_up_after), the saga stops
//!   as failed until an operator retries it.
//! - An operator may abort a running saga or retry a failed one ([`Input::Abort`],
//!   [`Input::Retry`], in `operator`); both are inputs like any other, stored with their
//!   commands in one transaction.

use conveyor_domain::{SagaId, Timestamp};

use crate::definition::SagaDefinition;
use crate::effects::{Command, Effect, Ignored, Input, Outcome, Reply, StateMismatch, Transition};
use crate::route::{Phase, ReplyKind};
use crate::state::{SagaState, SagaStatus, StepState, StepStatus, Timer, TimerPurpose};

/// Runs one definition's sagas.
#[derive(Debug, Clone, Copy)]
pub struct Engine<'d> {
    def: &'d SagaDefinition,
}

impl<'d> Engine<'d> {
    /// The engine of `def`.
    #[must_use]
    pub fn new(def: &'d SagaDefinition) -> Self {
        Self { def }
    }

    /// A new saga: its state, and the first step's command.
    #[must_use]
    pub fn start(&self, id: SagaId, data: serde_json::Value, now: Timestamp) -> Transition {
        let mut state = SagaState {
            id,
            definition: self.def.name().to_owned(),
            status: SagaStatus::Running,
            data,
            steps: vec![StepState::pending(); self.def.steps().len()],
            current: Some(0),
            timer: None,
            timers_set: 0,
            compensation_path: Vec::new(),
            failure: None,
            version: 1,
            started_at: now,
            updated_at: now,
        };
        let mut effects = Vec::new();
        self.send(&mut state, 0, Phase::Forward, now, &mut effects);
        Transition::changed(state, effects)
    }

    /// Applies one input to a stored saga.
    ///
    /// # Errors
    /// [`StateMismatch`] when the state belongs to another definition or another shape of it.
    pub fn apply(
        &self,
        state: &SagaState,
        input: &Input,
        now: Timestamp,
    ) -> Result<Transition, StateMismatch> {
        if state.definition != self.def.name() || state.steps.len() != self.def.steps().len() {
            return Err(StateMismatch {
                expected: self.def.name(),
                steps: self.def.steps().len(),
                found: state.definition.clone(),
                found_steps: state.steps.len(),
            });
        }
        let mut next = state.clone();
        let mut effects = Vec::new();
        let outcome = match input {
            Input::Abort { reason } => self.on_abort(&mut next, reason, now, &mut effects),
            Input::Retry => self.on_retry(&mut next, now, &mut effects),
            _ if state.status.is_finished() => Err(Ignored::Finished),
            _ if state.status == SagaStatus::Failed => Err(Ignored::Stopped),
            Input::Reply(reply) => self.on_reply(&mut next, reply, now, &mut effects),
            Input::Timer { seq } => self.on_timer(&mut next, *seq, now, &mut effects),
        };
        Ok(match outcome {
            Err(why) => Transition::ignored(state.clone(), why),
            Ok(()) => {
                next.version += 1;
                next.updated_at = now;
                Transition::changed(next, effects)
            }
        })
    }

    fn on_reply(
        &self,
        st: &mut SagaState,
        reply: &Reply,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), Ignored> {
        let route = self
            .def
            .route(&reply.topic)
            .ok_or_else(|| Ignored::UnknownTopic(reply.topic.clone()))?;
        let i = route.step;
        let status = st.steps[i].status;
        let not_awaited = Ignored::NotAwaited { step: i, status };
        match (route.phase, route.kind) {
            (Phase::Forward, kind) if status == StepStatus::Running => {
                st.timer = None;
                let step = &mut st.steps[i];
                step.settled_at = Some(now);
                if kind == ReplyKind::Completes {
                    step.status = StepStatus::Completed;
                    step.result.clone_from(&reply.result);
                    if i + 1 < self.def.steps().len() {
                        self.send(st, i + 1, Phase::Forward, now, fx);
                    } else {
                        finish(st, SagaStatus::Completed, fx);
                    }
                } else {
                    let reason = reply.reason.clone().unwrap_or_else(|| reply.topic.clone());
                    step.status = StepStatus::Failed;
                    step.reason = Some(reason.clone());
                    let name = self.def.steps()[i].name;
                    self.compensate(st, format!("step {name} failed: {reason}"), now, fx);
                }
                Ok(())
            }
            (Phase::Compensate, ReplyKind::Completes) if status == StepStatus::Compensating => {
                st.timer = None;
                st.steps[i].status = StepStatus::Compensated;
                st.steps[i].settled_at = Some(now);
                self.next_compensation(st, now, fx);
                Ok(())
            }
            (Phase::Compensate, ReplyKind::Retries) if status == StepStatus::Compensating => {
                self.after_backoff(st, i, Phase::Compensate, now, fx);
                Ok(())
            }
            _ => Err(not_awaited),
        }
    }

    fn on_timer(
        &self,
        st: &mut SagaState,
        seq: u64,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), Ignored> {
        let timer = st
            .timer
            .filter(|t| t.seq == seq)
            .ok_or(Ignored::StaleTimer(seq))?;
        st.timer = None;
        let i = timer.step;
        match (timer.phase, timer.purpose) {
            (phase, TimerPurpose::Resend) => self.send(st, i, phase, now, fx),
            (Phase::Forward, TimerPurpose::ReplyDeadline) => {
                let step = self.def.steps()[i];
                if st.steps[i].attempts < step.retry.attempts {
                    self.after_backoff(st, i, Phase::Forward, now, fx);
                } else {
                    let sent = st.steps[i].attempts;
                    let reason = format!("step {} timed out after {sent} sends", step.name);
                    st.steps[i].status = StepStatus::TimedOut;
                    st.steps[i].reason = Some(reason.clone());
                    st.steps[i].settled_at = Some(now);
                    self.compensate(st, reason, now, fx);
                }
            }
            (Phase::Compensate, TimerPurpose::ReplyDeadline) => {
                self.after_backoff(st, i, Phase::Compensate, now, fx);
            }
        }
        Ok(())
    }

    /// Waits the backoff after the sends so far, then sends again (at once when it is zero);
    /// a compensation out of sends stops the saga instead.
    fn after_backoff(
        &self,
        st: &mut SagaState,
        i: usize,
        phase: Phase,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        let step = self.def.steps()[i];
        let (retry, sent) = match (phase, step.compensation) {
            (Phase::Compensate, Some(c)) => (c.backoff, st.steps[i].compensation_attempts),
            _ => (step.retry, st.steps[i].attempts),
        };
        if phase == Phase::Compensate && out_of_sends(&step, &st.steps[i]) {
            stop(st, i, now, fx);
            return;
        }
        let wait = retry.backoff_after(sent);
        if wait.is_zero() {
            self.send(st, i, phase, now, fx);
        } else {
            set_timer(st, i, phase, TimerPurpose::Resend, after(now, wait));
        }
    }

    /// Sends step `i`'s command (or its compensation) and waits for the reply.
    fn send(
        &self,
        st: &mut SagaState,
        i: usize,
        phase: Phase,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        let def = self.def.steps()[i];
        let (topic, timeout, attempt) = match (phase, def.compensation) {
            (Phase::Compensate, Some(c)) => {
                st.steps[i].status = StepStatus::Compensating;
                st.steps[i].compensation_attempts += 1;
                (c.command, c.timeout, st.steps[i].compensation_attempts)
            }
            _ => {
                st.steps[i].status = StepStatus::Running;
                st.steps[i].started_at.get_or_insert(now);
                st.steps[i].attempts += 1;
                (def.command, def.timeout, st.steps[i].attempts)
            }
        };
        st.current = Some(i);
        fx.push(Effect::Send(Command {
            saga: st.id.clone(),
            step: i,
            step_name: def.name,
            phase,
            topic,
            attempt,
        }));
        set_timer(
            st,
            i,
            phase,
            TimerPurpose::ReplyDeadline,
            after(now, timeout),
        );
    }

    /// Starts undoing: the steps that completed or timed out, latest first.
    fn compensate(&self, st: &mut SagaState, reason: String, now: Timestamp, fx: &mut Vec<Effect>) {
        st.status = SagaStatus::Compensating;
        st.failure = Some(reason);
        st.compensation_path = (0..st.steps.len())
            .rev()
            .filter(|&i| {
                matches!(
                    st.steps[i].status,
                    StepStatus::Completed | StepStatus::TimedOut | StepStatus::Aborted
                ) && self.def.steps()[i].compensation.is_some()
            })
            .collect();
        self.next_compensation(st, now, fx);
    }

    fn next_compensation(&self, st: &mut SagaState, now: Timestamp, fx: &mut Vec<Effect>) {
        let next = st
            .compensation_path
            .iter()
            .copied()
            .find(|&i| st.steps[i].status != StepStatus::Compensated);
        match next {
            Some(i) => self.send(st, i, Phase::Compensate, now, fx),
            None => finish(st, SagaStatus::Compensated, fx),
        }
    }
}

fn finish(st: &mut SagaState, status: SagaStatus, fx: &mut Vec<Effect>) {
    st.status = status;
    st.current = None;
    st.timer = None;
    fx.push(Effect::Finished(Outcome {
        status,
        reason: st.failure.clone(),
    }));
}

/// Whether step `i`'s compensation has used every send it may (its first budget, plus one per
/// operator retry).
fn out_of_sends(step: &crate::Step, state: &StepState) -> bool {
    step.compensation
        .and_then(|c| c.gives_up_after)
        .is_some_and(|max| {
            let budget = u64::from(max) * (1 + u64::from(state.operator_retries));
            u64::from(state.compensation_attempts) >= budget
        })
}

/// Stops the saga as failed: step `i`'s compensation gave up.
fn stop(st: &mut SagaState, i: usize, now: Timestamp, fx: &mut Vec<Effect>) {
    let sent = st.steps[i].compensation_attempts;
    let reason = format!("its compensation gave up after {sent} sends");
    st.status = SagaStatus::Failed;
    st.timer = None;
    st.current = Some(i);
    st.steps[i].status = StepStatus::CompensationFailed;
    st.steps[i].reason = Some(reason.clone());
    st.steps[i].settled_at = Some(now);
    fx.push(Effect::Stopped { step: i, reason });
}

fn set_timer(st: &mut SagaState, step: usize, phase: Phase, purpose: TimerPurpose, due: Timestamp) {
    st.timer = Some(Timer {
        seq: st.timers_set,
        due,
        step,
        phase,
        purpose,
    });
    st.timers_set += 1;
}

fn after(now: Timestamp, wait: std::time::Duration) -> Timestamp {
    let ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_millis(now.millis().saturating_add(ms))
}

#[path = "operator.rs"]
mod operator;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
