//! The orchestrated checkout end to end in a running emulator (`up`, embedded broker, SQLite
//! and PostgreSQL), every scenario of [`crate::checkout`]: the happy path, a payment reply
//! delivered twice, a failure at each step (payment declined, stock short, fulfillment
//! rejected), each step never answering (payment, reservation, fulfillment, confirmation), a
//! payment reply arriving after its step timed out and was compensated, and a refund that
//! fails transiently or goes unanswered once. Each ends completed, or compensated with exactly
//! the steps before (and a timed-out step itself) undone in reverse, each compensation applied
//! once; the choreographed payment functions leave the saga's orders alone.

use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::UpConfig;
use conveyor_runtime::saga::Retry;
use conveyor_store::testing::TestDb;
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

async fn run_checkouts(database: &str) {
    let config = UpConfig {
        database: database.to_owned(),
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
    run_checkouts(&format!("sqlite://{}", dir.path().join("emu.db").display())).await;
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_postgres() {
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    run_checkouts(&url).await;
    db.close().await;
}
