//! The orchestrated checkout end to end in a running emulator (`up`: on the embedded broker
//! with SQLite and with PostgreSQL, and on Redis Streams with PostgreSQL), every scenario of [`crate::checkout`]: the happy path, a payment reply
//! delivered twice, a failure at each step (payment declined, stock short, fulfillment
//! rejected), each step never answering (payment, reservation, fulfillment, confirmation), a
//! payment reply arriving after its step timed out and was compensated, and a refund that
//! fails transiently or goes unanswered once. Each ends completed, or compensated with exactly
//! the steps before (and a timed-out step itself) undone in reverse, each compensation applied
//! once; the choreographed payment functions leave the saga's orders alone.

use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::UpConfig;
use conveyor_redis::RedisSettings;
use conveyor_runtime::saga::Retry;
use conveyor_store::testing::TestDb;
use conveyor_tests::published::Streams;
use conveyor_tests::stack::shared_redis;
use order_checkout_saga::Timings;

use crate::checkout;

const TIMINGS: Timings = Timings {
    reply_timeout: Duration::from_millis(1_000),
    retry: Retry {
        attempts: 2,
        backoff: Duration::from_millis(200),
        max_backoff: Duration::from_millis(200),
    },
};

/// Runs every checkout on `database`, over the embedded broker or, given `redis`, Redis Streams.
async fn run_checkouts(database: &str, redis: Option<RedisSettings>) {
    let config = UpConfig {
        database: database.to_owned(),
        redis,
        consumer: ConsumerSettings {
            batch: 32,
            idle_poll: Duration::from_millis(20),
        },
        relay_every: Duration::from_millis(100),
        ..UpConfig::default()
    };
    let took = checkout::run(config, TIMINGS, "s", Duration::from_secs(30)).await;
    eprintln!(
        "sagas ended {:?} after their checkouts, the run took {:?}",
        took.sagas, took.total
    );
    // The emulator's due-timer poller publishes the firings to every subscriber.
    assert!(took.timers > 0 && took.broadcast_timers > 0, "{took:?}");
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    run_checkouts(
        &format!("sqlite://{}", dir.path().join("emu.db").display()),
        None,
    )
    .await;
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_postgres() {
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    run_checkouts(&url, None).await;
    db.close().await;
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_redis_and_postgres() {
    let url = shared_redis();
    // A prefix of its own: tests in parallel on the shared server never see each other's streams.
    let streams = Streams::connect(
        &url,
        &format!("test-saga-{}:", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let settings = RedisSettings {
        prefix: streams.prefix.clone(),
        block: Duration::from_millis(100),
        ..RedisSettings::new(&url)
    };
    let db = TestDb::postgres().await;
    let database = db.url().to_owned();
    run_checkouts(&database, Some(settings)).await;
    db.close().await;
    streams.clear().await;
}
