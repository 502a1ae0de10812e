//! The Redis Streams transport end to end with purpose-built functions, for what is Redis's own
//! (delivery, retries, dead letters with reasons, poison, fan-out and redrive to one function are
//! the conformance suite's, `tests/tests/conformance`): the dead-letter entry's wire fields,
//! acknowledgements leaving nothing pending, a redrive of named letters through the function's
//! inbox stream, depths and consumer lags, and a backlog handled in few transactions.

use crate::redis_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use conveyor_emulator::up::{self, UpConfig};
use conveyor_redis::broker::RedisBroker;
use conveyor_runtime::{Function, Publisher};
use conveyor_transport::broker::Broker;
use redis_common::{Broken, Flaky, Recorder, TestRedis, config, eventually, ping, raw};

#[tokio::test]
async fn dead_letter_entries_keep_their_wire_fields_and_a_redrive_goes_through_the_functions_inbox_stream()
 {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (flaky_calls, broken_calls) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let functions: Vec<Arc<dyn Function>> = vec![
        conveyor_runtime::topic(Flaky {
            calls: Arc::clone(&flaky_calls),
            fail_first: 3,
        }),
        conveyor_runtime::topic(Broken {
            calls: Arc::clone(&broken_calls),
        }),
    ];
    let running = up::start(config(&dir, functions, redis.settings("solo")))
        .await
        .unwrap();
    let broker = Arc::clone(&running.broker);
    let letters = |f: &'static str| {
        let broker = Arc::clone(&broker);
        async move { broker.dead_letters(Some(f), 100).await.unwrap() }
    };

    // One good event: flaky fails 3 times then succeeds; broken uses up its 4 deliveries.
    let event = ping(7);
    running
        .broker
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    eventually("flaky to succeed and broken to give up", || async {
        flaky_calls.load(Ordering::SeqCst) == 4 && letters("test-broken").await.len() == 1
    })
    .await;
    let exhausted = letters("test-broken").await.remove(0);
    assert_eq!(
        (exhausted.function.as_str(), exhausted.topic.as_str()),
        ("test-broken", "test.ping")
    );
    assert_eq!(exhausted.event_id, event.id);
    assert_eq!(exhausted.body, event.body);
    assert!(exhausted.first_attempt_at <= exhausted.failed_at);

    // The dead-letter entry as stored: every field, original entry id included.
    let stored = redis.entries("test-broken.dlq").await;
    let (dlq_id, fields) = &stored[0];
    assert_eq!(dlq_id, &exhausted.id);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
    };
    assert_eq!(field("data"), event.body);
    assert_eq!(field("attempts"), "4");
    assert_eq!(field("function"), "test-broken");
    assert_eq!(field("topic"), "test.ping");
    assert_eq!(field("event_id"), event.id);
    assert_eq!(field("error"), exhausted.error);
    let source_id = field("source_id");
    assert_eq!(redis.entries("test.ping").await[0].0, source_id);
    for time in ["first_delivered_at", "failed_at"] {
        assert!(
            conveyor_domain::Timestamp::parse_rfc3339(&field(time)).is_ok(),
            "{time}: {}",
            field(time)
        );
    }

    // Every delivery acknowledged (or dead-lettered): nothing left pending.
    eventually("acks to be flushed", || async {
        redis.pending("test.ping", "test-flaky").await == 0
            && redis.pending("test.ping", "test-broken").await == 0
    })
    .await;

    // An entry whose data is no CloudEvent: its letter keeps the data as it was, and no id.
    running.broker.publish(&[raw("not json")]).await.unwrap();
    eventually("the raw entry in both functions' dead letters", || async {
        letters("test-flaky").await.len() == 1 && letters("test-broken").await.len() == 2
    })
    .await;
    let garbage = letters("test-flaky").await.remove(0);
    assert_eq!(
        (garbage.body.as_str(), garbage.event_id.as_str()),
        ("not json", "")
    );
    assert_eq!(
        running.broker.dead_letters(None, 100).await.unwrap().len(),
        3
    );
    let mut depths = running.broker.dlq_depths().await.unwrap();
    depths.sort();
    assert_eq!(
        depths,
        vec![("test-broken".to_owned(), 2), ("test-flaky".to_owned(), 1)]
    );

    // A redrive of the named letter goes to the function's own inbox stream (the topic's
    // stream is every subscriber's); the other letter stays.
    let ids = [exhausted.id.clone()];
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
                && letters("test-broken")
                    .await
                    .iter()
                    .any(|l| l.event_id == event.id && l.id != exhausted.id)
        },
    )
    .await;
    assert_eq!(redis.xlen("test-flaky.inbox").await, 0);
    assert_eq!(redis.xlen("test-broken.inbox").await, 1);
    let left = letters("test-broken").await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().any(|l| l.body == "not json"), "{left:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn depths_count_entries_waiting_and_in_flight_per_function_and_lags_those_unread() {
    let redis = TestRedis::new().await;
    let functions: Vec<Arc<dyn Function>> =
        vec![conveyor_runtime::topic(redis_common::Recorder::default())];
    let broker = RedisBroker::connect(redis.settings("depths"), &functions)
        .await
        .unwrap();
    let spec = functions[0].spec();
    broker
        .ensure_groups(spec.name, &broker.streams(&spec))
        .await
        .unwrap();
    assert!(broker.depths().await.unwrap().is_empty());
    let lag = || async { broker.consumer_lags().await.unwrap() };
    assert_eq!(lag().await, [("test-recorder".to_owned(), 0)]);
    broker
        .publish(&(1..=5).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        broker.depths().await.unwrap(),
        [("test-recorder".to_owned(), 5)]
    );
    assert_eq!(lag().await, [("test-recorder".to_owned(), 5)]);
    // Two taken by a consumer (pending), three not yet read: still five to go.
    let stream = redis.key("test.ping");
    redis
        .cmd(&[
            "XREADGROUP",
            "GROUP",
            "test-recorder",
            "c",
            "COUNT",
            "2",
            "STREAMS",
            &stream,
            ">",
        ])
        .await;
    assert_eq!(redis.pending("test.ping", "test-recorder").await, 2);
    assert_eq!(
        broker.depths().await.unwrap(),
        [("test-recorder".to_owned(), 5)]
    );
    // The consumer lag is the group's `lag`: only what no consumer has read yet.
    assert_eq!(lag().await, [("test-recorder".to_owned(), 3)]);
    assert_eq!(broker.subscribers("test.ping"), ["test-recorder"]);
    assert!(broker.subscribers("test.pong").is_empty());
}

#[tokio::test]
async fn a_backlog_goes_to_a_function_with_an_inbox_in_few_transactions_each_event_once() {
    let redis = TestRedis::new().await;
    let db = conveyor_store::testing::TestDb::postgres().await;
    let publisher = RedisBroker::connect(redis.settings("publisher"), &[])
        .await
        .unwrap();
    publisher
        .publish(&(1..=200).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();

    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.seen);
    let dir = tempfile::tempdir().unwrap();
    let config = UpConfig {
        database: db.url().to_owned(),
        ..config(
            &dir,
            vec![conveyor_runtime::topic(recorder)],
            redis.settings("batched"),
        )
    };
    let running = up::start(config).await.unwrap();
    eventually("the backlog to be handled and acknowledged", || async {
        seen.lock().unwrap().len() >= 200 && redis.pending("test.ping", "test-recorder").await == 0
    })
    .await;
    let handled: HashSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        (seen.lock().unwrap().len(), handled.len()),
        (200, 200),
        "each once"
    );
    let transactions = conveyor_store::testing::inbox_transactions(db.store(), "test-recorder")
        .await
        .unwrap();
    // Read 200 at once with 4 slots: chunks of at most 32, so at least 7 transactions; one per
    // event would be 200.
    assert!(
        (7..=60).contains(&transactions),
        "{transactions} transactions for 200 events"
    );
    running.shutdown().await;
    db.close().await;
}
