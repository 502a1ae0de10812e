//! Unit tests of the floor rules.

use super::*;
use crate::events::samples;
use crate::fulfillment::PackageStatus;
use crate::{FulfillmentId, OrderId};

fn shipment() -> Shipment {
    let new = Fulfillment::open(
        FulfillmentId::parse("ful-5001").unwrap(),
        PicklistId::parse("pick-7001").unwrap(),
        &samples::order_status_changed(),
        Timestamp::from_millis(0),
    );
    Shipment {
        fulfillment: new.fulfillment,
        picklist: new.picklist,
        package: None,
    }
}

fn report(status: PicklistStatus) -> PicklistStatusChangedEvent {
    PicklistStatusChangedEvent {
        old_status: None,
        new_status: status,
        tracking_number: (status == PicklistStatus::Shipped)
            .then(|| samples::TRACKING_NUMBER.to_owned()),
        ..samples::picklist_status_changed()
    }
}

fn apply(s: &mut Shipment, status: PicklistStatus, ms: i64) -> FloorOutcome {
    s.apply(
        &report(status),
        PackageId::parse("pkg-1").unwrap(),
        Timestamp::from_millis(ms),
    )
    .unwrap()
}

/// Each event as `(topic kind, old, new)` text, for compact assertions.
fn steps(outcome: &FloorOutcome) -> Vec<String> {
    outcome
        .events
        .iter()
        .map(|e| match e {
            FulfillmentEvent::Fulfillment(f) => format!(
                "fulfillment {}->{}",
                f.old_status.map_or("none", FulfillmentStatus::as_str),
                f.new_status
            ),
            FulfillmentEvent::Package(p) => format!(
                "package {}->{}",
                p.old_status.map_or("none", PackageStatus::as_str),
                p.new_status
            ),
        })
        .collect()
}

#[test]
fn picklist_statuses_map_to_fulfillment_statuses() {
    let mapped: Vec<_> = PicklistStatus::ALL
        .iter()
        .map(|&p| fulfillment_status_for(p).map(FulfillmentStatus::as_str))
        .collect();
    assert_eq!(
        mapped,
        vec![
            None,
            Some("picking"),
            Some("picked"),
            Some("packed"),
            Some("shipped"),
            Some("cancelled")
        ]
    );
}

#[test]
fn the_full_floor_sequence_advances_fulfillment_and_package() {
    let mut s = shipment();
    let o = apply(&mut s, PicklistStatus::InProgress, 1);
    assert_eq!(steps(&o), ["fulfillment created->picking"]);
    assert!(o.picklist_changed && o.fulfillment_changed && !o.package_created);
    let o = apply(&mut s, PicklistStatus::Picked, 2);
    assert_eq!(steps(&o), ["fulfillment picking->picked"]);

    let o = apply(&mut s, PicklistStatus::Packed, 3);
    assert_eq!(
        steps(&o),
        ["fulfillment picked->packed", "package none->created"]
    );
    assert!(o.package_created && !o.package_changed);
    let package = s.package.clone().unwrap();
    assert_eq!(package.id.as_str(), "pkg-1");
    assert_eq!(package.fulfillment_id, s.fulfillment.id);
    assert_eq!(package.tracking_number, None);

    let o = apply(&mut s, PicklistStatus::Shipped, 4);
    assert_eq!(
        steps(&o),
        ["package created->shipped", "fulfillment packed->shipped"]
    );
    assert!(!o.package_created && o.package_changed && o.fulfillment_changed);
    let FulfillmentEvent::Package(shipped) = &o.events[0] else {
        panic!("package event first");
    };
    assert_eq!(
        shipped.tracking_number.as_deref(),
        Some(samples::TRACKING_NUMBER)
    );
    assert_eq!(shipped.timestamp, Timestamp::from_millis(4));
    assert_eq!(s.fulfillment.status, FulfillmentStatus::Shipped);
    assert_eq!(s.picklist.status, PicklistStatus::Shipped);
    assert_eq!(s.package.unwrap().status, PackageStatus::Shipped);
}

#[test]
fn shipping_without_packing_creates_the_package_on_the_way() {
    let mut s = shipment();
    let o = apply(&mut s, PicklistStatus::Picked, 1);
    assert_eq!(steps(&o), ["fulfillment created->picked"]);
    let o = apply(&mut s, PicklistStatus::Shipped, 2);
    assert_eq!(
        steps(&o),
        [
            "fulfillment picked->packed",
            "package none->created",
            "package created->shipped",
            "fulfillment packed->shipped"
        ]
    );
    assert!(o.package_created && !o.package_changed);
    let FulfillmentEvent::Package(created) = &o.events[1] else {
        panic!("package creation second");
    };
    assert_eq!(created.tracking_number, None, "known only once shipped");
    let package = s.package.unwrap();
    assert_eq!(package.status, PackageStatus::Shipped);
    assert_eq!(
        package.tracking_number.as_deref(),
        Some(samples::TRACKING_NUMBER)
    );
}

#[test]
fn a_repeated_report_changes_nothing() {
    let mut s = shipment();
    apply(&mut s, PicklistStatus::InProgress, 1);
    let before = s.clone();
    let o = apply(&mut s, PicklistStatus::InProgress, 2);
    assert_eq!(o, FloorOutcome::default());
    assert_eq!(s, before);
}

#[test]
fn a_backward_report_is_an_invalid_transition() {
    let mut s = shipment();
    apply(&mut s, PicklistStatus::Picked, 1);
    let err = s
        .apply(
            &report(PicklistStatus::InProgress),
            PackageId::parse("pkg-1").unwrap(),
            Timestamp::from_millis(2),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "picklist cannot move from picked to in_progress"
    );
}

#[test]
fn reports_for_another_fulfillment_or_order_are_rejected() {
    let mut s = shipment();
    let wrong_fulfillment = PicklistStatusChangedEvent {
        fulfillment_id: FulfillmentId::parse("ful-other").unwrap(),
        ..report(PicklistStatus::InProgress)
    };
    let err = s
        .apply(
            &wrong_fulfillment,
            PackageId::parse("pkg-1").unwrap(),
            Timestamp::from_millis(1),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "picklist pick-7001 belongs to fulfillment ful-5001, the floor reported ful-other"
    );
    let wrong_order = PicklistStatusChangedEvent {
        order_id: OrderId::parse("ord-other").unwrap(),
        ..report(PicklistStatus::InProgress)
    };
    let err = s
        .apply(
            &wrong_order,
            PackageId::parse("pkg-1").unwrap(),
            Timestamp::from_millis(1),
        )
        .unwrap_err();
    assert!(
        matches!(err, FloorReportError::Mismatch { field: "order", .. }),
        "{err}"
    );
    assert_eq!(s, shipment(), "nothing moved");
}

#[test]
fn a_cancelled_picklist_cancels_the_fulfillment_until_it_ships() {
    let mut s = shipment();
    apply(&mut s, PicklistStatus::InProgress, 1);
    let o = apply(&mut s, PicklistStatus::Cancelled, 2);
    assert_eq!(steps(&o), ["fulfillment picking->cancelled"]);
    let FulfillmentEvent::Fulfillment(cancelled) = &o.events[0] else {
        panic!("fulfillment event");
    };
    assert_eq!(
        cancelled.reason.as_deref(),
        Some("picklist pick-7001 cancelled on the warehouse floor")
    );

    let mut shipped = shipment();
    apply(&mut shipped, PicklistStatus::Picked, 1);
    apply(&mut shipped, PicklistStatus::Shipped, 2);
    let err = shipped
        .apply(
            &report(PicklistStatus::Cancelled),
            PackageId::parse("pkg-2").unwrap(),
            Timestamp::from_millis(3),
        )
        .unwrap_err();
    assert!(
        matches!(err, FloorReportError::InvalidTransition(_)),
        "{err}"
    );
    assert_eq!(shipped.fulfillment.status, FulfillmentStatus::Shipped);
}

#[test]
fn an_order_cancellation_cancels_fulfillment_and_picklist_before_shipping_only() {
    let mut s = shipment();
    apply(&mut s, PicklistStatus::Picked, 1);
    apply(&mut s, PicklistStatus::Packed, 2);
    let Cancellation::Cancelled(change) = s
        .cancel("customer asked", Timestamp::from_millis(3))
        .unwrap()
    else {
        panic!("expected a cancellation");
    };
    assert_eq!(
        (change.from, change.to),
        (
            Some(FulfillmentStatus::Packed),
            FulfillmentStatus::Cancelled
        )
    );
    assert_eq!(s.picklist.status, PicklistStatus::Cancelled);
    assert_eq!(s.picklist.updated_at, Timestamp::from_millis(3));
    assert_eq!(s.package.as_ref().unwrap().status, PackageStatus::Created);
    assert_eq!(
        s.cancel("again", Timestamp::from_millis(4)),
        Ok(Cancellation::AlreadyCancelled)
    );
    // The floor cannot resume a withdrawn picklist.
    let err = s
        .apply(
            &report(PicklistStatus::Shipped),
            PackageId::parse("pkg-2").unwrap(),
            Timestamp::from_millis(5),
        )
        .unwrap_err();
    assert!(
        matches!(err, FloorReportError::InvalidTransition(_)),
        "{err}"
    );

    let mut shipped = shipment();
    apply(&mut shipped, PicklistStatus::Picked, 1);
    apply(&mut shipped, PicklistStatus::Shipped, 2);
    let before = shipped.clone();
    assert_eq!(
        shipped.cancel("too late", Timestamp::from_millis(3)),
        Ok(Cancellation::TooLate(FulfillmentStatus::Shipped))
    );
    assert_eq!(shipped, before);
}
