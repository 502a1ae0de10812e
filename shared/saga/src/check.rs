//! The checks [`SagaDefinition::new`](crate::SagaDefinition::new) runs: every step can be
//! waited for, completed and (unless it is the last) undone, and every reply topic names
//! exactly one step and phase.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::DefinitionError;
use crate::route::{Phase, ReplyKind, ReplyRoute};
use crate::step::Step;

/// Names, timeouts, completing replies and compensations, step by step.
pub(crate) fn steps(saga: &'static str, steps: &[Step]) -> Result<(), DefinitionError> {
    if steps.is_empty() {
        return Err(DefinitionError::NoSteps { saga });
    }
    let mut names = BTreeSet::new();
    if let Some(step) = steps
        .iter()
        .find(|s| s.name.trim().is_empty() || !names.insert(s.name))
    {
        return Err(DefinitionError::BadStepName {
            saga,
            step: step.name,
        });
    }
    for (i, step) in steps.iter().enumerate() {
        if step.timeout.is_zero() || step.retry.attempts == 0 {
            return Err(DefinitionError::NeverWaits {
                saga,
                step: step.name,
            });
        }
        if step.completed_by.is_empty() {
            return Err(DefinitionError::NoCompletingReply {
                saga,
                step: step.name,
                phase: Phase::Forward,
            });
        }
        let last = i + 1 == steps.len();
        match step.compensation {
            None if !last => {
                return Err(DefinitionError::MissingCompensation {
                    saga,
                    step: step.name,
                });
            }
            Some(c) if c.completed_by.is_empty() => {
                return Err(DefinitionError::NoCompletingReply {
                    saga,
                    step: step.name,
                    phase: Phase::Compensate,
                });
            }
            Some(c) if c.timeout.is_zero() => {
                return Err(DefinitionError::NeverWaits {
                    saga,
                    step: step.name,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The reply table: each topic to its one step, phase and meaning.
pub(crate) fn routes(
    saga: &'static str,
    steps: &[Step],
) -> Result<BTreeMap<&'static str, ReplyRoute>, DefinitionError> {
    let mut routes: BTreeMap<&'static str, ReplyRoute> = BTreeMap::new();
    let mut commands = BTreeSet::new();
    let name = |r: &ReplyRoute| format!("{}/{:?}", steps[r.step].name, r.phase);
    for (i, step) in steps.iter().enumerate() {
        commands.insert(step.command);
        let mut replies: Vec<(&'static str, Phase, ReplyKind)> = Vec::new();
        replies.extend(
            step.completed_by
                .iter()
                .map(|t| (*t, Phase::Forward, ReplyKind::Completes)),
        );
        replies.extend(
            step.failed_by
                .iter()
                .map(|t| (*t, Phase::Forward, ReplyKind::Fails)),
        );
        if let Some(c) = step.compensation {
            commands.insert(c.command);
            replies.extend(
                c.completed_by
                    .iter()
                    .map(|t| (*t, Phase::Compensate, ReplyKind::Completes)),
            );
            replies.extend(
                c.retried_on
                    .iter()
                    .map(|t| (*t, Phase::Compensate, ReplyKind::Retries)),
            );
        }
        for (topic, phase, kind) in replies {
            let route = ReplyRoute {
                step: i,
                phase,
                kind,
            };
            if let Some(first) = routes.get(topic) {
                return Err(DefinitionError::DuplicateReplyTopic {
                    saga,
                    topic,
                    first: name(first),
                    second: name(&route),
                });
            }
            routes.insert(topic, route);
        }
    }
    if let Some(&topic) = routes.keys().find(|t| commands.contains(*t)) {
        return Err(DefinitionError::ReplyIsCommand { saga, topic });
    }
    Ok(routes)
}
