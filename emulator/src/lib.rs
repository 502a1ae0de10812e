//! conveyor-emulator: the `conveyor` binary's library: the function catalog, the local emulator
//! (`up`: embedded broker, consumers, cron scheduler, outbox relay), and the generators of the
//! checked-in artefacts.
//!
//! # Layout
//! - [`access`] — who may drive the HTTP API: Host, Origin, content type and token checks
//! - [`api`] — the HTTP API
//! - [`benched`] — what `conveyor bench` starts: this emulator, through the bench's port
//! - [`cli`] — command-line arguments and operator commands
//! - [`demo`] — `up --demo` seed data
//! - [`dashboard`] — the web dashboard and its JSON API
//! - [`eventlog`] — recent events, attempts and runs, bounded, for the dashboard
//! - [`http`] — what the API's and the dashboard's handlers share: state and error responses
//! - [`operations`] — publish, dead letters and redrive, for the API and the direct commands
//! - [`redacted`] — `Debug` of the configurations that hold URLs or tokens, secrets masked
//! - [`sagas`] — the sagas' operator API: list, show, abort, retry
//! - [`scheduler`] — cron jobs on their schedules
//! - [`up`] — wiring it all together

pub mod access;
pub mod api;
pub mod benched;
pub mod cli;
pub mod dashboard;
pub mod demo;
pub mod eventlog;
pub mod http;
pub mod operations;
pub mod redacted;
pub mod sagas;
pub mod scheduler;
pub mod up;
