//! Wire compatibility with Dapr's `pubsub.redis`: entries written the way daprd writes them are
//! consumed, entries conveyor writes are what daprd reads, and `MAXLEN ~` keeps streams bounded.

use crate::redis_common;

use std::sync::Arc;

use conveyor_emulator::up;
use conveyor_redis::broker::RedisBroker;
use conveyor_runtime::{Function, Publisher};
use redis_common::{Recorder, TestRedis, config, eventually, ping};
use serde_json::Value;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A CloudEvent as daprd serialises it: Go `encoding/json` of a map, keys sorted, compact.
fn daprd_event(id: &str, n: u32) -> String {
    format!(
        r#"{{"data":{{"n":{n}}},"datacontenttype":"application/json","id":"{id}","pubsubname":"pubsub-redis","source":"payment-service","specversion":"1.0","time":"2026-11-22T10:00:00Z","topic":"test.ping","traceid":"{TRACEPARENT}","traceparent":"{TRACEPARENT}","tracestate":"","type":"com.dapr.event.sent"}}"#
    )
}

#[tokio::test]
async fn consumes_entries_written_by_daprd_and_writes_what_daprd_reads() {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.seen);
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(recorder)];
    let running = up::start(config(&dir, functions, redis.settings("interop")))
        .await
        .unwrap();

    // HTTP publish through daprd: `metadata` = {}; gRPC publish: no metadata field; any field order.
    let stream = redis.key("test.ping");
    let (http, grpc) = (daprd_event("dapr-http", 1), daprd_event("dapr-grpc", 2));
    redis
        .cmd(&["XADD", &stream, "*", "data", &http, "metadata", "{}"])
        .await;
    redis.cmd(&["XADD", &stream, "*", "data", &grpc]).await;
    redis
        .cmd(&[
            "XADD",
            &stream,
            "*",
            "metadata",
            "{}",
            "data",
            &daprd_event("dapr-reordered", 3),
        ])
        .await;
    eventually("daprd's entries to be handled", || async {
        seen.lock().unwrap().len() == 3
    })
    .await;
    let mut ids: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    assert_eq!(ids, ["dapr-grpc", "dapr-http", "dapr-reordered"]);

    // The handler answered each with a Pong: the entries conveyor wrote, as daprd would read them.
    eventually("the pongs", || async { redis.xlen("test.pong").await == 3 }).await;
    for (_, fields) in redis.entries("test.pong").await {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field("metadata").as_deref(), Some("{}"));
        let data = field("data").expect("a data field");
        let ce: Value = serde_json::from_str(&data).unwrap();
        let obj = ce.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        for key in [
            "id",
            "source",
            "specversion",
            "type",
            "datacontenttype",
            "data",
            "time",
            "topic",
            "pubsubname",
            "traceparent",
            "traceid",
            "correlationid",
            "causationid",
        ] {
            assert!(keys.contains(&key), "{key} missing in {data}");
        }
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["source"], "order-worker");
        assert_eq!(ce["type"], "test.pong");
        assert_eq!(ce["topic"], "test.pong");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert_eq!(ce["pubsubname"], "pubsub-redis");
        assert!(ce["data"]["n"].as_u64().is_some(), "{data}");
        assert_eq!(ce["traceid"], ce["traceparent"]);
        let traceparent = ce["traceparent"].as_str().unwrap();
        assert!(
            traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "carries the incoming trace: {traceparent}"
        );
        assert!(
            ce["correlationid"].as_str().unwrap().starts_with("dapr-"),
            "the flow's correlation id: {data}"
        );
        assert_eq!(
            ce["causationid"], ce["correlationid"],
            "caused by daprd's entry, which started the flow: {data}"
        );
        assert!(chrono::DateTime::parse_from_rfc3339(ce["time"].as_str().unwrap()).is_ok());
        // Keys in sorted order, compact: what Go's encoding/json of a map produces.
        let positions: Vec<usize> = [
            "\"causationid\"",
            "\"correlationid\"",
            "\"data\"",
            "\"datacontenttype\"",
            "\"id\"",
            "\"pubsubname\"",
            "\"source\"",
            "\"specversion\"",
            "\"time\"",
            "\"topic\"",
            "\"traceid\"",
            "\"traceparent\"",
            "\"type\"",
        ]
        .iter()
        .map(|k| data.find(k).unwrap())
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{data}");
        assert!(
            !data.contains(": ") && !data.contains(", "),
            "compact: {data}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn maxlen_keeps_a_stream_bounded() {
    let redis = TestRedis::new().await;
    let settings = conveyor_redis::RedisSettings {
        maxlen: 50,
        ..redis.settings("trim")
    };
    let broker = RedisBroker::connect(settings, &[]).await.unwrap();
    for _ in 0..10 {
        let batch: Vec<_> = (1..=60).map(ping).collect();
        broker.publish(&batch).await.unwrap();
    }
    let len = redis.xlen("test.ping").await;
    // `~` trims whole macro nodes (100 entries by default): bounded near the limit, never below it.
    assert!((50..=250).contains(&len), "600 published, {len} kept");
    let last = redis.entries("test.ping").await.pop().unwrap();
    assert!(
        last.1
            .iter()
            .any(|(k, v)| k == "data" && v.contains("\"n\":60")),
        "the newest entries are kept"
    );
}
