//! conveyor-maintenance against SQLite and PostgreSQL with a manual clock: inbox rows past the
//! retention go, younger ones stay, a redelivery inside the window is still a duplicate, and a
//! run prunes a bounded number of rows and says when more remain; the event store is kept
//! within its retention (and its day partitions made) by the tick and by the hosts' loop.

use conveyor_domain::events::Validate;
use conveyor_domain::events::ValidationError;
use conveyor_maintenance::ConveyorMaintenance;
use conveyor_runtime::maintenance::{self, Retention};
use conveyor_runtime::{Context, FunctionSpec, HandlerError, JobReport, Service, TopicHandler};
use conveyor_testkit::{Harness, on_both_backends};
use serde::Deserialize;

const DAY_MINUTES: i64 = 24 * 60;

/// Any payload.
#[derive(Debug, Deserialize)]
struct Anything {}

impl Validate for Anything {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// A consumer that only records, through the pipeline, that it handled an event.
#[derive(Debug)]
struct Consumer;

impl TopicHandler for Consumer {
    type Payload = Anything;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-consumer", Service::Order, &["test.anything"]);

    async fn handle(&self, _: Anything, _: &mut Context<'_>) -> Result<(), HandlerError> {
        Ok(())
    }
}

async fn tick(h: &Harness, job: &ConveyorMaintenance) -> JobReport {
    let handled = h.tick(job).await.unwrap();
    assert!(!handled.duplicate);
    assert!(handled.produced.is_empty(), "maintenance publishes nothing");
    handled.report.unwrap()
}

/// The consumer's inbox rows (the job's own tick rows are in the inbox too).
/// `n` inbox rows of the test consumer, received now.
async fn claim_rows(h: &Harness, n: usize) {
    let ids: Vec<String> = (0..n).map(|i| format!("ev-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut tx = h.store().begin().await.unwrap();
    tx.inbox_claim_many("test-consumer", &ids, h.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn consumer_rows(h: &Harness) -> i64 {
    conveyor_store::sqlx::query_scalar(
        "SELECT COUNT(*) FROM inbox WHERE function = 'test-consumer'",
    )
    .fetch_one(h.store().pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn rows_past_the_retention_go_and_a_redelivery_inside_it_is_still_a_duplicate() {
    on_both_backends(|h| async move {
        let job = ConveyorMaintenance::default();
        let old = h.event("test.anything", &serde_json::json!({}));
        assert!(!h.deliver_event(&Consumer, &old, 1).await.unwrap().duplicate);
        h.advance_minutes(2 * DAY_MINUTES);
        let young = h.event("test.anything", &serde_json::json!({}));
        assert!(
            !h.deliver_event(&Consumer, &young, 1)
                .await
                .unwrap()
                .duplicate
        );

        // 13 days after the first delivery: inside the window, nothing goes.
        h.advance_minutes(11 * DAY_MINUTES);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert_eq!(consumer_rows(&h).await, 2);
        let again = h.deliver_event(&Consumer, &old, 2).await.unwrap();
        assert!(again.duplicate, "a redelivery inside the window is dropped");

        // 15 days after it: its row goes (with the first tick's), the younger one stays.
        h.advance_minutes(2 * DAY_MINUTES);
        let report = tick(&h, &job).await;
        assert!(!report.more);
        assert_eq!(consumer_rows(&h).await, 1);
        let again = h.deliver_event(&Consumer, &young, 2).await.unwrap();
        assert!(again.duplicate, "the younger event's row is kept");
        h
    })
    .await;
}

#[tokio::test]
async fn a_run_is_bounded_and_reports_that_more_remains() {
    on_both_backends(|h| async move {
        // 2,500 rows past retention, more than two statements of 1,000.
        claim_rows(&h, 2_500).await;
        h.advance_minutes(15 * DAY_MINUTES);

        let job = ConveyorMaintenance {
            retention: Retention {
                batches: 2,
                ..Retention::default()
            },
        };
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2_000,
                more: true
            }
        );
        assert_eq!(consumer_rows(&h).await, 500);
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 500,
                more: false
            }
        );
        assert_eq!(consumer_rows(&h).await, 0);
        h
    })
    .await;
}

#[tokio::test]
async fn the_hosts_run_prunes_dead_letters_too_each_statement_bounded() {
    on_both_backends(|h| async move {
        claim_rows(&h, 1_500).await;
        let store = h.store();
        store
            .queue_push(
                &[conveyor_store::queue::Enqueue {
                    function: "test-consumer",
                    event_id: "dead",
                    topic: "test.anything",
                    body: "{}",
                    ordering_key: None,
                    leased_until: None,
                }],
                h.now(),
            )
            .await
            .unwrap();
        let leased = store
            .queue_lease("test-consumer", 1, h.now(), h.now().add_millis(1_000))
            .await
            .unwrap();
        store
            .queue_dead_letter(&leased[0], "gave up", h.now())
            .await
            .unwrap();

        let retention = Retention {
            batches: 1,
            ..Retention::default()
        };
        // 20 days on: the inbox rows are past 14 days, the dead letter is inside its 30.
        h.advance_minutes(20 * DAY_MINUTES);
        let pruned = maintenance::prune(store, h.now(), &retention, true)
            .await
            .unwrap();
        assert_eq!(
            (pruned.inbox, pruned.dead_letters, pruned.more),
            (1_000, 0, true)
        );
        let pruned = maintenance::prune(store, h.now(), &retention, true)
            .await
            .unwrap();
        assert_eq!(
            (pruned.inbox, pruned.dead_letters, pruned.more),
            (500, 0, false)
        );
        assert_eq!(store.dead_letters(None, 10).await.unwrap().len(), 1);

        h.advance_minutes(11 * DAY_MINUTES);
        let pruned = maintenance::prune(store, h.now(), &retention, true)
            .await
            .unwrap();
        assert_eq!(
            (pruned.inbox, pruned.dead_letters, pruned.more),
            (0, 1, false)
        );
        assert!(store.dead_letters(None, 10).await.unwrap().is_empty());
        h
    })
    .await;
}

/// Stores one event at the harness's time.
async fn store_event(h: &Harness, id: &str) {
    let row =
        conveyor_store::OutboxRow::bare(id.to_owned(), "test.anything".to_owned(), "{}".to_owned());
    let mut tx = h.store().begin().await.unwrap();
    tx.events_append(&[row], h.now()).await.unwrap();
    tx.commit().await.unwrap();
}

async fn stored_ids(h: &Harness) -> Vec<String> {
    let query = conveyor_store::events::EventQuery {
        limit: 100,
        ..conveyor_store::events::EventQuery::default()
    };
    let page = h.store().events_query(&query).await.unwrap();
    page.events.into_iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn the_event_store_is_kept_within_its_retention_by_the_tick_and_by_the_hosts_loop() {
    on_both_backends(|h| async move {
        let job = ConveyorMaintenance {
            retention: Retention {
                events: std::time::Duration::from_secs(30 * 86_400),
                ..Retention::default()
            },
        };
        store_event(&h, "old").await;
        h.advance_minutes(20 * DAY_MINUTES);
        store_event(&h, "young").await;
        // Ten days later "old" is past 30 days: the tick removes it (on PostgreSQL from the
        // DEFAULT partition: no day partition existed when it was stored).
        h.advance_minutes(10 * DAY_MINUTES + 1);
        let report = tick(&h, &job).await;
        assert!(!report.more);
        assert_eq!(stored_ids(&h).await, ["young"]);
        if h.backend() == conveyor_store::Backend::Postgres {
            // The tick made the partitions of its day and the three after.
            assert_eq!(h.store().day_partitions().await.unwrap().len(), 4);
        }

        // The long-running hosts' loop does the same with its own retention.
        h.advance_minutes(21 * DAY_MINUTES);
        let pruned = maintenance::prune(h.store(), h.now(), &job.retention, false)
            .await
            .unwrap();
        assert_eq!(stored_ids(&h).await, Vec::<String>::new());
        assert_eq!(pruned.events, 1, "{pruned:?}");
        if h.backend() == conveyor_store::Backend::Postgres {
            assert_eq!(pruned.partitions_made, 4, "{pruned:?}");
        }
        h
    })
    .await;
}
