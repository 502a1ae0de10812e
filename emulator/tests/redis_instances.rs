//! Several instances on one Redis consumer group, in this process: a handler slower than the
//! claim delay is never run twice (the instance working on an entry keeps it fresh, so the
//! other's reclaim loop leaves it alone), and an ordered function is consumed by the lease
//! holder only, the standby taking over (in order per key) when the holder stops.

use crate::redis_common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_emulator::up;
use conveyor_redis::broker::RedisBroker;
use conveyor_runtime::Publisher;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
use redis_common::{Ping, TestRedis, config, eventually, ping};
use serde::{Deserialize, Serialize};

use crate::functions::event_row;

/// Handlings started per event id, across instances.
type Starts = Arc<Mutex<HashMap<String, u32>>>;

/// Stateless, and slower than the claim delay the test sets: without the heartbeat another
/// instance would claim each entry while it runs and run it again.
#[derive(Debug, Default)]
struct Slow {
    starts: Starts,
}

impl TopicHandler for Slow {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec {
        concurrency: 8,
        ..FunctionSpec::on_topics("test-slow", Service::Order, &["test.ping"])
            .stateless()
            .with_timeout(Duration::from_secs(10))
    };

    async fn handle(&self, _ping: Ping, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        *self
            .starts
            .lock()
            .unwrap()
            .entry(cx.event_id().to_owned())
            .or_default() += 1;
        tokio::time::sleep(Duration::from_millis(900)).await;
        Ok(())
    }
}

fn quick(redis: &TestRedis, instance: &str) -> conveyor_redis::RedisSettings {
    conveyor_redis::RedisSettings {
        claim_after: Some(Duration::from_millis(300)),
        reclaim_every: Duration::from_millis(50),
        lease_ttl: Duration::from_millis(600),
        ..redis.settings(instance)
    }
}

#[tokio::test]
async fn a_handler_slower_than_the_claim_delay_runs_once_across_two_instances() {
    let redis = TestRedis::new().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let starts = Starts::default();
    let function = || -> Vec<Arc<dyn Function>> {
        vec![conveyor_runtime::topic(Slow {
            starts: Arc::clone(&starts),
        })]
    };
    let a = up::start(config(&dir_a, function(), quick(&redis, "a")))
        .await
        .unwrap();
    let b = up::start(config(&dir_b, function(), quick(&redis, "b")))
        .await
        .unwrap();
    let publisher = RedisBroker::connect(redis.settings("publisher"), &[])
        .await
        .unwrap();
    publisher
        .publish(&(1..=40).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    eventually("every entry handled and acknowledged", || async {
        starts.lock().unwrap().len() == 40 && redis.pending("test.ping", "test-slow").await == 0
    })
    .await;
    let starts = starts.lock().unwrap().clone();
    let twice: Vec<_> = starts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handled twice while alive: {twice:?}");
    a.shutdown().await;
    b.shutdown().await;
}

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

/// (instance, order, step) in the order handled, across instances.
type Seen = Arc<Mutex<Vec<(&'static str, String, u32)>>>;

#[derive(Debug)]
struct Steps {
    instance: &'static str,
    seen: Seen,
}

impl TopicHandler for Steps {
    type Payload = Step;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-steps", Service::Order, &["test.step"])
            .stateless()
            .ordered_by("order_id");

    async fn handle(&self, step: Step, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.seen
            .lock()
            .unwrap()
            .push((self.instance, step.order_id, step.seq));
        // Slow enough for the holder to be stopped midway.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }
}

#[tokio::test]
async fn an_ordered_function_runs_on_the_lease_holder_and_the_standby_continues_in_order() {
    const ORDERS: u32 = 40;
    const STEPS: u32 = 5;
    let redis = TestRedis::new().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let seen = Seen::default();
    let steps = |instance| -> Vec<Arc<dyn Function>> {
        vec![conveyor_runtime::topic(Steps {
            instance,
            seen: Arc::clone(&seen),
        })]
    };
    let a = up::start(config(&dir_a, steps("a"), quick(&redis, "a")))
        .await
        .unwrap();
    eventually("a holds the lease", || async {
        !matches!(
            redis
                .cmd(&["GET", &redis.key("conveyor:lease:test-steps")])
                .await,
            ::redis::Value::Nil
        )
    })
    .await;
    let b = up::start(config(&dir_b, steps("b"), quick(&redis, "b")))
        .await
        .unwrap();

    let mut rows = Vec::new();
    for seq in 1..=STEPS {
        for n in 0..ORDERS {
            let step = Step {
                order_id: format!("ord-{n:03}"),
                seq,
            };
            rows.push(event_row(
                "test.step",
                "test",
                &step,
                Timestamp::from_millis(0),
            ));
        }
    }
    let publisher = RedisBroker::connect(redis.settings("publisher"), &[])
        .await
        .unwrap();
    publisher.publish(&rows).await.unwrap();
    eventually("a part handled", || async {
        seen.lock().unwrap().len() >= 50
    })
    .await;
    a.shutdown().await;
    let by_a = seen.lock().unwrap().len();
    assert!(by_a < rows.len(), "a stopped midway ({by_a})");
    eventually("the rest handled by b", || async {
        seen.lock().unwrap().len() >= rows.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = seen.lock().unwrap().clone();
    let first_b = seen.iter().position(|(i, _, _)| *i == "b").unwrap();
    assert!(first_b >= 50, "b stood by while a held the lease");
    assert!(
        seen[first_b..].iter().all(|(i, _, _)| *i == "b"),
        "a handled nothing once b held the lease"
    );
    let mut per_order: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (_, order, seq) in &seen {
        per_order.entry(order).or_default().push(*seq);
    }
    for (order, seqs) in per_order {
        assert_eq!(
            seqs,
            (1..=STEPS).collect::<Vec<_>>(),
            "{order}: each step once, in order"
        );
    }
    b.shutdown().await;
}
