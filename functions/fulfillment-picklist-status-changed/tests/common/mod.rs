//! What the handler test binaries share: the sample picklist's reports, and compact views of
//! rows and published events.

// Each test binary uses a subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use conveyor_domain::events::fulfillment::{
    FULFILLMENT_STATUS_CHANGED, FulfillmentStatusChangedEvent, PACKAGE_STATUS_CHANGED,
    PackageStatusChangedEvent, PicklistStatusChangedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{NewFulfillment, PicklistStatus};
use conveyor_runtime::CloudEvent;
use conveyor_testkit::{Harness, seed};
use fulfillment_picklist_status_changed::FulfillmentPicklistStatusChanged;

/// The floor reports the sample picklist (`pick-7001` of `ful-5001`) at `status`.
pub fn report(status: PicklistStatus) -> PicklistStatusChangedEvent {
    PicklistStatusChangedEvent {
        old_status: None,
        new_status: status,
        tracking_number: (status == PicklistStatus::Shipped)
            .then(|| samples::TRACKING_NUMBER.to_owned()),
        ..samples::picklist_status_changed()
    }
}

pub async fn seeded(h: &Harness) -> NewFulfillment {
    let new = seed::fulfillment::sample(h.now());
    seed::fulfillment::insert(h.store(), &new).await;
    new
}

/// Delivers a report as a new event, one minute after the previous one.
pub async fn floor(h: &Harness, status: PicklistStatus) -> Vec<CloudEvent> {
    h.advance_minutes(1);
    let before = h.published().len();
    let handled = h
        .deliver(&FulfillmentPicklistStatusChanged, &report(status))
        .await
        .unwrap_or_else(|e| panic!("{status}: {e}"));
    assert!(!handled.duplicate);
    h.published().split_off(before)
}

/// `(topic, old, new)` of each event, for compact assertions.
pub fn steps(events: &[CloudEvent]) -> Vec<(String, Option<String>, String)> {
    events
        .iter()
        .map(|e| {
            if e.ty == FULFILLMENT_STATUS_CHANGED {
                let f: FulfillmentStatusChangedEvent = e.payload().unwrap();
                let old = f.old_status.map(|s| s.to_string());
                (e.ty.clone(), old, f.new_status.to_string())
            } else {
                assert_eq!(e.ty, PACKAGE_STATUS_CHANGED);
                let p: PackageStatusChangedEvent = e.payload().unwrap();
                let old = p.old_status.map(|s| s.to_string());
                (e.ty.clone(), old, p.new_status.to_string())
            }
        })
        .collect()
}

pub fn step(topic: &str, old: Option<&str>, new: &str) -> (String, Option<String>, String) {
    (topic.to_owned(), old.map(str::to_owned), new.to_owned())
}

pub async fn statuses(h: &Harness, new: &NewFulfillment) -> (String, String, Option<String>) {
    let store = h.store();
    let f = seed::fulfillment::of_order(store, &new.fulfillment.order_id)
        .await
        .unwrap();
    let p = seed::fulfillment::picklist(store, &new.picklist.id)
        .await
        .unwrap();
    let k = seed::fulfillment::package_of(store, &new.fulfillment.id).await;
    (
        f.status.to_string(),
        p.status.to_string(),
        k.map(|k| k.status.to_string()),
    )
}

pub fn at(f: &str, p: &str, k: Option<&str>) -> (String, String, Option<String>) {
    (f.to_owned(), p.to_owned(), k.map(str::to_owned))
}

pub const F: &str = FULFILLMENT_STATUS_CHANGED;
pub const K: &str = PACKAGE_STATUS_CHANGED;
