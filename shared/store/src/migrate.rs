//! Embedded migrations, one list per backend, applied in order inside one transaction each.
//! PostgreSQL runs them under an advisory lock so that several processes starting at once
//! migrate once.

use sqlx::{Connection, Executor};

use crate::{Backend, Store, StoreError};

/// One migration: the same version and name on both backends, dialect-specific SQL.
#[derive(Debug)]
struct Migration {
    version: i64,
    name: &'static str,
    postgres: &'static str,
    sqlite: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_conveyor"),
    migration!(2, "0002_orders"),
    migration!(3, "0003_fulfillment"),
    migration!(4, "0004_warehouse"),
    migration!(5, "0005_queue"),
    migration!(6, "0006_queue_ordering"),
    migration!(7, "0007_refunds_notifications"),
];

/// Arbitrary constant identifying conveyor's migration lock.
const PG_LOCK_KEY: i64 = 0x636f_6e76_6579;

impl Store {
    /// Applies every migration not yet applied.
    ///
    /// # Errors
    /// [`StoreError::Migration`] naming the failing migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let create = match self.backend() {
            Backend::Postgres => {
                "CREATE TABLE IF NOT EXISTS public.conveyor_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            }
            Backend::Sqlite => {
                "CREATE TABLE IF NOT EXISTS conveyor_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            }
        };
        conn.execute(create).await?;
        for m in MIGRATIONS {
            let mut tx = conn.begin().await?;
            if self.backend() == Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
            }
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM conveyor_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            let sql = match self.backend() {
                Backend::Postgres => m.postgres,
                Backend::Sqlite => m.sqlite,
            };
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(|source| StoreError::Migration {
                    version: m.version,
                    name: m.name,
                    source,
                })?;
            sqlx::query(
                "INSERT INTO conveyor_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(chrono_free_now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::debug!(version = m.version, name = m.name, "migration applied");
        }
        Ok(())
    }
}

fn chrono_free_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
