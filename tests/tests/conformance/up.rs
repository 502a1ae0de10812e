//! The hosts `conveyor up` runs (the embedded broker, Redis Streams, SQS): one emulator at a
//! time on the test's database, driven through its broker. A flavour says only how the emulator
//! is configured and where it differs; a crash drops the running emulator (its tasks are
//! aborted wherever they are, nothing in flight is acknowledged) and starts the next
//! incarnation, a new consumer of its own name, on the same durable state.

use std::fmt;
use std::sync::Arc;

use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::Function;
use conveyor_store::OutboxRow;
use conveyor_transport::metrics::Stats;

use crate::db::Db;
use crate::host::{Counters, Differences, Host, Letter};

/// How one transport's emulator is configured.
pub(crate) trait Flavour: Sized + fmt::Debug {
    /// The host's name in messages.
    const NAME: &'static str;
    /// Where it differs.
    const DIFFERENCES: Differences;

    /// The emulator's configuration for `functions` on `db`, and what the flavour keeps for as
    /// long as the host lives (dropped with it: a Redis prefix is deleted then).
    fn configure(db: &Db, functions: Vec<Arc<dyn Function>>) -> (Self, UpConfig);
}

/// `up` on one transport.
#[derive(Debug)]
pub(crate) struct UpHost<F> {
    /// Kept for as long as the host lives, for what its drop cleans up.
    _flavour: F,
    config: UpConfig,
    running: Option<Running>,
    /// Every incarnation's metrics.
    stats: Vec<Arc<Stats>>,
}

impl<F: Flavour> UpHost<F> {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("the emulator runs")
    }

    /// Starts an incarnation (on Redis, a consumer of its own name in every group).
    async fn boot(&mut self) {
        let mut config = self.config.clone();
        if let Some(redis) = &mut config.redis {
            redis.instance = format!("conformance-{}", self.stats.len() + 1);
        }
        let running = up::start(config)
            .await
            .unwrap_or_else(|e| panic!("the emulator starts on {}: {e}", F::NAME));
        self.stats.push(Arc::clone(&running.stats));
        self.running = Some(running);
    }
}

impl<F: Flavour> Host for UpHost<F> {
    const NAME: &'static str = F::NAME;
    const DIFFERENCES: Differences = F::DIFFERENCES;

    async fn start(db: &Db, functions: Vec<Arc<dyn Function>>) -> Self {
        let (flavour, config) = F::configure(db, functions);
        let mut host = Self {
            _flavour: flavour,
            config,
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
            .unwrap_or_else(|e| panic!("{} takes the events: {e}", F::NAME));
    }

    async fn publish_raw(&self, id: &str, topic: &str, body: &str) {
        // A bare row: its body goes on the transport as it is (the embedded queue's message
        // body, a Redis entry's `data`, an SQS message body), under `id` where the queue keeps
        // one.
        let row = OutboxRow::bare(id.to_owned(), topic.to_owned(), body.to_owned());
        self.publish(std::slice::from_ref(&row)).await;
    }

    async fn idle(&self) -> bool {
        // Per function: what waits for delivery, for a retry (a Redis entry pending, an SQS
        // message in flight or waiting out its visibility timeout) or in a handler.
        let depths = self.running().broker.depths().await.expect("depths");
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
        // On moto (no StartMessageMoveTask) the SQS broker moves the letters by receive, send
        // and delete before it returns, so they are back in the queue when this returns.
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
        drop(self.running.take());
        self.boot().await;
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}
