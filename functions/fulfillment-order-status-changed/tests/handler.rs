//! fulfillment-order-status-changed against SQLite and PostgreSQL, through the inbox/outbox
//! pipeline.

use conveyor_domain::OrderId;
use conveyor_domain::events::fulfillment::{
    FULFILLMENT_CREATION_FAILED, FULFILLMENT_STATUS_CHANGED, FulfillmentCreationFailedEvent,
    FulfillmentStatusChangedEvent,
};
use conveyor_domain::events::order::OrderStatusChangedEvent;
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{FulfillmentStatus, PicklistStatus};
use conveyor_domain::order::OrderStatus;
use conveyor_runtime::{HandlerError, TopicHandler};
use conveyor_testkit::{on_both_backends, seed};
use fulfillment_order_status_changed::FulfillmentOrderStatusChanged;

fn order_event(status: OrderStatus, reason: &str) -> OrderStatusChangedEvent {
    OrderStatusChangedEvent {
        new_status: status,
        reason: reason.to_owned(),
        ..samples::order_status_changed()
    }
}

fn order_id() -> OrderId {
    OrderId::parse(samples::ORDER_ID).unwrap()
}

#[tokio::test]
async fn a_paid_order_opens_one_fulfillment_with_its_picklist() {
    on_both_backends(|h| async move {
        let event = h.event(
            "orders.order.status_changed",
            &samples::order_status_changed(),
        );
        let handled = h
            .deliver_event(&FulfillmentOrderStatusChanged, &event, 1)
            .await
            .unwrap();
        assert_eq!((handled.produced.len(), handled.published), (1, 1));

        let f = seed::fulfillment::of_order(h.store(), &order_id())
            .await
            .expect("fulfillment created");
        assert_eq!(f.status, FulfillmentStatus::Created);
        assert_eq!((f.created_at, f.cancel_reason.as_deref()), (h.now(), None));
        let picklist = seed::fulfillment::picklist_of(h.store(), &f.id)
            .await
            .expect("picklist issued");
        assert_eq!(picklist.status, PicklistStatus::Pending);
        assert_eq!(picklist.order_id, f.order_id);
        let lines: Vec<_> = picklist
            .lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.quantity.get()))
            .collect();
        assert_eq!(lines, [("sku-mug", 2), ("sku-tee", 1)]);
        assert_eq!(seed::fulfillment::counts(h.store()).await, (1, 1, 2, 0));

        let out = h.published();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ty, FULFILLMENT_STATUS_CHANGED);
        assert_eq!(out[0].source, "fulfillment-worker");
        assert_eq!(out[0].correlationid, event.correlationid);
        let created: FulfillmentStatusChangedEvent = out[0].payload().unwrap();
        assert_eq!(
            created,
            FulfillmentStatusChangedEvent {
                fulfillment_id: f.id,
                order_id: order_id(),
                old_status: None,
                new_status: FulfillmentStatus::Created,
                reason: None,
                timestamp: h.now(),
            }
        );
        h
    })
    .await;
}

#[tokio::test]
async fn the_same_event_twice_and_a_later_confirmation_open_it_once() {
    on_both_backends(|h| async move {
        let event = h.event(
            "orders.order.status_changed",
            &samples::order_status_changed(),
        );
        let first = h
            .deliver_event(&FulfillmentOrderStatusChanged, &event, 1)
            .await
            .unwrap();
        assert!(!first.duplicate);
        let again = h
            .deliver_event(&FulfillmentOrderStatusChanged, &event, 1)
            .await
            .unwrap();
        assert!(again.duplicate);
        assert!(again.produced.is_empty());

        // payment_confirmed, then the operator confirms: still one fulfillment.
        let confirmed = h
            .deliver(
                &FulfillmentOrderStatusChanged,
                &order_event(OrderStatus::Confirmed, "confirmed by operator"),
            )
            .await
            .unwrap();
        assert!(!confirmed.duplicate);
        assert!(confirmed.produced.is_empty());
        assert_eq!(seed::fulfillment::counts(h.store()).await, (1, 1, 2, 0));
        assert_eq!(h.published_topics(), [FULFILLMENT_STATUS_CHANGED]);
        h
    })
    .await;
}

#[tokio::test]
async fn a_cod_confirmation_opens_it_too() {
    on_both_backends(|h| async move {
        h.deliver(
            &FulfillmentOrderStatusChanged,
            &order_event(OrderStatus::Confirmed, "cash on delivery"),
        )
        .await
        .unwrap();
        let f = seed::fulfillment::of_order(h.store(), &order_id()).await;
        assert_eq!(f.map(|f| f.status), Some(FulfillmentStatus::Created));
        assert_eq!(h.published_topics(), [FULFILLMENT_STATUS_CHANGED]);
        h
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_order_cancels_the_fulfillment_and_picklist_once() {
    on_both_backends(|h| async move {
        let seeded = seed::fulfillment::sample(h.now());
        seed::fulfillment::insert(h.store(), &seeded).await;
        h.advance_minutes(5);
        let cancel = order_event(OrderStatus::Cancelled, "customer changed their mind");
        h.deliver(&FulfillmentOrderStatusChanged, &cancel)
            .await
            .unwrap();

        let f = seed::fulfillment::of_order(h.store(), &order_id())
            .await
            .unwrap();
        assert_eq!(f.status, FulfillmentStatus::Cancelled);
        assert_eq!(
            f.cancel_reason.as_deref(),
            Some("customer changed their mind")
        );
        assert_eq!(f.updated_at, h.now());
        let picklist = seed::fulfillment::picklist(h.store(), &seeded.picklist.id)
            .await
            .unwrap();
        assert_eq!(picklist.status, PicklistStatus::Cancelled);

        let changes: Vec<FulfillmentStatusChangedEvent> =
            h.published_payloads(FULFILLMENT_STATUS_CHANGED);
        assert_eq!(h.published().len(), 1);
        assert_eq!(
            changes[0],
            FulfillmentStatusChangedEvent {
                fulfillment_id: seeded.fulfillment.id.clone(),
                order_id: order_id(),
                old_status: Some(FulfillmentStatus::Created),
                new_status: FulfillmentStatus::Cancelled,
                reason: Some("customer changed their mind".to_owned()),
                timestamp: h.now(),
            }
        );

        // A second cancellation (another event) and a late confirmation change nothing.
        let again = h
            .deliver(&FulfillmentOrderStatusChanged, &cancel)
            .await
            .unwrap();
        assert!(!again.duplicate && again.produced.is_empty());
        let late = h
            .deliver(
                &FulfillmentOrderStatusChanged,
                &samples::order_status_changed(),
            )
            .await
            .unwrap();
        assert!(late.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        assert_eq!(seed::fulfillment::counts(h.store()).await, (1, 1, 2, 0));
        h
    })
    .await;
}

#[tokio::test]
async fn a_cancellation_after_shipping_or_without_fulfillment_changes_nothing() {
    on_both_backends(|h| async move {
        let cancel = order_event(OrderStatus::Cancelled, "too late");
        let none = h
            .deliver(&FulfillmentOrderStatusChanged, &cancel)
            .await
            .unwrap();
        assert!(none.produced.is_empty());
        assert_eq!(seed::fulfillment::counts(h.store()).await, (0, 0, 0, 0));

        let mut shipped = seed::fulfillment::sample(h.now());
        shipped.fulfillment.status = FulfillmentStatus::Shipped;
        shipped.picklist.status = PicklistStatus::Shipped;
        seed::fulfillment::insert(h.store(), &shipped).await;
        let kept = h
            .deliver(&FulfillmentOrderStatusChanged, &cancel)
            .await
            .unwrap();
        assert!(kept.produced.is_empty());
        let f = seed::fulfillment::of_order(h.store(), &order_id())
            .await
            .unwrap();
        assert_eq!(f, shipped.fulfillment);
        let picklist = seed::fulfillment::picklist(h.store(), &shipped.picklist.id)
            .await
            .unwrap();
        assert_eq!(picklist.status, PicklistStatus::Shipped);
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn other_statuses_are_ignored_and_invalid_payloads_dropped() {
    on_both_backends(|h| async move {
        for status in [
            OrderStatus::Pending,
            OrderStatus::PaymentFailed,
            OrderStatus::Processing,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Completed,
        ] {
            let handled = h
                .deliver(&FulfillmentOrderStatusChanged, &order_event(status, "x"))
                .await
                .unwrap();
            assert!(handled.produced.is_empty(), "{status}");
        }
        let empty = OrderStatusChangedEvent {
            items: vec![],
            ..samples::order_status_changed()
        };
        let err = h
            .deliver(&FulfillmentOrderStatusChanged, &empty)
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert_eq!(seed::fulfillment::counts(h.store()).await, (0, 0, 0, 0));
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn a_fulfillment_without_its_picklist_is_dropped_untouched() {
    on_both_backends(|h| async move {
        let seeded = seed::fulfillment::sample(h.now());
        seed::fulfillment::insert(h.store(), &seeded).await;
        // Corrupt data: the picklist the fulfillment was written with is gone.
        let mut tx = h.store().begin().await.unwrap();
        conveyor_store::sqlx::raw_sql("DELETE FROM picklist_items; DELETE FROM picklists")
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let cancel = order_event(OrderStatus::Cancelled, "customer changed their mind");
        let err = h
            .deliver(&FulfillmentOrderStatusChanged, &cancel)
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "Drop: fulfillment ful-5001 has no picklist"
        );
        let f = seed::fulfillment::of_order(h.store(), &order_id())
            .await
            .unwrap();
        assert_eq!(f, seeded.fulfillment);
        assert!(h.published().is_empty());
        h
    })
    .await;
}

/// Renames a table so every statement on it fails, as a broken database would.
async fn take_offline(h: &conveyor_testkit::Harness, table: &str) {
    let mut tx = h.store().begin().await.unwrap();
    conveyor_store::sqlx::raw_sql(&format!("ALTER TABLE {table} RENAME TO {table}_offline"))
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_fulfillment_that_cannot_be_created_is_retried_then_announced_as_failed_once() {
    on_both_backends(|h| async move {
        take_offline(&h, "picklist_items").await;
        let event = h.event(
            "orders.order.status_changed",
            &samples::order_status_changed(),
        );
        let max = FulfillmentOrderStatusChanged::SPEC.retry.max_deliveries;
        for attempt in 1..max {
            let err = h
                .deliver_event(&FulfillmentOrderStatusChanged, &event, attempt)
                .await
                .unwrap_err();
            assert!(matches!(err, HandlerError::Retry(_)), "{attempt}: {err}");
        }
        assert!(h.published().is_empty(), "nothing before the last delivery");

        let handled = h
            .deliver_event(&FulfillmentOrderStatusChanged, &event, max)
            .await
            .unwrap();
        assert_eq!(handled.produced.len(), 1);
        assert_eq!(h.published_topics(), [FULFILLMENT_CREATION_FAILED]);
        let failed: Vec<FulfillmentCreationFailedEvent> =
            h.published_payloads(FULFILLMENT_CREATION_FAILED);
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (
                failed[0].order_id.clone(),
                failed[0].customer_id.as_str(),
                failed[0].attempts,
                failed[0].timestamp
            ),
            (order_id(), samples::CUSTOMER_ID, max, h.now())
        );
        assert!(
            failed[0].reason.contains("picklist_items"),
            "{}",
            failed[0].reason
        );
        assert!(
            seed::fulfillment::of_order(h.store(), &order_id())
                .await
                .is_none(),
            "the half-written fulfillment was undone"
        );

        assert!(
            h.deliver_event(&FulfillmentOrderStatusChanged, &event, max + 1)
                .await
                .unwrap()
                .duplicate
        );
        assert_eq!(h.published().len(), 1);
        h
    })
    .await;
}
