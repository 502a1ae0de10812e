//! Pruning by age on both backends: the inbox's idempotency rows and the embedded broker's dead
//! letters, oldest first, a bounded batch per statement.

use conveyor_domain::Timestamp;
use conveyor_store::Store;
use conveyor_store::queue::{Enqueue, Leased};
use conveyor_store::testing::on_both_backends;

const DAY: i64 = 86_400_000;

fn at(days: i64) -> Timestamp {
    Timestamp::from_millis(1_000 * DAY + days * DAY)
}

async fn claim(store: &Store, event_ids: &[&str], now: Timestamp) {
    let mut tx = store.begin().await.unwrap();
    tx.inbox_claim_many("f", event_ids, now).await.unwrap();
    tx.commit().await.unwrap();
}

async fn still_claimed(store: &Store, event_id: &str) -> bool {
    let mut tx = store.begin().await.unwrap();
    let fresh = tx.inbox_claim("f", event_id, at(0)).await.unwrap();
    tx.rollback().await.unwrap();
    !fresh
}

#[tokio::test]
async fn inbox_rows_older_than_the_cutoff_go_and_younger_stay() {
    on_both_backends(|store| async move {
        claim(&store, &["old-1", "old-2"], at(-20)).await;
        claim(&store, &["edge"], at(-14)).await;
        claim(&store, &["young"], at(-1)).await;

        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.inbox_prune(at(-14), 1_000).await.unwrap(), 2);
        tx.commit().await.unwrap();
        for (id, kept) in [
            ("old-1", false),
            ("old-2", false),
            ("edge", true),
            ("young", true),
        ] {
            assert_eq!(still_claimed(&store, id).await, kept, "{id}");
        }
        assert_eq!(store.inbox_prune(at(-14), 1_000).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn one_statement_prunes_at_most_its_batch_oldest_first() {
    on_both_backends(|store| async move {
        let ids: Vec<String> = (0..30).map(|i| format!("e{i:02}")).collect();
        for (i, id) in ids.iter().enumerate() {
            claim(&store, &[id.as_str()], at(-100 + i64::try_from(i).unwrap())).await;
        }
        assert_eq!(store.inbox_prune(at(0), 12).await.unwrap(), 12);
        assert!(!still_claimed(&store, "e11").await, "the oldest go first");
        assert!(still_claimed(&store, "e12").await);
        assert_eq!(store.inbox_prune(at(0), 12).await.unwrap(), 12);
        assert_eq!(store.inbox_prune(at(0), 12).await.unwrap(), 6);
        assert_eq!(store.inbox_prune(at(0), 12).await.unwrap(), 0);
    })
    .await;
}

async fn dead_letter(store: &Store, event_id: &str, failed_at: Timestamp) {
    store
        .queue_push(
            &[Enqueue {
                function: "f",
                event_id,
                topic: "t",
                body: "{}",
                ordering_key: None,
                leased_until: None,
            }],
            failed_at,
        )
        .await
        .unwrap();
    let leased: Vec<Leased> = store
        .queue_lease("f", 1, failed_at, failed_at.add_millis(30_000))
        .await
        .unwrap();
    store
        .queue_dead_letter(&leased[0], "gave up", failed_at)
        .await
        .unwrap();
}

#[tokio::test]
async fn dead_letters_older_than_the_cutoff_go_and_younger_stay() {
    on_both_backends(|store| async move {
        dead_letter(&store, "old", at(-31)).await;
        dead_letter(&store, "young", at(-29)).await;
        assert_eq!(store.dead_letters_prune(at(-30), 1_000).await.unwrap(), 1);
        let left: Vec<String> = store
            .dead_letters(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.event_id)
            .collect();
        assert_eq!(left, ["young"]);
    })
    .await;
}
