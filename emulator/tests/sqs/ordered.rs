//! An ordered function's queue on SQS is FIFO, and conveyor's publishers put each event in the
//! message group of its order: straight to the queues without a bus, and through the
//! EventBridge publisher's direct sends with one. Read back from moto, every order's events are
//! in their group; through the EventBridge publisher, in publish order too. (That the events of
//! an order published straight to the queue are handled in publish order is the conformance
//! suite's to check, `tests/tests/conformance`.)

use std::collections::BTreeMap;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use conveyor_domain::Timestamp;
use conveyor_runtime::lambda::eventbridge::EventBridgePublisher;
use conveyor_runtime::lambda::fifo::QueueRoute;
use conveyor_runtime::{
    CloudEvent, Context, Function, FunctionSpec, HandlerError, Publisher, Service, TopicHandler,
    topic,
};
use conveyor_sqs::broker::SqsBroker;
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};

use super::moto::Moto;
use super::settings;
use crate::functions::event_row;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    order_id: String,
    seq: u32,
}

impl conveyor_domain::events::Validate for Step {
    fn validate(&self) -> Result<(), conveyor_domain::events::ValidationError> {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Steps;

impl TopicHandler for Steps {
    type Payload = Step;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-steps", Service::Order, &["test.step"])
            .ordered_by("order_id");

    async fn handle(&self, _step: Step, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Four steps of five orders, interleaved.
fn steps() -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    for seq in 1..=4 {
        for n in 0..5 {
            let step = Step {
                order_id: format!("ord-{n}"),
                seq,
            };
            rows.push(event_row(
                "test.step",
                "order-worker",
                &step,
                Timestamp::from_millis(0),
            ));
        }
    }
    rows
}

/// Everything on the queue: per message group, the steps in the order received.
async fn groups(client: &aws_sdk_sqs::Client, url: &str) -> BTreeMap<String, Vec<u32>> {
    let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for _ in 0..20 {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in &messages {
            let group = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .expect("a FIFO message has a group");
            let event = CloudEvent::decode(m.body().unwrap().as_bytes()).unwrap();
            let step: Step = event.payload().unwrap();
            assert_eq!(step.order_id, group, "the group is the order id");
            out.entry(group).or_default().push(step.seq);
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    out
}

/// One group per order, each with every step.
fn grouped_by_order(groups: &BTreeMap<String, Vec<u32>>) {
    let orders: Vec<String> = (0..5).map(|n| format!("ord-{n}")).collect();
    assert_eq!(groups.keys().cloned().collect::<Vec<_>>(), orders);
    for (order, seqs) in groups {
        assert_eq!(seqs.len(), 4, "{order}: {seqs:?}");
    }
}

/// [`grouped_by_order`], each order's steps in publish order.
fn in_order(groups: &BTreeMap<String, Vec<u32>>) {
    grouped_by_order(groups);
    for (order, seqs) in groups {
        assert_eq!(seqs, &[1, 2, 3, 4], "{order}");
    }
}

#[tokio::test]
async fn an_ordered_functions_fifo_queue_gets_each_order_in_its_own_message_group() {
    let moto = Moto::start();
    let functions: Vec<std::sync::Arc<dyn Function>> = vec![topic(Steps)];
    let broker = SqsBroker::connect(settings(&moto, "ordered-"), &functions)
        .await
        .unwrap();
    let queues = broker.queues("test-steps").unwrap().clone();
    assert!(queues.queue_url.ends_with("ordered-test-steps.fifo"));
    assert!(queues.dlq_url.ends_with("ordered-test-steps-dlq.fifo"));
    let client = broker.settings().sqs_client();

    // Without a bus: straight to the queue, each order in its group (that the steps are handled
    // in publish order is the conformance suite's to check).
    broker.publish(&steps()).await.unwrap();
    grouped_by_order(&groups(&client, &queues.queue_url).await);

    // Through the EventBridge publisher (a bus without rules): the direct sends alone.
    let aws = moto.aws();
    let eventbridge = aws.eventbridge_client();
    eventbridge
        .create_event_bus()
        .name("ordered-bus")
        .send()
        .await
        .unwrap();
    let publisher = EventBridgePublisher::new("ordered-bus", &aws).with_ordered_routes(
        &aws,
        vec![QueueRoute {
            queue_url: queues.queue_url.clone(),
            topics: vec!["test.step".to_owned()],
            key: Some("order_id".to_owned()),
        }],
    );
    publisher.publish(&steps()).await.unwrap();
    in_order(&groups(&client, &queues.queue_url).await);
}
