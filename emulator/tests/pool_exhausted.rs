//! The emulator's consumers when the database pool gives no connection within its acquire
//! timeout (a pool of one, its connection held by the test): on the embedded broker and on Redis
//! Streams the delivery is retried, never dead-lettered, and handled once the connection is
//! given back.

use crate::redis_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conveyor_domain::{Clock, SystemClock};
use conveyor_embedded::broker::EmbeddedBroker;
use conveyor_embedded::consumer::{self, ConsumerSettings, Disposition};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::{
    Context, Deps, Function, FunctionSpec, HandlerError, RetryPolicy, Service, TopicHandler,
};
use conveyor_store::queue::Enqueue;
use conveyor_store::sqlx::Any;
use conveyor_store::sqlx::pool::PoolConnection;
use conveyor_store::testing::TestDb;
use conveyor_store::{PoolOptions, Store};
use conveyor_transport::metrics::Stats;
use redis_common::{Ping, TestRedis, eventually, ping};
use tokio::sync::watch;

const NAME: &str = "test-patient";

/// Counts the pings it handles. Many deliveries, so that the retries made while the test holds
/// the connection cannot use them up, whatever the machine's speed.
#[derive(Debug, Default)]
struct Patient {
    calls: Arc<AtomicU32>,
}

impl TopicHandler for Patient {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(NAME, Service::Order, &["test.ping"])
        .with_retry(RetryPolicy {
            max_deliveries: 50,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        });

    async fn handle(&self, _ping: Ping, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A pool of one connection whose callers wait 200 ms at most.
fn one_connection() -> PoolOptions {
    PoolOptions::new(1).with_acquire_timeout(Duration::from_millis(200))
}

/// Takes `store`'s only connection as soon as whoever uses it gives it back.
async fn hold(store: &Store) -> PoolConnection<Any> {
    for _ in 0..50 {
        if let Ok(connection) = store.pool().acquire().await {
            return connection;
        }
    }
    panic!("the connection was never given back");
}

/// Deliveries of the function that failed and will be retried, from the metrics.
fn retried(stats: &Stats) -> u64 {
    let metric = format!("conveyor_events_retried_total{{function=\"{NAME}\"}} ");
    stats
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix(metric.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn embedded_a_message_that_gets_no_connection_in_time_is_retried_not_dead_lettered() {
    let db = TestDb::postgres().await;
    let patient = Patient::default();
    let calls = Arc::clone(&patient.calls);
    let function = conveyor_runtime::topic(patient);
    let functions = [Arc::clone(&function)];
    // The consumer's store has one connection; the test's own (db.store()) queues and inspects.
    let store = Store::connect_with(db.url(), one_connection())
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let broker = Arc::new(EmbeddedBroker::new(
        store.clone(),
        Arc::clone(&clock),
        &functions,
    ));
    let deps = Deps {
        store: store.clone(),
        publisher: broker.clone(),
        clock: Arc::clone(&clock),
    };
    let event = ping(1);
    let now = clock.now();
    db.store()
        .queue_push(
            &[Enqueue {
                function: NAME,
                event_id: &event.id,
                topic: "test.ping",
                body: &event.body,
                ordering_key: None,
                leased_until: None,
            }],
            now,
        )
        .await
        .unwrap();
    // Leased as the consumer leases, with a short lease so that its expiry redelivers soon.
    let leased = db
        .store()
        .queue_lease(NAME, 1, now, now.add_millis(300))
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);

    let stats = Stats::new();
    let held = hold(&store).await;
    let disposition =
        consumer::handle(function.as_ref(), &deps, clock.as_ref(), &leased[0], &stats).await;
    assert!(
        matches!(disposition, Disposition::RetryLater(_)),
        "{disposition:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(db.store().dead_letters(None, 10).await.unwrap().is_empty());

    // Given back: the consume loop gets the message again once its lease runs out.
    drop(held);
    let (stop, stopped) = watch::channel(false);
    let settings = ConsumerSettings {
        batch: 16,
        idle_poll: Duration::from_millis(50),
    };
    let running = tokio::spawn(consumer::run(
        function,
        deps,
        broker,
        Arc::new(Stats::new()),
        settings,
        stopped,
    ));
    eventually("the message to be handled", || async {
        calls.load(Ordering::SeqCst) == 1 && db.store().queue_depths().await.unwrap().is_empty()
    })
    .await;
    assert!(db.store().dead_letters(None, 10).await.unwrap().is_empty());
    stop.send(true).unwrap();
    running.await.unwrap();
    store.close().await;
    db.close().await;
}

#[tokio::test]
async fn redis_an_entry_that_gets_no_connection_in_time_is_retried_not_dead_lettered() {
    let redis = TestRedis::new().await;
    let db = TestDb::postgres().await;
    let patient = Patient::default();
    let calls = Arc::clone(&patient.calls);
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(patient)];
    let running = up::start(UpConfig {
        database: db.url().to_owned(),
        pool: one_connection(),
        functions,
        relay_every: Duration::from_millis(200),
        redis: Some(redis.settings("solo")),
        ..UpConfig::default()
    })
    .await
    .unwrap();

    let held = hold(&running.deps.store).await;
    running.broker.publish(&[ping(1)]).await.unwrap();
    eventually("a delivery to fail for want of a connection", || async {
        retried(&running.stats) >= 1
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    drop(held);
    eventually("the entry to be handled and acknowledged", || async {
        calls.load(Ordering::SeqCst) == 1 && redis.pending("test.ping", NAME).await == 0
    })
    .await;
    assert!(
        running
            .broker
            .dead_letters(Some(NAME), 10)
            .await
            .unwrap()
            .is_empty()
    );
    running.shutdown().await;
    db.close().await;
}
