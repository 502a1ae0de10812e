//! One page of the event store: the filters given, after a position, oldest or newest first,
//! one more row than asked to know whether a next page exists.

use conveyor_domain::Timestamp;
use sqlx::Row;

use super::{EventCursor, EventPage, EventQuery, MAX_PAGE, StoredEvent};
use crate::sql::sql_limit;
use crate::{Store, StoreError};

impl Store {
    /// One page of stored events matching `query`.
    ///
    /// # Errors
    /// The database error; [`StoreError::Corrupt`] for a row that does not decode.
    pub async fn events_query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Bind<'_>> = Vec::new();
        let filters = [
            ("topic = ", query.topic.as_deref().map(Bind::Text)),
            (
                "correlation_id = ",
                query.correlation_id.as_deref().map(Bind::Text),
            ),
            ("order_id = ", query.order_id.as_deref().map(Bind::Text)),
            ("time >= ", query.from.map(|t| Bind::Int(t.millis()))),
            ("time < ", query.to.map(|t| Bind::Int(t.millis()))),
        ];
        for (clause, value) in filters {
            if let Some(value) = value {
                binds.push(value);
                clauses.push(format!("{clause}${}", binds.len()));
            }
        }
        let (direction, past) = if query.newest_first {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        if let Some(after) = query.after {
            let n = binds.len();
            binds.push(Bind::Int(after.time.millis()));
            binds.push(Bind::Int(after.seq));
            clauses.push(format!("(time, seq) {past} (${}, ${})", n + 1, n + 2));
        }
        let mut sql = "SELECT seq, id, topic, time, correlation_id, causation_id, order_id, source, body, stored_at FROM events".to_owned();
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(&format!(
            " ORDER BY time {direction}, seq {direction} LIMIT ${}",
            binds.len() + 1
        ));
        let mut q = sqlx::query(&sql);
        for bind in binds {
            q = match bind {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        // One more than asked: whether a next page exists.
        let rows = q.bind(sql_limit(limit + 1)).fetch_all(self.pool()).await?;
        let mut events = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let next = (events.len() > limit).then(|| {
            events.truncate(limit);
            events.last().map(|e| e.position)
        });
        Ok(EventPage {
            events,
            next: next.flatten(),
        })
    }
}

/// A value bound to a query's filter.
#[derive(Debug, Clone, Copy)]
enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

fn decode(r: &sqlx::any::AnyRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        position: EventCursor {
            time: Timestamp::from_millis(r.try_get("time")?),
            seq: r.try_get("seq")?,
        },
        id: r.try_get("id")?,
        topic: r.try_get("topic")?,
        time: Timestamp::from_millis(r.try_get("time")?),
        correlation_id: r.try_get("correlation_id")?,
        causation_id: r.try_get("causation_id")?,
        order_id: r.try_get("order_id")?,
        source: r.try_get("source")?,
        body: r.try_get("body")?,
        stored_at: Timestamp::from_millis(r.try_get("stored_at")?),
    })
}
