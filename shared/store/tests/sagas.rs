//! Contract tests of the saga tables on both backends: state rows and due timers.

use std::time::Duration;

use conveyor_domain::{SagaId, Timestamp};
use conveyor_saga::{
    Engine, Input, Reply, SagaDefinition, SagaRepository, SagaState, SagaStatus, Step,
};
use conveyor_store::Backend;
use conveyor_store::testing::on_both_backends;

fn definition() -> SagaDefinition {
    SagaDefinition::new(
        "test-saga",
        vec![Step::new("only", "only.requested", &["only.done"]).timeout(Duration::from_secs(5))],
    )
    .unwrap()
}

fn started(def: &SagaDefinition, id: &str, at_ms: i64) -> SagaState {
    Engine::new(def)
        .start(
            SagaId::parse(id).unwrap(),
            serde_json::json!({"order_id": id}),
            Timestamp::from_millis(at_ms),
        )
        .state
}

/// Stores a saga started at each `(id, at_ms)`, in one transaction.
async fn save_started(store: &conveyor_store::Store, def: &SagaDefinition, sagas: &[(&str, i64)]) {
    let mut tx = store.begin().await.unwrap();
    for &(id, at) in sagas {
        tx.save_saga(&started(def, id, at)).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_saga_is_stored_whole_and_its_timer_follows_its_state() {
    on_both_backends(|store| async move {
        let def = definition();
        let st = started(&def, "s-1", 1_000);
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.load_saga("test-saga", &st.id).await.unwrap(), None);
        assert!(tx.create_saga(&st).await.unwrap());
        // A second start of the same saga writes nothing.
        let again = started(&def, "s-1", 1_500);
        assert!(!tx.create_saga(&again).await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let back = tx.load_saga("test-saga", &st.id).await.unwrap().unwrap();
        assert_eq!(back, st);
        assert_eq!(tx.load_saga("other-saga", &st.id).await.unwrap(), None);
        let list = tx.list_sagas(Some("test-saga"), None, 10).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, SagaStatus::Running);
        assert_eq!(list[0].current_step, Some(0));
        assert_eq!(list[0].deadline, Some(Timestamp::from_millis(6_000)));
        // Not due before its deadline.
        let early = tx
            .take_due_saga_timers(Timestamp::from_millis(5_999), 10)
            .await
            .unwrap();
        assert!(early.is_empty());

        // The reply ends it: the row says so and no timer is left.
        let done = Engine::new(&def)
            .apply(
                &back,
                &Input::Reply(Reply::on("only.done")),
                Timestamp::from_millis(2_000),
            )
            .unwrap();
        tx.save_saga(&done.state).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let stored = tx.load_saga("test-saga", &st.id).await.unwrap().unwrap();
        assert_eq!(stored.status, SagaStatus::Completed);
        assert_eq!(stored.version, 2);
        let list = tx.list_sagas(None, None, 10).await.unwrap();
        assert_eq!((list[0].current_step, list[0].deadline), (None, None));
        // Filtered by status: it is completed, not running.
        let completed = tx
            .list_sagas(None, Some(SagaStatus::Completed), 10)
            .await
            .unwrap();
        assert_eq!(completed.len(), 1);
        let running = tx
            .list_sagas(Some("test-saga"), Some(SagaStatus::Running), 10)
            .await
            .unwrap();
        assert!(running.is_empty(), "{running:?}");
        let due = tx
            .take_due_saga_timers(Timestamp::from_millis(60_000), 10)
            .await
            .unwrap();
        assert!(due.is_empty(), "{due:?}");
        tx.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn sagas_are_counted_per_status_of_one_definition() {
    on_both_backends(|store| async move {
        let def = definition();
        save_started(
            &store,
            &def,
            &[("s-1", 1_000), ("s-2", 1_100), ("s-3", 1_200)],
        )
        .await;
        let back = started(&def, "s-2", 1_100);
        let done = Engine::new(&def)
            .apply(
                &back,
                &Input::Reply(Reply::on("only.done")),
                Timestamp::from_millis(2_000),
            )
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.save_saga(&done.state).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store.saga_counts("test-saga").await.unwrap(),
            [(SagaStatus::Running, 2), (SagaStatus::Completed, 1)]
        );
        assert!(store.saga_counts("other-saga").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn due_timers_are_taken_once_oldest_first_and_a_rollback_puts_them_back() {
    on_both_backends(|store| async move {
        let def = definition();
        save_started(
            &store,
            &def,
            &[("s-b", 2_000), ("s-a", 1_000), ("s-c", 9_000)],
        )
        .await;
        let now = Timestamp::from_millis(7_000);

        let mut tx = store.begin().await.unwrap();
        let taken = tx.take_due_saga_timers(now, 10).await.unwrap();
        let ids: Vec<&str> = taken.iter().map(|t| t.saga.as_str()).collect();
        assert_eq!(ids, ["s-a", "s-b"]);
        assert_eq!(taken[0].due, Timestamp::from_millis(6_000));
        assert_eq!(taken[0].definition, "test-saga");
        tx.rollback().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let first = tx.take_due_saga_timers(now, 1).await.unwrap();
        assert_eq!(first.len(), 1);
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let rest = tx.take_due_saga_timers(now, 10).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_ne!(rest[0].saga, first[0].saga);
        assert!(tx.take_due_saga_timers(now, 10).await.unwrap().is_empty());
        tx.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn overlapping_takers_on_postgres_take_disjoint_timers() {
    let db = conveyor_store::testing::TestDb::of(Backend::Postgres).await;
    let store = db.store().clone();
    let def = definition();
    save_started(&store, &def, &[("s-1", 1_000), ("s-2", 2_000)]).await;
    let now = Timestamp::from_millis(60_000);
    let mut one = store.begin().await.unwrap();
    let mut two = store.begin().await.unwrap();
    let a = one.take_due_saga_timers(now, 1).await.unwrap();
    let b = two.take_due_saga_timers(now, 10).await.unwrap();
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a[0].saga, b[0].saga);
    one.commit().await.unwrap();
    two.commit().await.unwrap();
    db.close().await;
}

#[tokio::test]
async fn a_read_on_postgres_neither_waits_for_nor_holds_the_saga_s_lock() {
    let db = conveyor_store::testing::TestDb::of(Backend::Postgres).await;
    let store = db.store().clone();
    let def = definition();
    let st = started(&def, "s-1", 1_000);
    let mut tx = store.begin().await.unwrap();
    tx.save_saga(&st).await.unwrap();
    tx.commit().await.unwrap();

    // The orchestrator holds the row while it handles an input.
    let mut handling = store.begin().await.unwrap();
    let locked = handling.load_saga("test-saga", &st.id).await.unwrap();
    assert_eq!(locked.as_ref(), Some(&st));
    let mut view = store.begin().await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), view.read_saga("test-saga", &st.id))
        .await
        .expect("a read does not wait for the lock")
        .unwrap();
    assert_eq!(seen, Some(st.clone()));
    assert_eq!(view.read_saga("other-saga", &st.id).await.unwrap(), None);
    handling.commit().await.unwrap();

    // While the view's transaction is still open, the orchestrator takes the lock at once.
    let mut next = store.begin().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), next.load_saga("test-saga", &st.id))
        .await
        .expect("the read held no lock")
        .unwrap();
    next.commit().await.unwrap();
    view.rollback().await.unwrap();
    db.close().await;
}
