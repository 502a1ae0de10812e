//! The progress of replays from the event store: what a replay delivers (its topic, time range,
//! target and mode) and the position of the last event it delivered, so a replay that stops
//! (at its limit, on an error, killed) continues after that event.

use conveyor_domain::Timestamp;
use sqlx::Row;

use super::EventCursor;
use crate::{Store, StoreError};

/// What a replay delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySpec {
    /// The topic replayed.
    pub topic: String,
    /// Events at or after this time.
    pub from: Timestamp,
    /// Events before this time.
    pub to: Timestamp,
    /// One function only; `None`: every subscriber of the topic.
    pub function: Option<String>,
    /// Only this flow's events.
    pub correlation_id: Option<String>,
    /// As new events (new ids, naming the original) instead of with their own ids.
    pub as_new: bool,
}

/// A replay as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Its id.
    pub id: String,
    /// What it delivers.
    pub spec: ReplaySpec,
    /// The last event delivered, `None` before the first.
    pub after: Option<EventCursor>,
    /// Events delivered so far.
    pub replayed: u64,
    /// When it was started.
    pub created_at: Timestamp,
    /// When it delivered its last event (`None`: events remain, or it was never run out).
    pub finished_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, topic, from_time, to_time, function, correlation_id, as_new, after_time, after_seq, replayed, created_at, finished_at";

impl Store {
    /// Records a new replay of `spec` with the id `id`, at no position yet.
    ///
    /// # Errors
    /// The database error (an id used before included).
    pub async fn replay_create(
        &self,
        id: &str,
        spec: &ReplaySpec,
        now: Timestamp,
    ) -> Result<Replay, StoreError> {
        sqlx::query(
            "INSERT INTO replays (id, topic, from_time, to_time, function, correlation_id, as_new, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id)
        .bind(&spec.topic)
        .bind(spec.from.millis())
        .bind(spec.to.millis())
        .bind(spec.function.as_deref())
        .bind(spec.correlation_id.as_deref())
        .bind(i64::from(spec.as_new))
        .bind(now.millis())
        .execute(self.pool())
        .await?;
        Ok(Replay {
            id: id.to_owned(),
            spec: spec.clone(),
            after: None,
            replayed: 0,
            created_at: now,
            finished_at: None,
        })
    }

    /// The replay `id`, if recorded.
    ///
    /// # Errors
    /// The database error; [`StoreError::Corrupt`] for a row that does not decode.
    pub async fn replay(&self, id: &str) -> Result<Option<Replay>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM replays WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The latest unfinished replay of exactly `spec`, to continue it.
    ///
    /// # Errors
    /// As [`Store::replay`].
    pub async fn replay_unfinished(&self, spec: &ReplaySpec) -> Result<Option<Replay>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM replays WHERE finished_at IS NULL AND topic = $1 AND from_time = $2 AND to_time = $3 AND as_new = $4 ORDER BY created_at DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(&spec.topic)
            .bind(spec.from.millis())
            .bind(spec.to.millis())
            .bind(i64::from(spec.as_new))
            .fetch_all(self.pool())
            .await?;
        for row in &rows {
            let replay = decode(row)?;
            if replay.spec == *spec {
                return Ok(Some(replay));
            }
        }
        Ok(None)
    }

    /// Records that replay `id` delivered `delivered` more events, the last at `after`.
    ///
    /// # Errors
    /// The database error.
    pub async fn replay_advance(
        &self,
        id: &str,
        after: EventCursor,
        delivered: u64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE replays SET after_time = $2, after_seq = $3, replayed = replayed + $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(after.time.millis())
        .bind(after.seq)
        .bind(i64::try_from(delivered).unwrap_or(i64::MAX))
        .bind(now.millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that replay `id` has nothing left to deliver.
    ///
    /// # Errors
    /// The database error.
    pub async fn replay_finish(&self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE replays SET finished_at = $2, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now.millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

fn decode(r: &sqlx::any::AnyRow) -> Result<Replay, StoreError> {
    let after_time: Option<i64> = r.try_get("after_time")?;
    let after_seq: Option<i64> = r.try_get("after_seq")?;
    let replayed: i64 = r.try_get("replayed")?;
    let as_new: i64 = r.try_get("as_new")?;
    Ok(Replay {
        id: r.try_get("id")?,
        spec: ReplaySpec {
            topic: r.try_get("topic")?,
            from: Timestamp::from_millis(r.try_get("from_time")?),
            to: Timestamp::from_millis(r.try_get("to_time")?),
            function: r.try_get("function")?,
            correlation_id: r.try_get("correlation_id")?,
            as_new: as_new != 0,
        },
        after: after_time.zip(after_seq).map(|(time, seq)| EventCursor {
            time: Timestamp::from_millis(time),
            seq,
        }),
        replayed: u64::try_from(replayed)
            .map_err(|_| StoreError::corrupt("replays", format!("replayed {replayed}")))?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
        finished_at: r
            .try_get::<Option<i64>, _>("finished_at")?
            .map(Timestamp::from_millis),
    })
}
