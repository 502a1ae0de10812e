//! The event store through the handlers' pipeline, on SQLite and PostgreSQL: what a handler
//! publishes is stored with its flow, cause and order in the transaction of its outbox rows, so
//! a handler that fails after publishing leaves nothing stored; and a whole payment flow is
//! found again by order id and correlation id.

use conveyor_domain::OrderId;
use conveyor_domain::events::DomainEvent;
use conveyor_domain::events::order::ORDER_STATUS_CHANGED;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::order::PaymentMethod;
use conveyor_runtime::{Context, FunctionSpec, HandlerError, Service, TopicHandler};
use conveyor_store::Store;
use conveyor_store::events::{EventQuery, StoredEvent};
use conveyor_testkit::{on_both_backends, seed};
use conveyor_tests::Flow;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Asked {
    order_id: String,
}

impl conveyor_domain::events::Validate for Asked {
    fn validate(&self) -> Result<(), conveyor_domain::events::ValidationError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Answered {
    order_id: String,
}

impl DomainEvent for Answered {
    fn topic(&self) -> &'static str {
        "test.answered"
    }
}

/// Publishes an answer, then fails when told to: the failure rolls the answer back.
#[derive(Debug)]
struct Answering {
    fail: bool,
}

impl TopicHandler for Answering {
    type Payload = Asked;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-answering", Service::Order, &["test.asked"]);

    async fn handle(&self, asked: Asked, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        cx.publish(&Answered {
            order_id: asked.order_id,
        })?;
        if self.fail {
            return Err(HandlerError::retry("failed after publishing"));
        }
        Ok(())
    }
}

async fn stored(store: &Store, query: EventQuery) -> Vec<StoredEvent> {
    store
        .events_query(&EventQuery {
            limit: 1000,
            ..query
        })
        .await
        .unwrap()
        .events
}

#[tokio::test]
async fn a_handler_that_fails_after_publishing_leaves_no_stored_event() {
    on_both_backends(|h| async move {
        let asked = Asked {
            order_id: "ord-store-1".to_owned(),
        };
        let failed = h.deliver(&Answering { fail: true }, &asked).await;
        assert!(matches!(failed, Err(HandlerError::Retry(_))), "{failed:?}");
        assert!(stored(h.store(), EventQuery::default()).await.is_empty());

        let event = h.event("test.asked", &asked);
        h.deliver_event(&Answering { fail: false }, &event, 2)
            .await
            .unwrap();
        let kept = stored(h.store(), EventQuery::default()).await;
        assert_eq!(kept.len(), 1);
        let answer = &kept[0];
        assert_eq!(answer.topic, "test.answered");
        assert_eq!(answer.time, h.now());
        assert_eq!(answer.order_id.as_deref(), Some("ord-store-1"));
        assert_eq!(answer.causation_id.as_deref(), Some(event.id.as_str()));
        assert_eq!(answer.correlation_id, event.correlationid);
        assert_eq!(answer.source, "order-worker");
        // The body is the CloudEvent as published.
        let body = conveyor_runtime::CloudEvent::decode(answer.body.as_bytes()).unwrap();
        assert_eq!(
            (body.id.as_str(), body.topic_name()),
            (answer.id.as_str(), "test.answered")
        );
        assert_eq!(body.causationid.as_deref(), Some(event.id.as_str()));
        h
    })
    .await;
}

#[tokio::test]
async fn a_payment_flow_is_found_by_its_order_and_its_correlation_id() {
    on_both_backends(|h| async move {
        seed::warehouse::product(h.store(), "sku-mug", 10, 2, h.now()).await;
        seed::warehouse::product(h.store(), "sku-tee", 5, 1, h.now()).await;
        let mut flow = Flow::new();
        let order = seed::order::order("ord-2001", PaymentMethod::Prepaid, h.now());
        seed::order::insert(h.store(), &order).await;
        flow.run(
            &h,
            h.event(ORDER_STATUS_CHANGED, &order.placed_event(h.now())),
        )
        .await;
        let payment = PaymentConfirmedEvent {
            order_id: OrderId::parse("ord-2001").unwrap(),
            ..samples::payment_confirmed()
        };
        let event = h.event(PAYMENT_CONFIRMED, &payment);
        let placed_id = flow.events[0].id.clone();
        flow.run(&h, event.clone()).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());

        // Every event the handlers published is stored (the test's own entry events are not:
        // nothing in conveyor published them).
        let published: Vec<String> = flow
            .events
            .iter()
            .map(|e| e.id.clone())
            .filter(|id| *id != placed_id && *id != event.id)
            .collect();
        assert!(published.len() > 3, "{published:?}");
        let all = stored(h.store(), EventQuery::default()).await;
        let mut ids: Vec<String> = all.iter().map(|e| e.id.clone()).collect();
        ids.sort();
        let mut expected = published.clone();
        expected.sort();
        assert_eq!(ids, expected);
        let of_flow = stored(
            h.store(),
            EventQuery {
                correlation_id: event.correlationid.clone(),
                ..EventQuery::default()
            },
        )
        .await;
        assert!(of_flow.iter().any(|e| e.topic == ORDER_STATUS_CHANGED));
        assert!(
            of_flow
                .iter()
                .any(|e| e.topic == "fulfillment.status_changed")
        );
        let of_order = stored(
            h.store(),
            EventQuery {
                order_id: Some("ord-2001".to_owned()),
                topic: Some(ORDER_STATUS_CHANGED.to_owned()),
                ..EventQuery::default()
            },
        )
        .await;
        assert!(!of_order.is_empty());
        assert!(
            of_order
                .iter()
                .all(|e| e.order_id.as_deref() == Some("ord-2001"))
        );
        h
    })
    .await;
}
