//! notification-dispatch against SQLite and PostgreSQL, through the inbox/outbox pipeline: one
//! notification per customer event across duplicate deliveries and redeliveries.

use std::sync::{Arc, Mutex};

use conveyor_domain::events::order::OrderStatusChangedEvent;
use conveyor_domain::events::payment::{PaymentConfirmedEvent, PaymentFailedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::{ReservationEvent, ReservationEventKind};
use conveyor_domain::notification::{
    Notification, NotificationRepository, NotificationSender, SendError, Template,
};
use conveyor_domain::order::{OrderStatus, PaymentMethod};
use conveyor_domain::{CustomerId, OrderId, ProductId, ReservationId};
use conveyor_runtime::HandlerError;
use conveyor_testkit::{Harness, on_both_backends, seed};
use notification_dispatch::NotificationDispatch;

/// Records what was sent; fails while `failing` is set.
#[derive(Debug, Clone, Default)]
struct Recorder {
    sent: Arc<Mutex<Vec<Notification>>>,
    failing: Arc<Mutex<bool>>,
}

impl NotificationSender for Recorder {
    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        if *self.failing.lock().unwrap() {
            return Err(SendError("provider unavailable".to_owned()));
        }
        self.sent.lock().unwrap().push(n.clone());
        Ok(())
    }
}

impl Recorder {
    fn templates(&self) -> Vec<Template> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.template)
            .collect()
    }
}

const ORDER: &str = samples::ORDER_ID;

async fn seeded(h: &Harness, status: OrderStatus) {
    let order = seed::order::in_status(
        seed::order::order(ORDER, PaymentMethod::Prepaid, h.now()),
        status,
    );
    seed::order::insert(h.store(), &order).await;
}

async fn customer_of_order(h: &Harness) -> CustomerId {
    seed::order::load(h.store(), &OrderId::parse(ORDER).unwrap())
        .await
        .unwrap()
        .customer_id
}

async fn stored(h: &Harness, customer: &CustomerId) -> Vec<Notification> {
    let mut tx = h.store().begin().await.unwrap();
    let rows = tx.notifications_of_customer(customer).await.unwrap();
    tx.commit().await.unwrap();
    rows
}

fn expiring(reservation: &str, product: &str) -> ReservationEvent {
    ReservationEvent {
        reservation_id: ReservationId::parse(reservation).unwrap(),
        product_id: ProductId::parse(product).unwrap(),
        ..samples::reservation(ReservationEventKind::Expiring)
    }
}

#[tokio::test]
async fn a_payment_notifies_its_customer_once_across_duplicates_and_redeliveries() {
    on_both_backends(|h| async move {
        seeded(&h, OrderStatus::PaymentConfirmed).await;
        let recorder = Recorder::default();
        let f = NotificationDispatch::with_sender(recorder.clone());
        let payment: PaymentConfirmedEvent = samples::payment_confirmed();
        let event = h.event("payment.confirmed", &payment);
        let first = h.deliver_event(&f, &event, 1).await.unwrap();
        assert!(!first.duplicate);
        assert!(first.produced.is_empty(), "notifications publish nothing");
        assert!(h.deliver_event(&f, &event, 2).await.unwrap().duplicate);
        // The payment service sends the same payment again, under a new event id.
        let redelivered = h.event("payment.confirmed", &payment);
        assert!(
            !h.deliver_event(&f, &redelivered, 1)
                .await
                .unwrap()
                .duplicate
        );

        let customer = customer_of_order(&h).await;
        let rows = stored(&h, &customer).await;
        assert_eq!(rows.len(), 1);
        let n = &rows[0];
        assert_eq!(
            (
                n.template,
                n.channel.as_str(),
                n.recipient.as_str(),
                n.event_key.as_str(),
                n.event_id.as_str(),
                n.order_id.as_str()
            ),
            (
                Template::PaymentReceived,
                "email",
                customer.as_str(),
                "payment:pay-9001:confirmed",
                event.id.as_str(),
                ORDER
            )
        );
        assert_eq!(
            n.text,
            "We received your payment of 49.99 USD for order ord-1001."
        );
        assert_eq!(
            *recorder.sent.lock().unwrap(),
            rows,
            "sent exactly what was stored"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn status_changes_failures_and_expiring_reservations_notify_once_each() {
    on_both_backends(|h| async move {
        seeded(&h, OrderStatus::Pending).await;
        let recorder = Recorder::default();
        let f = NotificationDispatch::with_sender(recorder.clone());
        let customer = customer_of_order(&h).await;
        let status = |old, new, reason: &str| OrderStatusChangedEvent {
            customer_id: customer.clone(),
            old_status: old,
            new_status: new,
            reason: reason.to_owned(),
            ..samples::order_status_changed()
        };
        let placed = status(None, OrderStatus::Pending, "order placed");
        h.deliver(&f, &placed).await.unwrap();
        h.deliver(&f, &placed).await.unwrap();
        let failed: PaymentFailedEvent = samples::payment_failed();
        let failed_event = h.event("payment.failed", &failed);
        h.deliver_event(&f, &failed_event, 1).await.unwrap();
        h.deliver_event(&f, &failed_event, 2).await.unwrap();
        // One reminder per order, not per reserved line.
        for r in [expiring("res-1", "sku-mug"), expiring("res-2", "sku-tee")] {
            let e = h.event("warehouse.reservation.expiring", &r);
            h.deliver_event(&f, &e, 1).await.unwrap();
        }
        // Payment status changes are covered by the payment events: no notification.
        let paid = status(
            Some(OrderStatus::Pending),
            OrderStatus::PaymentConfirmed,
            "payment pay-9001 confirmed",
        );
        h.deliver(&f, &paid).await.unwrap();
        let cancelled = status(
            Some(OrderStatus::PaymentConfirmed),
            OrderStatus::Cancelled,
            "insufficient stock of sku-tee: requested 1, available 0",
        );
        h.deliver(&f, &cancelled).await.unwrap();
        h.deliver(&f, &cancelled).await.unwrap();

        let expected = [
            Template::OrderPlaced,
            Template::PaymentFailed,
            Template::ReservationExpiring,
            Template::OrderCancelled,
        ];
        let rows = stored(&h, &customer).await;
        assert_eq!(
            rows.iter().map(|n| n.template).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(recorder.templates(), expected);
        let keys: Vec<&str> = rows.iter().map(|n| n.event_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "order:ord-1001:pending",
                "payment:pay-9000:failed",
                "reservation-expiring:ord-1001",
                "order:ord-1001:cancelled"
            ]
        );
        assert_eq!(
            rows[1].text,
            "Your payment of 49.99 USD for order ord-1001 failed: card declined. You can try again."
        );
        assert_eq!(
            rows[3].text,
            "Your order ord-1001 has been cancelled: insufficient stock of sku-tee: requested 1, available 0."
        );
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn a_late_payment_for_a_cancelled_order_says_it_will_be_refunded() {
    on_both_backends(|h| async move {
        seeded(&h, OrderStatus::Cancelled).await;
        let recorder = Recorder::default();
        let f = NotificationDispatch::with_sender(recorder.clone());
        let event = h.event("payment.confirmed", &samples::payment_confirmed());
        h.deliver_event(&f, &event, 1).await.unwrap();
        assert_eq!(recorder.templates(), [Template::PaymentRefundPending]);
        h
    })
    .await;
}

#[tokio::test]
async fn an_unknown_order_and_a_failed_send_are_retried_without_a_row() {
    on_both_backends(|h| async move {
        let recorder = Recorder::default();
        let f = NotificationDispatch::with_sender(recorder.clone());
        let event = h.event("payment.confirmed", &samples::payment_confirmed());
        let err = h.deliver_event(&f, &event, 1).await.unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: order ord-1001 not found");

        seeded(&h, OrderStatus::PaymentConfirmed).await;
        *recorder.failing.lock().unwrap() = true;
        let err = h.deliver_event(&f, &event, 2).await.unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        let customer = customer_of_order(&h).await;
        assert!(stored(&h, &customer).await.is_empty(), "rolled back");

        *recorder.failing.lock().unwrap() = false;
        assert!(!h.deliver_event(&f, &event, 3).await.unwrap().duplicate);
        assert_eq!(stored(&h, &customer).await.len(), 1);
        assert_eq!(recorder.templates(), [Template::PaymentReceived]);
        h
    })
    .await;
}

#[tokio::test]
async fn payments_of_an_order_on_the_saga_path_notify_nobody() {
    on_both_backends(|h| async move {
        seeded(&h, OrderStatus::Pending).await;
        seed::saga::checkout_started(h.store(), ORDER, h.now()).await;
        let recorder = Recorder::default();
        let handler = NotificationDispatch::with_sender(recorder.clone());
        h.deliver_event(
            &handler,
            &h.event("payment.confirmed", &samples::payment_confirmed()),
            1,
        )
        .await
        .unwrap();
        h.deliver_event(
            &handler,
            &h.event("payment.failed", &samples::payment_failed()),
            1,
        )
        .await
        .unwrap();
        assert!(recorder.templates().is_empty());
        let customer = customer_of_order(&h).await;
        assert!(stored(&h, &customer).await.is_empty());
        h
    })
    .await;
}
