//! The whole catalog inside a running emulator (`up`), fed by the demo seed: the payment,
//! failure and COD stories, then reservation warning and expiry with the clock under the test's
//! control, end to end on the embedded broker (SQLite and PostgreSQL) and on Redis Streams with
//! PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::order::OrderStatus;
use conveyor_domain::warehouse::{
    EXPIRY_WARNING_MINUTES, RESERVATION_TTL_MINUTES, ReservationStatus,
};
use conveyor_domain::{Clock, ManualClock, OrderId, SystemClock};
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::demo;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_redis::RedisSettings;
use conveyor_runtime::{Meta, Trigger};
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

/// Runs `job`'s tick at the clock's now and returns how much it processed.
async fn tick(running: &up::Running, job: &str) -> u64 {
    let function = catalog::find(job).unwrap();
    let now = running.deps.clock.now();
    let handled = conveyor_transport::tick::fire(
        function.as_ref(),
        &running.deps,
        Meta::for_tick(job, now, 1),
        now,
        &running.stats,
    )
    .await
    .unwrap();
    handled.report.unwrap().processed
}

async fn run_demo(database: &str, redis: Option<RedisSettings>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let running = up::start(UpConfig {
        clock: Some(clock.clone() as Arc<dyn Clock>),
        database: database.to_owned(),
        // The jobs are ticked by the test at the manual clock's minutes; the emulator's own
        // scheduler would race it for the same minute (a second tick of a minute is a
        // duplicate, with no report).
        functions: catalog::all()
            .into_iter()
            .filter(|f| matches!(f.spec().trigger, Trigger::Topics(_)))
            .collect(),
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
    assert_eq!(tick(&running, "order-cod-auto-confirm").await, 1);
    eventually("the COD order confirmed and fulfilled", || async {
        status(&store, cod).await == Some(OrderStatus::Confirmed)
            && seed::fulfillment::of_order(&store, cod).await.is_some()
    })
    .await;

    // Reservations left unpaid: a second demo run's orders are reserved, then the test moves
    // the clock into the warning window and past the hold, and the jobs' ticks find them.
    let unpaid = demo::seed(&running.deps, running.broker.as_ref(), "t2")
        .await
        .unwrap();
    let reservations_of = |orders: &[OrderId], status: ReservationStatus| {
        let (store, orders) = (store.clone(), orders.to_vec());
        move || {
            let (store, orders) = (store.clone(), orders.clone());
            async move {
                let mut all = true;
                for id in &orders {
                    let held = seed::warehouse::reservations(&store, id.as_str()).await;
                    all &= held.len() == 2 && held.iter().all(|r| r.status == status);
                }
                all
            }
        }
    };
    eventually(
        "the second run reserved",
        reservations_of(&unpaid, ReservationStatus::Active),
    )
    .await;
    // The prepaid orders' stock is held for 30 minutes; the COD order's until its delivery is
    // verified (days).
    let (prepaid, cod_unconfirmed) = unpaid.split_at(2);
    assert_eq!(tick(&running, "warehouse-reservation-expiry").await, 0);
    clock.advance_millis((RESERVATION_TTL_MINUTES - EXPIRY_WARNING_MINUTES + 1) * 60_000);
    assert_eq!(
        tick(&running, "warehouse-reservation-warning").await,
        4,
        "two prepaid orders, two reservations each, inside the warning window"
    );
    assert_eq!(tick(&running, "warehouse-reservation-expiry").await, 0);
    clock.advance_millis(EXPIRY_WARNING_MINUTES * 60_000);
    assert_eq!(tick(&running, "warehouse-reservation-expiry").await, 4);
    eventually(
        "the second run's prepaid reservations expired",
        reservations_of(prepaid, ReservationStatus::Expired),
    )
    .await;
    eventually(
        "the second run's COD reservations still held",
        reservations_of(cod_unconfirmed, ReservationStatus::Active),
    )
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
        6,
        "the paid order and both COD orders hold 2 mugs each"
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
    let mut conn = conveyor_redis::connect_plain(&redis_url).await.unwrap();
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
