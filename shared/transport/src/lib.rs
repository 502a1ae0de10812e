//! conveyor-transport: what every host and transport shares above the runtime.
//!
//! The runtime ([`conveyor_runtime`]) runs one delivery through a function; this crate holds
//! what a long-running host needs around that, whatever carries the events:
//!
//! - [`broker`] — the `Broker` port: publish with fan-out, dead letters, redrive, depths
//! - [`policy`] — the delivery policy every host calls (acknowledge, retry after d, or
//!   dead-letter with a reason), and its jitter
//! - [`metrics`] — Prometheus metrics per function and the `Journal` port for deliveries the
//!   function never saw
//! - [`measure`] — the metrics taken around a function (event lag) and a publisher (publish
//!   latency), as decorators every host wraps its functions and publisher in
//! - [`relay`] — the outbox relay loop
//! - [`tick`] — one cron tick as every host fires it, and the `TickLock` port
//! - [`shutdown`] — Ctrl-C or SIGTERM
//! - [`maintenance`] — the periodic pruning loop of inbox rows, dead letters and stored events
//! - [`replay`] — stored events delivered again, bounded and resumable
//!
//! # Layering
//! domain < store < runtime < transport (this crate) and the function crates < the transports
//! (`embedded`, `redis`, `sqs`) and the catalog < the Dapr host < the tools < the emulator. No
//! crate depends on one above it.

pub mod broker;
pub mod maintenance;
pub mod measure;
pub mod metrics;
pub mod policy;

pub mod relay;
pub mod replay;
pub mod shutdown;
pub mod tick;
