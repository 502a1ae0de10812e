//! Replay on SQS: each function's own queue, as `up --transport sqs` polls it.

use std::time::Duration;

use conveyor_emulator::cli::args::{ReplayArgs, SqsArgs, Transport};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_store::testing::TestDb;

use super::moto::Moto;
use crate::replay::{Seen, args, functions, scenario};

#[tokio::test]
async fn replay_on_sqs_queues() {
    let moto = Moto::start();
    let db = TestDb::postgres().await;
    let seen = Seen::default();
    let prefix = format!("replay-{:08x}-", rand::random::<u32>());
    let running = up::start(UpConfig {
        database: db.url().to_owned(),
        functions: functions(&seen),
        relay_every: Duration::from_millis(50),
        sqs: Some(super::settings(&moto, &prefix)),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let base = ReplayArgs {
        sqs: SqsArgs {
            sqs_endpoint: Some(moto.url().to_owned()),
            aws_region: Some(moto.aws().region),
            queue_prefix: prefix,
        },
        ..args(db.url(), Transport::Sqs)
    };
    scenario(&running, &seen, &base).await;
    running.shutdown().await;
    db.close().await;
}
