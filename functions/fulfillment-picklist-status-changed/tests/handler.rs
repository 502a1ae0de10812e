//! fulfillment-picklist-status-changed against SQLite and PostgreSQL, through the inbox/outbox
//! pipeline: the floor's happy paths.

mod common;

use common::{F, K, at, floor, report, seeded, statuses, step, steps};
use conveyor_domain::events::fulfillment::{
    FulfillmentStatusChangedEvent, PackageStatusChangedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{FulfillmentStatus, PackageStatus, PicklistStatus};
use conveyor_testkit::{on_both_backends, seed};
use fulfillment_picklist_status_changed::FulfillmentPicklistStatusChanged;

#[tokio::test]
async fn the_full_floor_sequence_advances_fulfillment_and_package() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        assert!(floor(&h, PicklistStatus::Pending).await.is_empty());

        let out = floor(&h, PicklistStatus::InProgress).await;
        assert_eq!(steps(&out), [step(F, Some("created"), "picking")]);
        assert_eq!(statuses(&h, &new).await, at("picking", "in_progress", None));

        let out = floor(&h, PicklistStatus::Picked).await;
        assert_eq!(steps(&out), [step(F, Some("picking"), "picked")]);
        assert_eq!(statuses(&h, &new).await, at("picked", "picked", None));

        let out = floor(&h, PicklistStatus::Packed).await;
        assert_eq!(
            steps(&out),
            [step(F, Some("picked"), "packed"), step(K, None, "created")]
        );
        assert_eq!(
            statuses(&h, &new).await,
            at("packed", "packed", Some("created"))
        );
        let package = seed::fulfillment::package_of(h.store(), &new.fulfillment.id)
            .await
            .unwrap();
        let created: PackageStatusChangedEvent = out[1].payload().unwrap();
        assert_eq!(
            created,
            PackageStatusChangedEvent {
                package_id: package.id.clone(),
                fulfillment_id: new.fulfillment.id.clone(),
                order_id: new.fulfillment.order_id.clone(),
                old_status: None,
                new_status: PackageStatus::Created,
                tracking_number: None,
                timestamp: h.now(),
            }
        );

        let out = floor(&h, PicklistStatus::Shipped).await;
        assert_eq!(
            steps(&out),
            [
                step(K, Some("created"), "shipped"),
                step(F, Some("packed"), "shipped")
            ]
        );
        assert_eq!(
            statuses(&h, &new).await,
            at("shipped", "shipped", Some("shipped"))
        );
        let shipped: PackageStatusChangedEvent = out[0].payload().unwrap();
        assert_eq!(shipped.package_id, package.id);
        assert_eq!(
            shipped.tracking_number.as_deref(),
            Some(samples::TRACKING_NUMBER)
        );
        let done: FulfillmentStatusChangedEvent = out[1].payload().unwrap();
        assert_eq!(
            (
                done.fulfillment_id,
                done.order_id,
                done.reason,
                done.timestamp
            ),
            (
                new.fulfillment.id.clone(),
                new.fulfillment.order_id.clone(),
                None,
                h.now()
            )
        );
        let package = seed::fulfillment::package_of(h.store(), &new.fulfillment.id)
            .await
            .unwrap();
        assert_eq!(
            package.tracking_number.as_deref(),
            Some(samples::TRACKING_NUMBER)
        );
        assert_eq!(h.published().len(), 6);
        assert_eq!(seed::fulfillment::counts(h.store()).await, (1, 1, 2, 1));
        h
    })
    .await;
}

#[tokio::test]
async fn the_same_event_twice_changes_state_once_and_publishes_once() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        floor(&h, PicklistStatus::Picked).await;
        let event = h.event("picklist.status_changed", &report(PicklistStatus::Packed));
        let first = h
            .deliver_event(&FulfillmentPicklistStatusChanged, &event, 1)
            .await
            .unwrap();
        assert_eq!((first.duplicate, first.produced.len()), (false, 2));
        let second = h
            .deliver_event(&FulfillmentPicklistStatusChanged, &event, 1)
            .await
            .unwrap();
        assert!(second.duplicate && second.produced.is_empty());
        // The floor app re-sends the same status as a new event: a no-op.
        assert!(floor(&h, PicklistStatus::Packed).await.is_empty());
        assert_eq!(
            statuses(&h, &new).await,
            at("packed", "packed", Some("created"))
        );
        assert_eq!(seed::fulfillment::counts(h.store()).await, (1, 1, 2, 1));
        assert_eq!(h.published_topics(), [F, F, K]);
        h
    })
    .await;
}

#[tokio::test]
async fn shipping_without_packing_creates_the_package_first() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        let out = floor(&h, PicklistStatus::Picked).await;
        assert_eq!(steps(&out), [step(F, Some("created"), "picked")]);
        let out = floor(&h, PicklistStatus::Shipped).await;
        assert_eq!(
            steps(&out),
            [
                step(F, Some("picked"), "packed"),
                step(K, None, "created"),
                step(K, Some("created"), "shipped"),
                step(F, Some("packed"), "shipped"),
            ]
        );
        assert_eq!(
            statuses(&h, &new).await,
            at("shipped", "shipped", Some("shipped"))
        );
        let package = seed::fulfillment::package_of(h.store(), &new.fulfillment.id)
            .await
            .unwrap();
        assert_eq!(
            package.tracking_number.as_deref(),
            Some(samples::TRACKING_NUMBER)
        );
        h
    })
    .await;
}

#[tokio::test]
async fn the_sample_report_ships_a_packed_fulfillment() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        floor(&h, PicklistStatus::Picked).await;
        floor(&h, PicklistStatus::Packed).await;
        h.deliver(
            &FulfillmentPicklistStatusChanged,
            &samples::picklist_status_changed(),
        )
        .await
        .unwrap();
        assert_eq!(
            statuses(&h, &new).await,
            at("shipped", "shipped", Some("shipped"))
        );
        assert_eq!(h.published_topics(), [F, F, K, K, F]);
        let f = seed::fulfillment::of_order(h.store(), &new.fulfillment.order_id)
            .await
            .unwrap();
        assert_eq!(f.status, FulfillmentStatus::Shipped);
        h
    })
    .await;
}
