//! Acting on an SQS dead-letter queue the way the dashboard does: list the letters, fix one
//! (the new body goes back with the failure reason kept and the old message is gone), delete
//! one, then redrive the fixed one to its function's queue only.

use aws_sdk_sqs::types::MessageAttributeValue;
use conveyor_catalog as catalog;
use conveyor_runtime::lambda::dlq::ATTR_ERROR;
use conveyor_sqs::broker::SqsBroker;
use conveyor_transport::broker::Broker;

use super::moto::Moto;
use super::settings;

const FUNCTION: &str = "order-payment-failed";

fn cloudevent(id: &str, order: &str) -> String {
    format!(
        r#"{{"data":{{"order_id":{order},"reason":"card declined"}},"id":"{id}","source":"test","specversion":"1.0","type":"payment.failed"}}"#
    )
}

#[tokio::test]
async fn sqs_dead_letters_are_edited_deleted_and_the_fixed_one_redriven() {
    let moto = Moto::start();
    let functions = vec![catalog::find(FUNCTION).unwrap()];
    let broker = SqsBroker::connect(settings(&moto, "edit-"), &functions)
        .await
        .unwrap();
    let queues = broker.queues(FUNCTION).unwrap().clone();
    let client = broker.settings().sqs_client();
    for (id, order) in [("e-1", "7"), ("e-2", "8"), ("e-3", "9")] {
        client
            .send_message()
            .queue_url(&queues.dlq_url)
            .message_body(cloudevent(id, order))
            // The function is ordered: its queues are FIFO.
            .message_group_id(format!("ord-{order}"))
            .message_deduplication_id(id)
            .message_attributes(
                ATTR_ERROR,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("payload does not decode: order_id is not a string")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let letters = broker.dead_letters(Some(FUNCTION), 10).await.unwrap();
    assert_eq!(letters.len(), 3, "{letters:?}");
    let one = letters
        .iter()
        .find(|l| l.event_id == "e-1")
        .unwrap()
        .clone();

    let fixed = cloudevent("e-1", r#""ord-1""#);
    let new_id = broker
        .edit_dead_letter(FUNCTION, &one.id, &fixed)
        .await
        .unwrap()
        .expect("the letter exists");
    assert_ne!(
        new_id, one.id,
        "SQS cannot change a body: a new message replaces it"
    );
    let letters = broker.dead_letters(Some(FUNCTION), 10).await.unwrap();
    assert_eq!(letters.len(), 3, "{letters:?}");
    assert!(
        letters.iter().all(|l| l.id != one.id),
        "the old message is gone"
    );
    let edited = letters.iter().find(|l| l.id == new_id).unwrap();
    assert_eq!(edited.body, fixed);
    assert_eq!(edited.error, one.error, "the failure reason is kept");
    assert_eq!(
        broker
            .edit_dead_letter(FUNCTION, "no-such-message", &fixed)
            .await
            .unwrap(),
        None
    );

    let deleted = broker
        .delete_dead_letters(FUNCTION, Some(&["e-2".to_owned()]))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let mut left: Vec<String> = broker
        .dead_letters(Some(FUNCTION), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event_id)
        .collect();
    left.sort();
    assert_eq!(left, ["e-1", "e-3"]);

    let moved = broker
        .redrive(FUNCTION, Some(std::slice::from_ref(&new_id)))
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let back = client
        .receive_message()
        .queue_url(&queues.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let bodies: Vec<&str> = back.iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, [fixed.as_str()], "only the fixed letter goes back");
    let left = broker.dead_letters(Some(FUNCTION), 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event_id, "e-3");
}
