//! Crash recovery and robustness of the Redis transport, beyond the conformance suite's crash
//! mid-handler (`tests/tests/conformance`): entries a vanished consumer held are claimed in bulk
//! with its delivery count, a graceful shutdown acknowledges exactly what was handled, and a
//! lost consumer group (Redis restarted or flushed) is re-created; a delivery another instance
//! has claimed is dead-lettered by that instance only.

use crate::redis_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use conveyor_emulator::up;
use conveyor_redis::broker::RedisBroker;
use conveyor_runtime::{Function, Publisher};
use redis_common::{Recorder, TestRedis, config, eventually, ping};

fn distinct(seen: &[(String, u32)]) -> usize {
    seen.iter().map(|(id, _)| id).collect::<HashSet<_>>().len()
}

#[tokio::test]
async fn a_vanished_consumers_entries_are_claimed_with_its_delivery_count_and_all_acknowledged() {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let publisher = RedisBroker::connect(redis.settings("publisher"), &[])
        .await
        .unwrap();

    // A consumer of test-recorder's group read 100 entries and vanished without acknowledging.
    publisher
        .publish(&(1..=100).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    redis.read_and_vanish("test.ping", "test-recorder").await;
    assert_eq!(redis.pending("test.ping", "test-recorder").await, 100);

    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.seen);
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(recorder)];
    let running = up::start(config(&dir, functions, redis.settings("survivor")))
        .await
        .unwrap();
    publisher
        .publish(&(101..=120).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();

    eventually("every entry to be handled and acknowledged", || async {
        seen.lock().unwrap().len() == 120 && redis.pending("test.ping", "test-recorder").await == 0
    })
    .await;
    // The ghost's read counts as a delivery: each of its entries comes as the second; the
    // entries published since, as the first.
    let seen = seen.lock().unwrap().clone();
    let of_attempt = |attempt: u32| -> HashSet<&String> {
        seen.iter()
            .filter(|s| s.1 == attempt)
            .map(|s| &s.0)
            .collect()
    };
    assert_eq!(of_attempt(2).len(), 100, "the ghost's delivery counts");
    assert_eq!(of_attempt(1).len(), 20);
    running.shutdown().await;
}

#[tokio::test]
async fn a_graceful_shutdown_acknowledges_exactly_what_was_handled_and_the_rest_is_recovered() {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let recorder = || Recorder {
        seen: Arc::clone(&seen),
        started: Arc::clone(&started),
        pause: Duration::from_millis(60),
    };
    let first = up::start(config(
        &dir,
        vec![conveyor_runtime::topic(recorder())],
        redis.settings("first"),
    ))
    .await
    .unwrap();
    first
        .broker
        .publish(&(1..=24).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    eventually("handlers to be busy", || async {
        started.load(Ordering::SeqCst) >= 4
    })
    .await;
    first.shutdown().await;

    let handled = seen.lock().unwrap().len();
    assert_eq!(
        handled,
        started.load(Ordering::SeqCst) as usize,
        "in-flight handlers finished"
    );
    assert!(handled < 24, "stopped mid-stream ({handled} handled)");
    let info = redis.group_info("test.ping", "test-recorder").await;
    let get = |k: &str| info.iter().find(|(n, _)| n == k).map(|(_, v)| *v).unwrap();
    assert_eq!(
        get("entries-read") - get("pending"),
        handled as i64,
        "acknowledged = handled: {info:?}"
    );

    let second = up::start(config(
        &dir,
        vec![conveyor_runtime::topic(recorder())],
        redis.settings("second"),
    ))
    .await
    .unwrap();
    eventually("the rest to be handled by the next instance", || async {
        seen.lock().unwrap().len() == 24 && redis.pending("test.ping", "test-recorder").await == 0
    })
    .await;
    assert_eq!(distinct(&seen.lock().unwrap()), 24);
    assert_eq!(started.load(Ordering::SeqCst), 24, "no handler ran twice");
    second.shutdown().await;
}

#[tokio::test]
async fn consumption_resumes_after_the_group_or_the_stream_is_lost() {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let (seen, started) = (Arc::clone(&recorder.seen), Arc::clone(&recorder.started));
    let running = up::start(config(
        &dir,
        vec![conveyor_runtime::topic(recorder)],
        redis.settings("n"),
    ))
    .await
    .unwrap();
    let stream = redis.key("test.ping");
    running
        .broker
        .publish(&(1..=3).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    eventually("the first events", || async {
        seen.lock().unwrap().len() == 3
    })
    .await;

    // The group is destroyed while the consumer blocks on it.
    redis
        .cmd(&["XGROUP", "DESTROY", &stream, "test-recorder"])
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    running
        .broker
        .publish(&(4..=6).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    eventually("events after the group was re-created", || async {
        seen.lock().unwrap().len() == 6
    })
    .await;

    // The stream itself disappears (FLUSHALL, a restarted Redis without persistence).
    redis.cmd(&["DEL", &stream]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    running
        .broker
        .publish(&(7..=8).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    eventually("events after the stream was re-created", || async {
        seen.lock().unwrap().len() == 8
    })
    .await;

    assert_eq!(distinct(&seen.lock().unwrap()), 8);
    assert_eq!(
        started.load(Ordering::SeqCst),
        8,
        "re-read history is deduplicated by the inbox"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn only_the_consumer_that_owns_an_entry_dead_letters_it_and_only_once() {
    use conveyor_domain::Timestamp;
    use conveyor_redis::dlq::{LetterFields, Owned, dead_letter_owned};

    let redis = TestRedis::new().await;
    let mut con = redis.con.clone();
    let (stream, dlq) = (redis.key("test.poison"), redis.key("test-fn.dlq"));
    let _: () = ::redis::cmd("XGROUP")
        .arg(&["CREATE", &stream, "test-fn", "0", "MKSTREAM"][..])
        .query_async(&mut con)
        .await
        .unwrap();
    let id: String = ::redis::cmd("XADD")
        .arg(&[&stream, "*", "data", "{}"][..])
        .query_async(&mut con)
        .await
        .unwrap();
    // Instance a reads it; instance b claims it (as its reclaim loop would, a is slow).
    let _: ::redis::Value = ::redis::cmd("XREADGROUP")
        .arg(&["GROUP", "test-fn", "a", "STREAMS", &stream, ">"][..])
        .query_async(&mut con)
        .await
        .unwrap();
    let _: ::redis::Value = ::redis::cmd("XCLAIM")
        .arg(&[&stream, "test-fn", "b", "0", &id, "JUSTID"][..])
        .query_async(&mut con)
        .await
        .unwrap();

    let letter = LetterFields {
        data: b"{}",
        error: "poison",
        function: "test-fn",
        attempts: 1,
        first_delivered_at: Timestamp::from_millis(1_000),
        failed_at: Timestamp::from_millis(2_000),
        topic: "test.poison",
        event_id: "ev-1",
        source_id: &id,
    };
    let as_consumer = |consumer| Owned {
        stream: &stream,
        group: "test-fn",
        consumer,
        id: &id,
        dlq: &dlq,
        maxlen: 1_000,
    };
    let dlq_len = |mut con: ::redis::aio::MultiplexedConnection| {
        let dlq = dlq.clone();
        async move {
            ::redis::cmd("XLEN")
                .arg(&dlq)
                .query_async::<i64>(&mut con)
                .await
                .unwrap()
        }
    };

    // a no longer owns it: nothing is written and the entry stays b's.
    assert!(
        !dead_letter_owned(&mut con, as_consumer("a"), &letter)
            .await
            .unwrap()
    );
    assert_eq!(dlq_len(con.clone()).await, 0);
    // b dead-letters it and acknowledges it in the same step.
    assert!(
        dead_letter_owned(&mut con, as_consumer("b"), &letter)
            .await
            .unwrap()
    );
    assert_eq!(dlq_len(con.clone()).await, 1);
    let pending: (i64, ::redis::Value, ::redis::Value, ::redis::Value) = ::redis::cmd("XPENDING")
        .arg(&[&stream, "test-fn"][..])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(pending.0, 0, "the entry is acknowledged");
    // Acknowledged, it is nobody's: a second attempt (a's retry, b's redelivery) writes nothing.
    for consumer in ["a", "b"] {
        assert!(
            !dead_letter_owned(&mut con, as_consumer(consumer), &letter)
                .await
                .unwrap()
        );
    }
    assert_eq!(dlq_len(con.clone()).await, 1);
}
