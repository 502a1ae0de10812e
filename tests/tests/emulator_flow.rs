//! The whole catalog inside a running emulator (`up`), fed by the demo seed: the payment,
//! failure and COD stories end to end, on the embedded broker (SQLite and PostgreSQL) and on
//! Redis Streams with PostgreSQL.

use std::time::Duration;

use conveyor_domain::OrderId;
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::order::OrderStatus;
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_emulator::embedded::consumer::ConsumerSettings;
use conveyor_emulator::redis::RedisSettings;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_emulator::{catalog, demo, scheduler};
use conveyor_runtime::Meta;
use conveyor_store::Store;
use conveyor_store::testing::TestDb;
use conveyor_testkit::seed;

async fn status(store: &Store, id: &OrderId) -> Option<OrderStatus> {
    seed::order::load(store, id).await.map(|o| o.status)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn run_demo(database: &str, redis: Option<RedisSettings>) {
    let running = up::start(UpConfig {
        database: database.to_owned(),
        functions: catalog::all(),
        consumer: ConsumerSettings {
            batch: 32,
            idle_poll: Duration::from_millis(50),
        },
        redis,
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let store = running.deps.store.clone();
    let orders = demo::seed(&running.deps, running.broker.as_ref(), "t")
        .await
        .unwrap();
    let (paid, declined, cod) = (&orders[0], &orders[1], &orders[2]);
    eventually("the warehouse to reserve every order", || async {
        let mut all = true;
        for id in &orders {
            let held = seed::warehouse::reservations(&store, id.as_str()).await;
            all &= held.len() == 2 && held.iter().all(|r| r.status == ReservationStatus::Active);
        }
        all
    })
    .await;
    demo::pay(&running.deps, running.broker.as_ref(), "t", &orders)
        .await
        .unwrap();

    eventually(
        "the paid order's fulfillment and confirmed reservations",
        || async {
            let confirmed = seed::warehouse::reservations(&store, paid.as_str()).await;
            status(&store, paid).await == Some(OrderStatus::PaymentConfirmed)
                && seed::fulfillment::of_order(&store, paid)
                    .await
                    .is_some_and(|f| f.status == FulfillmentStatus::Created)
                && confirmed.len() == 2
                && confirmed
                    .iter()
                    .all(|r| r.status == ReservationStatus::Confirmed)
        },
    )
    .await;
    eventually("the declined order's reservations released", || async {
        let held = seed::warehouse::reservations(&store, declined.as_str()).await;
        status(&store, declined).await == Some(OrderStatus::PaymentFailed)
            && held.len() == 2
            && held.iter().all(|r| r.status == ReservationStatus::Released)
    })
    .await;

    // The COD job's tick confirms the delivered COD order, which then gets its fulfillment.
    let job = catalog::find("order-cod-auto-confirm").unwrap();
    let now = running.deps.clock.now();
    let handled = scheduler::fire(
        job.as_ref(),
        &running.deps,
        Meta::for_tick("order-cod-auto-confirm", now, 1),
        now,
        &running.stats,
    )
    .await
    .unwrap();
    assert_eq!(handled.report.unwrap().processed, 1);
    eventually("the COD order confirmed and fulfilled", || async {
        status(&store, cod).await == Some(OrderStatus::Confirmed)
            && seed::fulfillment::of_order(&store, cod).await.is_some()
    })
    .await;

    // Everything was handled: nothing dead-lettered, nothing left queued or unpublished.
    let broker = running.broker.clone();
    eventually("queues and outbox to drain", || async {
        broker.depths().await.unwrap().iter().all(|(_, n)| *n == 0)
            && store.outbox_backlog().await.unwrap() == 0
    })
    .await;
    let letters = broker.dead_letters(None, 10).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    assert_eq!(
        seed::warehouse::inventory(&store, "sku-mug")
            .await
            .reserved
            .get(),
        4,
        "paid and COD orders hold 2 mugs each"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_demo_story_runs_end_to_end_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(
        &format!("sqlite://{}", dir.path().join("emu.db").display()),
        None,
    )
    .await;
}

#[tokio::test]
async fn the_demo_story_runs_end_to_end_on_postgres() {
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    run_demo(&url, None).await;
    db.close().await;
}

#[tokio::test]
async fn the_demo_story_runs_end_to_end_on_redis_and_postgres() {
    let redis_url = std::env::var("CONVEYOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("test-flow-{}:", uuid::Uuid::new_v4().simple());
    let settings = RedisSettings {
        prefix: prefix.clone(),
        ..RedisSettings::new(&redis_url)
    };
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    run_demo(&url, Some(settings)).await;
    db.close().await;
    // Remove this test's streams and locks from the shared server.
    let client = redis::Client::open(redis_url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
