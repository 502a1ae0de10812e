//! The transactional outbox: events staged in the handler's transaction, deleted once published.

use conveyor_domain::Timestamp;
use sqlx::Row;

use crate::sql::placeholders;
use crate::{Store, StoreError, Tx};

/// Most rows staged by one statement.
const STAGE_CHUNK: usize = 64;

/// One staged event: the serialised CloudEvent and what a publisher needs to route it, so no
/// publisher decodes the body again.
///
/// `source`, `correlation_id`, `causation_id` and `data_fields` are filled where the row is made
/// from its event and are not columns of their own: the body (the CloudEvent, stored whole)
/// carries them, so a row read back by [`Tx::outbox_claim`] has them empty, and the relay fills
/// them from the body before it publishes the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The CloudEvent id (also the row key).
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The CloudEvent JSON.
    pub body: String,
    /// Ordering key (per-entity ordering), if the event has one.
    pub ordering_key: Option<String>,
    /// The CloudEvent `source`: the app that published it (empty if unknown).
    pub source: String,
    /// The CloudEvent `correlationid`: the flow it belongs to.
    pub correlation_id: Option<String>,
    /// The CloudEvent `causationid`: the event whose handling published it.
    pub causation_id: Option<String>,
    /// The top-level fields of the event's `data` that are strings, numbers or booleans, as
    /// text (strings as they are, numbers and booleans printed): what an ordering key is read
    /// from.
    pub data_fields: Vec<(String, String)>,
}

impl OutboxRow {
    /// A row of `body` with nothing known of its event beyond its id and topic (a body that
    /// is not a CloudEvent, or one read back from the table).
    #[must_use]
    pub fn bare(id: String, topic: String, body: String) -> Self {
        Self {
            id,
            topic,
            body,
            ordering_key: None,
            source: String::new(),
            correlation_id: None,
            causation_id: None,
            data_fields: Vec::new(),
        }
    }

    /// The value of the `data` field `name`, when [`OutboxRow::data_fields`] has it.
    #[must_use]
    pub fn data_field(&self, name: &str) -> Option<&str> {
        self.data_fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Tx {
    /// Stages events; they become visible to the relay only if the transaction commits. They
    /// are appended to the event store in the same transaction ([`Tx::events_append`]).
    ///
    /// # Errors
    /// The database error.
    pub async fn outbox_stage(
        &mut self,
        rows: &[OutboxRow],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Several rows per statement: a batch of handled events stages its rows in one round
        // trip.
        for chunk in rows.chunks(STAGE_CHUNK) {
            let values = (0..chunk.len())
                .map(|i| {
                    let p = i * 4;
                    format!("(${}, ${}, ${}, ${}, $1)", p + 2, p + 3, p + 4, p + 5)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO outbox (id, topic, body, ordering_key, created_at) VALUES {values}"
            );
            let mut q = sqlx::query(&sql).bind(now.millis());
            for row in chunk {
                q = q
                    .bind(&row.id)
                    .bind(&row.topic)
                    .bind(&row.body)
                    .bind(row.ordering_key.as_deref());
            }
            q.execute(self.conn()).await?;
        }
        self.events_append(rows, now).await
    }

    /// Claims up to `limit` rows staged at or before `older_than`, oldest first. On PostgreSQL
    /// the rows stay locked until this transaction ends, so concurrent relays take other rows.
    /// What the table does not keep (see [`OutboxRow`]) is left empty.
    ///
    /// # Errors
    /// The database error.
    pub async fn outbox_claim(
        &mut self,
        older_than: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT id, topic, body, ordering_key FROM outbox WHERE created_at <= $1 ORDER BY seq LIMIT $2{}",
            self.backend().skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(older_than.millis())
            .bind(limit)
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    ordering_key: r.try_get("ordering_key")?,
                    ..OutboxRow::bare(r.try_get("id")?, r.try_get("topic")?, r.try_get("body")?)
                })
            })
            .collect()
    }

    /// Deletes published rows.
    ///
    /// # Errors
    /// The database error.
    pub async fn outbox_delete(&mut self, ids: &[String]) -> Result<(), StoreError> {
        delete(self.conn(), ids).await
    }

    /// Counts an unsuccessful publish attempt on each row.
    ///
    /// # Errors
    /// The database error.
    pub async fn outbox_bump_attempts(&mut self, ids: &[String]) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE outbox SET attempts = attempts + 1 WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Deletes published rows outside any handler transaction: at once, or queued for the
    /// background task when [`Store::sweeping_outbox`] started one.
    ///
    /// # Errors
    /// The database error.
    pub async fn outbox_delete(&self, ids: &[String]) -> Result<(), StoreError> {
        match &self.sweeper {
            Some(sweeper) if sweeper.delete(ids.to_vec()) => Ok(()),
            _ => self.delete_outbox_rows(ids).await,
        }
    }

    /// This store, deleting published outbox rows in batches on a background task from now on
    /// (see [`crate::sweeper`]). Needs a Tokio runtime.
    #[must_use]
    pub fn sweeping_outbox(mut self) -> Self {
        let mut plain = self.clone();
        plain.sweeper = None;
        self.sweeper = Some(crate::sweeper::Sweeper::start(plain));
        self
    }

    /// Waits until the rows queued for deletion so far are deleted (a no-op without the
    /// background task). Hosts call it when they stop.
    pub async fn flush_outbox_deletes(&self) {
        if let Some(sweeper) = &self.sweeper {
            sweeper.flush().await;
        }
    }

    pub(crate) async fn delete_outbox_rows(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool().acquire().await?;
        delete(&mut conn, ids).await
    }

    /// Rows waiting to be published (the relay's backlog).
    ///
    /// # Errors
    /// The database error.
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(self.pool())
            .await?)
    }
}

/// `DELETE ... WHERE id IN (...)` in chunks of at most 512. Each list is padded (repeating its
/// last id) to a power of two, so a connection prepares ten statements at most, not one per
/// list length.
async fn delete(conn: &mut sqlx::AnyConnection, ids: &[String]) -> Result<(), StoreError> {
    for chunk in ids.chunks(512) {
        let Some(last) = chunk.last() else { continue };
        let width = chunk.len().next_power_of_two();
        let sql = format!(
            "DELETE FROM outbox WHERE id IN ({})",
            placeholders(1, width)
        );
        let mut q = sqlx::query(&sql);
        for id in chunk
            .iter()
            .chain(std::iter::repeat_n(last, width - chunk.len()))
        {
            q = q.bind(id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
