//! conveyor-dapr: the Dapr host, `conveyor-worker` (also `conveyor worker`): one service's functions behind a Dapr sidecar on Kubernetes.
//!
//! daprd delivers pub/sub events and `bindings.cron` firings (or, with `--schedules jobs`, the
//! Jobs API's triggers) to the worker's app, over HTTP or gRPC (`--app-protocol`); the worker runs each through the runtime's inbox/outbox pipeline
//! and publishes the events it causes through the sidecar's publish API of the same protocol.
//! One worker per service (app ids `order-worker`, `fulfillment-worker`, `warehouse-worker`),
//! in one of three modes: `cron` (jobs only), `event` (topic functions only) or `all`.
//!
//! The host sits above `conveyor-transport` (metrics, relay loop, tick firing, maintenance
//! loop) and the catalog (the binary runs the catalog's functions); nothing of the local emulator
//! is in it.
//!
//! # Layout
//! - [`cli`] — the command line (`conveyor-worker`, `conveyor worker`): options, start, errors
//! - [`config`] — service, mode, ports, tokens, publisher limits, and why they may be wrong
//! - [`protocol`] — HTTP or gRPC between daprd and the worker
//! - [`env_file`] — a setting from `X` or from the file `X_FILE` names (mounted secrets)
//! - [`app`] — the routes daprd calls over HTTP, and the token check
//! - [`grpc`] — the services daprd calls over gRPC (`AppCallback`, health check)
//! - [`state`] — what the routes share: the functions served, delivery counts, key locks
//! - [`subscription`] — the subscriptions listed to daprd, on either protocol
//! - [`delivery`] — one pub/sub delivery (or bulk delivery) to a status
//! - [`attempts`] — deliveries counted per event
//! - [`keys`] — one delivery at a time per ordering key
//! - [`bindings`] — cron binding firings, and one tick of a job whoever fires it
//! - [`jobs`] — jobs through Dapr's Jobs API: scheduling them at start, the job callback
//! - [`publisher`] — publishing through the sidecar (HTTP or gRPC), with retries
//! - [`breaker`] — the publisher's circuit breaker
//! - [`worker`] — start, serve, graceful shutdown, outbox relay

pub mod app;
pub mod attempts;
pub mod bindings;
pub mod breaker;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod env_file;
pub mod grpc;
pub mod jobs;
pub mod keys;
pub mod protocol;
pub mod publisher;
pub mod state;
pub mod subscription;
pub mod worker;

pub use config::{
    BulkSubscribe, ConfigError, Mode, PublisherSettings, Schedules, Subscriptions, WorkerConfig,
};
pub use protocol::AppProtocol;
pub use worker::{Worker, WorkerError};
