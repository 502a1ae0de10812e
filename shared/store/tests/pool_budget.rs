//! The connection budget: a pool of the size given, and a caller that gets no connection in time
//! fails with a transient error (the delivery is retried, never dropped).

use std::time::Duration;

use conveyor_store::testing::TestDb;
use conveyor_store::{PoolOptions, Store};

#[tokio::test]
async fn an_exhausted_pool_times_out_with_a_transient_error() {
    let db = TestDb::postgres().await;
    let options = PoolOptions::new(1).with_acquire_timeout(Duration::from_millis(200));
    let store = Store::connect_with(db.url(), options).await.unwrap();
    let held = store.begin().await.unwrap();

    let started = std::time::Instant::now();
    let err = store.begin().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert!(
        matches!(
            err,
            conveyor_store::StoreError::Database(conveyor_store::sqlx::Error::PoolTimedOut)
        ),
        "{err:?}"
    );
    assert!(err.is_transient());

    // Released, the one connection serves the next caller.
    held.rollback().await.unwrap();
    store.begin().await.unwrap().rollback().await.unwrap();
    store.close().await;
    db.close().await;
}

#[tokio::test]
async fn the_pool_holds_at_most_its_size() {
    let db = TestDb::postgres().await;
    let options = PoolOptions::new(2).with_acquire_timeout(Duration::from_millis(200));
    let store = Store::connect_with(db.url(), options).await.unwrap();
    let first = store.begin().await.unwrap();
    let second = store.begin().await.unwrap();
    assert!(store.begin().await.is_err());
    assert_eq!(store.pool().size(), 2);
    first.rollback().await.unwrap();
    second.rollback().await.unwrap();
    store.close().await;
    db.close().await;
}
