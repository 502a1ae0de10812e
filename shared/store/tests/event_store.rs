//! The event store on both backends: the append shares the outbox's transaction, queries page
//! by position, retention removes what is past it (by day partition on PostgreSQL), and replay
//! progress is kept.

use conveyor_domain::Timestamp;
use conveyor_store::events::replays::ReplaySpec;
use conveyor_store::events::{EventCursor, EventQuery, StoredEvent};
use conveyor_store::testing::{TestDb, on_both_backends};
use conveyor_store::{OutboxRow, Store};

const DAY: i64 = 86_400_000;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// A row as a handler stages it.
fn row(id: &str, topic: &str, flow: &str, order: &str) -> OutboxRow {
    OutboxRow {
        source: "order-worker".to_owned(),
        correlation_id: Some(flow.to_owned()),
        causation_id: Some(format!("cause-{id}")),
        data_fields: vec![("order_id".to_owned(), order.to_owned())],
        ..OutboxRow::bare(
            id.to_owned(),
            topic.to_owned(),
            format!("{{\"id\":\"{id}\"}}"),
        )
    }
}

async fn stage(store: &Store, rows: &[OutboxRow], now: Timestamp) {
    let mut tx = store.begin().await.unwrap();
    tx.outbox_stage(rows, now).await.unwrap();
    tx.commit().await.unwrap();
}

async fn all(store: &Store) -> Vec<StoredEvent> {
    store
        .events_query(&EventQuery {
            limit: 1000,
            ..EventQuery::default()
        })
        .await
        .unwrap()
        .events
}

fn ids(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

#[tokio::test]
async fn staged_events_are_stored_with_their_outbox_rows_or_not_at_all() {
    on_both_backends(|store| async move {
        let now = at("2026-12-05T10:00:00Z");
        let mut tx = store.begin().await.unwrap();
        tx.outbox_stage(&[row("gone", "t", "f", "o")], now)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert!(
            all(&store).await.is_empty(),
            "a rolled-back stage stores nothing"
        );

        let mut camel = row("b", "u", "f2", "x");
        camel.data_fields = vec![("orderId".to_owned(), "ord-2".to_owned())];
        camel.correlation_id = None;
        stage(&store, &[row("a", "t", "f1", "ord-1"), camel], now).await;
        let stored = all(&store).await;
        assert_eq!(ids(&stored), ["a", "b"]);
        let a = &stored[0];
        assert_eq!(
            (a.topic.as_str(), a.time, a.source.as_str(), a.body.as_str()),
            ("t", now, "order-worker", "{\"id\":\"a\"}")
        );
        assert_eq!(a.correlation_id.as_deref(), Some("f1"));
        assert_eq!(a.causation_id.as_deref(), Some("cause-a"));
        assert_eq!(a.order_id.as_deref(), Some("ord-1"));
        assert_eq!(stored[1].order_id.as_deref(), Some("ord-2"));
        assert_eq!(stored[1].correlation_id, None);
        // Stored by the database's clock, not the event's.
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let wall = i64::try_from(wall).unwrap();
        assert!(
            (a.stored_at.millis() - wall).abs() < 60_000,
            "{:?}",
            a.stored_at
        );

        // Switched off, nothing more is stored; the outbox still is.
        let off = store.clone().with_event_store(false);
        stage(&off, &[row("c", "t", "f1", "ord-1")], now).await;
        assert_eq!(ids(&all(&store).await), ["a", "b"]);
        assert_eq!(store.outbox_backlog().await.unwrap(), 3);
    })
    .await;
}

#[tokio::test]
async fn queries_filter_and_page_by_position() {
    on_both_backends(|store| async move {
        let base = at("2026-12-05T00:00:00Z");
        for (i, (topic, flow, order)) in [
            ("pay", "f1", "o1"),
            ("ship", "f1", "o1"),
            ("pay", "f2", "o2"),
            ("pay", "f1", "o1"),
            ("pay", "f3", "o3"),
        ]
        .iter()
        .enumerate()
        {
            let minute = i64::try_from(i).unwrap() * 60_000;
            stage(
                &store,
                &[row(&format!("e{i}"), topic, flow, order)],
                base.add_millis(minute),
            )
            .await;
        }
        let query = |q: EventQuery| {
            let store = store.clone();
            async move {
                store
                    .events_query(&EventQuery { limit: 100, ..q })
                    .await
                    .unwrap()
            }
        };
        let by_topic = query(EventQuery {
            topic: Some("pay".to_owned()),
            ..EventQuery::default()
        })
        .await;
        assert_eq!(ids(&by_topic.events), ["e0", "e2", "e3", "e4"]);
        assert_eq!(by_topic.next, None);
        let in_range = query(EventQuery {
            topic: Some("pay".to_owned()),
            from: Some(base.add_millis(60_000)),
            to: Some(base.add_millis(4 * 60_000)),
            ..EventQuery::default()
        })
        .await;
        assert_eq!(
            ids(&in_range.events),
            ["e2", "e3"],
            "from inclusive, to exclusive"
        );
        let flow = query(EventQuery {
            correlation_id: Some("f1".to_owned()),
            ..EventQuery::default()
        })
        .await;
        assert_eq!(ids(&flow.events), ["e0", "e1", "e3"]);
        let order = query(EventQuery {
            order_id: Some("o2".to_owned()),
            ..EventQuery::default()
        })
        .await;
        assert_eq!(ids(&order.events), ["e2"]);

        // Pages of two, oldest first, then newest first, each continuing after its cursor.
        for (newest_first, expected) in [
            (false, ["e0", "e1", "e2", "e3", "e4"]),
            (true, ["e4", "e3", "e2", "e1", "e0"]),
        ] {
            let mut seen = Vec::new();
            let mut after: Option<EventCursor> = None;
            loop {
                let page = store
                    .events_query(&EventQuery {
                        after,
                        newest_first,
                        limit: 2,
                        ..EventQuery::default()
                    })
                    .await
                    .unwrap();
                assert!(page.events.len() <= 2);
                seen.extend(page.events.iter().map(|e| e.id.clone()));
                match page.next {
                    Some(next) => {
                        assert_eq!(Some(next), page.events.last().map(|e| e.position));
                        after = Some(next);
                    }
                    None => break,
                }
            }
            assert_eq!(seen, expected);
        }
    })
    .await;
}

#[tokio::test]
async fn retention_removes_events_older_than_the_cutoff() {
    on_both_backends(|store| async move {
        let now = at("2026-12-05T12:00:00Z");
        for (id, days) in [("old", 400), ("older", 500), ("edge", 365), ("young", 2)] {
            stage(
                &store,
                &[row(id, "t", "f", "o")],
                now.add_millis(-days * DAY),
            )
            .await;
        }
        let cutoff = now.add_millis(-365 * DAY);
        let pruned = store.events_prune(cutoff, 1, 10).await.unwrap();
        assert!(!pruned.more);
        assert_eq!(ids(&all(&store).await), ["edge", "young"]);
        // A bounded run says when more remain.
        for i in 0..3 {
            stage(
                &store,
                &[row(&format!("x{i}"), "t", "f", "o")],
                now.add_millis(-900 * DAY),
            )
            .await;
        }
        let pruned = store.events_prune(cutoff, 1, 2).await.unwrap();
        assert_eq!((pruned.rows, pruned.more), (2, true));
        store.events_prune(cutoff, 1, 2).await.unwrap();
        assert_eq!(ids(&all(&store).await), ["edge", "young"]);
    })
    .await;
}

async fn partition_of(store: &Store, id: &str) -> String {
    sqlx::query_scalar("SELECT tableoid::regclass::TEXT FROM conveyor.events WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_keeps_a_partition_per_day_and_drops_whole_days_past_retention() {
    let db = TestDb::postgres().await;
    let store = db.store().clone();
    let now = at("2026-12-05T12:00:00Z");
    // Before any partition exists, appends land in the DEFAULT partition.
    stage(&store, &[row("early", "t", "f", "o")], now).await;
    assert_eq!(partition_of(&store, "early").await, "events_default");

    let made = store.events_prepare(now, 3).await.unwrap();
    assert_eq!(
        made,
        [
            "events_p20261205",
            "events_p20261206",
            "events_p20261207",
            "events_p20261208"
        ]
    );
    // The day's rows moved into its partition as it was made; nothing is made twice.
    assert_eq!(partition_of(&store, "early").await, "events_p20261205");
    assert!(store.events_prepare(now, 3).await.unwrap().is_empty());
    assert_eq!(
        store.events_prepare(now.add_millis(DAY), 3).await.unwrap(),
        ["events_p20261209"]
    );
    stage(
        &store,
        &[row("tomorrow", "t", "f", "o")],
        now.add_millis(DAY),
    )
    .await;
    assert_eq!(partition_of(&store, "tomorrow").await, "events_p20261206");

    // A year on: the days before the cutoff's day go whole; the cutoff's own day stays.
    let later = now.add_millis(366 * DAY);
    stage(
        &store,
        &[row("stray", "t", "f", "o")],
        now.add_millis(-30 * DAY),
    )
    .await;
    assert_eq!(partition_of(&store, "stray").await, "events_default");
    let pruned = store
        .events_prune(later.add_millis(-365 * DAY), 1000, 10)
        .await
        .unwrap();
    assert_eq!(pruned.partitions, ["events_p20261205"]);
    assert_eq!(pruned.rows, 1, "the stray row of the DEFAULT partition");
    assert_eq!(ids(&all(&store).await), ["tomorrow"]);
    let days: Vec<String> = store
        .day_partitions()
        .await
        .unwrap()
        .iter()
        .map(|d| Timestamp::from_millis(d * DAY).to_rfc3339()[..10].to_owned())
        .collect();
    assert_eq!(
        days,
        ["2026-12-06", "2026-12-07", "2026-12-08", "2026-12-09"]
    );
    db.close().await;
}

#[tokio::test]
async fn replay_progress_is_kept_and_found_again() {
    on_both_backends(|store| async move {
        let spec = ReplaySpec {
            topic: "pay".to_owned(),
            from: at("2026-12-01T00:00:00Z"),
            to: at("2026-12-02T00:00:00Z"),
            function: Some("f".to_owned()),
            correlation_id: None,
            as_new: true,
        };
        let now = at("2026-12-05T00:00:00Z");
        assert_eq!(store.replay_unfinished(&spec).await.unwrap(), None);
        let created = store.replay_create("r1", &spec, now).await.unwrap();
        assert_eq!(store.replay("r1").await.unwrap(), Some(created.clone()));
        let position = EventCursor {
            time: at("2026-12-01T01:00:00Z"),
            seq: 7,
        };
        store.replay_advance("r1", position, 3, now).await.unwrap();
        store.replay_advance("r1", position, 2, now).await.unwrap();
        let found = store.replay_unfinished(&spec).await.unwrap().unwrap();
        assert_eq!(
            (found.id.as_str(), found.after, found.replayed),
            ("r1", Some(position), 5)
        );
        let other = ReplaySpec {
            function: None,
            ..spec.clone()
        };
        assert_eq!(store.replay_unfinished(&other).await.unwrap(), None);
        store.replay_finish("r1", now).await.unwrap();
        assert_eq!(store.replay_unfinished(&spec).await.unwrap(), None);
        assert_eq!(
            store.replay("r1").await.unwrap().unwrap().finished_at,
            Some(now)
        );
        assert_eq!(store.replay("nope").await.unwrap(), None);
    })
    .await;
}
