//! `conveyor worker` as daprd sees it: the tests play daprd (subscription discovery, deliveries
//! with daprd's body and headers, cron binding probes and firings, the Scheduler's job
//! triggers, over HTTP and over gRPC) and the sidecar's publish API (HTTP and gRPC) and Jobs
//! API, against a worker served on a real listener; and the generated `dapr/` folder. For the
//! checkout saga, [`daprd`] routes what several workers publish to each other's subscriptions.
//!
//! `CONVEYOR_BLESS=1 cargo test -p conveyor-emulator --test emulator dapr::` rewrites `dapr/`.

mod binary;
mod checkout;
mod config;
mod cron;
mod daprd;
mod database;
mod delivery;
mod generated;
mod grpc;
mod grpc_harness;
mod grpc_publish;
mod harness;
mod jobs;
mod metrics;
mod ordering;
mod publish;
mod routes;
mod saga;
