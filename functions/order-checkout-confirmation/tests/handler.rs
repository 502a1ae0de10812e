//! order-checkout-confirmation against SQLite and PostgreSQL: one notification per order, a
//! reply per command.

use conveyor_domain::CustomerId;
use conveyor_domain::events::checkout::{CONFIRMATION_REQUESTED, CONFIRMATION_SENT, CheckoutReply};
use conveyor_domain::events::samples;
use conveyor_domain::notification::{NotificationRepository, Template};
use conveyor_testkit::on_both_backends;
use order_checkout_confirmation::OrderCheckoutConfirmation;

#[tokio::test]
async fn the_confirmation_is_sent_once_and_every_command_is_replied_with_its_id() {
    on_both_backends(|h| async move {
        let handler =
            OrderCheckoutConfirmation::<order_checkout_confirmation::LoggingSender>::default();
        let command = samples::checkout_command(None);
        for _ in 0..2 {
            h.deliver_event(&handler, &h.event(CONFIRMATION_REQUESTED, &command), 1)
                .await
                .unwrap();
        }
        let mut tx = h.store().begin().await.unwrap();
        let sent = tx
            .notifications_of_customer(&CustomerId::parse(samples::CUSTOMER_ID).unwrap())
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].template, Template::OrderConfirmed);
        assert!(sent[0].text.contains(samples::CHECKOUT_ORDER_ID));
        let replies: Vec<CheckoutReply> = h.published_payloads(CONFIRMATION_SENT);
        assert_eq!(replies.len(), 2);
        assert!(
            replies
                .iter()
                .all(|r| r.result.as_deref() == Some(sent[0].id.as_str()))
        );
        h
    })
    .await;
}
