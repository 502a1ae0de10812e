//! Contract tests of refund requests, customer notifications and savepoints on both backends.

use conveyor_domain::notification::{
    Channel, Draft, Notification, NotificationRepository, Template,
};
use conveyor_domain::order::{OrderRepository, RefundRepository, RefundRequest};
use conveyor_domain::{Currency, CustomerId, Money, OrderId, PaymentId, Timestamp};
use conveyor_store::testing::on_both_backends;

fn refund(payment: &str, order: &str, at: i64) -> RefundRequest {
    RefundRequest {
        payment_id: PaymentId::parse(payment).unwrap(),
        order_id: OrderId::parse(order).unwrap(),
        amount: Money::from_minor(4999).unwrap(),
        currency: Currency::parse("USD").unwrap(),
        reason: "order cancelled".to_owned(),
        requested_at: Timestamp::from_millis(at),
    }
}

fn notification(customer: &str, key: &str, event_id: &str, at: i64) -> Notification {
    Notification::from_draft(
        Draft {
            event_key: key.to_owned(),
            order_id: OrderId::parse("ord-1").unwrap(),
            template: Template::PaymentReceived,
            text: "We received your payment.".to_owned(),
        },
        CustomerId::parse(customer).unwrap(),
        event_id,
        Timestamp::from_millis(at),
    )
}

#[tokio::test]
async fn one_refund_request_per_payment() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let first = refund("pay-1", "ord-1", 1_000);
        assert!(tx.insert_refund_request(&first).await.unwrap());
        let again = RefundRequest {
            reason: "another reason".to_owned(),
            ..refund("pay-1", "ord-1", 2_000)
        };
        assert!(
            !tx.insert_refund_request(&again).await.unwrap(),
            "a payment is refunded once"
        );
        assert!(
            tx.insert_refund_request(&refund("pay-2", "ord-1", 3_000))
                .await
                .unwrap()
        );
        assert!(
            tx.insert_refund_request(&refund("pay-3", "ord-2", 500))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let of_order = tx
            .refund_requests_of_order(&OrderId::parse("ord-1").unwrap())
            .await
            .unwrap();
        assert_eq!(of_order, vec![first, refund("pay-2", "ord-1", 3_000)]);
    })
    .await;
}

#[tokio::test]
async fn one_notification_per_customer_and_event_key() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let first = notification("cus-1", "payment:pay-1:confirmed", "evt-1", 1_000);
        assert_eq!(first.channel, Channel::Email);
        assert_eq!(first.recipient, "cus-1");
        assert!(tx.insert_notification(&first).await.unwrap());
        let redelivered = notification("cus-1", "payment:pay-1:confirmed", "evt-2", 2_000);
        assert!(
            !tx.insert_notification(&redelivered).await.unwrap(),
            "same customer and event: one notification"
        );
        let other_event = notification("cus-1", "payment:pay-2:confirmed", "evt-3", 3_000);
        assert!(tx.insert_notification(&other_event).await.unwrap());
        let other_customer = notification("cus-2", "payment:pay-1:confirmed", "evt-1", 4_000);
        assert!(tx.insert_notification(&other_customer).await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let mine = tx
            .notifications_of_customer(&CustomerId::parse("cus-1").unwrap())
            .await
            .unwrap();
        assert_eq!(mine, vec![first, other_event]);
    })
    .await;
}

#[tokio::test]
async fn a_savepoint_undoes_a_failed_statement_and_the_transaction_goes_on() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.insert_refund_request(&refund("pay-1", "ord-1", 1_000))
                .await
                .unwrap()
        );
        tx.savepoint("attempt").await.unwrap();
        assert!(
            tx.insert_refund_request(&refund("pay-2", "ord-1", 2_000))
                .await
                .unwrap()
        );
        let failed = conveyor_store::sqlx::query("INSERT INTO no_such_table VALUES (1)")
            .execute(tx.conn())
            .await;
        assert!(failed.is_err());
        tx.rollback_to_savepoint("attempt").await.unwrap();
        assert!(
            tx.get_order_for_update(&OrderId::parse("ord-1").unwrap())
                .await
                .unwrap()
                .is_none(),
            "the transaction is usable again"
        );
        tx.savepoint("kept").await.unwrap();
        assert!(
            tx.insert_refund_request(&refund("pay-3", "ord-1", 3_000))
                .await
                .unwrap()
        );
        tx.release_savepoint("kept").await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let kept: Vec<String> = tx
            .refund_requests_of_order(&OrderId::parse("ord-1").unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.payment_id.as_str().to_owned())
            .collect();
        assert_eq!(kept, ["pay-1", "pay-3"]);
    })
    .await;
}
