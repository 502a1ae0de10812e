//! Keeping the event store within its retention, and (on PostgreSQL) its day partitions ready.
//!
//! PostgreSQL: `conveyor.events` is partitioned by range of `time`, one partition per UTC day
//! (`conveyor.events_pYYYYMMDD`), and a DEFAULT partition for rows no day covers.
//! [`Store::events_prepare`] makes the partitions of today and the days ahead (the maintenance
//! hosts call it at start, before any handler runs, and the maintenance loop on every run); a
//! day's rows that reached the DEFAULT partition
//! before its partition existed are moved into it as it is made. Retention drops whole
//! partitions whose day ended before the cutoff (no row-by-row delete, no bloat), and deletes
//! the DEFAULT partition's older rows in batches.
//!
//! SQLite: one table; retention deletes rows older than the cutoff in batches, oldest first,
//! through the time index.

use conveyor_domain::Timestamp;
use sqlx::AnyConnection;

use crate::{Backend, Store, StoreError, Tx};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Arbitrary constant naming the lock partition changes take, so two hosts making the same
/// day's partition at once make it once.
const PARTITION_LOCK: i64 = 0x6576_656e_7473;

/// The name prefix of a day partition (in schema `conveyor`).
const PREFIX: &str = "events_p";

/// What one retention run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsPruned {
    /// Day partitions dropped (PostgreSQL), oldest first.
    pub partitions: Vec<String>,
    /// Rows deleted one by one (SQLite; PostgreSQL's DEFAULT partition).
    pub rows: u64,
    /// Rows past the cutoff remain (the run reached its bound).
    pub more: bool,
}

/// The UTC day (days since the epoch) of `time`.
fn day_of(time: Timestamp) -> i64 {
    time.millis().div_euclid(DAY_MS)
}

/// The partition of `day`: its name and its bounds in Unix milliseconds.
fn partition(day: i64) -> (String, i64, i64) {
    let date = Timestamp::from_millis(day * DAY_MS).as_datetime();
    (
        format!("{PREFIX}{}", date.format("%Y%m%d")),
        day * DAY_MS,
        (day + 1) * DAY_MS,
    )
}

/// The day a partition's name stands for, when it is a day partition's name.
fn day_of_partition(name: &str) -> Option<i64> {
    let digits = name.strip_prefix(PREFIX)?;
    let date = chrono::NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(start.div_euclid(DAY_MS))
}

/// Makes the missing day partitions of `today` and the `days_ahead` days after it, within the
/// caller's transaction (which holds the partition lock from here to its end).
async fn prepare(
    conn: &mut AnyConnection,
    today: i64,
    days_ahead: u32,
) -> Result<Vec<String>, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PARTITION_LOCK)
        .execute(&mut *conn)
        .await?;
    let existing = day_partitions(conn).await?;
    let mut made = Vec::new();
    for day in today..=today + i64::from(days_ahead) {
        if existing.contains(&day) {
            continue;
        }
        let (name, from, to) = partition(day);
        // Rows of the day in the DEFAULT partition (rare: its partition was not made ahead) are
        // moved first, with the table locked: a query planned before the attach would read
        // neither where they were nor where they go. Made ahead, a day has no rows yet and
        // attaching takes only a lock that lets reads and appends go on.
        let strays: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM conveyor.events_default WHERE time >= {from} AND time < {to})"
        ))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await?;
        if strays {
            sqlx::query("LOCK TABLE conveyor.events IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *conn)
                .await?;
        }
        // Made apart, filled from the DEFAULT partition, then attached: attaching checks that
        // the DEFAULT partition no longer holds the day's rows.
        let statements = [
            format!(
                "CREATE TABLE conveyor.{name} (LIKE conveyor.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            ),
            format!(
                "WITH moved AS (DELETE FROM conveyor.events_default WHERE time >= {from} AND time < {to} RETURNING *) INSERT INTO conveyor.{name} SELECT * FROM moved"
            ),
            format!(
                "ALTER TABLE conveyor.events ATTACH PARTITION conveyor.{name} FOR VALUES FROM ({from}) TO ({to})"
            ),
        ];
        for sql in &statements {
            sqlx::query(sql)
                .persistent(false)
                .execute(&mut *conn)
                .await?;
        }
        tracing::debug!(partition = %name, "event store partition made");
        made.push(name);
    }
    Ok(made)
}

/// The days that have a partition, oldest first.
async fn day_partitions(conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'conveyor.events'::regclass",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut days: Vec<i64> = names.iter().filter_map(|n| day_of_partition(n)).collect();
    days.sort_unstable();
    Ok(days)
}

/// Removes what is older than `before` (see [`Store::events_prune`]).
async fn prune(
    conn: &mut AnyConnection,
    backend: Backend,
    before: Timestamp,
    batch: u32,
    batches: u32,
) -> Result<EventsPruned, StoreError> {
    let mut pruned = EventsPruned::default();
    let table = match backend {
        Backend::Postgres => {
            for day in day_partitions(conn).await? {
                let (name, _, to) = partition(day);
                if to > before.millis() {
                    break;
                }
                let sql = format!("DROP TABLE IF EXISTS conveyor.{name}");
                sqlx::query(&sql)
                    .persistent(false)
                    .execute(&mut *conn)
                    .await?;
                tracing::debug!(partition = %name, "event store partition dropped");
                pruned.partitions.push(name);
            }
            "DELETE FROM conveyor.events_default WHERE ctid = ANY(ARRAY(SELECT ctid FROM conveyor.events_default WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED))"
        }
        Backend::Sqlite => {
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < $1 ORDER BY time LIMIT $2)"
        }
    };
    for _ in 0..batches {
        let n = sqlx::query(table)
            .bind(before.millis())
            .bind(i64::from(batch))
            .execute(&mut *conn)
            .await?
            .rows_affected();
        pruned.rows += n;
        pruned.more = n >= u64::from(batch);
        if !pruned.more {
            break;
        }
    }
    Ok(pruned)
}

impl Store {
    /// On PostgreSQL, makes the day partitions of `now`'s day and the `days_ahead` days after
    /// it that do not exist yet, in one transaction; returns their names. Nothing to do on
    /// SQLite.
    ///
    /// # Errors
    /// The database error.
    pub async fn events_prepare(
        &self,
        now: Timestamp,
        days_ahead: u32,
    ) -> Result<Vec<String>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let made = prepare(tx.conn(), day_of(now), days_ahead).await?;
        tx.commit().await?;
        Ok(made)
    }

    /// The days that have a partition (PostgreSQL), oldest first.
    ///
    /// # Errors
    /// The database error.
    pub async fn day_partitions(&self) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        day_partitions(&mut conn).await
    }

    /// Removes stored events older than `before`: on PostgreSQL every day partition that ended
    /// by then, and up to `batches` statements of `batch` rows from the DEFAULT partition; on
    /// SQLite up to `batches` statements of `batch` rows, oldest first. Each statement commits
    /// on its own.
    ///
    /// # Errors
    /// The first database error; what was removed before it stays removed.
    pub async fn events_prune(
        &self,
        before: Timestamp,
        batch: u32,
        batches: u32,
    ) -> Result<EventsPruned, StoreError> {
        let mut conn = self.pool().acquire().await?;
        prune(&mut conn, self.backend(), before, batch, batches).await
    }
}

impl Tx {
    /// [`Store::events_prepare`] within this transaction (a scheduled job's tick).
    ///
    /// # Errors
    /// The database error.
    pub async fn events_prepare(
        &mut self,
        now: Timestamp,
        days_ahead: u32,
    ) -> Result<Vec<String>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(Vec::new());
        }
        prepare(self.conn(), day_of(now), days_ahead).await
    }

    /// [`Store::events_prune`] within this transaction.
    ///
    /// # Errors
    /// The database error.
    pub async fn events_prune(
        &mut self,
        before: Timestamp,
        batch: u32,
        batches: u32,
    ) -> Result<EventsPruned, StoreError> {
        let backend = self.backend();
        prune(self.conn(), backend, before, batch, batches).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_partition_is_named_by_its_utc_date_and_read_back() {
        let noon = Timestamp::parse_rfc3339("2026-12-05T12:00:00Z").unwrap();
        let day = day_of(noon);
        let (name, from, to) = partition(day);
        assert_eq!(name, "events_p20261205");
        assert_eq!(
            Timestamp::from_millis(from).to_rfc3339(),
            "2026-12-05T00:00:00.000Z"
        );
        assert_eq!(to - from, DAY_MS);
        assert_eq!(day_of_partition(&name), Some(day));
        assert_eq!(day_of_partition("events_default"), None);
        assert_eq!(day_of_partition("events_p2026"), None);
        // Before the epoch too.
        let (old, ..) = partition(day_of(Timestamp::from_millis(-1)));
        assert_eq!(old, "events_p19691231");
    }
}
