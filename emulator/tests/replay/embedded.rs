//! Replay on the embedded broker: each function's queue in the emulator's SQLite file.

use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::cli::args::Transport;
use conveyor_emulator::up::{self, UpConfig};

use super::{Seen, args, functions, scenario};

#[tokio::test]
async fn replay_on_the_embedded_broker() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("replay.db").display());
    let seen = Seen::default();
    let running = up::start(UpConfig {
        database: database.clone(),
        functions: functions(&seen),
        consumer: ConsumerSettings {
            batch: 32,
            idle_poll: Duration::from_millis(20),
        },
        relay_every: Duration::from_millis(50),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    scenario(&running, &seen, &args(&database, Transport::Embedded)).await;
    running.shutdown().await;
}
