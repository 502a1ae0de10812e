//! Redis Streams: `up` on the test server (`CONVEYOR_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`) under a key prefix of the test's own, deleted when the host goes.
//! A crash drops the running emulator with its entries pending; the next incarnation, a new
//! consumer of the same groups, claims them once they have been idle past the processing
//! timeout.

use std::sync::Arc;
use std::time::Duration;

use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_redis::RedisSettings;
use conveyor_runtime::Function;
use conveyor_store::OutboxRow;
use conveyor_transport::metrics::Stats;

use crate::db::Db;
use crate::host::{CONFORMING, Counters, Differences, Host, Letter};

/// The test server.
fn redis_url() -> String {
    std::env::var("CONVEYOR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// `up` on Redis Streams.
#[derive(Debug)]
pub(crate) struct Redis {
    config: UpConfig,
    running: Option<Running>,
    /// Every incarnation's metrics.
    stats: Vec<Arc<Stats>>,
    prefix: String,
}

impl Redis {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("the emulator runs")
    }

    /// Starts an incarnation: a consumer of its own name in every group.
    async fn boot(&mut self) {
        let mut config = self.config.clone();
        if let Some(redis) = &mut config.redis {
            redis.instance = format!("conformance-{}", self.stats.len() + 1);
        }
        let running = up::start(config).await.unwrap_or_else(|e| {
            panic!(
                "the emulator starts on Redis at {} (CONVEYOR_TEST_REDIS_URL): {e}",
                redis_url()
            )
        });
        self.stats.push(Arc::clone(&running.stats));
        self.running = Some(running);
    }
}

impl Host for Redis {
    const NAME: &'static str = "redis";
    // Conforming: retries wait while the entry stays pending, an ordered function's later
    // entries wait in memory unseen by the handler, and the pending list's delivery count is
    // the attempt, across a crash too.
    const DIFFERENCES: Differences = CONFORMING;

    async fn start(db: &Db, functions: Vec<Arc<dyn Function>>) -> Self {
        let prefix = format!("conformance-{}:", uuid::Uuid::new_v4().simple());
        let redis = RedisSettings {
            prefix: prefix.clone(),
            block: Duration::from_millis(100),
            claim_margin: Duration::from_millis(200),
            reclaim_every: Duration::from_millis(100),
            ..RedisSettings::new(&redis_url())
        };
        let mut host = Self {
            config: UpConfig {
                database: db.url().to_owned(),
                functions,
                relay_every: Duration::from_millis(200),
                redis: Some(redis),
                ..UpConfig::default()
            },
            running: None,
            stats: Vec::new(),
            prefix,
        };
        host.boot().await;
        host
    }

    async fn publish(&self, events: &[OutboxRow]) {
        self.running()
            .broker
            .publish(events)
            .await
            .expect("Redis takes the events");
    }

    async fn idle(&self) -> bool {
        // Per function: entries not read yet (lag) and read but not acknowledged (pending,
        // retries waiting included).
        let depths = self.running().broker.depths().await.expect("stream depths");
        depths.iter().all(|(_, n)| *n == 0)
    }

    async fn dead_letters(&self, function: &'static str) -> Vec<Letter> {
        let letters = self
            .running()
            .broker
            .dead_letters(Some(function), 100)
            .await
            .expect("dead letters");
        let mut out: Vec<Letter> = letters.iter().map(Letter::of).collect();
        out.sort();
        out
    }

    async fn redrive(&self, function: &'static str) -> usize {
        self.running()
            .broker
            .redrive(function, None)
            .await
            .expect("redrive")
    }

    fn counters(&self, function: &'static str) -> Counters {
        Counters::sum(&self.stats, function)
    }

    async fn crash(&mut self) {
        // Dropped, not shut down: its tasks are aborted, nothing is acknowledged.
        drop(self.running.take());
        self.boot().await;
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let Ok(client) = ::redis::Client::open(redis_url()) else {
            return;
        };
        let Ok(mut con) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut con)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = ::redis::cmd("DEL").arg(keys).query(&mut con);
        }
    }
}
