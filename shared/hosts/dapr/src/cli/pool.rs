//! The database pool options `up` and `worker` share: how many connections the process opens
//! and how long a handler waits for one. A handler that waits longer fails as `Retry`, so its
//! delivery is tried again, never dead-lettered for want of a connection.

use std::time::Duration;

use conveyor_store::PoolOptions;
use conveyor_store::pool::DEFAULT_MAX_CONNECTIONS;

use super::values;

/// `--db-pool-size` and `--db-acquire-timeout-ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct PoolArgs {
    /// Most PostgreSQL connections this process opens (SQLite always uses one).
    #[arg(long, env = "CONVEYOR_DB_POOL_SIZE", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = values::parsed::<u32>("CONVEYOR_DB_POOL_SIZE", "--db-pool-size", "a number of connections, 16 by default"))]
    pub db_pool_size: u32,
    /// Milliseconds a handler waits for a database connection before its delivery is retried;
    /// 10000 by default (30000 on SQLite, whose one connection every writer shares).
    #[arg(long, env = "CONVEYOR_DB_ACQUIRE_TIMEOUT_MS",
          value_parser = values::at_least_one::<u64>("CONVEYOR_DB_ACQUIRE_TIMEOUT_MS", "--db-acquire-timeout-ms"))]
    pub db_acquire_timeout_ms: Option<u64>,
}

impl Default for PoolArgs {
    fn default() -> Self {
        Self {
            db_pool_size: DEFAULT_MAX_CONNECTIONS,
            db_acquire_timeout_ms: None,
        }
    }
}

impl PoolArgs {
    /// The store's pool options these arguments describe.
    #[must_use]
    pub fn options(&self) -> PoolOptions {
        let options = PoolOptions::new(self.db_pool_size);
        match self.db_acquire_timeout_ms {
            Some(ms) => options.with_acquire_timeout(Duration::from_millis(ms)),
            None => options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor_store::Backend;

    #[test]
    fn the_timeout_applies_only_when_given() {
        let default = PoolArgs::default().options();
        assert_eq!(default, PoolOptions::default());
        let given = PoolArgs {
            db_pool_size: 4,
            db_acquire_timeout_ms: Some(250),
        }
        .options();
        assert_eq!(given.max_connections(), 4);
        assert_eq!(
            given.acquire_timeout(Backend::Postgres),
            Duration::from_millis(250)
        );
    }
}
