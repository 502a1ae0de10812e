//! The Lambda host's connection budget: a record whose handler gets no database connection
//! within the pool's acquire timeout is listed in `batchItemFailures` (retried by SQS), never
//! dropped to the DLQ.

use crate::support;

use std::time::Duration;

use conveyor_runtime::lambda::config::AwsSettings;
use conveyor_runtime::lambda::dlq::SqsDeadLetter;
use conveyor_runtime::lambda::sqs::SqsHost;
use conveyor_runtime::topic;
use conveyor_store::testing::TestDb;
use conveyor_store::{PoolOptions, Store};
use support::fake_aws::FakeAws;
use support::probe::{Probe, ask, deps, seen};
use support::sqs_batch::{failed, ids, invocation, record};

#[tokio::test]
async fn a_record_that_gets_no_connection_in_time_is_retried_not_dropped() {
    let db = TestDb::postgres().await;
    let aws = FakeAws::start().await;
    let options = PoolOptions::new(1).with_acquire_timeout(Duration::from_millis(200));
    let store = Store::connect_with(db.url(), options).await.unwrap();
    let (deps, publisher) = deps(&store);
    let dlq = SqsDeadLetter::new(
        "probe",
        &aws.queue_url("probe-dlq"),
        &AwsSettings::local(aws.url()),
    );
    let host = SqsHost::new(topic(Probe), deps, Some(dlq));
    let records = [record("m-1", &ask("e-1", "a", "ok"), 1)];

    // The pool's only connection is taken.
    let held = store.begin().await.unwrap();
    let response = host.handle_batch(invocation(&records)).await;
    assert_eq!(failed(&response), ids(&["m-1"]));
    assert!(aws.sent_messages().is_empty(), "nothing went to the DLQ");
    assert!(seen(&publisher).is_empty());

    // Given back, the redelivery is handled.
    held.rollback().await.unwrap();
    let response = host.handle_batch(invocation(&records)).await;
    assert!(failed(&response).is_empty());
    assert_eq!(seen(&publisher).len(), 1);
    store.close().await;
    db.close().await;
}
