//! The embedded emulator end to end with purpose-built functions: delivery, retries with
//! backoff, dead letters with reasons, redrive to one function, crash recovery by lease expiry,
//! and graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::Function;

use crate::functions;
use functions::{Broken, Flaky, eventually, ping, raw};

fn config(dir: &tempfile::TempDir, functions: Vec<Arc<dyn Function>>) -> UpConfig {
    UpConfig {
        database: format!("sqlite://{}", dir.path().join("emu.db").display()),
        functions,
        consumer: ConsumerSettings {
            batch: 16,
            idle_poll: Duration::from_millis(50),
        },
        relay_every: Duration::from_millis(200),
        redis: None,
        sqs: None,
        clock: None,
        ..UpConfig::default()
    }
}

#[tokio::test]
async fn retries_then_handles_dead_letters_poison_and_exhausted_events_and_redrives_to_one_function()
 {
    let dir = tempfile::tempdir().unwrap();
    let flaky_calls = Arc::new(AtomicU32::new(0));
    let broken_calls = Arc::new(AtomicU32::new(0));
    let functions: Vec<Arc<dyn Function>> = vec![
        conveyor_runtime::topic(Flaky {
            calls: Arc::clone(&flaky_calls),
            fail_first: 3,
        }),
        conveyor_runtime::topic(Broken {
            calls: Arc::clone(&broken_calls),
        }),
    ];
    let running = up::start(config(&dir, functions)).await.unwrap();
    let store = running.deps.store.clone();

    // One good event: flaky fails 3 times then succeeds (4 calls); broken exhausts 4 deliveries.
    running.broker.publish(&[ping(7)]).await.unwrap();
    eventually("flaky to succeed and broken to give up", || async {
        flaky_calls.load(Ordering::SeqCst) == 4
            && store
                .dead_letters(Some("test-broken"), 10)
                .await
                .unwrap()
                .len()
                == 1
    })
    .await;
    let broken = store
        .dead_letters(Some("test-broken"), 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(broken.attempts, 4);
    assert!(
        broken
            .error
            .contains("gave up after 4 deliveries: database unavailable"),
        "{}",
        broken.error
    );
    assert!(
        store
            .dead_letters(Some("test-flaky"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(broken_calls.load(Ordering::SeqCst), 4);

    // Poison: not JSON, and JSON that fails validation: dead-lettered after one delivery, no retry.
    running
        .broker
        .publish(&[raw("not json"), ping(0)])
        .await
        .unwrap();
    eventually("poison to be dead-lettered", || async {
        store
            .dead_letters(Some("test-flaky"), 10)
            .await
            .unwrap()
            .len()
            == 2
    })
    .await;
    let letters = store.dead_letters(Some("test-flaky"), 10).await.unwrap();
    assert!(letters.iter().all(|l| l.attempts == 1), "{letters:?}");
    assert!(
        letters
            .iter()
            .any(|l| l.error.contains("body is not a CloudEvent")),
        "{letters:?}"
    );
    assert!(
        letters
            .iter()
            .any(|l| l.error.contains("n must be positive")),
        "{letters:?}"
    );
    assert_eq!(
        flaky_calls.load(Ordering::SeqCst),
        4,
        "poison never reaches the handler"
    );

    // Both subscribers dead-lettered the poison; broken now holds three letters.
    eventually("broken's poison letters", || async {
        store
            .dead_letters(Some("test-broken"), 10)
            .await
            .unwrap()
            .len()
            == 3
    })
    .await;

    // Redrive broken's exhausted event: only broken sees it again (and dead-letters it again).
    let before_flaky = flaky_calls.load(Ordering::SeqCst);
    let ids = [broken.id.clone()];
    assert_eq!(
        running
            .broker
            .redrive("test-broken", Some(&ids))
            .await
            .unwrap(),
        1
    );
    eventually(
        "redriven event to be retried to exhaustion again",
        || async {
            broken_calls.load(Ordering::SeqCst) == 8
                && store
                    .dead_letters(Some("test-broken"), 10)
                    .await
                    .unwrap()
                    .len()
                    == 3
        },
    )
    .await;
    assert_eq!(
        flaky_calls.load(Ordering::SeqCst),
        before_flaky,
        "redrive goes to one function only"
    );

    let metrics = running.stats.encode();
    assert!(
        metrics.contains("conveyor_events_dead_lettered_total{function=\"test-broken\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("conveyor_events_retried_total{function=\"test-flaky\"} 3"),
        "{metrics}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_that_is_not_running_keeps_what_is_published_until_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let flaky_calls = Arc::new(AtomicU32::new(0));
    let broken_calls = Arc::new(AtomicU32::new(0));
    let flaky = || -> Arc<dyn Function> {
        conveyor_runtime::topic(Flaky {
            calls: Arc::clone(&flaky_calls),
            fail_first: 0,
        })
    };
    let broken = || -> Arc<dyn Function> {
        conveyor_runtime::topic(Broken {
            calls: Arc::clone(&broken_calls),
        })
    };

    // Only test-flaky runs; test-broken is known (as the CLI knows the catalog) but not run.
    let running = up::start(UpConfig {
        subscribers: vec![flaky(), broken()],
        ..config(&dir, vec![flaky()])
    })
    .await
    .unwrap();
    running.broker.publish(&[ping(1)]).await.unwrap();
    let store = running.deps.store.clone();
    eventually("test-flaky to handle the event", || async {
        flaky_calls.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(
        store.queue_depths().await.unwrap(),
        [("test-broken".to_owned(), 1)],
        "the event waits in the queue of the function that is not running"
    );
    running.shutdown().await;

    // The next start that runs test-broken delivers it.
    let running = up::start(config(&dir, vec![broken()])).await.unwrap();
    eventually("test-broken to receive the event kept for it", || async {
        broken_calls.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert_eq!(flaky_calls.load(Ordering::SeqCst), 1);
    running.shutdown().await;
}
