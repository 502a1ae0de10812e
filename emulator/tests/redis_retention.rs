//! Retention by age on the real Redis: entries older than the retention are trimmed from the
//! streams `up` uses (`XTRIM MINID`, by the server's clock), newer ones are kept, and `up` on
//! Redis trims at start, a topic no function of its own consumes included.

use crate::redis_common;

use std::sync::Arc;
use std::time::Duration;

use conveyor_emulator::up;
use conveyor_redis::broker::RedisBroker;
use conveyor_redis::retention;
use conveyor_runtime::{Function, Publisher};
use redis::Value;
use redis_common::{Recorder, TestRedis, config, eventually, ping};

const DAY_MS: u64 = 86_400_000;

/// The server's clock, in Unix milliseconds.
async fn server_ms(redis: &TestRedis) -> u64 {
    let Value::Array(parts) = redis.cmd(&["TIME"]).await else {
        panic!("TIME is an array");
    };
    let number = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).parse::<u64>().unwrap(),
        other => panic!("TIME part {other:?}"),
    };
    number(&parts[0]) * 1000 + number(&parts[1]) / 1000
}

/// Writes `count` entries to `name`'s stream with ids `days` days before the server's now, as
/// a publisher did back then.
async fn write_aged(redis: &TestRedis, name: &str, days: u64, count: usize) {
    let at = server_ms(redis).await - days * DAY_MS;
    for seq in 0..count {
        let id = format!("{at}-{seq}");
        redis
            .cmd(&[
                "XADD",
                &redis.key(name),
                &id,
                "data",
                "{}",
                "metadata",
                "{}",
            ])
            .await;
    }
}

/// The ids' milliseconds of `name`'s entries, oldest first.
async fn entry_times(redis: &TestRedis, name: &str) -> Vec<u64> {
    redis
        .entries(name)
        .await
        .iter()
        .map(|(id, _)| id.split('-').next().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn entries_past_the_retention_are_trimmed_and_newer_ones_kept() {
    let redis = TestRedis::new().await;
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(Recorder::default())];
    let broker = RedisBroker::connect(redis.settings("retention"), &functions)
        .await
        .unwrap();
    // More old entries than one stream node holds (100), so whole nodes go, and a node that
    // straddles the limit is trimmed too.
    write_aged(&redis, "test.ping", 40, 250).await;
    write_aged(&redis, "test.ping", 29, 3).await;
    write_aged(&redis, "test-recorder.inbox", 31, 2).await;
    write_aged(&redis, "test.pong", 45, 5).await;
    let fresh: Vec<_> = (1..=4).map(ping).collect();
    broker.publish(&fresh).await.unwrap();

    let keys = broker.retained_streams(&["test.pong"]);
    assert_eq!(
        keys,
        [
            redis.key("test-recorder.inbox"),
            redis.key("test.ping"),
            redis.key("test.pong")
        ]
    );
    let mut con = broker.connection();
    let month = Duration::from_secs(30 * 86_400);
    let removed = retention::trim_once(&mut con, &keys, month).await.unwrap();
    assert_eq!(removed, 250 + 2 + 5);

    let now = server_ms(&redis).await;
    let kept = entry_times(&redis, "test.ping").await;
    assert_eq!(kept.len(), 3 + 4, "the 29-day-old and the fresh entries");
    assert!(kept.iter().all(|t| now - t < 30 * DAY_MS), "{kept:?}");
    assert_eq!(redis.xlen("test-recorder.inbox").await, 0);
    assert_eq!(redis.xlen("test.pong").await, 0);
    // Trimming again removes nothing more.
    assert_eq!(
        retention::trim_once(&mut con, &keys, month).await.unwrap(),
        0
    );
    // A stream that does not exist stays absent.
    let missing = vec![redis.key("nobody.publishes.here")];
    assert_eq!(
        retention::trim_once(&mut con, &missing, month)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        redis.cmd(&["EXISTS", &missing[0]]).await,
        Value::Int(0),
        "not created"
    );
}

#[tokio::test]
async fn up_on_redis_trims_by_age_from_the_start() {
    let redis = TestRedis::new().await;
    // A topic of the platform that no function of this process consumes.
    let topic = conveyor_domain::events::payment::PAYMENT_REFUND_REQUESTED;
    write_aged(&redis, topic, 3, 120).await;
    write_aged(&redis, topic, 0, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = conveyor_redis::RedisSettings {
        max_age: Some(Duration::from_secs(86_400)),
        ..redis.settings("retention-up")
    };
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(Recorder::default())];
    let running = up::start(config(&dir, functions, settings)).await.unwrap();
    eventually("the entries older than a day to be trimmed", || async {
        redis.xlen(topic).await == 2
    })
    .await;
    running.shutdown().await;

    // Without an age, only the length bounds the streams.
    let untouched = conveyor_domain::events::warehouse::INVENTORY_LOW_STOCK;
    write_aged(&redis, untouched, 400, 3).await;
    let settings = conveyor_redis::RedisSettings {
        max_age: None,
        ..redis.settings("retention-off")
    };
    let running = up::start(config(&dir, Vec::new(), settings)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.shutdown().await;
    assert_eq!(redis.xlen(untouched).await, 3);
}
