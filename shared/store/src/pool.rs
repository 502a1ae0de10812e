//! How large a store's pool is and how long a caller waits for a connection: the connection
//! budget each host sets (a Lambda handles one batch at a time and keeps a small pool, the
//! worker and the emulator a larger one).

use std::time::Duration;

/// Connections in a PostgreSQL pool unless configured otherwise (the worker's and the
/// emulator's default).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// How long a caller waits for a PostgreSQL connection unless configured otherwise.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for the single SQLite connection unless configured otherwise:
/// longer, since every writer queues on that one connection.
pub const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool's size and acquire timeout. A caller that gets no connection within the timeout
/// fails with a transient [`crate::StoreError`], so the delivery is retried, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    max_connections: u32,
    acquire_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: None,
        }
    }
}

impl PoolOptions {
    /// A pool of at most `max_connections` (at least 1) with the backend's acquire timeout.
    #[must_use]
    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections: max_connections.max(1),
            acquire_timeout: None,
        }
    }

    /// The same options with callers waiting at most `timeout` for a connection.
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
        self
    }

    /// Most connections on PostgreSQL. SQLite always uses one: it has one writer anyway, and a
    /// single connection turns lock contention into queueing instead of `SQLITE_BUSY` errors.
    #[must_use]
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// How long a caller waits for a connection on `backend`.
    #[must_use]
    pub fn acquire_timeout(&self, backend: crate::Backend) -> Duration {
        self.acquire_timeout.unwrap_or(match backend {
            crate::Backend::Postgres => DEFAULT_ACQUIRE_TIMEOUT,
            crate::Backend::Sqlite => SQLITE_ACQUIRE_TIMEOUT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;

    #[test]
    fn defaults_per_backend() {
        let options = PoolOptions::default();
        assert_eq!(options.max_connections(), 16);
        assert_eq!(
            options.acquire_timeout(Backend::Postgres),
            Duration::from_secs(10)
        );
        assert_eq!(
            options.acquire_timeout(Backend::Sqlite),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn a_pool_has_at_least_one_connection_and_the_timeout_given() {
        let options = PoolOptions::new(0).with_acquire_timeout(Duration::from_millis(200));
        assert_eq!(options.max_connections(), 1);
        assert_eq!(
            options.acquire_timeout(Backend::Sqlite),
            Duration::from_millis(200)
        );
    }
}
