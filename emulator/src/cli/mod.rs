//! The `conveyor` command line: argument definitions and the operator commands, which talk to a
//! running `conveyor up` through its HTTP API, or (publish and dead letters) to Redis directly.
//!
//! # Layout
//! - [`action`] — publish and dead letters, on Redis directly or over HTTP
//! - [`aws`] — AWS client settings from the SQS options
//! - [`args`] — clap definitions (every option has an environment fallback)
//! - [`client`] — the operator commands over HTTP
//! - [`commands`] — the local commands and output formatting
//! - [`migrate`] — `conveyor migrate`: the migrations as a step of their own
//! - [`saga`] — `conveyor saga`: list, show, abort and retry sagas
//! - [`replay`] — `conveyor events replay`: stored events delivered again

//! - [`sqs`] — SQS settings from the arguments, and `dlq redrive --sqs`

//! - [`start`] — `up`'s start-up checks and the errors that name the option to set

pub mod action;
pub mod args;
pub mod aws;
pub mod client;
pub mod commands;
pub mod migrate;
pub mod replay;
pub mod saga;

pub mod sqs;
pub mod start;
