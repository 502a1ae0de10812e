//! The declarative description of a saga: its steps, in order, each with the command that
//! starts it, the replies that complete or fail it, its timeout and retry policy, and the
//! compensation that undoes it. [`SagaDefinition::new`] checks the whole description once, so
//! an engine never meets an ambiguous reply or a step it cannot undo.

use std::collections::BTreeMap;

use crate::error::DefinitionError;
use crate::route::ReplyRoute;
use crate::step::Step;

/// A checked saga description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaDefinition {
    name: &'static str,
    steps: Vec<Step>,
    routes: BTreeMap<&'static str, ReplyRoute>,
}

impl SagaDefinition {
    /// Checks and builds a definition.
    ///
    /// # Errors
    /// [`DefinitionError`] naming the first problem found.
    pub fn new(name: &'static str, steps: Vec<Step>) -> Result<Self, DefinitionError> {
        if name.trim().is_empty() {
            return Err(DefinitionError::NoName);
        }
        crate::check::steps(name, &steps)?;
        let routes = crate::check::routes(name, &steps)?;
        Ok(Self {
            name,
            steps,
            routes,
        })
    }

    /// The saga's name (its state rows and timers are keyed by it).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The steps, in order.
    #[must_use]
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// What a reply topic settles, if it is one of this saga's.
    #[must_use]
    pub fn route(&self, topic: &str) -> Option<ReplyRoute> {
        self.routes.get(topic).copied()
    }

    /// Every reply topic (what the orchestrator subscribes to), sorted.
    #[must_use]
    pub fn reply_topics(&self) -> Vec<&'static str> {
        self.routes.keys().copied().collect()
    }

    /// Every command topic, forward and compensating, in step order.
    #[must_use]
    pub fn command_topics(&self) -> Vec<&'static str> {
        let forward = self.steps.iter().map(|s| s.command);
        let back = self
            .steps
            .iter()
            .filter_map(|s| s.compensation.map(|c| c.command));
        forward.chain(back).collect()
    }
}

#[cfg(test)]
#[path = "definition_tests.rs"]
mod tests;
