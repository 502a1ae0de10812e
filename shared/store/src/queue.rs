//! A durable per-function queue with leases, and its dead-letter table: the emulator's embedded
//! broker, with the semantics of the Redis Streams transport (at-least-once, redelivery of what
//! a crashed consumer held, delivery count, DLQ with the reason) in one database.

use conveyor_domain::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::placeholders;
use crate::{Store, StoreError};

/// A message leased to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// Queue position (the delivery handle).
    pub seq: i64,
    /// The function it is queued for.
    pub function: String,
    /// The CloudEvent id.
    pub event_id: String,
    /// The topic it was published to.
    pub topic: String,
    /// The CloudEvent JSON (or whatever was published, poison included).
    pub body: String,
    /// Deliveries so far, this one included.
    pub attempts: u32,
    /// When it was enqueued.
    pub enqueued_at: Timestamp,
}

/// A dead-lettered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Entry id.
    pub id: String,
    /// The function that failed it.
    pub function: String,
    /// The CloudEvent id (empty if the body was not a CloudEvent).
    pub event_id: String,
    /// The topic.
    pub topic: String,
    /// The original body.
    pub body: String,
    /// Why.
    pub error: String,
    /// Deliveries made.
    pub attempts: u32,
    /// When it was first enqueued.
    pub first_attempt_at: Timestamp,
    /// When it was dead-lettered.
    pub failed_at: Timestamp,
}

/// One message to enqueue for one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue<'a> {
    /// The function.
    pub function: &'a str,
    /// The CloudEvent id.
    pub event_id: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The body.
    pub body: &'a str,
    /// Messages of one function with the same key are delivered one at a time, oldest first.
    pub ordering_key: Option<&'a str>,
    /// Leased at once until then, as one delivery: for a consumer that waits idle and is
    /// handed the message in memory instead of leasing it (see [`Store::queue_push`]).
    pub leased_until: Option<Timestamp>,
}

const LEASED_COLUMNS: &str = "seq, function, event_id, topic, body, attempts, enqueued_at";

fn leased(row: &AnyRow) -> Result<Leased, StoreError> {
    Ok(Leased {
        seq: row.try_get("seq")?,
        function: row.try_get("function")?,
        event_id: row.try_get("event_id")?,
        topic: row.try_get("topic")?,
        body: row.try_get("body")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        enqueued_at: Timestamp::from_millis(row.try_get("enqueued_at")?),
    })
}

/// Inserts one message; returns it as leased when it was pushed leased.
async fn push_one<'c, E>(
    executor: E,
    m: &Enqueue<'_>,
    now: Timestamp,
) -> Result<Option<Leased>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let (visible_at, attempts) = m.leased_until.map_or((now, 0_i64), |until| (until, 1));
    let row = sqlx::query(
        "INSERT INTO queue (function, event_id, topic, body, attempts, visible_at, enqueued_at, ordering_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
    )
    .bind(m.function)
    .bind(m.event_id)
    .bind(m.topic)
    .bind(m.body)
    .bind(attempts)
    .bind(visible_at.millis())
    .bind(now.millis())
    .bind(m.ordering_key)
    .fetch_one(executor)
    .await?;
    if m.leased_until.is_none() {
        return Ok(None);
    }
    Ok(Some(Leased {
        seq: row.try_get("seq")?,
        function: m.function.to_owned(),
        event_id: m.event_id.to_owned(),
        topic: m.topic.to_owned(),
        body: m.body.to_owned(),
        attempts: 1,
        enqueued_at: now,
    }))
}

fn dead_letter(row: &AnyRow) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        id: row.try_get("id")?,
        function: row.try_get("function")?,
        event_id: row.try_get("event_id")?,
        topic: row.try_get("topic")?,
        body: row.try_get("body")?,
        error: row.try_get("error")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        first_attempt_at: Timestamp::from_millis(row.try_get("first_attempt_at")?),
        failed_at: Timestamp::from_millis(row.try_get("failed_at")?),
    })
}

impl Store {
    /// Enqueues messages in one transaction (a lone message in one statement), visible at once
    /// or, with [`Enqueue::leased_until`], leased already; returns those leased, in the order
    /// given, for the caller to hand to their consumer. A leased message that never reaches its
    /// consumer (the process dies) is delivered again when its lease ends, as after a crash
    /// mid-handler.
    ///
    /// # Errors
    /// The database error; nothing was enqueued.
    pub async fn queue_push(
        &self,
        messages: &[Enqueue<'_>],
        now: Timestamp,
    ) -> Result<Vec<Leased>, StoreError> {
        let mut leased = Vec::new();
        if let [one] = messages {
            leased.extend(push_one(self.pool(), one, now).await?);
            return Ok(leased);
        }
        let mut tx = self.begin().await?;
        for m in messages {
            leased.extend(push_one(tx.conn(), m, now).await?);
        }
        tx.commit().await?;
        Ok(leased)
    }

    /// Makes messages leased by [`Store::queue_push`] but never delivered visible again, their
    /// delivery uncounted (a consumer that stops with handed messages it did not start).
    ///
    /// # Errors
    /// The database error; the messages come back when their lease ends.
    pub async fn queue_unlease(&self, seqs: &[i64], now: Timestamp) -> Result<(), StoreError> {
        for chunk in seqs.chunks(500) {
            let sql = format!(
                "UPDATE queue SET visible_at = $1, attempts = attempts - 1 WHERE seq IN ({}) AND attempts > 0",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(now.millis());
            for seq in chunk {
                q = q.bind(*seq);
            }
            q.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// Leases up to `limit` visible messages of `function` until `lease_until`, oldest first,
    /// counting a delivery on each. A message with an ordering key is leased only when it is the
    /// oldest of its key still queued, so one key's messages run one at a time, in order, and a
    /// failing one holds back the later ones until it succeeds or is dead-lettered. A consumer that dies holding a lease loses it at
    /// `lease_until`, and the message is delivered again.
    ///
    /// # Errors
    /// The database error.
    pub async fn queue_lease(
        &self,
        function: &str,
        limit: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Leased>, StoreError> {
        let mut tx = self.begin().await?;
        // Walk the function's messages in queue order and stop at the limit: only the leased
        // and the delayed ones are skipped. SQLite's planner, left alone, prefers gathering
        // every visible message through `queue_ready` and sorting them, which costs the whole
        // backlog per lease.
        let walk = match tx.backend() {
            crate::Backend::Sqlite => " INDEXED BY queue_walk",
            crate::Backend::Postgres => "",
        };
        let sql = format!(
            "UPDATE queue SET attempts = attempts + 1, visible_at = $1 WHERE seq IN \
             (SELECT q.seq FROM queue q{walk} WHERE q.function = $2 AND q.visible_at <= $3 \
             AND (q.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM queue p WHERE p.function = q.function \
             AND p.ordering_key = q.ordering_key AND p.seq < q.seq)) \
             ORDER BY q.seq LIMIT $4{}) RETURNING {LEASED_COLUMNS}",
            tx.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(lease_until.millis())
            .bind(function)
            .bind(now.millis())
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        let mut out = rows.iter().map(leased).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|m| m.seq);
        Ok(out)
    }

    /// Removes handled messages.
    ///
    /// # Errors
    /// The database error.
    pub async fn queue_ack(&self, seqs: &[i64]) -> Result<(), StoreError> {
        for chunk in seqs.chunks(500) {
            let sql = format!(
                "DELETE FROM queue WHERE seq IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for seq in chunk {
                q = q.bind(*seq);
            }
            q.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// Makes a failed message visible again at `visible_at` (the retry backoff).
    ///
    /// # Errors
    /// The database error.
    pub async fn queue_retry(
        &self,
        seq: i64,
        visible_at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE queue SET visible_at = $1, last_error = $2 WHERE seq = $3")
            .bind(visible_at.millis())
            .bind(error)
            .bind(seq)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Moves a message to the dead-letter table with the reason, in one transaction, if this
    /// delivery is still the message's latest: `Some(dead letter id)`, or `None` when its lease
    /// ran out and the message was leased again (that delivery decides) or it is already gone.
    /// So a consumer that outlived its lease never adds a second dead letter for one message.
    ///
    /// # Errors
    /// The database error; the message stays queued.
    pub async fn queue_dead_letter(
        &self,
        message: &Leased,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        // `attempts` counts leases: only the latest delivery's count still matches.
        let removed = sqlx::query("DELETE FROM queue WHERE seq = $1 AND attempts = $2")
            .bind(message.seq)
            .bind(i64::from(message.attempts))
            .execute(tx.conn())
            .await?
            .rows_affected();
        if removed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO dead_letters (id, function, event_id, topic, body, error, attempts, first_attempt_at, failed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&message.function)
        .bind(&message.event_id)
        .bind(&message.topic)
        .bind(&message.body)
        .bind(error)
        .bind(i64::from(message.attempts))
        .bind(message.enqueued_at.millis())
        .bind(now.millis())
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Dead letters of `function` (all functions when `None`), newest first.
    ///
    /// # Errors
    /// The database error.
    pub async fn dead_letters(
        &self,
        function: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, function, event_id, topic, body, error, attempts, first_attempt_at, failed_at FROM dead_letters \
             WHERE ($1 = '' OR function = $1) ORDER BY failed_at DESC, id DESC LIMIT $2",
        )
        .bind(function.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(dead_letter).collect()
    }

    /// Puts dead letters back on their function's queue only (never fanned out again), with a
    /// fresh delivery count and the ordering key `key_of` reads from the body (for a function
    /// with an ordering key, so a redriven event waits its turn behind its key's others).
    /// Returns how many were redriven.
    ///
    /// # Errors
    /// The database error; nothing was moved.
    pub async fn redrive(
        &self,
        function: &str,
        ids: Option<&[String]>,
        now: Timestamp,
        key_of: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT id, function, event_id, topic, body, error, attempts, first_attempt_at, failed_at FROM dead_letters WHERE function = $1 ORDER BY failed_at, id")
            .bind(function)
            .fetch_all(tx.conn())
            .await?;
        let mut moved = 0;
        for letter in rows.iter().map(dead_letter) {
            let letter = letter?;
            if ids.is_some_and(|ids| !ids.contains(&letter.id)) {
                continue;
            }
            sqlx::query("INSERT INTO queue (function, event_id, topic, body, visible_at, enqueued_at, ordering_key) VALUES ($1, $2, $3, $4, $5, $5, $6)")
                .bind(&letter.function)
                .bind(&letter.event_id)
                .bind(&letter.topic)
                .bind(&letter.body)
                .bind(now.millis())
                .bind(key_of(&letter.body))
                .execute(tx.conn())
                .await?;
            sqlx::query("DELETE FROM dead_letters WHERE id = $1")
                .bind(&letter.id)
                .execute(tx.conn())
                .await?;
            moved += 1;
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Deletes dead letters of `function` (all, or those in `ids`). Returns how many.
    ///
    /// # Errors
    /// The database error; nothing was deleted.
    pub async fn delete_dead_letters(
        &self,
        function: &str,
        ids: Option<&[String]>,
    ) -> Result<usize, StoreError> {
        let done = match ids {
            None => {
                sqlx::query("DELETE FROM dead_letters WHERE function = $1")
                    .bind(function)
                    .execute(self.pool())
                    .await?
            }
            Some([]) => return Ok(0),
            Some(ids) => {
                let sql = format!(
                    "DELETE FROM dead_letters WHERE function = $1 AND id IN ({})",
                    placeholders(2, ids.len())
                );
                let mut query = sqlx::query(&sql).bind(function);
                for id in ids {
                    query = query.bind(id);
                }
                query.execute(self.pool()).await?
            }
        };
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    /// Replaces the body of one dead letter of `function` (the fix before a redrive); the
    /// event id follows the new body when it is a CloudEvent with an id. Returns whether the
    /// entry exists.
    ///
    /// # Errors
    /// The database error.
    pub async fn edit_dead_letter(
        &self,
        function: &str,
        id: &str,
        body: &str,
    ) -> Result<bool, StoreError> {
        let event_id = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned));
        let done = sqlx::query(
            "UPDATE dead_letters SET body = $1, event_id = COALESCE($2, event_id) WHERE function = $3 AND id = $4",
        )
        .bind(body)
        .bind(event_id)
        .bind(function)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Dead letters per function.
    ///
    /// # Errors
    /// The database error.
    pub async fn dead_letter_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT function, COUNT(*) AS n FROM dead_letters GROUP BY function ORDER BY function",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("function")?, r.try_get("n")?)))
            .collect()
    }

    /// Messages waiting or leased per function.
    ///
    /// # Errors
    /// The database error.
    pub async fn queue_depths(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT function, COUNT(*) AS n FROM queue GROUP BY function ORDER BY function",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("function")?, r.try_get("n")?)))
            .collect()
    }
}
