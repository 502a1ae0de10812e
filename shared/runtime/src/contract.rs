//! The handler traits a function implements: [`TopicHandler`] for events, [`ScheduleHandler`]
//! (and the [`JobReport`] a run returns) for schedule ticks. They sit below the pipeline that
//! runs them ([`crate::invoke`], [`crate::batch`]) and [`crate::handler::Function`], the
//! type-erased form over both.

use std::future::Future;

use conveyor_domain::Timestamp;
use conveyor_domain::events::Validate;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::HandlerError;
use crate::spec::FunctionSpec;

/// A function triggered by events of one or more topics.
pub trait TopicHandler: Send + Sync + 'static {
    /// The typed payload decoded from the CloudEvent `data`.
    type Payload: DeserializeOwned + Validate + Send + 'static;

    /// The declaration.
    const SPEC: FunctionSpec;

    /// Handles one event inside the invocation's transaction.
    fn handle(
        &self,
        payload: Self::Payload,
        cx: &mut Context<'_>,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// What one run of a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Rows changed (orders cancelled, reservations expired, ...).
    pub processed: u64,
    /// The run stopped at its batch limit; more work remains for the next tick.
    pub more: bool,
}

impl JobReport {
    /// A report for `processed` rows out of a batch limit of `limit`.
    #[must_use]
    pub fn batch(processed: usize, limit: usize) -> Self {
        Self {
            processed: processed as u64,
            more: processed >= limit,
        }
    }
}

/// A function triggered by a schedule.
pub trait ScheduleHandler: Send + Sync + 'static {
    /// The declaration.
    const SPEC: FunctionSpec;

    /// One bounded run for the tick scheduled at `scheduled`, inside one transaction. Must be
    /// safe if two runs overlap (claim rows rather than read-then-write).
    fn run_once(
        &self,
        scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> impl Future<Output = Result<JobReport, HandlerError>> + Send;
}
