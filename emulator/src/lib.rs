//! conveyor-emulator: the `conveyor` binary's library: the function catalog, the local emulator
//! (`up`: embedded broker, consumers, cron scheduler, outbox relay), and the generators of the
//! checked-in artefacts.
//!
//! # Layout
//! - [`access`] — who may drive the HTTP API: Host, Origin, content type and token checks
//! - [`api`] — the HTTP API
//! - [`bench`] — `conveyor bench`
//! - [`broker`] — what a transport provides (embedded or Redis)
//! - [`catalog`] — every function of the platform
//! - [`cli`] — command-line arguments and operator commands
//! - [`dapr`] — `conveyor worker`, the Dapr sidecar host
//! - [`demo`] — `up --demo` seed data
//! - [`dashboard`] — the web dashboard and its JSON API
//! - [`embedded`] — the embedded broker and its consumers
//! - [`eventlog`] — recent events, attempts and runs, bounded, for the dashboard
//! - [`maintenance`] — the long-running hosts' periodic pruning of inbox rows and dead letters
//! - [`operations`] — publish, dead letters and redrive, for the API and the direct commands
//! - [`redacted`] — `Debug` of the configurations that hold URLs or tokens, secrets masked
//! - [`redis`] — the Redis Streams transport (wire-compatible with Dapr's `pubsub.redis`)
//! - [`scheduler`] — cron jobs on their schedules
//! - [`sqs`] — SQS queues as the transport: a local event source mapping through the Lambda adapter
//! - [`stats`] — metrics and recent invocations
//! - [`up`] — wiring it all together
//! - [`r#gen`] — generators of `events/` (and more)

pub mod access;
pub mod api;
pub mod bench;
pub mod broker;
pub mod catalog;
pub mod cli;
pub mod dapr;
pub mod dashboard;
pub mod demo;
pub mod embedded;
pub mod eventlog;
pub mod r#gen;
pub mod maintenance;
pub mod operations;
pub mod redacted;
pub mod redis;
pub mod scheduler;
pub mod sqs;
pub mod stats;
pub mod up;
