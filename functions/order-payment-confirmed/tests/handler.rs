//! order-payment-confirmed against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::events::payment::{
    PAYMENT_REFUND_REQUESTED, PaymentConfirmedEvent, RefundRequestedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::order::{OrderStatus, PaymentMethod};
use conveyor_domain::{OrderId, PaymentId};
use conveyor_runtime::HandlerError;
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_payment_confirmed::OrderPaymentConfirmed;

fn payment(order: &str, amount: f64) -> PaymentConfirmedEvent {
    PaymentConfirmedEvent {
        order_id: OrderId::parse(order).unwrap(),
        amount,
        ..samples::payment_confirmed()
    }
}

async fn seeded(h: &Harness, id: &str) {
    seed::order::insert(
        h.store(),
        &seed::order::order(id, PaymentMethod::Prepaid, h.now()),
    )
    .await;
}

#[tokio::test]
async fn confirms_the_order_and_publishes_status_changed_with_trace_and_correlation() {
    on_both_backends(|h| async move {
        seeded(&h, "ord-1").await;
        let event = h.event("payment.confirmed", &payment("ord-1", 49.99));
        let handled = h
            .deliver_event(&OrderPaymentConfirmed, &event, 1)
            .await
            .unwrap();
        assert!(!handled.duplicate);
        assert_eq!((handled.produced.len(), handled.published), (1, 1));

        let order = seed::order::load(h.store(), &OrderId::parse("ord-1").unwrap())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::PaymentConfirmed);
        assert_eq!(
            order.payment_id.as_ref().map(|p| p.as_str()),
            Some("pay-9001")
        );

        let out = h.published();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ty, ORDER_STATUS_CHANGED);
        assert_eq!(out[0].source, "order-worker");
        assert_eq!(out[0].correlationid, event.correlationid);
        let tp = out[0].traceparent.as_deref().unwrap();
        assert!(
            tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{tp}"
        );
        assert_ne!(
            tp,
            event.traceparent.as_deref().unwrap(),
            "outgoing span is a child"
        );
        let changed: OrderStatusChangedEvent = out[0].payload().unwrap();
        assert_eq!(
            (changed.old_status, changed.new_status),
            (Some(OrderStatus::Pending), OrderStatus::PaymentConfirmed)
        );
        assert_eq!(changed.reason, "payment pay-9001 confirmed");
        assert_eq!(changed.items.len(), 2);
        assert_eq!(
            h.store().outbox_backlog().await.unwrap(),
            0,
            "published rows leave the outbox"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn the_same_event_twice_changes_state_once_and_publishes_once() {
    on_both_backends(|h| async move {
        seeded(&h, "ord-2").await;
        let event = h.event("payment.confirmed", &payment("ord-2", 49.99));
        assert!(
            !h.deliver_event(&OrderPaymentConfirmed, &event, 1)
                .await
                .unwrap()
                .duplicate
        );
        assert!(
            h.deliver_event(&OrderPaymentConfirmed, &event, 2)
                .await
                .unwrap()
                .duplicate
        );
        // A second, different confirmation of the same payment is a state-machine no-op.
        let again = h
            .deliver(&OrderPaymentConfirmed, &payment("ord-2", 49.99))
            .await
            .unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn unknown_order_is_retried_and_bad_amounts_are_dropped_without_effect() {
    on_both_backends(|h| async move {
        let err = h
            .deliver(&OrderPaymentConfirmed, &payment("ord-missing", 49.99))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: order ord-missing not found");

        seeded(&h, "ord-3").await;
        let err = h
            .deliver(&OrderPaymentConfirmed, &payment("ord-3", 10.0))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert!(
            err.to_string().contains("does not match order total 49.99"),
            "{err}"
        );
        let err = h
            .deliver(&OrderPaymentConfirmed, &payment("ord-3", -1.0))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");

        let order = seed::order::load(h.store(), &OrderId::parse("ord-3").unwrap())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::Pending);
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn a_payment_for_a_cancelled_order_requests_one_refund_and_leaves_the_order_cancelled() {
    on_both_backends(|h| async move {
        let order = seed::order::in_status(
            seed::order::order("ord-4", PaymentMethod::Prepaid, h.now()),
            OrderStatus::Cancelled,
        );
        seed::order::insert(h.store(), &order).await;
        let event = h.event("payment.confirmed", &payment("ord-4", 49.99));
        let handled = h
            .deliver_event(&OrderPaymentConfirmed, &event, 1)
            .await
            .unwrap();
        assert_eq!(handled.produced.len(), 1);
        assert_eq!(h.published_topics(), [PAYMENT_REFUND_REQUESTED]);
        let refunds: Vec<RefundRequestedEvent> = h.published_payloads(PAYMENT_REFUND_REQUESTED);
        assert_eq!(
            refunds,
            [RefundRequestedEvent {
                order_id: order.id.clone(),
                payment_id: PaymentId::parse("pay-9001").unwrap(),
                amount: 49.99,
                currency: order.currency.clone(),
                reason: "order ord-4 was cancelled before payment pay-9001".to_owned(),
                timestamp: h.now(),
            }]
        );
        assert_eq!(refunds[0].timestamp, h.now());

        // The same event again (inbox), then the same payment under a new event id (one
        // refund per payment).
        assert!(
            h.deliver_event(&OrderPaymentConfirmed, &event, 2)
                .await
                .unwrap()
                .duplicate
        );
        let again = h
            .deliver(&OrderPaymentConfirmed, &payment("ord-4", 49.99))
            .await
            .unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 1);

        let stored = seed::order::load(h.store(), &order.id).await.unwrap();
        assert_eq!(
            (stored.status, stored.payment_id),
            (OrderStatus::Cancelled, None)
        );
        assert!(seed::order::history(h.store(), &order.id).await.is_empty());
        assert_eq!(
            seed::order::count_rows(h.store(), "refund_requests").await,
            1
        );
        h
    })
    .await;
}

#[tokio::test]
async fn payments_delivered_together_commit_in_one_transaction() {
    on_both_backends(|h| async move {
        let ids = ["ord-b1", "ord-b2", "ord-b3", "ord-b4"];
        for id in ids {
            seeded(&h, id).await;
        }
        let events: Vec<_> = ids
            .iter()
            .map(|id| h.event("payment.confirmed", &payment(id, 49.99)))
            .collect();
        let mut twice = events.clone();
        twice.push(events[1].clone());
        let results = h.deliver_together(&OrderPaymentConfirmed, &twice).await;
        let handled: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            handled.iter().map(|r| r.duplicate).collect::<Vec<_>>(),
            [false, false, false, false, true],
            "the repeated event is handled at its first position only"
        );
        assert!(
            handled[..4]
                .iter()
                .all(|r| (r.produced.len(), r.published) == (1, 1))
        );
        for id in ids {
            let order = seed::order::load(h.store(), &OrderId::parse(id).unwrap())
                .await
                .unwrap();
            assert_eq!(order.status, OrderStatus::PaymentConfirmed, "{id}");
        }
        let changed: Vec<OrderStatusChangedEvent> = h.published_payloads(ORDER_STATUS_CHANGED);
        assert_eq!(
            changed
                .iter()
                .map(|c| c.order_id.as_str())
                .collect::<Vec<_>>(),
            ids,
            "published in delivery order"
        );
        assert_eq!(h.store().outbox_backlog().await.unwrap(), 0);
        if let Some(transactions) =
            conveyor_store::testing::inbox_transactions(h.store(), "order-payment-confirmed").await
        {
            assert_eq!(transactions, 1, "four events, one transaction");
        }
        h
    })
    .await;
}

#[tokio::test]
async fn one_failing_event_leaves_the_others_of_its_batch_handled_on_their_own() {
    on_both_backends(|h| async move {
        for id in ["ord-c1", "ord-c3"] {
            seeded(&h, id).await;
        }
        let done = h.event("payment.confirmed", &payment("ord-c3", 49.99));
        h.deliver_event(&OrderPaymentConfirmed, &done, 1)
            .await
            .unwrap();
        let mut invalid = h.event("payment.confirmed", &payment("ord-c1", 49.99));
        invalid.data = serde_json::value::to_raw_value(&serde_json::json!({"order_id": 7})).ok();
        let events = [
            h.event("payment.confirmed", &payment("ord-c1", 49.99)),
            h.event("payment.confirmed", &payment("ord-missing", 49.99)),
            invalid,
            done,
        ];
        let results = h.deliver_together(&OrderPaymentConfirmed, &events).await;
        assert!(!results[0].as_ref().unwrap().duplicate);
        assert!(
            matches!(&results[1], Err(HandlerError::Retry(_))),
            "{:?}",
            results[1]
        );
        assert!(
            matches!(&results[2], Err(HandlerError::Drop(_))),
            "{:?}",
            results[2]
        );
        assert!(results[3].as_ref().unwrap().duplicate);
        let order = seed::order::load(h.store(), &OrderId::parse("ord-c1").unwrap())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::PaymentConfirmed);
        assert_eq!(
            h.published_topics(),
            [ORDER_STATUS_CHANGED, ORDER_STATUS_CHANGED],
            "ord-c3 once before, ord-c1 once now"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_payment_for_an_order_on_the_saga_path_is_left_to_the_saga() {
    on_both_backends(|h| async move {
        seeded(&h, "ord-saga").await;
        seed::saga::checkout_started(h.store(), "ord-saga", h.now()).await;
        let handled = h
            .deliver(&OrderPaymentConfirmed, &payment("ord-saga", 49.99))
            .await
            .unwrap();
        assert_eq!((handled.produced.len(), handled.published), (0, 0));
        let order = seed::order::load(h.store(), &OrderId::parse("ord-saga").unwrap())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::Pending);
        h
    })
    .await;
}
