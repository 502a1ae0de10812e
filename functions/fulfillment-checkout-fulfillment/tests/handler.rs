//! fulfillment-checkout-fulfillment against SQLite and PostgreSQL, through the inbox/outbox
//! pipeline: create, the same command again, cancel, cancel again.

use conveyor_domain::OrderId;
use conveyor_domain::events::checkout::{
    CheckoutCommand, CheckoutReply, FULFILLMENT_CANCEL_REQUESTED, FULFILLMENT_CANCELLED,
    FULFILLMENT_CREATE_REQUESTED, FULFILLMENT_CREATED,
};
use conveyor_domain::events::fulfillment::FULFILLMENT_STATUS_CHANGED;
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_testkit::seed::fulfillment as ful;
use conveyor_testkit::{Harness, on_both_backends};
use fulfillment_checkout_fulfillment::FulfillmentCheckoutFulfillment as Handler;

async fn send(h: &Harness, topic: &str, command: &CheckoutCommand) {
    h.deliver_event(&Handler, &h.event(topic, command), 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn create_opens_once_and_cancel_cancels_once_each_replying_every_time() {
    on_both_backends(|h| async move {
        let order = OrderId::parse(samples::CHECKOUT_ORDER_ID).unwrap();
        let create = samples::checkout_command(None);
        send(&h, FULFILLMENT_CREATE_REQUESTED, &create).await;
        send(&h, FULFILLMENT_CREATE_REQUESTED, &create).await;
        let opened = ful::of_order(h.store(), &order).await.unwrap();
        assert_eq!(opened.status, FulfillmentStatus::Created);
        let created: Vec<CheckoutReply> = h.published_payloads(FULFILLMENT_CREATED);
        assert_eq!(created.len(), 2, "each send is replied");
        assert!(
            created
                .iter()
                .all(|r| r.result.as_deref() == Some(opened.id.as_str()))
        );
        let picklist = ful::picklist_of(h.store(), &opened.id).await.unwrap();
        assert_eq!(picklist.lines.len(), create.items.len());

        let cancel = samples::checkout_command(Some(opened.id.as_str()));
        send(&h, FULFILLMENT_CANCEL_REQUESTED, &cancel).await;
        send(&h, FULFILLMENT_CANCEL_REQUESTED, &cancel).await;
        assert_eq!(
            ful::of_order(h.store(), &order).await.unwrap().status,
            FulfillmentStatus::Cancelled
        );
        assert_eq!(
            h.published_payloads::<CheckoutReply>(FULFILLMENT_CANCELLED)
                .len(),
            2
        );
        assert_eq!(
            h.published_topics()
                .iter()
                .filter(|t| *t == FULFILLMENT_STATUS_CHANGED)
                .count(),
            2,
            "one creation, one cancellation"
        );
        h
    })
    .await;
}

#[tokio::test]
async fn cancelling_an_order_without_fulfillment_only_replies() {
    on_both_backends(|h| async move {
        send(
            &h,
            FULFILLMENT_CANCEL_REQUESTED,
            &samples::checkout_command(Some("ful-none")),
        )
        .await;
        assert_eq!(h.published_topics(), vec![FULFILLMENT_CANCELLED]);
        h
    })
    .await;
}
