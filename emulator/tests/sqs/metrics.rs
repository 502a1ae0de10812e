//! `up --transport sqs`'s metrics after real traffic through moto's queues: the events' lag, the
//! publisher's calls, the duplicates the inbox skipped (the Lambda adapter says which records
//! were duplicates) and the queue's depth as the consumer lag.

use conveyor_emulator::up::{self, UpConfig};
use conveyor_store::testing::TestDb;

use super::moto::Moto;
use super::settings;
use crate::metrics::{answering, lags_publishes_and_duplicates};

#[tokio::test]
async fn sqs_metrics_show_lag_publishes_duplicates_and_queue_depth() {
    let moto = Moto::start();
    let db = TestDb::sqlite().await;
    let running = up::start(UpConfig {
        database: db.url().to_owned(),
        functions: vec![answering()],
        sqs: Some(settings(&moto, "metrics-")),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    lags_publishes_and_duplicates(&running, "sqs").await;
    running.shutdown().await;
    db.close().await;
}
