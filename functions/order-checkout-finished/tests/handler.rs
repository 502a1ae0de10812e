//! order-checkout-finished against SQLite and PostgreSQL: the saga's outcome on the order, once,
//! with nothing published.

use conveyor_domain::events::checkout::{
    CHECKOUT_FINISHED, CheckoutFinishedEvent, CheckoutOutcome,
};
use conveyor_domain::events::samples;
use conveyor_domain::order::{OrderStatus, StatusChange};
use conveyor_domain::{OrderId, PaymentId};
use conveyor_runtime::HandlerError;
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_checkout_finished::OrderCheckoutFinished;

fn finished(order: &str, outcome: CheckoutOutcome) -> CheckoutFinishedEvent {
    let completed = outcome == CheckoutOutcome::Completed;
    CheckoutFinishedEvent {
        order_id: id(order),
        outcome,
        reason: (!completed).then(|| "stock short for sku-mug".to_owned()),
        payment_id: completed.then(|| PaymentId::parse(format!("pay-{order}")).unwrap()),
        ..samples::checkout_finished()
    }
}

fn id(order: &str) -> OrderId {
    OrderId::parse(order).unwrap()
}

async fn seeded(h: &Harness, order: &str, status: OrderStatus) {
    let placed = seed::order::prepaid_placed(order, h.now(), 1);
    seed::order::insert(h.store(), &seed::order::in_status(placed, status)).await;
}

#[tokio::test]
async fn each_outcome_moves_the_pending_order_once_and_publishes_nothing() {
    on_both_backends(|h| async move {
        for (order, outcome, to) in [
            ("ord-ok", CheckoutOutcome::Completed, OrderStatus::Confirmed),
            (
                "ord-undone",
                CheckoutOutcome::Compensated,
                OrderStatus::Cancelled,
            ),
        ] {
            seeded(&h, order, OrderStatus::Pending).await;
            let event = h.event(CHECKOUT_FINISHED, &finished(order, outcome));
            // The outcome delivered twice (a second event id): the second changes nothing.
            let again = h.event(CHECKOUT_FINISHED, &finished(order, outcome));
            for e in [&event, &event, &again] {
                let handled = h.deliver_event(&OrderCheckoutFinished, e, 1).await.unwrap();
                assert_eq!(handled.produced.len(), 0, "{order}");
            }
            let loaded = seed::order::load(h.store(), &id(order)).await.unwrap();
            assert_eq!(loaded.status, to, "{order}");
            let history = seed::order::history(h.store(), &id(order)).await;
            let paid = finished(order, outcome).payment_id;
            assert_eq!(loaded.payment_id, paid, "{order}");
            let reason = match outcome {
                CheckoutOutcome::Completed => "checkout completed".to_owned(),
                CheckoutOutcome::Compensated => {
                    "checkout compensated: stock short for sku-mug".to_owned()
                }
            };
            assert_eq!(
                history,
                vec![StatusChange {
                    from: OrderStatus::Pending,
                    to,
                    reason,
                    payment_id: paid,
                    at: samples::checkout_finished().timestamp,
                }],
                "{order}"
            );
        }
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn an_unknown_order_is_retried_and_one_that_moved_on_is_dropped_untouched() {
    on_both_backends(|h| async move {
        let err = h
            .deliver(
                &OrderCheckoutFinished,
                &finished("ord-missing", CheckoutOutcome::Completed),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: order ord-missing not found");

        for (order, status, outcome, to) in [
            (
                "ord-c",
                OrderStatus::Cancelled,
                CheckoutOutcome::Completed,
                "confirmed",
            ),
            (
                "ord-s",
                OrderStatus::Shipped,
                CheckoutOutcome::Compensated,
                "cancelled",
            ),
        ] {
            let placed = seed::order::prepaid_placed(order, h.now(), 1);
            let moved = seed::order::in_status(placed, status);
            seed::order::insert(h.store(), &moved).await;
            let err = h
                .deliver(&OrderCheckoutFinished, &finished(order, outcome))
                .await
                .unwrap_err();
            assert!(matches!(err, HandlerError::Drop(_)), "{err}");
            assert_eq!(
                err.to_string(),
                format!("Drop: order cannot move from {status} to {to}")
            );
            let loaded = seed::order::load(h.store(), &id(order)).await.unwrap();
            assert_eq!(loaded.status, status);
            assert!(seed::order::history(h.store(), &id(order)).await.is_empty());
        }
        h
    })
    .await;
}
