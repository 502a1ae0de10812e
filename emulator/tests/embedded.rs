//! The embedded emulator end to end with purpose-built functions, for what the conformance suite
//! (`tests/tests/conformance`) does not check on every host: a redrive of named dead letters,
//! and a subscriber that is not running keeping what is published for it. Delivery, retries,
//! dead letters with reasons, poison, fan-out, redrive to one function and crash recovery are
//! the suite's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::Function;

use crate::functions;
use functions::{Broken, Flaky, eventually, ping};

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
async fn a_redrive_of_named_letters_moves_only_those_back() {
    let dir = tempfile::tempdir().unwrap();
    let broken_calls = Arc::new(AtomicU32::new(0));
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(Broken {
        calls: Arc::clone(&broken_calls),
    })];
    let running = up::start(config(&dir, functions)).await.unwrap();
    let store = running.deps.store.clone();
    let letters = || {
        let store = store.clone();
        async move { store.dead_letters(Some("test-broken"), 10).await.unwrap() }
    };

    // Two events use up their deliveries.
    running.broker.publish(&[ping(1), ping(2)]).await.unwrap();
    eventually("both events in the dead letters", || async {
        letters().await.len() == 2
    })
    .await;
    let before = letters().await;
    let (named, other) = (&before[0], &before[1]);

    // Only the named letter goes back to the queue; the other stays where it is.
    let calls = broken_calls.load(Ordering::SeqCst);
    let ids = [named.id.clone()];
    assert_eq!(
        running
            .broker
            .redrive("test-broken", Some(&ids))
            .await
            .unwrap(),
        1
    );
    eventually("the named event to use up its deliveries again", || async {
        broken_calls.load(Ordering::SeqCst) == calls + 4 && letters().await.len() == 2
    })
    .await;
    let after = letters().await;
    assert!(after.contains(other), "{after:?}");
    assert!(
        after
            .iter()
            .any(|l| l.event_id == named.event_id && l.id != named.id),
        "the named event is a new letter: {after:?}"
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
