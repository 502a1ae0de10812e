//! The orchestrated checkout behind Dapr sidecars, driven as daprd drives it: one worker per
//! service (order, warehouse, fulfillment; `--mode event`) on one PostgreSQL database, each
//! serving its share of the catalog by the functions' services (the order worker runs the
//! checkout saga and the played payment service), and [`Daprd`] delivering everything they
//! publish through the sidecar to every subscription on its topic, with daprd's redeliveries
//! and dead letters. Every scenario of [`crate::checkout`] (the happy path, a payment reply
//! delivered twice, a failure at each step, each step never answering, a reply after its step
//! timed out and was compensated, a refund failing transiently or unanswered once), each
//! asserted as on the embedded broker and on Lambda. The orchestrator's timers come from the
//! order worker's own due-timer poller, through the sidecar: each reached it within a second
//! of its deadline, and reached every subscriber of `saga.timer_fired`.

use std::sync::Arc;
use std::time::Duration;

use conveyor_dapr::Mode;
use conveyor_domain::events::saga::{TIMER_FIRED, TimerFired};
use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_runtime::saga::Retry;
use conveyor_runtime::{Function, Service};
use conveyor_store::testing::TestDb;
use conveyor_store::{OutboxRow, Store};
use order_checkout_saga::Timings;

use super::daprd::Daprd;
use super::harness::{FakeSidecar, TestWorker, call, config};
use crate::checkout::{self, Host};

/// The embedded broker's timings: a 1 s reply timeout, two sends 200 ms apart.
const TIMINGS: Timings = Timings {
    reply_timeout: Duration::from_millis(1_000),
    retry: Retry {
        attempts: 2,
        backoff: Duration::from_millis(200),
        max_backoff: Duration::from_millis(200),
    },
};

/// How late each timer firing reached `sidecar` after its deadline, in milliseconds.
fn timer_lateness(sidecar: &FakeSidecar) -> Vec<i64> {
    sidecar
        .accepted()
        .into_iter()
        .filter(|p| p.topic == TIMER_FIRED)
        .map(|p| {
            let fired: TimerFired = serde_json::from_value(p.body["data"].clone()).unwrap();
            p.received.millis() - fired.due.millis()
        })
        .collect()
}

/// The orchestrator's route.
const SAGA_ROUTE: &str = "/order-checkout-saga";

/// Three workers, their sidecar and daprd's delivery, on one database.
struct Workers {
    sidecar: Arc<FakeSidecar>,
    daprd: Daprd,
    workers: Vec<TestWorker>,
    db: TestDb,
}

impl Workers {
    /// Starts one worker per service over its share of `functions`, publishing through
    /// `sidecar`, then daprd.
    async fn start(sidecar: Arc<FakeSidecar>, functions: Vec<Arc<dyn Function>>) -> Self {
        let db = TestDb::postgres().await;
        let mut workers = Vec::new();
        for service in Service::ALL {
            let served = Mode::Event.select(service, functions.clone());
            let config = conveyor_dapr::WorkerConfig {
                database: db.url().to_owned(),
                ..config(service, Mode::Event, &sidecar)
            };
            workers.push(TestWorker::on(config, &served).await);
        }
        let daprd = Daprd::start(Arc::clone(&sidecar), &workers.iter().collect::<Vec<_>>()).await;
        Self {
            sidecar,
            daprd,
            workers,
            db,
        }
    }
}

impl Host for Workers {
    fn store(&self) -> &Store {
        &self.workers[0].store
    }

    /// Through the sidecar's publish API, as the order service's own sidecar takes them.
    async fn publish(&self, events: &[OutboxRow]) {
        for row in events {
            let url = format!(
                "http://127.0.0.1:{}/v1.0/publish/{PUBSUB_NAME}/{}",
                self.sidecar.port, row.topic
            );
            let headers = [("content-type", "application/cloudevents+json")];
            let answer = call("POST", &url, &headers, row.body.as_bytes()).await;
            assert_eq!(answer.status, 204, "{}", row.id);
        }
    }

    async fn drained(&self) -> bool {
        self.daprd.idle() && self.store().outbox_backlog().await.unwrap() == 0
    }

    async fn dead_letters(&self) -> Vec<String> {
        let letters = self.daprd.dead_letters();
        letters
            .iter()
            .map(|l| {
                format!(
                    "{} to {}: {:?}",
                    l.delivery.id, l.dead_letter_topic, l.delivery
                )
            })
            .collect()
    }

    fn timers(&self) -> usize {
        let mut ids: Vec<_> = self
            .daprd
            .deliveries()
            .into_iter()
            .filter(|d| d.route == SAGA_ROUTE && d.topic == TIMER_FIRED && d.status == "SUCCESS")
            .map(|d| d.id)
            .collect();
        ids.sort();
        ids.dedup();
        ids.len()
    }

    async fn shutdown(self) {
        self.daprd.stop().await;
        for worker in self.workers {
            worker.stop().await;
        }
        self.db.close().await;
    }
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_behind_dapr_sidecars() {
    let sidecar = Arc::new(FakeSidecar::start().await);
    let start = |functions: Vec<Arc<dyn Function>>| Workers::start(Arc::clone(&sidecar), functions);
    let took = checkout::run_on(start, TIMINGS, "d", Duration::from_secs(30)).await;
    let lateness = timer_lateness(&sidecar);
    eprintln!(
        "sagas ended {:?} after their checkouts, the run took {:?}; {} timer firings handled, \
         each reached the sidecar 0..{} ms after its deadline",
        took.sagas,
        took.total,
        took.timers,
        lateness.iter().max().unwrap_or(&0),
    );
    // Eight sagas waited out at least two deadlines each; every firing reached the
    // orchestrator and the other subscriber of `saga.timer_fired`.
    assert!(took.timers >= 16, "{took:?}");
    assert_eq!(took.broadcast_timers, took.timers, "{took:?}");
    assert_eq!(lateness.len(), took.timers, "each timer published once");
    assert!(
        lateness.iter().all(|ms| (0..1_000).contains(ms)),
        "timers reached the sidecar late (ms): {lateness:?}"
    );
}
