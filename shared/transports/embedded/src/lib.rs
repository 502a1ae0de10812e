//! The embedded broker: topics fan out to a durable per-function queue in the store (SQLite by
//! default), consumers lease messages, and what fails goes back with a backoff or to the
//! function's dead letters. Same semantics as the Redis transport, no server needed.
//!
//! # Layout
//! - [`broker`] — publishing (fan-out) and wake-ups
//! - [`consumer`] — one function's consume loop: lease, handle, ack / retry / dead-letter

pub mod broker;
pub mod consumer;
