//! The port a store implements to keep sagas: the state row, locked for the transaction that
//! applies an input, and the due-timer table the orchestrator's timer loop polls.

use std::future::Future;

use conveyor_domain::{SagaId, Timestamp};

use crate::state::{SagaState, SagaStatus};

/// A timer that fell due, taken from the table (each is taken once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// The saga's definition.
    pub definition: String,
    /// The saga.
    pub saga: SagaId,
    /// The timer's number.
    pub seq: u64,
    /// When it fell due.
    pub due: Timestamp,
}

/// One line of a saga listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaSummary {
    /// The saga's definition.
    pub definition: String,
    /// The saga.
    pub saga: SagaId,
    /// Where it is.
    pub status: SagaStatus,
    /// The step being run or undone.
    pub current_step: Option<usize>,
    /// The next deadline.
    pub deadline: Option<Timestamp>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Saga state and timers, inside the caller's transaction.
pub trait SagaRepository {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The saga, locked until the transaction ends (so two inputs of one saga apply one after
    /// the other); `None` when it was never started.
    fn load_saga(
        &mut self,
        definition: &str,
        saga: &SagaId,
    ) -> impl Future<Output = Result<Option<SagaState>, Self::Error>> + Send;

    /// The saga as last committed, without a lock: for views and for a check that it exists,
    /// which must not wait for (or hold up) the orchestrator handling one of its inputs.
    fn read_saga(
        &mut self,
        definition: &str,
        saga: &SagaId,
    ) -> impl Future<Output = Result<Option<SagaState>, Self::Error>> + Send;

    /// Stores a new saga and its timer; `false` (nothing written) when a saga of that
    /// definition and id exists already, so two starts of one saga start it once.
    fn create_saga(
        &mut self,
        state: &SagaState,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Stores the saga (insert or update) and makes its timer row what `state.timer` says:
    /// that timer, or none.
    fn save_saga(
        &mut self,
        state: &SagaState,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Takes (deletes and returns) up to `limit` timers due at or before `now`, oldest first.
    /// Overlapping callers take disjoint timers.
    fn take_due_saga_timers(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueTimer>, Self::Error>> + Send;

    /// The sagas of `definition` (all when `None`) in `status` (any when `None`), most recently
    /// changed first.
    fn list_sagas(
        &mut self,
        definition: Option<&str>,
        status: Option<SagaStatus>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SagaSummary>, Self::Error>> + Send;
}
