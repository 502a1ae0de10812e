//! Background checkpoints of a SQLite file's log: the main connection no longer checkpoints
//! at SQLite's default threshold, and committed pages still reach the database file.

use std::time::{Duration, Instant};

use conveyor_store::Store;
use conveyor_store::checkpoint::FALLBACK_PAGES;
use sqlx::Row;

#[tokio::test]
async fn the_log_reaches_the_database_file_without_a_commit_checkpointing_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.db");
    let url = format!("sqlite://{}", file.display());
    let store = Store::open(&url)
        .await
        .unwrap()
        .checkpointing_in_background(&url)
        .await
        .unwrap();
    let threshold: i64 = sqlx::query("PRAGMA wal_autocheckpoint")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(threshold, i64::from(FALLBACK_PAGES));

    sqlx::query("CREATE TABLE filler (body TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let before = std::fs::metadata(&file).unwrap().len();
    // About 2 MB of pages: under the main connection's threshold (64 MB) and SQLite's default
    // (4 MB), so only the background task copies them into the file.
    let body = "x".repeat(2_000);
    let mut tx = store.pool().begin().await.unwrap();
    for _ in 0..1_000 {
        sqlx::query("INSERT INTO filler (body) VALUES ($1)")
            .bind(&body)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let started = Instant::now();
    loop {
        let now = std::fs::metadata(&file).unwrap().len();
        if now >= before + 1_500_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the database file stayed at {now} bytes (from {before}): nothing checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
}
