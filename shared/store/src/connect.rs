//! Opening a store: one pool per process, configured per backend.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::StoreError;
use crate::pool::PoolOptions;

/// Where a local process (the emulator, a test worker) keeps its state unless told otherwise.
pub const LOCAL_DATABASE: &str = "sqlite://.conveyor/conveyor.db";

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL: one schema per service, row claims with `FOR UPDATE SKIP LOCKED`.
    Postgres,
    /// SQLite: one file, one writer at a time.
    Sqlite,
}

impl Backend {
    /// The clause that makes a `SELECT` claim rows so that overlapping job runs take disjoint
    /// rows. Empty on SQLite, where the single connection already serialises writers.
    #[must_use]
    pub fn skip_locked(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
            Self::Sqlite => "",
        }
    }

    /// The clause that locks a row read for update until the transaction ends, so concurrent
    /// handlers of one aggregate serialise. Empty on SQLite (one writer at a time).
    #[must_use]
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE",
            Self::Sqlite => "",
        }
    }

    /// `FOR UPDATE OF <alias>` on PostgreSQL (only that table's rows of a join are locked),
    /// nothing on SQLite.
    #[must_use]
    pub fn for_update_of(self, alias: &str) -> String {
        match self {
            Self::Postgres => format!(" FOR UPDATE OF {alias}"),
            Self::Sqlite => String::new(),
        }
    }
}

/// The `search_path` that lets unqualified table names reach every service's schema.
const PG_SEARCH_PATH: &str = "SET search_path TO orders, fulfillment, warehouse, conveyor, public";

/// A connection pool plus the backend it talks to. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Where published outbox rows go to be deleted, when that happens in the background.
    pub(crate) sweeper: Option<crate::sweeper::Sweeper>,
    /// Where credentials are read again when the database refuses them.
    pub(crate) reauth: Option<std::sync::Arc<crate::credentials::Reauth>>,
    /// The background checkpoints of a SQLite file's log, when started.
    pub(crate) checkpoints: Option<std::sync::Arc<crate::checkpoint::Checkpoints>>,
    /// Whether staged events are appended to the event store ([`crate::events`]).
    pub(crate) event_store: bool,
}

impl Store {
    /// Connects to `postgres://...` or `sqlite:<path>` (the file and its folder are created).
    ///
    /// On PostgreSQL the URL's `sslmode` (`disable`, `prefer` (the default), `require`,
    /// `verify-ca`, `verify-full`), `sslrootcert`, `sslcert` and `sslkey` apply, over rustls;
    /// `verify-full` without `sslrootcert` trusts the public web PKI roots built in.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`], or [`StoreError::Connect`] naming the URL without its
    /// password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Connects with the pool's size and acquire timeout given.
    ///
    /// # Errors
    /// As [`Store::connect`].
    pub async fn connect_with(url: &str, pool: PoolOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::unsupported_url(url));
        };
        let mut url = url.to_owned();
        if backend == Backend::Sqlite {
            if let Some(dir) = crate::sql::sqlite_path(&url)
                .and_then(|path| Path::new(path).parent())
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        // The Any driver hands the URL itself to the PostgreSQL driver, which reads `sslmode`,
        // `sslrootcert`, `sslcert` and `sslkey` from it.
        let options =
            AnyConnectOptions::from_str(&url).map_err(|e| StoreError::connect(&url, e))?;
        let pool = match backend {
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(pool.max_connections())
                .acquire_timeout(pool.acquire_timeout(backend))
                .after_connect(|conn, _| Box::pin(async move { conn.execute(PG_SEARCH_PATH).await.map(|_| ()) }))
                .connect_with(options)
                .await
                .map_err(|e| StoreError::connect(&url, e))?,
            // One connection: SQLite has one writer anyway, and a single connection turns lock
            // contention into queueing instead of SQLITE_BUSY errors. No ping before each
            // acquire: the connection is a file in this process, and sqlx pings it on every
            // release already (a broken one is dropped there), so a second ping per statement
            // would only add a round trip to the connection's thread on every path.
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(pool.acquire_timeout(backend))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON")
                            .await
                            .map(|_| ())
                    })
                })
                .connect_with(options)
                .await
                .map_err(|e| StoreError::connect(&url, e))?,
        };
        Ok(Self {
            pool,
            backend,
            sweeper: None,
            reauth: None,
            checkpoints: None,
            event_store: true,
        })
    }

    /// Connects and applies pending migrations.
    ///
    /// # Errors
    /// As [`Store::connect`] and [`Store::migrate`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, PoolOptions::default()).await
    }

    /// Connects with the pool's size and acquire timeout given, and applies pending migrations.
    ///
    /// # Errors
    /// As [`Store::connect`] and [`Store::migrate`].
    pub async fn open_with(url: &str, pool: PoolOptions) -> Result<Self, StoreError> {
        let store = Self::connect_with(url, pool).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for adapters' own queries outside a transaction.
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection, and stops the background checkpoints if this store runs them.
    pub async fn close(&self) {
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.stop();
        }
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::sqlite_path;

    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(
            sqlite_path("sqlite://.conveyor/state.db?mode=rwc"),
            Some(".conveyor/state.db")
        );
        assert_eq!(sqlite_path("sqlite:/tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[tokio::test]
    async fn rejects_unknown_urls() {
        let err = Store::connect("mysql://x").await.unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    }
}
