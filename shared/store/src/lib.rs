//! conveyor-store: the sqlx adapters of the domain ports, for PostgreSQL (production) and SQLite
//! (the emulator's embedded default), behind one [`Store`] handle and one [`Tx`] transaction type.
//!
//! SQL is written once and runs on both backends through sqlx's `Any` driver: `$N` placeholders,
//! integers and text only (times are Unix milliseconds, money is minor units). Each service owns
//! its tables: on PostgreSQL in its own schema (`orders`, `fulfillment`, `warehouse`, and
//! `conveyor` for the runtime's inbox and outbox), found through the connection's `search_path`;
//! on SQLite in one file.
//!
//! # Layout
//! - [`connect`] — pools, per-backend connection setup
//! - [`credentials`] — credentials read again when the database refuses them (rotation)
//! - [`pool`] — pool size and acquire timeout (the connection budget)
//! - [`migrate`] — embedded per-backend migrations: the core set and the embedded broker's
//! - [`tx`] — the transaction every handler works in
//! - [`order`], [`fulfillment`], [`warehouse`] — each service's repositories
//! - [`queue`] — the embedded broker's durable queue and dead letters
//! - [`redact`] — connection URLs with their passwords masked, for logs and errors
//! - [`inbox`], [`outbox`]: idempotency and transactional publishing
//! - [`events`] — the event store: every published event, queries, retention, replay progress
//! - [`saga`] — [`SagaRepository`](conveyor_saga::SagaRepository): saga state and due timers
//! - [`sweeper`] — published outbox rows deleted in batches in the background
//! - [`checkpoint`] — a SQLite file's write-ahead log checkpointed in the background
//! - [`retention`] — inbox rows and dead letters past their retention, pruned in batches
//! - [`testing`] (feature `testing`): throwaway databases for tests

pub mod checkpoint;
pub mod connect;
pub mod credentials;
pub mod error;
pub mod events;
pub mod fulfillment;
pub mod inbox;
pub mod migrate;
pub mod order;
pub mod outbox;
pub mod pool;
pub mod queue;
pub mod redact;
pub mod retention;
pub mod saga;
mod sql;
pub mod sweeper;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tx;
pub mod warehouse;

pub use connect::{Backend, Store};
pub use error::StoreError;
pub use migrate::MigrationSet;
pub use outbox::OutboxRow;
pub use pool::PoolOptions;
pub use sqlx;
pub use tx::Tx;
