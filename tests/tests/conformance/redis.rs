//! Redis Streams: `up` on the test server (`CONVEYOR_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`) under a key prefix of the test's own, deleted when the host goes.
//! A crash drops the running emulator with its entries pending; the next incarnation, a new
//! consumer of the same groups, claims them once they have been idle past the processing
//! timeout.

use std::sync::Arc;
use std::time::Duration;

use conveyor_emulator::up::UpConfig;
use conveyor_redis::RedisSettings;
use conveyor_runtime::Function;

use crate::db::Db;
use crate::host::{CONFORMING, Differences};
use crate::up::{Flavour, UpHost};

/// The test server.
fn redis_url() -> String {
    std::env::var("CONVEYOR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// `up` on Redis Streams.
pub(crate) type Redis = UpHost<Streams>;

/// Redis Streams under a key prefix of the test's own, deleted when the host goes.
#[derive(Debug)]
pub(crate) struct Streams {
    prefix: String,
}

impl Flavour for Streams {
    const NAME: &'static str = "redis";
    // Conforming: retries wait while the entry stays pending, an ordered function's later
    // entries wait in memory unseen by the handler, and the pending list's delivery count is
    // the attempt, across a crash too.
    const DIFFERENCES: Differences = CONFORMING;

    fn configure(db: &Db, functions: Vec<Arc<dyn Function>>) -> (Self, UpConfig) {
        let prefix = format!("conformance-{}:", uuid::Uuid::new_v4().simple());
        let redis = RedisSettings {
            prefix: prefix.clone(),
            block: Duration::from_millis(100),
            claim_margin: Duration::from_millis(200),
            reclaim_every: Duration::from_millis(100),
            ..RedisSettings::new(&redis_url())
        };
        let config = UpConfig {
            database: db.url().to_owned(),
            functions,
            relay_every: Duration::from_millis(200),
            redis: Some(redis),
            ..UpConfig::default()
        };
        (Self { prefix }, config)
    }
}

impl Drop for Streams {
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
