//! order-checkout-saga against SQLite and PostgreSQL, through the inbox/outbox pipeline: what
//! each command carries, resends with the same content, a failure's compensations in reverse,
//! replies for orders without a saga.

use conveyor_domain::SagaId;
use conveyor_domain::events::checkout::{
    CHECKOUT_FINISHED, CHECKOUT_REQUESTED, CheckoutCommand, CheckoutFinishedEvent, CheckoutOutcome,
    FULFILLMENT_CREATE_REJECTED, FULFILLMENT_CREATE_REQUESTED, INVENTORY_RELEASE_REQUESTED,
    INVENTORY_RELEASED, INVENTORY_RESERVE_REQUESTED, INVENTORY_RESERVED,
};
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED, PAYMENT_REFUNDED,
    ProcessPaymentRequestedEvent, RefundRequestedEvent,
};
use conveyor_domain::events::saga::{TIMER_FIRED, TimerFired};
use conveyor_domain::events::samples;
use conveyor_runtime::saga::{SagaRepository, SagaState, SagaStatus};
use conveyor_testkit::{Harness, on_both_backends};
use order_checkout_saga::{NAME, OrderCheckoutSaga};
use serde::Serialize;

const ORDER: &str = samples::CHECKOUT_ORDER_ID;

async fn send(h: &Harness, topic: &str, payload: &impl Serialize) {
    h.deliver_event(&OrderCheckoutSaga::default(), &h.event(topic, payload), 1)
        .await
        .unwrap();
}

async fn state(h: &Harness) -> SagaState {
    let mut tx = h.store().begin().await.unwrap();
    let s = tx
        .load_saga(NAME, &SagaId::parse(ORDER).unwrap())
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    s
}

fn reply(result: Option<&str>, reason: Option<&str>) -> serde_json::Value {
    serde_json::to_value(samples::checkout_reply(result, reason)).unwrap()
}

#[tokio::test]
async fn the_payment_command_names_the_payment_and_a_resend_carries_the_same_content() {
    on_both_backends(|h| async move {
        send(&h, CHECKOUT_REQUESTED, &samples::checkout_requested()).await;
        // The same checkout announced again starts nothing.
        send(&h, CHECKOUT_REQUESTED, &samples::checkout_requested()).await;
        let sent: Vec<ProcessPaymentRequestedEvent> =
            h.published_payloads(PAYMENT_PROCESS_REQUESTED);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].payment_id.as_str(), "pay-ord-1003");
        assert!((sent[0].amount - 12.99).abs() < 1e-9);
        assert_eq!(sent[0].attempt, 1);

        // No reply within the timeout: the timer fires, the backoff passes, it is sent again.
        for _ in 0..2 {
            let timer = state(&h).await.timer.unwrap();
            h.advance_minutes(1);
            let fired = TimerFired {
                definition: NAME.to_owned(),
                saga_id: SagaId::parse(ORDER).unwrap(),
                seq: timer.seq,
                due: timer.due,
            };
            send(&h, TIMER_FIRED, &fired).await;
        }
        let sent: Vec<ProcessPaymentRequestedEvent> =
            h.published_payloads(PAYMENT_PROCESS_REQUESTED);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].attempt, 2);
        assert_eq!(
            ProcessPaymentRequestedEvent {
                attempt: 1,
                ..sent[1].clone()
            },
            sent[0]
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_failed_fulfillment_releases_the_stock_then_refunds_the_payment() {
    on_both_backends(|h| async move {
        send(&h, CHECKOUT_REQUESTED, &samples::checkout_requested()).await;
        let mut confirmed = samples::payment_confirmed();
        confirmed.order_id = samples::checkout_requested().order_id;
        confirmed.payment_id = conveyor_domain::PaymentId::parse("pay-from-provider").unwrap();
        send(&h, PAYMENT_CONFIRMED, &confirmed).await;
        let reserve: Vec<CheckoutCommand> = h.published_payloads(INVENTORY_RESERVE_REQUESTED);
        assert_eq!(reserve.len(), 1);
        assert_eq!(reserve[0].items, samples::checkout_requested().items);
        assert_eq!(reserve[0].command_id, "ord-1003/inventory/forward");
        assert_eq!(reserve[0].target, None);

        send(&h, INVENTORY_RESERVED, &reply(Some("res-ref-1"), None)).await;
        assert_eq!(
            h.published_payloads::<CheckoutCommand>(FULFILLMENT_CREATE_REQUESTED)
                .len(),
            1
        );
        send(
            &h,
            FULFILLMENT_CREATE_REJECTED,
            &reply(None, Some("no packing station")),
        )
        .await;
        // The reply delivered again changes nothing.
        send(
            &h,
            FULFILLMENT_CREATE_REJECTED,
            &reply(None, Some("no packing station")),
        )
        .await;
        let release: Vec<CheckoutCommand> = h.published_payloads(INVENTORY_RELEASE_REQUESTED);
        assert_eq!(release.len(), 1);
        assert_eq!(release[0].target.as_deref(), Some("res-ref-1"));
        assert!(
            release[0]
                .reason
                .as_deref()
                .unwrap()
                .contains("no packing station")
        );
        assert!(
            h.published_payloads::<RefundRequestedEvent>(PAYMENT_REFUND_REQUESTED)
                .is_empty(),
            "the payment is refunded after the stock is released"
        );

        send(&h, INVENTORY_RELEASED, &reply(None, None)).await;
        let refund: Vec<RefundRequestedEvent> = h.published_payloads(PAYMENT_REFUND_REQUESTED);
        assert_eq!(refund.len(), 1);
        assert_eq!(refund[0].payment_id.as_str(), "pay-from-provider");
        let mut refunded = samples::payment_refunded();
        refunded.order_id = samples::checkout_requested().order_id;
        send(&h, PAYMENT_REFUNDED, &refunded).await;

        assert_eq!(state(&h).await.status, SagaStatus::Compensated);
        let finished: Vec<CheckoutFinishedEvent> = h.published_payloads(CHECKOUT_FINISHED);
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].outcome, CheckoutOutcome::Compensated);
        assert!(
            finished[0]
                .reason
                .as_deref()
                .unwrap()
                .contains("no packing station")
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_payment_of_an_order_without_a_saga_changes_nothing() {
    on_both_backends(|h| async move {
        send(&h, PAYMENT_CONFIRMED, &samples::payment_confirmed()).await;
        assert!(h.published().is_empty());
        h
    })
    .await;
}
