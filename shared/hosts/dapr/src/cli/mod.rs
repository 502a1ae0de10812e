//! The worker's command line, shared by the `conveyor-worker` binary and `conveyor worker`.
//!
//! # Layout
//! - [`args`] — clap definitions (every option has an environment fallback)
//! - [`pool`] — the database pool's size and acquire timeout (also used by `conveyor up`)
//! - [`run`] — start, serve, stop, and the errors that name what to change
//! - [`values`] — value parsers whose errors name the variable to set

pub mod args;
pub mod pool;
pub mod run;
pub mod values;
