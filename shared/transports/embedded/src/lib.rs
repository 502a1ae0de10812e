//! The embedded broker: topics fan out to a durable per-function queue in the store (SQLite by
//! default), consumers lease messages, and what fails goes back with a backoff or to the
//! function's dead letters. Same semantics as the Redis transport, no server needed.
//!
//! # Durability
//! The store opens SQLite with `journal_mode = WAL` and `synchronous = NORMAL`; the queue's
//! guarantees rest on these settings:
//! - **A publish that was answered is never lost to a crash of the process.** The answer comes
//!   after the transaction that inserts the messages commits, and in WAL mode a commit has
//!   appended its frames to the `-wal` file with `write(2)` before it returns: the data is in the
//!   kernel's page cache, which a SIGKILL of the process does not touch. The next open replays
//!   the WAL and the messages are there. (With `NORMAL`, the WAL is synced to the disk at each
//!   checkpoint rather than at each commit, so a power cut or a kernel crash may roll back the
//!   last commits since; the database stays consistent. `FULL` would sync at every commit, at a
//!   disk flush per transaction; a local emulator does not need that, a production database is
//!   PostgreSQL.) `conveyor up` checkpoints the log on a background task with a connection of
//!   its own every 100 ms (`conveyor_store::checkpoint`), so no commit waits for a checkpoint's
//!   disk syncs; a commit checkpoints by itself only if the log passes 16,384 pages. A
//!   checkpoint copies committed pages only, so when it runs changes nothing above.
//! - **A handled event is never handled twice with effects.** A handler's effects and its inbox
//!   row commit in one transaction; the acknowledgement (deleting the message) is a later write,
//!   group-committed with others ([`consumer`]). A crash between the two leaves the message
//!   leased: it is delivered again when the lease ends, and the inbox answers it as a
//!   duplicate. A crash before the handler's commit rolls its effects back, and the redelivery
//!   runs it again.
//! - **A kill during a batch commit** (a lease of many messages, an acknowledgement of many, or
//!   the transaction in which a function with an inbox handles up to [`consumer::TX_BATCH`]
//!   messages) is all or nothing: either every message of the batch is leased (acknowledged,
//!   handled with its inbox row and outgoing events) or none is. A batch killed before its
//!   commit is handled again after the lease; one killed after its commit but before its
//!   acknowledgements is found in the inbox and acknowledged as a duplicate.
//!
//! # Layout
//! - [`broker`] — publishing (fan-out) and wake-ups
//! - [`consumer`] — one function's consume loop: lease, handle, ack / retry / dead-letter
//! - [`handoff`] — a published message handed straight to an idle consumer, leased already

pub mod broker;
pub mod consumer;
pub mod handoff;
