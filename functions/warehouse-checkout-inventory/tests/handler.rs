//! warehouse-checkout-inventory against SQLite and PostgreSQL, through the inbox/outbox
//! pipeline: reserve, the same command again, a shortage, release.

use conveyor_domain::events::checkout::{
    CheckoutCommand, CheckoutReply, INVENTORY_RELEASE_REQUESTED, INVENTORY_RELEASED,
    INVENTORY_RESERVE_REJECTED, INVENTORY_RESERVE_REQUESTED, INVENTORY_RESERVED,
};
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::{INVENTORY_UPDATED, RESERVATION_RELEASED};
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_checkout_inventory::WarehouseCheckoutInventory as Handler;

const ORDER: &str = samples::CHECKOUT_ORDER_ID;

async fn send(h: &Harness, topic: &str, command: &CheckoutCommand) {
    h.deliver_event(&Handler, &h.event(topic, command), 1)
        .await
        .unwrap();
}

fn replies(h: &Harness, topic: &str) -> Vec<CheckoutReply> {
    h.published_payloads(topic)
}

#[tokio::test]
async fn reserve_holds_the_lines_confirmed_and_a_repeat_only_replies_again() {
    on_both_backends(|h| async move {
        wh::product(h.store(), "sku-mug", 3, 1, h.now()).await;
        let command = samples::checkout_command(None);
        send(&h, INVENTORY_RESERVE_REQUESTED, &command).await;
        let held = wh::reservations(h.store(), ORDER).await;
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].status, ReservationStatus::Confirmed);
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 1);
        let reserved = replies(&h, INVENTORY_RESERVED);
        assert_eq!(reserved.len(), 1);
        assert_eq!(reserved[0].result.as_deref(), Some(ORDER));
        assert_eq!(reserved[0].command_id, command.command_id);
        let stock_events = h.published_topics().len();

        // The saga's retry: the same command, a new event.
        send(&h, INVENTORY_RESERVE_REQUESTED, &command).await;
        assert_eq!(replies(&h, INVENTORY_RESERVED).len(), 2);
        assert_eq!(
            h.published_topics().len(),
            stock_events + 1,
            "only the reply"
        );
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 1);

        send(
            &h,
            INVENTORY_RELEASE_REQUESTED,
            &samples::checkout_command(Some(ORDER)),
        )
        .await;
        assert_eq!(replies(&h, INVENTORY_RELEASED).len(), 1);
        assert_eq!(
            h.published_payloads::<serde_json::Value>(RESERVATION_RELEASED)
                .len(),
            1
        );
        assert!(h.published_topics().iter().any(|t| t == INVENTORY_UPDATED));
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 0);
        assert_eq!(
            wh::reservations(h.store(), ORDER).await[0].status,
            ReservationStatus::Released
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_shortage_holds_nothing_and_is_rejected_and_release_of_nothing_replies() {
    on_both_backends(|h| async move {
        wh::product(h.store(), "sku-mug", 0, 1, h.now()).await;
        send(
            &h,
            INVENTORY_RESERVE_REQUESTED,
            &samples::checkout_command(None),
        )
        .await;
        let rejected = replies(&h, INVENTORY_RESERVE_REJECTED);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].reason.as_deref().unwrap().contains("sku-mug"));
        assert!(replies(&h, INVENTORY_RESERVED).is_empty());
        assert_eq!(h.published_topics(), vec![INVENTORY_RESERVE_REJECTED]);
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 0);

        send(
            &h,
            INVENTORY_RELEASE_REQUESTED,
            &samples::checkout_command(Some(ORDER)),
        )
        .await;
        assert_eq!(replies(&h, INVENTORY_RELEASED).len(), 1);
        h
    })
    .await;
}
