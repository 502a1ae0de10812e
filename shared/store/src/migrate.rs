//! Embedded migrations, one SQL file per backend, applied in version order inside one
//! transaction each. PostgreSQL runs them under an advisory lock so that several processes
//! starting at once migrate once.
//!
//! # Two sets, one sequence
//! Every migration belongs to one [`MigrationSet`]:
//! - [`MigrationSet::Core`]: the runtime's inbox and outbox and the services' tables, what every
//!   host needs. [`Store::migrate`] (and so [`Store::open`]) applies this set only: a Lambda
//!   cold start, the Dapr worker, `conveyor up` on Redis or SQS and `conveyor migrate` create
//!   no table a production database does not use.
//! - [`MigrationSet::EmbeddedBroker`]: the queue and dead letters of `conveyor up`'s embedded
//!   broker. [`Store::migrate_embedded_broker`] applies it, after the core set, where that
//!   broker runs.
//!
//! Both sets share one sequence of versions and one record table, `conveyor_migrations`
//! (`public.conveyor_migrations` on PostgreSQL): a new migration takes the next free number
//! whichever its set, so a version names one migration everywhere. A broker migration may build
//! on core ones (the `conveyor` schema), never the reverse, so a database can hold the core set
//! alone and gain the broker's later.
//!
//! # Upgrading a database migrated before the split
//! Versions 1 to 7 used to be applied by every host, the broker's 5 and 6 included. Such a
//! database has 5 and 6 recorded: a core run skips them (they are not in its set) and the
//! embedded broker finds them done, so nothing runs twice and nothing breaks; the next start
//! applies what is new (8 on every host, 9 where the embedded broker runs). A production
//! database migrated then keeps the broker's two tables, empty and unread; they can be dropped
//! once no `conveyor up` on the embedded broker uses that database:
//! `DROP TABLE conveyor.queue, conveyor.dead_letters; DELETE FROM public.conveyor_migrations
//! WHERE version IN (5, 6);`.

use sqlx::{Connection, Executor};

use crate::{Backend, Store, StoreError};

/// Which tables a migration belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationSet {
    /// The runtime's and the services' tables: every host.
    Core,
    /// The embedded broker's queue and dead letters: `conveyor up` on that broker only.
    EmbeddedBroker,
}

/// One migration: the same version and name on both backends, dialect-specific SQL.
#[derive(Debug)]
struct Migration {
    version: i64,
    name: &'static str,
    set: MigrationSet,
    postgres: &'static str,
    sqlite: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $set:ident) => {
        Migration {
            version: $version,
            name: $name,
            set: MigrationSet::$set,
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
        }
    };
}

/// Every migration, in version order.
const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_conveyor", Core),
    migration!(2, "0002_orders", Core),
    migration!(3, "0003_fulfillment", Core),
    migration!(4, "0004_warehouse", Core),
    migration!(5, "0005_queue", EmbeddedBroker),
    migration!(6, "0006_queue_ordering", EmbeddedBroker),
    migration!(7, "0007_refunds_notifications", Core),
    migration!(8, "0008_inbox_received_at", Core),
    migration!(9, "0009_dead_letters_failed_at", EmbeddedBroker),
    migration!(10, "0010_sagas", Core),
    migration!(11, "0011_queue_walk", EmbeddedBroker),
    migration!(12, "0012_event_store", Core),
];

/// A migration a run applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Its version.
    pub version: i64,
    /// Its file name, without `.sql`.
    pub name: &'static str,
    /// Its set.
    pub set: MigrationSet,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)
    }
}

/// Arbitrary constant identifying conveyor's migration lock.
const PG_LOCK_KEY: i64 = 0x636f_6e76_6579;

impl Store {
    /// Applies every core migration not yet applied: the tables every host needs, none of the
    /// embedded broker's. Returns what it applied, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Migration`] naming the failing migration.
    pub async fn migrate(&self) -> Result<Vec<Applied>, StoreError> {
        self.migrate_sets(&[MigrationSet::Core]).await
    }

    /// Applies the core migrations and the embedded broker's not yet applied, for `conveyor
    /// up` on that broker. Returns what it applied, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Migration`] naming the failing migration.
    pub async fn migrate_embedded_broker(&self) -> Result<Vec<Applied>, StoreError> {
        self.migrate_sets(&[MigrationSet::Core, MigrationSet::EmbeddedBroker])
            .await
    }

    async fn migrate_sets(&self, sets: &[MigrationSet]) -> Result<Vec<Applied>, StoreError> {
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
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| sets.contains(&m.set)) {
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
            applied.push(Applied {
                version: m.version,
                name: m.name,
                set: m.set,
            });
        }
        Ok(applied)
    }
}

fn chrono_free_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_one_increasing_sequence_named_by_their_files() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            let version = i64::try_from(i + 1).unwrap();
            assert_eq!(m.version, version, "{}", m.name);
            assert!(m.name.starts_with(&format!("{version:04}_")), "{}", m.name);
        }
    }

    #[test]
    fn only_the_broker_set_touches_the_broker_tables() {
        for m in MIGRATIONS {
            for sql in [m.postgres, m.sqlite] {
                let code: String = sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let broker = code.contains("queue") || code.contains("dead_letters");
                assert_eq!(
                    broker,
                    m.set == MigrationSet::EmbeddedBroker,
                    "{} is in {:?}",
                    m.name,
                    m.set
                );
            }
        }
    }
}
