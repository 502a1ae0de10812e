//! Order per key on the embedded broker and on Redis, at a scale and for what the conformance
//! suite (`tests/tests/conformance`, which checks that each key's events take effect in publish
//! order on every host) does not cover: 100 orders, five steps each, published interleaved
//! across orders with CloudEvent times running backwards, one step failing transiently and one
//! poison. What a function ordered by `order_id` publishes for each step is in its order's
//! order; entries reclaimed from a vanished consumer keep each order's order; a stuck key pulls
//! only so many entries into memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_domain::events::{DomainEvent, Validate, ValidationError};
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::eventlog::query::EventFilter;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::{
    CloudEvent, Context, Function, FunctionSpec, HandlerError, Service, TopicHandler,
};
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};

use crate::functions::{FAST_RETRY, event_row, eventually};
use crate::redis_common::TestRedis;

const ORDERS: u32 = 100;
const STEPS: u32 = 5;
/// Its step 2 fails transiently three times, then succeeds.
const FLAKY_ORDER: u32 = 7;
/// Its step 3 is poison.
const POISON_ORDER: u32 = 13;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    order_id: String,
    seq: u32,
    fail: u32,
    poison: bool,
}

impl Validate for Step {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepDone {
    order_id: String,
    seq: u32,
}

impl DomainEvent for StepDone {
    fn topic(&self) -> &'static str {
        "test.step.done"
    }
}

/// What the function saw, in the order it saw it: (order, step, attempt, handled).
type Seen = Arc<Mutex<Vec<(String, u32, u32, bool)>>>;

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

    async fn handle(&self, step: Step, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        let attempt = cx.attempt();
        let ok = !step.poison && attempt > step.fail;
        self.seen
            .lock()
            .unwrap()
            .push((step.order_id.clone(), step.seq, attempt, ok));
        if step.poison {
            return Err(HandlerError::drop("poison step"));
        }
        if !ok {
            return Err(HandlerError::retry("not yet"));
        }
        cx.publish(&StepDone {
            order_id: step.order_id,
            seq: step.seq,
        })
    }
}

fn order(n: u32) -> String {
    format!("ord-{n:03}")
}

/// Every step of every order, interleaved: step 1 of each order, then step 2 of each, ...; the
/// CloudEvent times run backwards, so time order is the reverse of publish order.
fn steps() -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    for seq in 1..=STEPS {
        for n in 0..ORDERS {
            let step = Step {
                order_id: order(n),
                seq,
                fail: if n == FLAKY_ORDER && seq == 2 { 3 } else { 0 },
                poison: n == POISON_ORDER && seq == 3,
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

fn expected(n: u32) -> Vec<u32> {
    (1..=STEPS)
        .filter(|seq| !(n == POISON_ORDER && *seq == 3))
        .collect()
}

/// What the function saw, one entry per delivery. Where an event of a transaction batch fails,
/// the batch is rolled back and its events are handled again one by one: a handler whose work
/// was rolled back runs a second time within the same delivery (same attempt). Only the first
/// run of each (order, step, attempt) counts here; the published events below show that each
/// step's effects happened once.
fn deliveries(seen: &[(String, u32, u32, bool)]) -> Vec<(String, u32, u32, bool)> {
    let mut first = std::collections::HashSet::new();
    seen.iter()
        .filter(|(order, seq, attempt, _)| first.insert((order.clone(), *seq, *attempt)))
        .cloned()
        .collect()
}

async fn what_each_step_publishes_is_in_publish_order_per_order(config: UpConfig, seen: Seen) {
    let running = up::start(config).await.unwrap();
    for chunk in steps().chunks(50) {
        running.broker.publish(chunk).await.unwrap();
    }
    let handled = || {
        deliveries(&seen.lock().unwrap())
            .iter()
            .filter(|(_, _, _, ok)| *ok)
            .count()
    };
    let total = (ORDERS * STEPS - 1) as usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while handled() < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {total} steps handled",
            handled()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually("the poison step in the dead letters", || async {
        running
            .broker
            .dead_letters(Some("test-steps"), 10)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;

    // What the function published, per order, is in the same order.
    let events = running.events.events(
        &EventFilter {
            topic: Some("test.step.done".to_owned()),
            ..EventFilter::default()
        },
        2_000,
        None,
        &|_| Vec::new(),
    );
    let mut published: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    // Publishing is at least once: on a loaded machine the relay can publish a row that its
    // invocation is still publishing, and both are logged. A copy carries the same event id;
    // each event counts once, where it first appeared.
    let mut ids = std::collections::HashSet::new();
    // Newest first: walk them oldest first.
    for summary in events.iter().rev() {
        let event = CloudEvent::decode(summary.event.body.as_bytes()).unwrap();
        if !ids.insert(event.id.clone()) {
            continue;
        }
        let done: StepDone = event.payload().unwrap();
        published.entry(done.order_id).or_default().push(done.seq);
    }
    for n in 0..ORDERS {
        assert_eq!(
            published[&order(n)],
            expected(n),
            "published for {}",
            order(n)
        );
    }
    running.shutdown().await;
}

fn config(dir: &tempfile::TempDir, seen: &Seen) -> UpConfig {
    let steps: Arc<dyn Function> = conveyor_runtime::topic(Steps {
        seen: Arc::clone(seen),
    });
    UpConfig {
        database: format!("sqlite://{}", dir.path().join("order.db").display()),
        functions: vec![steps],
        consumer: ConsumerSettings {
            batch: 64,
            idle_poll: Duration::from_millis(20),
        },
        relay_every: Duration::from_millis(200),
        ..UpConfig::default()
    }
}

#[tokio::test]
async fn on_the_embedded_broker_each_orders_follow_ups_are_published_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Seen::default();
    what_each_step_publishes_is_in_publish_order_per_order(config(&dir, &seen), seen).await;
}

#[tokio::test]
async fn on_redis_each_orders_follow_ups_are_published_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let redis = TestRedis::new().await;
    let seen = Seen::default();
    let config = UpConfig {
        redis: Some(redis.settings("ordered")),
        ..config(&dir, &seen)
    };
    what_each_step_publishes_is_in_publish_order_per_order(config, seen).await;
}

#[tokio::test]
async fn entries_reclaimed_from_a_vanished_consumer_keep_each_orders_order() {
    let dir = tempfile::tempdir().unwrap();
    let redis = TestRedis::new().await;
    let publisher = conveyor_redis::broker::RedisBroker::connect(redis.settings("publisher"), &[])
        .await
        .unwrap();
    use conveyor_runtime::Publisher;
    let rows: Vec<OutboxRow> = steps()
        .into_iter()
        .filter(|r| {
            let step: Step = CloudEvent::decode(r.body.as_bytes())
                .unwrap()
                .payload()
                .unwrap();
            let n: u32 = step.order_id[4..].parse().unwrap();
            n < 20 && n != FLAKY_ORDER && n != POISON_ORDER
        })
        .collect();
    publisher.publish(&rows).await.unwrap();
    // A consumer of the group read every step and vanished without acknowledging.
    redis.read_and_vanish("test.step", "test-steps").await;
    assert_eq!(redis.pending("test.step", "test-steps").await, 90);

    let seen = Seen::default();
    let settings = conveyor_redis::RedisSettings {
        claim_after: Some(Duration::from_millis(200)),
        ..redis.settings("survivor")
    };
    let running = up::start(UpConfig {
        redis: Some(settings),
        ..config(&dir, &seen)
    })
    .await
    .unwrap();
    eventually("every reclaimed step handled", || async {
        seen.lock().unwrap().len() == 90
    })
    .await;
    let mut per_order: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (order, seq, _, ok) in seen.lock().unwrap().iter() {
        assert!(ok);
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
                fail: 0,
                poison: false,
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
