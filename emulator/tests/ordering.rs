//! Order per key on Redis, for what is Redis's own (that each key's events, and what a function
//! publishes for them, take effect in publish order, a failing event holding back its key and a
//! poison one dead-lettered before its key's next, is the conformance suite's,
//! `tests/tests/conformance`, on every host): entries reclaimed from a vanished consumer keep
//! each order's order, and a stuck key pulls only so many entries into memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};

use crate::functions::{FAST_RETRY, event_row, eventually};
use crate::redis_common::TestRedis;

const ORDERS: u32 = 18;
const STEPS: u32 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    order_id: String,
    seq: u32,
}

impl Validate for Step {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// What the function handled, in the order it handled it: (order, step).
type Seen = Arc<Mutex<Vec<(String, u32)>>>;

#[derive(Debug, Default)]
struct Steps {
    seen: Seen,
}

impl TopicHandler for Steps {
    type Payload = Step;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-steps", Service::Order, &["test.step"])
            .with_retry(FAST_RETRY)
            .ordered_by("order_id");

    async fn handle(&self, step: Step, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.seen.lock().unwrap().push((step.order_id, step.seq));
        Ok(())
    }
}

/// Every step of every order, interleaved: step 1 of each order, then step 2 of each, ...; the
/// CloudEvent times run backwards, so time order is the reverse of publish order.
fn steps() -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    for seq in 1..=STEPS {
        for n in 0..ORDERS {
            let step = Step {
                order_id: format!("ord-{n:03}"),
                seq,
            };
            let back = i64::from(seq * ORDERS + n) * 1_000;
            rows.push(event_row(
                "test.step",
                "test",
                &step,
                Timestamp::from_millis(1_800_000_000_000 - back),
            ));
        }
    }
    rows
}

#[tokio::test]
async fn entries_reclaimed_from_a_vanished_consumer_keep_each_orders_order() {
    let dir = tempfile::tempdir().unwrap();
    let redis = TestRedis::new().await;
    let publisher = conveyor_redis::broker::RedisBroker::connect(redis.settings("publisher"), &[])
        .await
        .unwrap();
    use conveyor_runtime::Publisher;
    publisher.publish(&steps()).await.unwrap();
    // A consumer of the group read every step and vanished without acknowledging.
    redis.read_and_vanish("test.step", "test-steps").await;
    assert_eq!(redis.pending("test.step", "test-steps").await, 90);

    let seen = Seen::default();
    let steps: Arc<dyn Function> = conveyor_runtime::topic(Steps {
        seen: Arc::clone(&seen),
    });
    let settings = conveyor_redis::RedisSettings {
        claim_after: Some(Duration::from_millis(200)),
        ..redis.settings("survivor")
    };
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("order.db").display()),
        functions: vec![steps],
        relay_every: Duration::from_millis(200),
        redis: Some(settings),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    eventually("every reclaimed step handled", || async {
        seen.lock().unwrap().len() == 90
    })
    .await;
    let mut per_order: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (order, seq) in seen.lock().unwrap().iter() {
        per_order.entry(order.clone()).or_default().push(*seq);
    }
    assert_eq!(per_order.len(), 18);
    for (order, seqs) in per_order {
        assert_eq!(seqs, [1, 2, 3, 4, 5], "{order}");
    }
    running.shutdown().await;
}

/// Fails every delivery, with two seconds between them: its key stays stuck.
#[derive(Debug, Default)]
struct Stuck;

impl TopicHandler for Stuck {
    type Payload = Step;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-stuck", Service::Order, &["test.step"])
            .with_retry(conveyor_runtime::RetryPolicy {
                max_deliveries: 10,
                initial_backoff: Duration::from_secs(2),
                max_backoff: Duration::from_secs(2),
            })
            .ordered_by("order_id");

    async fn handle(&self, _step: Step, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        Err(HandlerError::retry("stuck"))
    }
}

#[tokio::test]
async fn a_stuck_key_pulls_at_most_max_waiting_entries_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let redis = TestRedis::new().await;
    let stuck: Arc<dyn Function> = conveyor_runtime::topic(Stuck);
    let settings = conveyor_redis::RedisSettings {
        batch: 4,
        max_waiting: 5,
        ..redis.settings("capped")
    };
    // The group exists from the start, so its pending count can be read at any time.
    redis
        .cmd(&[
            "XGROUP",
            "CREATE",
            &redis.key("test.step"),
            "test-stuck",
            "0",
            "MKSTREAM",
        ])
        .await;
    let publisher = conveyor_redis::broker::RedisBroker::connect(settings.clone(), &[])
        .await
        .unwrap();
    let rows: Vec<OutboxRow> = (1..=40)
        .map(|seq| {
            let step = Step {
                order_id: "ord-stuck".to_owned(),
                seq,
            };
            event_row("test.step", "test", &step, Timestamp::from_millis(0))
        })
        .collect();
    conveyor_runtime::Publisher::publish(&publisher, &rows)
        .await
        .unwrap();
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("stuck.db").display()),
        functions: vec![stuck],
        redis: Some(settings),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    eventually("the first step failed and later ones queued", || async {
        redis.pending("test.step", "test-stuck").await >= 6
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One in flight, at most five waiting, plus the read that reached the cap.
    let pending = redis.pending("test.step", "test-stuck").await;
    assert!((6..=10).contains(&pending), "{pending} entries read");
    let lag = redis
        .group_info("test.step", "test-stuck")
        .await
        .into_iter()
        .find(|(k, _)| k == "lag")
        .map(|(_, v)| v)
        .unwrap();
    assert!(lag >= 30, "the rest stays unread in the stream: lag {lag}");
    running.shutdown().await;
}
