//! The embedded broker: `up` on the test's SQLite file, its queue and dead letters in the same
//! database. A crash drops the running emulator (its tasks are aborted, leases stay taken) and
//! starts another on the file, which delivers the message again once its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::Function;
use conveyor_store::OutboxRow;
use conveyor_transport::metrics::Stats;

use crate::db::Db;
use crate::host::{CONFORMING, Counters, Differences, Host, Letter};

/// `up` on the embedded broker.
#[derive(Debug)]
pub(crate) struct Embedded {
    config: UpConfig,
    running: Option<Running>,
    /// Every incarnation's metrics.
    stats: Vec<Arc<Stats>>,
}

impl Embedded {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("the emulator runs")
    }

    async fn boot(&mut self) {
        let running = up::start(self.config.clone())
            .await
            .expect("the emulator starts on the embedded broker");
        self.stats.push(Arc::clone(&running.stats));
        self.running = Some(running);
    }
}

impl Host for Embedded {
    const NAME: &'static str = "embedded";
    // The reference: every scenario's assertion holds as written.
    const DIFFERENCES: Differences = CONFORMING;

    async fn start(db: &Db, functions: Vec<Arc<dyn Function>>) -> Self {
        let mut host = Self {
            config: UpConfig {
                database: db.url().to_owned(),
                functions,
                consumer: ConsumerSettings {
                    batch: 16,
                    idle_poll: Duration::from_millis(20),
                },
                relay_every: Duration::from_millis(200),
                ..UpConfig::default()
            },
            running: None,
            stats: Vec::new(),
        };
        host.boot().await;
        host
    }

    async fn publish(&self, events: &[OutboxRow]) {
        self.running()
            .broker
            .publish(events)
            .await
            .expect("the embedded broker takes the events");
    }

    async fn idle(&self) -> bool {
        let depths = self.running().broker.depths().await.expect("queue depths");
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
        // Dropped, not shut down: its tasks are aborted wherever they are.
        drop(self.running.take());
        self.boot().await;
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}
