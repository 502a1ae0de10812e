//! An operator's action on one saga — abort it, or retry it after a compensation gave up —
//! applied as the orchestrator applies a reply: in one transaction, the saga's row is read
//! locked, the engine applied ([`Input::Abort`], [`Input::Retry`]), the new state and its timer
//! stored and the commands staged in the outbox; after the commit they are published (what
//! publishing misses, the relay publishes). The row lock orders the action with the replies
//! and timers of the same saga, so an action and a reply never both apply to one state.
//!
//! The action is refused, with the saga's status, when the engine would change nothing: an
//! abort of a saga that is not running, a retry of a saga that is not failed.

use std::borrow::Cow;

use conveyor_domain::SagaId;

use super::{Engine, Ignored, Input, SagaCodec, SagaRepository, SagaStatus, Transition, stage};
use crate::context::{Context, Deps, Meta};
use crate::error::HandlerError;
use crate::invoke::{publish_committed, rollback};

/// What an operator asks of a saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Undo what it did, latest first (a running saga only).
    Abort {
        /// Why, kept as the saga's failure.
        reason: String,
    },
    /// Send the compensation that gave up again (a failed saga only).
    Retry,
}

impl Operation {
    /// `abort` or `retry`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Abort { .. } => "abort",
            Self::Retry => "retry",
        }
    }
}

/// Why an operation was not applied.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    /// No saga of that definition has that id.
    #[error("no saga {saga} of {definition}")]
    NotFound {
        /// The definition.
        definition: String,
        /// The id asked for.
        saga: SagaId,
    },
    /// An abort of a saga that is not running.
    #[error(
        "saga {saga} is {status}: only a running saga can be aborted (a compensating one is already being undone, a failed one is retried)"
    )]
    NotAbortable {
        /// The saga.
        saga: SagaId,
        /// Its status.
        status: &'static str,
    },
    /// A retry of a saga that is not failed.
    #[error(
        "saga {saga} is {status}: only a failed saga (a compensation that gave up) can be retried"
    )]
    NotRetryable {
        /// The saga.
        saga: SagaId,
        /// Its status.
        status: &'static str,
    },
    /// The database, or a state the definition cannot read.
    #[error(transparent)]
    Failed(#[from] HandlerError),
}

/// Applies `op` to the saga `saga` of `codec`'s definition, publishing as `source` (the
/// orchestrator's app id). Returns the transition stored.
///
/// # Errors
/// [`OperateError::NotFound`], [`OperateError::NotAbortable`], [`OperateError::NotRetryable`]
/// (nothing written); [`OperateError::Failed`] for database errors (nothing committed).
pub async fn operate<C: SagaCodec + ?Sized>(
    deps: &Deps,
    codec: &C,
    source: &'static str,
    saga: &SagaId,
    op: Operation,
) -> Result<Transition, OperateError> {
    let def = codec.definition();
    let now = deps.clock.now();
    let mut tx = deps.store.begin().await.map_err(HandlerError::from)?;
    let loaded = tx
        .load_saga(def.name(), saga)
        .await
        .map_err(HandlerError::from)?;
    let Some(state) = loaded else {
        rollback(tx).await;
        return Err(OperateError::NotFound {
            definition: def.name().to_owned(),
            saga: saga.clone(),
        });
    };
    let input = match &op {
        Operation::Abort { reason } => Input::Abort {
            reason: reason.clone(),
        },
        Operation::Retry => Input::Retry,
    };
    let t = Engine::new(def)
        .apply(&state, &input, now)
        .map_err(HandlerError::drop)?;
    if let Some(why) = &t.ignored {
        rollback(tx).await;
        return Err(refusal(saga, state.status, why));
    }
    tx.save_saga(&t.state).await.map_err(HandlerError::from)?;
    // The action is its own cause: an id naming the saga and the version it produced.
    let id = format!("saga-operator/{}/{saga}/{}", op.name(), t.state.version);
    let mut meta = Meta::for_tick(&id, now, 1);
    meta.event_id = Cow::Owned(id);
    meta.correlation_id = Cow::Owned(saga.to_string());
    let rows = {
        let mut cx = Context::new(&meta, source, now, &mut tx);
        stage(codec, &t, &mut cx)?;
        cx.staged().to_vec()
    };
    tx.outbox_stage(&rows, now)
        .await
        .map_err(HandlerError::from)?;
    tx.commit().await.map_err(HandlerError::from)?;
    super::metrics::observe_end(&state, &t);
    tracing::info!(saga = def.name(), %saga, op = op.name(), status = t.state.status.as_str(), "operator action applied");
    publish_committed(deps, &rows).await;
    Ok(t)
}

fn refusal(saga: &SagaId, status: SagaStatus, why: &Ignored) -> OperateError {
    let saga = saga.clone();
    match why {
        Ignored::NotRetryable(_) => OperateError::NotRetryable {
            saga,
            status: status.as_str(),
        },
        _ => OperateError::NotAbortable {
            saga,
            status: status.as_str(),
        },
    }
}
