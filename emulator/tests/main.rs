//! The emulator end to end: the embedded, Redis and SQS transports, the HTTP API, the dashboard,
//! the Dapr worker, and the generated `events/`, `dapr/` and Terraform.

mod access;
mod api;
mod bench_saga;
mod bench_store;
#[path = "support/checkout/mod.rs"]
mod checkout;
mod dapr;
mod dashboard;
mod embedded;
mod events;
#[path = "support/functions.rs"]
mod functions;
mod metrics;
mod operator;
mod ordering;
mod pool_exhausted;
mod redis_common;
mod redis_delivery;
mod redis_instances;
mod redis_interop;
mod redis_recovery;
mod redis_retention;
mod redis_tick_lock;
mod redis_tls;
mod replay;
mod saga_ops;
mod saga_timers;
mod schema;
mod sqs;
mod startup;
mod terraform;
