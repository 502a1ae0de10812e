//! order-payment-failed against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::events::payment::{PAYMENT_FAILED, PaymentFailedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::order::{OrderStatus, PaymentMethod, StatusChange};
use conveyor_domain::{Currency, CustomerId, Money, OrderId, PaymentId};
use conveyor_runtime::HandlerError;
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_payment_failed::OrderPaymentFailed;

fn failure(order: &str) -> PaymentFailedEvent {
    PaymentFailedEvent {
        order_id: OrderId::parse(order).unwrap(),
        ..samples::payment_failed()
    }
}

fn id(order: &str) -> OrderId {
    OrderId::parse(order).unwrap()
}

async fn seeded(h: &Harness, order: &str, status: OrderStatus) {
    let placed = seed::order::prepaid_placed(order, h.now(), 5);
    seed::order::insert(h.store(), &seed::order::in_status(placed, status)).await;
}

#[tokio::test]
async fn the_sample_failure_moves_the_order_to_payment_failed_and_publishes_status_changed() {
    on_both_backends(|h| async move {
        let sample = samples::payment_failed();
        seeded(&h, sample.order_id.as_str(), OrderStatus::Pending).await;
        let event = h.event(PAYMENT_FAILED, &sample);
        let handled = h
            .deliver_event(&OrderPaymentFailed, &event, 1)
            .await
            .unwrap();
        assert!(!handled.duplicate);
        assert_eq!((handled.produced.len(), handled.published), (1, 1));

        let order = seed::order::load(h.store(), &sample.order_id)
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::PaymentFailed);
        assert_eq!(
            order.payment_id, None,
            "a failed payment never pays the order"
        );
        let pay = PaymentId::parse("pay-9000").unwrap();
        assert_eq!(
            seed::order::history(h.store(), &sample.order_id).await,
            vec![StatusChange {
                from: OrderStatus::Pending,
                to: OrderStatus::PaymentFailed,
                reason: "card declined".to_owned(),
                payment_id: Some(pay.clone()),
                at: h.now(),
            }]
        );

        let out = h.published();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ty, ORDER_STATUS_CHANGED);
        assert_eq!(out[0].source, "order-worker");
        assert_eq!(out[0].correlationid, event.correlationid);
        let changed: OrderStatusChangedEvent = out[0].payload().unwrap();
        assert_eq!(
            changed,
            OrderStatusChangedEvent {
                order_id: sample.order_id.clone(),
                customer_id: CustomerId::parse("cus-42").unwrap(),
                old_status: Some(OrderStatus::Pending),
                new_status: OrderStatus::PaymentFailed,
                reason: "card declined".to_owned(),
                payment_id: Some(pay),
                payment_method: PaymentMethod::Prepaid,
                total: Money::from_minor(4999).unwrap(),
                currency: Currency::parse("USD").unwrap(),
                items: samples::order_lines(),
                timestamp: h.now(),
            }
        );
        assert_eq!(h.store().outbox_backlog().await.unwrap(), 0);
        h
    })
    .await;
}

#[tokio::test]
async fn the_same_failure_twice_changes_state_once_and_publishes_once() {
    on_both_backends(|h| async move {
        seeded(&h, "ord-2", OrderStatus::Pending).await;
        let event = h.event(PAYMENT_FAILED, &failure("ord-2"));
        let first = h
            .deliver_event(&OrderPaymentFailed, &event, 1)
            .await
            .unwrap();
        assert!(!first.duplicate);
        let second = h
            .deliver_event(&OrderPaymentFailed, &event, 2)
            .await
            .unwrap();
        assert!(second.duplicate, "the inbox recognises the redelivery");

        // Another attempt failing too (a new event) finds the order already failed: no-op.
        let another = PaymentFailedEvent {
            payment_id: PaymentId::parse("pay-9002").unwrap(),
            failure_reason: "expired card".to_owned(),
            ..failure("ord-2")
        };
        let again = h.deliver(&OrderPaymentFailed, &another).await.unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty());

        assert_eq!(h.published().len(), 1);
        assert_eq!(seed::order::history(h.store(), &id("ord-2")).await.len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn unknown_orders_are_retried_and_orders_past_payment_are_dropped_untouched() {
    on_both_backends(|h| async move {
        let err = h
            .deliver(&OrderPaymentFailed, &failure("ord-missing"))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: order ord-missing not found");

        for (order, status) in [
            ("ord-paid", OrderStatus::PaymentConfirmed),
            ("ord-confirmed", OrderStatus::Confirmed),
            ("ord-cancelled", OrderStatus::Cancelled),
        ] {
            seeded(&h, order, status).await;
            let err = h
                .deliver(&OrderPaymentFailed, &failure(order))
                .await
                .unwrap_err();
            assert!(matches!(err, HandlerError::Drop(_)), "{err}");
            assert_eq!(
                err.to_string(),
                format!("Drop: order cannot move from {status} to payment_failed")
            );
            let loaded = seed::order::load(h.store(), &id(order)).await.unwrap();
            assert_eq!(loaded.status, status);
            assert!(seed::order::history(h.store(), &id(order)).await.is_empty());
        }

        seeded(&h, "ord-3", OrderStatus::Pending).await;
        let blank = PaymentFailedEvent {
            failure_reason: " ".to_owned(),
            ..failure("ord-3")
        };
        let err = h.deliver(&OrderPaymentFailed, &blank).await.unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert_eq!(
            seed::order::load(h.store(), &id("ord-3"))
                .await
                .unwrap()
                .status,
            OrderStatus::Pending
        );
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn a_failure_for_an_order_on_the_saga_path_is_left_to_the_saga() {
    on_both_backends(|h| async move {
        seeded(&h, "ord-saga", OrderStatus::Pending).await;
        seed::saga::checkout_started(h.store(), "ord-saga", h.now()).await;
        let handled = h
            .deliver(&OrderPaymentFailed, &failure("ord-saga"))
            .await
            .unwrap();
        assert_eq!((handled.produced.len(), handled.published), (0, 0));
        let order = seed::order::load(h.store(), &id("ord-saga")).await.unwrap();
        assert_eq!(order.status, OrderStatus::Pending);
        h
    })
    .await;
}
