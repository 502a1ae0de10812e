//! SQS through the Lambda adapter: `up --transport sqs` on the suite's moto server, with queues
//! of the test's own prefix created as the Terraform creates them (an ordered function's queue
//! FIFO, message group = its key), each long-polled by the local event source mapping and every
//! batch run through `conveyor_runtime::lambda::sqs::SqsHost`. Retries are SQS's: a failed
//! record comes back when its visibility timeout runs out, and its receive count is the attempt.
//! A crash drops the running emulator with a batch in flight; the next incarnation receives the
//! message again once its visibility timeout has passed.

use std::sync::Arc;
use std::time::Duration;

use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::Function;
use conveyor_sqs::SqsSettings;
use conveyor_store::OutboxRow;
use conveyor_transport::metrics::Stats;

use crate::db::Db;
use crate::host::{CONFORMING, Counters, Differences, Host, Letter};
use crate::moto::moto;

/// Longer than the suite's longest function timeout (a message must not come back while its
/// handler still runs), short enough that retries come quickly.
const VISIBILITY: Duration = Duration::from_secs(2);

/// `up` on SQS queues.
#[derive(Debug)]
pub(crate) struct Sqs {
    config: UpConfig,
    running: Option<Running>,
    /// Every incarnation's metrics.
    stats: Vec<Arc<Stats>>,
}

impl Sqs {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("the emulator runs")
    }

    async fn boot(&mut self) {
        let running = up::start(self.config.clone())
            .await
            .expect("the emulator starts on SQS (moto)");
        self.stats.push(Arc::clone(&running.stats));
        self.running = Some(running);
    }
}

impl Host for Sqs {
    const NAME: &'static str = "sqs";
    const DIFFERENCES: Differences = CONFORMING;

    async fn start(db: &Db, functions: Vec<Arc<dyn Function>>) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let sqs = SqsSettings {
            queue_prefix: format!("c{}-", &id[..12]),
            wait_seconds: 1,
            // One message per receive. moto's FIFO queues clear in-flight messages lazily: when
            // several messages of one group failed together and come back, it hands out the
            // later ones before the first (SQS keeps their order). One at a time keeps moto in
            // order; the adapter's grouping of a batch is covered by the SQS transport's tests.
            batch_size: 1,
            create_queues: true,
            visibility_timeout: Some(VISIBILITY),
            ..SqsSettings::new(moto().aws())
        };
        let mut host = Self {
            config: UpConfig {
                database: db.url().to_owned(),
                functions,
                relay_every: Duration::from_millis(200),
                sqs: Some(sqs),
                ..UpConfig::default()
            },
            running: None,
            stats: Vec::new(),
        };
        host.boot().await;
        host
    }

    async fn publish(&self, events: &[OutboxRow]) {
        // No bus: straight to the queues of the subscribed functions, as a rule would route
        // them (an ordered function's FIFO queue gets the key as message group).
        self.running()
            .broker
            .publish(events)
            .await
            .expect("SQS takes the events");
    }

    async fn idle(&self) -> bool {
        // Per function: messages visible and in flight (a failed one waiting out its
        // visibility timeout included).
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
        // moto has no StartMessageMoveTask: the broker moves the letters by receive, send and
        // delete before it returns, so they are in the queue when this returns.
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
        // Dropped, not shut down: the poller is aborted mid-batch, nothing is deleted.
        drop(self.running.take());
        self.boot().await;
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}
