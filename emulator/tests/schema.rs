//! What `conveyor up` creates in a fresh PostgreSQL database on each transport, and its
//! maintenance loop: the embedded broker's tables exist only where that broker runs, the event
//! store's day partitions are made at start, and an inbox row past its retention is pruned at
//! start.

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::{Clock, ManualClock, Timestamp};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_redis::RedisSettings;
use conveyor_store::Store;
use conveyor_store::testing::TestDb;

async fn tables(store: &Store) -> Vec<String> {
    conveyor_store::sqlx::query_scalar(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema = 'conveyor' AND table_name NOT LIKE 'events\\_p%' ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

async fn inbox_rows(store: &Store) -> i64 {
    conveyor_store::sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_embedded_broker_creates_its_tables_and_the_loop_prunes_at_start() {
    let db = TestDb::empty_postgres().await;
    // A database a Lambda migrated, holding one row past the retention and one inside it.
    db.store().migrate().await.unwrap();
    let now = Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
    let mut tx = db.store().begin().await.unwrap();
    tx.inbox_claim("f", "old", now.sub_days(15)).await.unwrap();
    tx.inbox_claim("f", "young", now.sub_days(13))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        tables(db.store()).await,
        [
            "conveyor.events",
            "conveyor.events_default",
            "conveyor.inbox",
            "conveyor.outbox",
            "conveyor.replays",
            "conveyor.saga_timers",
            "conveyor.sagas"
        ]
    );

    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
    let running = up::start(UpConfig {
        database: db.url().to_owned(),
        clock: Some(clock),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(
        tables(db.store()).await,
        [
            "conveyor.dead_letters",
            "conveyor.events",
            "conveyor.events_default",
            "conveyor.inbox",
            "conveyor.outbox",
            "conveyor.queue",
            "conveyor.replays",
            "conveyor.saga_timers",
            "conveyor.sagas"
        ]
    );
    // The event store's day partitions, of the clock's day and the three after, made at start.
    let days: Vec<String> = db
        .store()
        .day_partitions()
        .await
        .unwrap()
        .iter()
        .map(|d| Timestamp::from_millis(d * 86_400_000).to_rfc3339()[..10].to_owned())
        .collect();
    assert_eq!(
        days,
        ["2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"]
    );
    let mut left = inbox_rows(db.store()).await;
    for _ in 0..100 {
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = inbox_rows(db.store()).await;
    }
    assert_eq!(left, 1, "the old row goes, the young one stays");
    running.shutdown().await;
    db.close().await;
}

#[tokio::test]
async fn redis_streams_leave_the_production_schema_alone() {
    let db = TestDb::empty_postgres().await;
    let url = std::env::var("CONVEYOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let running = up::start(UpConfig {
        database: db.url().to_owned(),
        redis: Some(RedisSettings {
            prefix: format!("schema-{}:", std::process::id()),
            ..RedisSettings::new(&url)
        }),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(
        tables(db.store()).await,
        [
            "conveyor.events",
            "conveyor.events_default",
            "conveyor.inbox",
            "conveyor.outbox",
            "conveyor.replays",
            "conveyor.saga_timers",
            "conveyor.sagas"
        ]
    );
    running.shutdown().await;
    db.close().await;
}

#[tokio::test]
async fn conveyor_migrate_reads_the_url_from_the_file_its_file_variable_names() {
    let db = TestDb::empty_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("url");
    std::fs::write(&secret, format!("{}\n", db.url())).unwrap();
    let run = |args: &[&str], file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
            .arg("migrate")
            .args(args)
            .env_remove("CONVEYOR_DATABASE_URL")
            .env("CONVEYOR_DATABASE_URL_FILE", file)
            .output()
            .unwrap()
    };

    let out = run(&[], &secret);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("applied 0001_conveyor"), "{stdout}");
    assert_eq!(
        tables(db.store()).await,
        [
            "conveyor.events",
            "conveyor.events_default",
            "conveyor.inbox",
            "conveyor.outbox",
            "conveyor.replays",
            "conveyor.saga_timers",
            "conveyor.sagas"
        ]
    );

    // A file that is not there is one line naming the variable and the path.
    let missing = dir.path().join("absent");
    let out = run(&[], &missing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("CONVEYOR_DATABASE_URL_FILE") && stderr.contains("absent"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
