//! Throwaway stores for tests: a fresh PostgreSQL database or a fresh SQLite file per test, so
//! tests run in parallel against the shared server without crosstalk.
//!
//! PostgreSQL is reached through `CONVEYOR_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each [`TestDb`] creates its own database there
//! and drops it when the test ends.

use std::future::Future;

use crate::{Backend, Store};

/// The admin database tests create their databases from.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store that cleans up after itself, migrated with every table (the embedded broker's
/// included) unless made empty.
#[derive(Debug)]
pub struct TestDb {
    store: Store,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Postgres { admin_url: String, name: String },
    Sqlite { _dir: tempfile::TempDir },
    Done,
}

fn admin_url() -> String {
    std::env::var("CONVEYOR_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    /// A fresh PostgreSQL database, migrated (the embedded broker's tables included).
    ///
    /// # Panics
    /// When PostgreSQL is unreachable: a test environment problem, reported loudly.
    pub async fn postgres() -> Self {
        let admin = admin_url();
        Self::create_postgres(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", crate::redact::url(&admin)))
    }

    /// A fresh, migrated database on the server of `admin` (a URL whose database may create
    /// others), for tools such as benchmarks that must not panic.
    ///
    /// # Errors
    /// When the server cannot be reached, the database cannot be created, or migrations fail.
    pub async fn create_postgres(admin: &str) -> Result<Self, crate::StoreError> {
        let db = Self::create_empty_postgres(admin).await?;
        db.store.migrate_embedded_broker().await?;
        Ok(db)
    }

    /// A fresh PostgreSQL database with no table at all, for tests of migrations.
    ///
    /// # Panics
    /// When PostgreSQL is unreachable.
    pub async fn empty_postgres() -> Self {
        let admin = admin_url();
        Self::create_empty_postgres(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", crate::redact::url(&admin)))
    }

    async fn create_empty_postgres(admin: &str) -> Result<Self, crate::StoreError> {
        let name = format!("conveyor_t_{}", uuid::Uuid::new_v4().simple());
        let admin_store = Store::connect(admin).await?;
        let created = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin_store.pool())
            .await;
        admin_store.close().await;
        created?;
        let url = replace_db_name(admin, &name);
        let store = Store::connect(&url).await?;
        Ok(Self {
            store,
            url,
            cleanup: Cleanup::Postgres {
                admin_url: admin.to_owned(),
                name,
            },
        })
    }

    /// A fresh SQLite file in a temporary folder, migrated (the embedded broker's tables
    /// included).
    ///
    /// # Panics
    /// When the temporary folder cannot be made.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("conveyor.db").display());
        let store = Store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        store
            .migrate_embedded_broker()
            .await
            .unwrap_or_else(|e| panic!("migrate {url}: {e}"));
        Self {
            store,
            url,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    /// One of each backend, for contract tests.
    pub async fn of(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite().await,
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The URL of this database (for child processes).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl TestDb {
    /// Closes the pool and drops the database. Call it at the end of a test; a test that panics
    /// before leaves the cleanup to `Drop`, which does it in the background.
    pub async fn close(mut self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } =
            std::mem::replace(&mut self.cleanup, Cleanup::Done)
        {
            drop_database(&admin_url, &name).await;
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(admin) = Store::connect(admin_url).await {
        let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(admin.pool())
            .await;
        if let Err(e) = dropped {
            eprintln!("could not drop test database {name}: {e}");
        }
        admin.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } =
            std::mem::replace(&mut self.cleanup, Cleanup::Done)
        {
            // Reached only when a test ended without `close` (a panic). The test's runtime may
            // be blocked or gone: drop the database from a detached thread, never waiting on it.
            std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_database(&admin_url, &name));
                }
            });
        }
    }
}

/// Runs a contract test once per backend, each on a fresh database.
pub async fn on_both_backends<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::of(backend).await;
        test(db.store().clone()).await;
        db.close().await;
    }
}

/// On PostgreSQL, how many transactions wrote `function`'s inbox rows (their distinct `xmin`);
/// `None` on SQLite, which does not say.
///
/// # Panics
/// If the query fails.
pub async fn inbox_transactions(store: &Store, function: &str) -> Option<i64> {
    if store.backend() != Backend::Postgres {
        return None;
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT xmin::text) FROM inbox WHERE function = $1")
            .bind(function)
            .fetch_one(store.pool())
            .await
            .expect("inbox transactions");
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(
            replace_db_name("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_db_name("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
