//! One batch through the local event source, for what is SQS's own (retries, dead letters with
//! reasons, poison and redrive to one function are the conformance suite's,
//! `tests/tests/conformance`): the batch's item failures name only the failing record, so the
//! others are deleted; the undecodable one goes to the DLQ as it was sent; a record on its last
//! receive is dead-lettered by the adapter and deleted; redrive (receive, send, delete on moto)
//! brings both back as new messages without the failure attributes. Then `dlq redrive --sqs` on
//! a catalog function.

use std::sync::Arc;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use conveyor_catalog as catalog;
use conveyor_domain::SystemClock;
use conveyor_emulator::cli;
use conveyor_emulator::cli::args::SqsArgs;
use conveyor_runtime::{Deps, Function, MemoryPublisher, Publisher};
use conveyor_sqs::broker::SqsBroker;
use conveyor_sqs::poller::{BatchReport, EventSource};
use conveyor_sqs::queues;
use conveyor_sqs::redrive::RedriveOutcome;
use conveyor_store::testing::TestDb;
use conveyor_transport::broker::Broker;
use conveyor_transport::metrics::Stats;
use serde_json::json;

use super::moto::Moto;
use super::{Picky, settings};
use crate::functions::{eventually, ping, raw};

fn receive_count(message: &aws_sdk_sqs::types::Message) -> Option<&str> {
    message
        .attributes()?
        .get(&MessageSystemAttributeName::ApproximateReceiveCount)
        .map(String::as_str)
}

#[tokio::test]
async fn only_the_failing_record_of_a_batch_stays_and_redrive_returns_letters_as_new_messages() {
    let moto = Moto::start();
    let db = TestDb::sqlite().await;
    let picky: Arc<dyn Function> = conveyor_runtime::topic(Picky);
    let settings = settings(&moto, "batch-");
    let broker = SqsBroker::connect(settings.clone(), std::slice::from_ref(&picky))
        .await
        .unwrap();
    let deps = Deps {
        store: db.store().clone(),
        publisher: Arc::new(MemoryPublisher::new()),
        clock: Arc::new(SystemClock),
    };
    let queues = broker.queues("test-picky").unwrap().clone();
    let source = EventSource::new(
        Arc::clone(&picky),
        deps,
        &settings,
        queues.clone(),
        Arc::new(Stats::new()),
    );

    // Five messages in one send (no bus: straight to the queue): three good pings, ping 13,
    // and a body that is not JSON.
    let rows = [ping(1), ping(2), ping(13), raw("not json"), ping(3)];
    broker.publish(&rows).await.unwrap();
    let batch = source.receive().await.unwrap();
    assert_eq!(batch.len(), 5, "one batch of all five");
    assert!(batch.iter().all(|m| receive_count(m) == Some("1")));
    let report = source.handle(&batch).await;
    assert_eq!(
        report,
        BatchReport {
            received: 5,
            deleted: 4,
            failed: 1
        },
        "three handled and one dead-lettered by the adapter are deleted; ping 13 stays"
    );

    // The undecodable body went to the DLQ at once, as it was sent.
    let letters = broker.dead_letters(Some("test-picky"), 10).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].body, "not json");

    // Ping 13 comes back after the visibility timeout (second receive, the last allowed), fails
    // again, and the adapter dead-letters it itself: the record is not reported failed, so the
    // queue deletes it.
    let started = std::time::Instant::now();
    let again = loop {
        let messages = source.receive().await.unwrap();
        if !messages.is_empty() {
            break messages;
        }
        assert!(
            started.elapsed().as_secs() < 15,
            "ping 13 was not delivered again"
        );
    };
    assert_eq!(again.len(), 1);
    assert_eq!(receive_count(&again[0]), Some("2"));
    assert_eq!(source.handle(&again).await.failed, 0);
    eventually("ping 13 to be in the DLQ", || async {
        source.receive().await.unwrap().is_empty()
            && broker.dlq_depths().await.unwrap() == [("test-picky".to_owned(), 2)]
    })
    .await;
    assert_eq!(
        broker.depths().await.unwrap(),
        [("test-picky".to_owned(), 0)]
    );

    // moto has no StartMessageMoveTask: redrive falls back to receive, send, delete.
    let outcome = broker.redrive_outcome("test-picky", None).await.unwrap();
    assert_eq!(outcome, RedriveOutcome::ReceiveSendDelete { moved: 2 });
    assert_eq!(
        broker.dlq_depths().await.unwrap(),
        [("test-picky".to_owned(), 0)]
    );
    let back = source.receive().await.unwrap();
    assert_eq!(back.len(), 2, "both are back in the function's queue");
    assert!(
        back.iter().all(|m| receive_count(m) == Some("1")),
        "as new messages"
    );
    assert!(
        back.iter().all(|m| m
            .message_attributes()
            .is_none_or(|a| a.keys().all(|k| !k.starts_with("conveyor-")))),
        "the failure attributes stay behind"
    );
    db.close().await;
}

#[tokio::test]
async fn dlq_redrive_sqs_moves_a_catalog_functions_dead_letters_back() {
    let moto = Moto::start();
    let function = catalog::find("order-payment-failed").unwrap();
    let settings = settings(&moto, "cli-");
    let client = settings.sqs_client();
    let queues = queues::resolve(&client, &settings, &function.spec())
        .await
        .unwrap();
    for body in ["one", "two"] {
        client
            .send_message()
            .queue_url(&queues.dlq_url)
            .message_body(body)
            // The function is ordered: its queues are FIFO.
            .message_group_id("ord-1")
            .message_deduplication_id(body)
            .send()
            .await
            .unwrap();
    }
    let args = SqsArgs {
        sqs_endpoint: Some(moto.url().to_owned()),
        aws_region: Some("us-east-1".to_owned()),
        queue_prefix: "cli-".to_owned(),
    };
    let answer = cli::sqs::redrive(&args, "order-payment-failed", &[])
        .await
        .unwrap();
    assert_eq!(answer["method"], json!("receive-send-delete"), "{answer}");
    assert_eq!(answer["moved"], json!(2), "{answer}");
    assert_eq!(answer["queue"], json!(queues.queue_url));
    let back = client
        .receive_message()
        .queue_url(&queues.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let mut bodies: Vec<&str> = back.iter().filter_map(|m| m.body()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["one", "two"]);

    let job = cli::sqs::redrive(&args, "order-cart-cleanup", &[])
        .await
        .unwrap_err();
    assert!(job.to_string().contains("is a job"), "{job}");
}
