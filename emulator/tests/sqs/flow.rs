//! The deployed path, locally: a payment published through the EventBridge publisher to a bus
//! whose rule (the function's topics as `detail-type`, an SQS target with `InputPath`
//! `$.detail`, as `infra/terraform` sets it up) feeds the function's queue; `up --transport sqs`
//! polls it and runs the real order-payment-confirmed handler, whose state change lands in
//! PostgreSQL and whose outgoing event goes back through the bus.
//!
//! moto 5.x ignores a target's `InputPath` (it applies only `InputTransformer`): its queues
//! receive the whole EventBridge event with the CloudEvent in `detail`. The Lambda adapter
//! unwraps that envelope too, so the flow is the same; the test checks which form arrived.

use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::{SqsParameters, Target};
use conveyor_catalog as catalog;
use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::order::{OrderStatus, PaymentMethod};
use conveyor_domain::{OrderId, Timestamp};
use conveyor_emulator::up;
use conveyor_runtime::lambda::envelope::decode_body;
use conveyor_runtime::lambda::eventbridge::EventBridgePublisher;
use conveyor_runtime::{CloudEvent, Publisher};
use conveyor_sqs::{SqsSettings, queues};
use conveyor_store::testing::TestDb;
use conveyor_testkit::seed;
use serde_json::{Value, json};

use super::moto::Moto;
use crate::functions::eventually;

const BUS: &str = "flow-conveyor";

/// A rule on the bus for `topics`, targeting the queue `queue_arn` with `InputPath` `$.detail`.
async fn route(eb: &aws_sdk_eventbridge::Client, name: &str, topics: &[&str], queue_arn: &str) {
    eb.put_rule()
        .name(name)
        .event_bus_name(BUS)
        .event_pattern(json!({ "detail-type": topics }).to_string())
        .send()
        .await
        .unwrap();
    let target = Target::builder()
        .id("queue")
        .arn(queue_arn)
        .input_path("$.detail");
    // A FIFO queue (an ordered function's) gets one fixed group from a rule, as the Terraform
    // gives it: the group of events from outside producers.
    let target = if queue_arn.ends_with(".fifo") {
        target.sqs_parameters(
            SqsParameters::builder()
                .message_group_id("external")
                .build(),
        )
    } else {
        target
    };
    let target = target.build().unwrap();
    eb.put_targets()
        .rule(name)
        .event_bus_name(BUS)
        .targets(target)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_payment_on_eventbridge_reaches_the_handler_through_the_queue_and_confirms_the_order() {
    let moto = Moto::start();
    let db = TestDb::postgres().await;
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let order = seed::order::order("ord-sqs-1", PaymentMethod::Prepaid, now);
    seed::order::insert(db.store(), &order).await;

    let aws = moto.aws();
    let eb = aws.eventbridge_client();
    eb.create_event_bus().name(BUS).send().await.unwrap();
    let settings = SqsSettings {
        event_bus: Some(BUS.to_owned()),
        ..super::settings(&moto, "flow-")
    };
    let function = catalog::find("order-payment-confirmed").unwrap();
    let config = up::UpConfig {
        database: db.url().to_owned(),
        functions: vec![function.clone()],
        sqs: Some(settings.clone()),
        ..up::UpConfig::default()
    };
    let running = up::start(config).await.unwrap();

    // What Terraform creates: the function's rule, and (standing in for the next function) a
    // rule for the status changes it publishes, into a probe queue.
    let client = settings.sqs_client();
    let own = queues::resolve(&client, &settings, &function.spec())
        .await
        .unwrap();
    route(
        &eb,
        "flow-order-payment-confirmed",
        function.spec().topics(),
        &own.queue_arn,
    )
    .await;
    let probe_url = client
        .create_queue()
        .queue_name("flow-probe")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let probe_arn = queues::arn_of(&client, &probe_url).await.unwrap();
    route(&eb, "flow-probe", &[ORDER_STATUS_CHANGED], &probe_arn).await;

    let payment = PaymentConfirmedEvent {
        order_id: order.id.clone(),
        ..samples::payment_confirmed()
    };
    let mut event = CloudEvent::new(PAYMENT_CONFIRMED, "payment-service", &payment, now).unwrap();
    event.correlationid = Some("corr-sqs-1".to_owned());
    let payment_id = event.id.clone();
    let row = event.into_outbox_row();
    EventBridgePublisher::new(BUS, &aws)
        .publish(std::slice::from_ref(&row))
        .await
        .unwrap();

    let id = OrderId::parse("ord-sqs-1").unwrap();
    eventually(
        "the order to be payment_confirmed in PostgreSQL",
        || async {
            seed::order::load(db.store(), &id)
                .await
                .is_some_and(|o| o.status == OrderStatus::PaymentConfirmed)
        },
    )
    .await;
    let history = seed::order::history(db.store(), &id).await;
    assert!(
        history
            .iter()
            .any(|h| h.to == OrderStatus::PaymentConfirmed),
        "{history:?}"
    );
    eventually("the handled message to be deleted", || async {
        running.broker.depths().await.unwrap() == [("order-payment-confirmed".to_owned(), 0)]
    })
    .await;

    // The outgoing event went through the bus to the probe queue.
    let started = Instant::now();
    let body = loop {
        let received = client
            .receive_message()
            .queue_url(&probe_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = received.messages.unwrap_or_default().into_iter().next() {
            break m.body.unwrap_or_default();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no status change on the bus"
        );
    };
    let enveloped =
        serde_json::from_str::<Value>(&body).unwrap()["detail-type"] == json!(ORDER_STATUS_CHANGED);
    eprintln!(
        "moto {} the target's InputPath",
        if enveloped { "ignored" } else { "applied" }
    );
    let published = decode_body(&body).unwrap();
    assert_eq!(published.ty, ORDER_STATUS_CHANGED);
    assert_eq!(published.correlationid.as_deref(), Some("corr-sqs-1"));
    assert_eq!(published.causationid.as_deref(), Some(payment_id.as_str()));
    let changed: OrderStatusChangedEvent = published.payload().unwrap();
    assert_eq!(changed.order_id, id);
    assert_eq!(changed.new_status, OrderStatus::PaymentConfirmed);

    running.shutdown().await;
    db.close().await;
}
