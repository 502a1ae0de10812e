//! The orchestrated checkout through the Lambda adapter, on moto: `up --transport sqs` runs the
//! whole catalog from SQS queues through `SqsHost`, on PostgreSQL, every scenario of
//! [`crate::checkout`] (the happy path, a payment reply delivered twice, a failure at each
//! step, each step never answering, a reply after its step timed out and was compensated, a
//! refund failing transiently or unanswered once), each asserted as on the embedded broker.
//! The orchestrator's timers are SQS delay messages on its own queue, as on Lambda: no
//! due-timer poller runs on SQS, so every timeout the sagas took came that way (none reached
//! the other subscriber of `saga.timer_fired`).

use std::time::Duration;

use conveyor_emulator::up::UpConfig;
use conveyor_runtime::saga::Retry;
use conveyor_store::testing::TestDb;
use order_checkout_saga::Timings;

use super::moto::Moto;
use crate::checkout;

/// A 2 s reply timeout, two sends a second apart (SQS delays by whole seconds).
const TIMINGS: Timings = Timings {
    reply_timeout: Duration::from_secs(2),
    retry: Retry {
        attempts: 2,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(1),
    },
};

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_through_the_lambda_adapter() {
    let moto = Moto::start();
    let db = TestDb::postgres().await;
    let config = UpConfig {
        database: db.url().to_owned(),
        sqs: Some(super::settings(&moto, "saga-")),
        relay_every: Duration::from_millis(100),
        ..UpConfig::default()
    };
    let took = checkout::run(config, TIMINGS, "q", Duration::from_secs(60)).await;
    eprintln!(
        "sagas ended {:?} after their checkouts, the run took {:?}; {} timer firings handled",
        took.sagas, took.total, took.timers
    );
    // Eight sagas waited out at least two deadlines each.
    assert!(took.timers >= 16, "{took:?}");
    assert_eq!(took.broadcast_timers, 0, "the due-timer poller ran on SQS");
    db.close().await;
}
