//! fulfillment-picklist-status-changed against SQLite and PostgreSQL: cancellations, and the
//! reports that are retried or dropped.

mod common;

use common::{F, at, floor, report, seeded, statuses, step, steps};
use conveyor_domain::events::fulfillment::{
    FulfillmentStatusChangedEvent, PicklistStatusChangedEvent,
};
use conveyor_domain::fulfillment::PicklistStatus;
use conveyor_domain::{FulfillmentId, OrderId, PicklistId};
use conveyor_runtime::HandlerError;
use conveyor_testkit::{on_both_backends, seed};
use fulfillment_picklist_status_changed::FulfillmentPicklistStatusChanged;

#[tokio::test]
async fn a_cancelled_picklist_cancels_the_fulfillment_before_shipping_only() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        floor(&h, PicklistStatus::InProgress).await;
        let out = floor(&h, PicklistStatus::Cancelled).await;
        assert_eq!(steps(&out), [step(F, Some("picking"), "cancelled")]);
        let cancelled: FulfillmentStatusChangedEvent = out[0].payload().unwrap();
        assert_eq!(
            cancelled.reason.as_deref(),
            Some("picklist pick-7001 cancelled on the warehouse floor")
        );
        assert_eq!(statuses(&h, &new).await, at("cancelled", "cancelled", None));

        // A withdrawn picklist cannot be picked again.
        let err = h
            .deliver(
                &FulfillmentPicklistStatusChanged,
                &report(PicklistStatus::Picked),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert_eq!(h.published().len(), 2);
        h
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_picklist_after_shipping_is_dropped_without_effect() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        floor(&h, PicklistStatus::Picked).await;
        floor(&h, PicklistStatus::Shipped).await;
        let published = h.published().len();
        let err = h
            .deliver(
                &FulfillmentPicklistStatusChanged,
                &report(PicklistStatus::Cancelled),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "Drop: picklist cannot move from shipped to cancelled"
        );
        assert_eq!(
            statuses(&h, &new).await,
            at("shipped", "shipped", Some("shipped"))
        );
        assert_eq!(h.published().len(), published);
        h
    })
    .await;
}

#[tokio::test]
async fn an_unknown_picklist_is_retried() {
    on_both_backends(|h| async move {
        let err = h
            .deliver(
                &FulfillmentPicklistStatusChanged,
                &report(PicklistStatus::InProgress),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: picklist pick-7001 not found");

        // Once the fulfillment exists, the retried event goes through.
        let new = seeded(&h).await;
        assert_eq!(floor(&h, PicklistStatus::InProgress).await.len(), 1);
        assert_eq!(statuses(&h, &new).await, at("picking", "in_progress", None));
        h
    })
    .await;
}

#[tokio::test]
async fn reports_naming_another_fulfillment_or_order_are_dropped() {
    on_both_backends(|h| async move {
        let new = seeded(&h).await;
        // A second, real fulfillment: the report names it, but the picklist is not its.
        let other = seed::fulfillment::opened("ful-other", "pick-other", "ord-other", h.now());
        seed::fulfillment::insert(h.store(), &other).await;
        for wrong in [
            PicklistStatusChangedEvent {
                fulfillment_id: FulfillmentId::parse("ful-other").unwrap(),
                ..report(PicklistStatus::InProgress)
            },
            PicklistStatusChangedEvent {
                fulfillment_id: FulfillmentId::parse("ful-missing").unwrap(),
                ..report(PicklistStatus::InProgress)
            },
            PicklistStatusChangedEvent {
                order_id: OrderId::parse("ord-other").unwrap(),
                ..report(PicklistStatus::InProgress)
            },
        ] {
            let err = h
                .deliver(&FulfillmentPicklistStatusChanged, &wrong)
                .await
                .unwrap_err();
            assert!(matches!(err, HandlerError::Drop(_)), "{err}");
            assert!(
                err.to_string().contains("picklist pick-7001 belongs to"),
                "{err}"
            );
        }
        assert_eq!(statuses(&h, &new).await, at("created", "pending", None));
        let untouched =
            seed::fulfillment::picklist(h.store(), &PicklistId::parse("pick-other").unwrap())
                .await
                .unwrap();
        assert_eq!(untouched.status, PicklistStatus::Pending);
        assert!(h.published().is_empty());
        h
    })
    .await;
}
