//! Replay on Redis Streams with PostgreSQL: each function's own inbox stream
//! (`<prefix><function>.inbox`), where redrive and invoke go too.

use std::time::Duration;

use conveyor_emulator::cli::args::{ReplayArgs, Transport};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_store::testing::TestDb;

use super::{Seen, args, functions, scenario};
use crate::redis_common::{TestRedis, redis_url};

#[tokio::test]
async fn replay_on_redis_streams() {
    let db = TestDb::postgres().await;
    let redis = TestRedis::new().await;
    let seen = Seen::default();
    let running = up::start(UpConfig {
        database: db.url().to_owned(),
        functions: functions(&seen),
        relay_every: Duration::from_millis(50),
        redis: Some(redis.settings("replay")),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let base = ReplayArgs {
        redis: Some(redis_url()),
        redis_prefix: redis.prefix.clone(),
        ..args(db.url(), Transport::Redis)
    };
    scenario(&running, &seen, &base).await;
    // The replayed events went through the functions' inbox streams.
    assert_eq!(redis.xlen("test-replay-a.inbox").await, 5 + 5);
    assert_eq!(redis.xlen("test-replay-b.inbox").await, 5);
    running.shutdown().await;
    db.close().await;
}
