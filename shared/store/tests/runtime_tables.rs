//! Contract tests of the inbox and outbox on both backends.

use conveyor_domain::Timestamp;
use conveyor_store::OutboxRow;
use conveyor_store::testing::on_both_backends;

/// A row as the table keeps it: id, topic, body and ordering key.
fn stored(id: &str) -> OutboxRow {
    OutboxRow {
        ordering_key: Some(format!("key-{id}")),
        ..OutboxRow::bare(
            id.to_owned(),
            "t".to_owned(),
            format!("{{\"id\":\"{id}\"}}"),
        )
    }
}

/// A row as a handler stages it, with what its event said (which the table does not keep).
fn row(id: &str) -> OutboxRow {
    OutboxRow {
        source: "order-worker".to_owned(),
        correlation_id: Some("flow-1".to_owned()),
        causation_id: Some("evt-0".to_owned()),
        data_fields: vec![("order_id".to_owned(), "ord-1".to_owned())],
        ..stored(id)
    }
}

#[tokio::test]
async fn inbox_claims_once_per_function_and_event() {
    on_both_backends(|store| async move {
        let now = Timestamp::from_millis(1_000);
        let mut tx = store.begin().await.unwrap();
        assert!(tx.inbox_claim("f", "e1", now).await.unwrap());
        assert!(!tx.inbox_claim("f", "e1", now).await.unwrap());
        assert!(tx.inbox_claim("g", "e1", now).await.unwrap());
        tx.commit().await.unwrap();

        // A rolled-back claim leaves no trace.
        let mut tx = store.begin().await.unwrap();
        assert!(tx.inbox_claim("f", "e2", now).await.unwrap());
        tx.rollback().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(tx.inbox_claim("f", "e2", now).await.unwrap());
        tx.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn outbox_stages_claims_in_order_and_deletes() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        tx.outbox_stage(&[row("a"), row("b")], Timestamp::from_millis(1_000))
            .await
            .unwrap();
        tx.outbox_stage(&[row("c")], Timestamp::from_millis(5_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.outbox_backlog().await.unwrap(), 3);

        let mut tx = store.begin().await.unwrap();
        let claimed = tx
            .outbox_claim(Timestamp::from_millis(2_000), 10)
            .await
            .unwrap();
        assert_eq!(claimed, vec![stored("a"), stored("b")]);
        tx.outbox_bump_attempts(&["a".to_owned()]).await.unwrap();
        tx.outbox_delete(&["b".to_owned()]).await.unwrap();
        tx.commit().await.unwrap();

        store.outbox_delete(&["a".to_owned()]).await.unwrap();
        assert_eq!(store.outbox_backlog().await.unwrap(), 1);

        // Staged rows of a rolled-back transaction never appear.
        let mut tx = store.begin().await.unwrap();
        tx.outbox_stage(&[row("d")], Timestamp::from_millis(1_000))
            .await
            .unwrap();
        drop(tx);
        assert_eq!(store.outbox_backlog().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_sweeping_store_deletes_published_rows_in_batches_and_only_those() {
    on_both_backends(|store| async move {
        let ids: Vec<String> = (0..1_100).map(|i| format!("r{i}")).collect();
        let rows: Vec<OutboxRow> = ids.iter().map(|id| row(id)).collect();
        let mut tx = store.begin().await.unwrap();
        tx.outbox_stage(&rows, Timestamp::from_millis(1_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let sweeping = store.clone().sweeping_outbox();
        // Lists of every length: 1,097 ids in chunks of 1, 3 (padded to 4) and the rest (more
        // than one batch of 512); three ids stay.
        sweeping.outbox_delete(&ids[..1]).await.unwrap();
        sweeping.outbox_delete(&ids[1..4]).await.unwrap();
        sweeping.outbox_delete(&ids[4..1_097]).await.unwrap();
        sweeping.flush_outbox_deletes().await;
        assert_eq!(store.outbox_backlog().await.unwrap(), 3);
        let mut tx = store.begin().await.unwrap();
        let left: Vec<String> = tx
            .outbox_claim(Timestamp::from_millis(2_000), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        tx.commit().await.unwrap();
        assert_eq!(left, ["r1097", "r1098", "r1099"]);

        // A store without the task deletes at once; flushing it does nothing.
        store.outbox_delete(&ids[1_097..1_098]).await.unwrap();
        store.flush_outbox_deletes().await;
        assert_eq!(store.outbox_backlog().await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn inbox_claims_many_events_at_once_each_first_position_once() {
    on_both_backends(|store| async move {
        let now = Timestamp::from_millis(1_000);
        let mut tx = store.begin().await.unwrap();
        assert!(tx.inbox_claim("f", "old", now).await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let claimed = tx
            .inbox_claim_many("f", &["a", "old", "b", "a", "c"], now)
            .await
            .unwrap();
        assert_eq!(claimed, [true, false, true, false, true]);
        assert_eq!(
            tx.inbox_claim_many("g", &["a"], now).await.unwrap(),
            [true],
            "per function"
        );
        tx.commit().await.unwrap();

        // More ids than one statement takes: every one claimed, then none again.
        let ids: Vec<String> = (0..600).map(|i| format!("e{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.inbox_claim_many("f", &refs, now)
                .await
                .unwrap()
                .into_iter()
                .all(|c| c)
        );
        assert!(
            !tx.inbox_claim_many("f", &refs, now)
                .await
                .unwrap()
                .into_iter()
                .any(|c| c)
        );
        tx.rollback().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.inbox_claim_many("f", &["e1", "b"], now).await.unwrap(),
            [true, false],
            "a rolled-back claim leaves no trace"
        );
        tx.commit().await.unwrap();
    })
    .await;
}
