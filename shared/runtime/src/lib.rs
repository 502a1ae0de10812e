//! conveyor-runtime: the contract between handlers and the hosts that run them.
//!
//! A function is a [`FunctionSpec`] plus a [`TopicHandler`] or [`ScheduleHandler`]. Every host
//! (the emulator, the Lambda adapter, the Dapr worker) feeds it through the same pipeline in
//! [`invoke`]: decode the [`CloudEvent`], validate, claim the inbox row, run the handler in one
//! transaction with its outbox rows, commit, publish. Handlers classify failures once as
//! [`HandlerError::Retry`] or [`HandlerError::Drop`]; [`delivery::decide`] turns that into
//! acknowledge, retry or dead-letter, and each host carries it out with its own mechanism.
//!
//! # Layout
//! - [`cloudevent`] — the Dapr-compatible CloudEvents 1.0 envelope (decoded on a fast path when
//!   compact and free of escapes, as conveyor and daprd write it)
//! - [`spec`] — `FunctionSpec`, `Trigger`, `RetryPolicy`, `Service`
//! - [`contract`] — the handler traits a function implements
//! - [`handler`] — the type-erased [`Function`] over them
//! - [`context`] — `Context` (per invocation) and `Deps` (per process)
//! - [`invoke`], [`relay`]: inbox/outbox pipeline and the outbox relay
//! - [`batch`] — several events of one function in one transaction
//! - `fault` — a fault point for the durability tests (debug builds only)
//! - [`event_store`] — the event store's on/off switch every host reads
//! - [`delivery`] — after a delivery: acknowledge, retry after a jittered backoff, or
//!   dead-letter with the reason (the one decision every host makes)
//! - [`maintenance`] — retention of inbox rows and dead letters, and the bounded pruning run
//! - [`publish`] — the publishing port
//! - [`saga`] — orchestrated sagas run as topic functions, and their due-timer poller
//! - [`cron`] — schedules and their EventBridge / Dapr translations
//! - [`trace`] — W3C traceparent
//! - [`telemetry`] — tracing subscriber set-up
//! - `lambda` (feature `lambda`): the AWS Lambda host

pub mod batch;
pub mod cloudevent;
pub mod context;
pub mod contract;
pub mod cron;
pub mod delivery;
pub mod error;
pub mod event_store;
mod fault;
pub mod handler;
pub mod invoke;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod maintenance;
pub mod publish;
pub mod relay;
pub mod saga;
pub mod spec;
pub mod telemetry;
pub mod trace;

pub use batch::{EventInput, Stop};
pub use cloudevent::CloudEvent;
pub use context::{Context, Deps, Meta};
pub use contract::{JobReport, ScheduleHandler, TopicHandler};
pub use error::{BoxError, HandlerError};
pub use handler::{Function, Input, orchestrator, schedule, topic};
pub use invoke::Handled;
pub use publish::{DeferredPublisher, MemoryPublisher, PublishError, Publisher};
pub use spec::{FunctionSpec, Idempotency, RetryPolicy, Service, Trigger};
