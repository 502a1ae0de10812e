//! Cron across instances: two schedulers on one Redis, each with its own database (so the inbox
//! cannot deduplicate), fire a tick once.

use crate::redis_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conveyor_domain::{Clock, ManualClock, Timestamp};
use conveyor_emulator::scheduler;
use conveyor_redis::broker::RedisBroker;
use conveyor_redis::lock::RedisTickLock;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{
    Context, Deps, FunctionSpec, HandlerError, JobReport, MemoryPublisher, ScheduleHandler, Service,
};
use conveyor_transport::metrics::Stats;
use conveyor_transport::tick::TickLock;
use redis_common::{TestRedis, eventually};

#[derive(Debug, Default)]
struct Job(Arc<AtomicU32>);

impl ScheduleHandler for Job {
    const SPEC: FunctionSpec = FunctionSpec::on_schedule("test-job", Service::Order, "* * * * *");

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        _cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(JobReport::default())
    }
}

/// Counts how often the scheduler asked.
#[derive(Debug)]
struct Asked<L>(L, Arc<AtomicU32>);

impl<L: TickLock> TickLock for Asked<L> {
    fn acquire<'a>(&'a self, job: &'a str, tick: Timestamp) -> BoxFuture<'a, bool> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.acquire(job, tick)
    }
}

fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

async fn deps(dir: &tempfile::TempDir, name: &str, clock: &Arc<ManualClock>) -> Deps {
    let store =
        conveyor_store::Store::open(&format!("sqlite://{}", dir.path().join(name).display()))
            .await
            .unwrap();
    let clock: Arc<dyn Clock> = clock.clone();
    Deps {
        store,
        publisher: Arc::new(MemoryPublisher::new()),
        clock,
    }
}

/// Two schedulers (own databases, shared clock) wake for the 10:05 tick; returns the runs.
async fn two_schedulers(locks: [Option<Arc<dyn TickLock>>; 2], asked: &Arc<AtomicU32>) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t("2026-11-22T10:04:59.800Z")));
    let runs = Arc::new(AtomicU32::new(0));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (i, lock) in locks.into_iter().enumerate() {
        let job = conveyor_runtime::schedule(Job(Arc::clone(&runs)));
        let deps = deps(&dir, &format!("db{i}.db"), &clock).await;
        tasks.push(tokio::spawn(scheduler::run_with_lock(
            job,
            deps,
            Arc::new(Stats::new()),
            lock,
            rx.clone(),
        )));
    }
    // Once both are waiting for 10:05 (they re-read the clock every 200 ms), the tick falls due.
    tokio::time::sleep(Duration::from_millis(100)).await;
    clock.set(t("2026-11-22T10:05:00.010Z"));
    eventually("both schedulers to reach the tick", || async {
        asked.load(Ordering::SeqCst) >= 2 || runs.load(Ordering::SeqCst) >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
    runs.load(Ordering::SeqCst)
}

#[tokio::test]
async fn two_schedulers_sharing_one_redis_fire_a_tick_once() {
    let redis = TestRedis::new().await;
    let asked = Arc::new(AtomicU32::new(0));
    let mut locks: Vec<Option<Arc<dyn TickLock>>> = Vec::new();
    for instance in ["a", "b"] {
        let broker = RedisBroker::connect(redis.settings(instance), &[])
            .await
            .unwrap();
        let lock = RedisTickLock::new(broker.connection(), broker.settings().clone());
        locks.push(Some(Arc::new(Asked(lock, Arc::clone(&asked)))));
    }
    let runs = two_schedulers([locks[0].clone(), locks[1].clone()], &asked).await;
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(runs, 1, "one tick, one run");
    let holder = redis
        .cmd(&[
            "GET",
            &redis.key("conveyor:tick:test-job:2026-11-22T10:05Z"),
        ])
        .await;
    let holder: String = redis::from_redis_value(holder).unwrap();
    assert!(holder == "a" || holder == "b", "{holder}");

    // Without the lock, separate databases run the tick twice: the lock is what made it once.
    let unlocked = two_schedulers([None, None], &Arc::new(AtomicU32::new(0))).await;
    assert_eq!(unlocked, 2);
}

#[tokio::test]
async fn the_lock_is_per_job_and_minute_and_expires() {
    let redis = TestRedis::new().await;
    let broker = RedisBroker::connect(redis.settings("a"), &[])
        .await
        .unwrap();
    let lock = RedisTickLock::new(broker.connection(), broker.settings().clone());
    let other = RedisTickLock::new(broker.connection(), redis.settings("b"));
    let tick = t("2026-11-22T10:05:00Z");
    assert!(lock.acquire("job", tick).await);
    assert!(
        !other.acquire("job", t("2026-11-22T10:05:30Z")).await,
        "same minute"
    );
    assert!(
        !lock.acquire("job", tick).await,
        "a tick fires once, even on the same instance"
    );
    assert!(
        other.acquire("job", t("2026-11-22T10:06:00Z")).await,
        "next minute"
    );
    assert!(other.acquire("other-job", tick).await, "another job");
    let ttl = redis.cmd(&["PTTL", &lock.key("job", tick)]).await;
    let ttl: i64 = redis::from_redis_value(ttl).unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "{ttl}");
}
