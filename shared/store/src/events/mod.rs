//! The event store: every event conveyor publishes, appended in the transaction that stages its
//! outbox row (so a rolled-back handler leaves none), kept for a retention, queried by topic,
//! time range, correlation id and order id a page at a time, and replayed from.
//!
//! The append is part of [`Tx::outbox_stage`] unless the store was opened with
//! [`Store::with_event_store`]`(false)` (to measure what it costs, or where nothing needs it).
//! An event's `time` is the instant its handler ran, which is its CloudEvent `time`;
//! `stored_at` is the database's clock at the append.
//!
//! # Layout
//! - this module: the stored event, the query and its cursor, the append
//! - `query`: a page of the store (keyset pagination on `(time, seq)`)
//! - [`partitions`]: PostgreSQL's day partitions made ahead, and retention on both backends
//! - [`replays`]: the progress of replays, so an interrupted one continues where it stopped

pub mod partitions;
mod query;
pub mod replays;

use std::fmt;
use std::str::FromStr;

use conveyor_domain::Timestamp;

use crate::{OutboxRow, Store, StoreError, Tx};

/// Most events one query returns.
pub const MAX_PAGE: usize = 1000;

/// Rows one append statement inserts at most.
const APPEND_CHUNK: usize = 64;

/// The `data` fields an event's order id is read from, in order.
const ORDER_ID_FIELDS: [&str; 2] = ["order_id", "orderId"];

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position in the store: the key queries page by.
    pub position: EventCursor,
    /// The CloudEvent id.
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The event's time.
    pub time: Timestamp,
    /// The CloudEvent `correlationid`.
    pub correlation_id: Option<String>,
    /// The CloudEvent `causationid`.
    pub causation_id: Option<String>,
    /// The order the event is about, from its `data.order_id` (or `data.orderId`).
    pub order_id: Option<String>,
    /// The CloudEvent `source`.
    pub source: String,
    /// The CloudEvent JSON, as published.
    pub body: String,
    /// When the database stored it.
    pub stored_at: Timestamp,
}

/// A position in the store, `(time, seq)`: a page continues after it. As text,
/// `<time in Unix ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventCursor {
    /// The event's time.
    pub time: Timestamp,
    /// The store's sequence number, unique across the store.
    pub seq: i64,
}

/// Text that is not a cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an event cursor: use the `next` a page returned (<time ms>-<seq>)")]
pub struct CursorError(String);

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.time.millis(), self.seq)
    }
}

impl FromStr for EventCursor {
    type Err = CursorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // The time may be negative (before 1970): the separator is the last '-'.
        let bad = || CursorError(text.to_owned());
        let (time, seq) = text.rsplit_once('-').ok_or_else(bad)?;
        Ok(Self {
            time: Timestamp::from_millis(time.parse().map_err(|_| bad())?),
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// What a query selects. Every filter given must hold; the time range is `from <= time < to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only this topic.
    pub topic: Option<String>,
    /// Events at or after this time.
    pub from: Option<Timestamp>,
    /// Events before this time.
    pub to: Option<Timestamp>,
    /// Only this flow.
    pub correlation_id: Option<String>,
    /// Only events about this order.
    pub order_id: Option<String>,
    /// Continue after this position (the `next` of the page before).
    pub after: Option<EventCursor>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// Most events (1 to [`MAX_PAGE`]).
    pub limit: usize,
}

/// One page of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    /// The events, in the query's order.
    pub events: Vec<StoredEvent>,
    /// Where the next page starts, when there are more.
    pub next: Option<EventCursor>,
}

/// The order id of a staged event: the first of its `data` fields that names one.
fn order_id(row: &OutboxRow) -> Option<&str> {
    ORDER_ID_FIELDS.iter().find_map(|f| row.data_field(f))
}

impl Tx {
    /// Appends `rows` to the event store (if this store keeps one), with `time` as their
    /// events' time. [`Tx::outbox_stage`] calls it; a host appends events it publishes without
    /// an outbox row with it too.
    ///
    /// # Errors
    /// The database error.
    pub async fn events_append(
        &mut self,
        rows: &[OutboxRow],
        time: Timestamp,
    ) -> Result<(), StoreError> {
        if !self.event_store() {
            return Ok(());
        }
        for chunk in rows.chunks(APPEND_CHUNK) {
            let values = (0..chunk.len())
                .map(|i| {
                    let p = i * 7;
                    format!(
                        "(${}, ${}, $1, ${}, ${}, ${}, ${}, ${})",
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7,
                        p + 8
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO events (id, topic, time, correlation_id, causation_id, order_id, source, body) VALUES {values}"
            );
            let mut q = sqlx::query(&sql).bind(time.millis());
            for row in chunk {
                q = q
                    .bind(&row.id)
                    .bind(&row.topic)
                    .bind(row.correlation_id.as_deref())
                    .bind(row.causation_id.as_deref())
                    .bind(order_id(row))
                    .bind(&row.source)
                    .bind(&row.body);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// This store with the event store on (the default) or off: off, nothing is appended.
    #[must_use]
    pub fn with_event_store(mut self, on: bool) -> Self {
        self.event_store = on;
        self
    }

    /// Whether events are appended to the event store.
    #[must_use]
    pub fn keeps_events(&self) -> bool {
        self.event_store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_writes() {
        for (time, seq) in [(1_700_000_000_000, 42), (-5_000, 7), (0, 0)] {
            let cursor = EventCursor {
                time: Timestamp::from_millis(time),
                seq,
            };
            assert_eq!(cursor.to_string().parse::<EventCursor>(), Ok(cursor));
        }
        for bad in ["", "12", "a-1", "1-b", "1-"] {
            assert_eq!(bad.parse::<EventCursor>(), Err(CursorError(bad.to_owned())));
        }
    }

    #[test]
    fn the_order_id_comes_from_either_spelling() {
        let row = |field: &str| OutboxRow {
            data_fields: vec![
                ("amount".to_owned(), "5".to_owned()),
                (field.to_owned(), "ord-9".to_owned()),
            ],
            ..OutboxRow::bare("e".to_owned(), "t".to_owned(), "{}".to_owned())
        };
        assert_eq!(order_id(&row("order_id")), Some("ord-9"));
        assert_eq!(order_id(&row("orderId")), Some("ord-9"));
        assert_eq!(order_id(&row("order")), None);
    }
}
