//! The sample payloads: one per topic, each valid, of its own topic, and telling one story.

use conveyor_domain::Money;
use conveyor_domain::events::catalog::PRODUCT_CREATED;
use conveyor_domain::events::fulfillment::{
    FULFILLMENT_CREATION_FAILED, FULFILLMENT_STATUS_CHANGED, PACKAGE_STATUS_CHANGED,
    PICKLIST_STATUS_CHANGED,
};
use conveyor_domain::events::order::ORDER_STATUS_CHANGED;
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_REFUND_REQUESTED,
};
use conveyor_domain::events::returns::{ORDER_RETURN_COMPLETED, RETURN_COMPLETED_LEGACY};
use conveyor_domain::events::samples::*;
use conveyor_domain::events::warehouse::{
    INVENTORY_LOW_STOCK, INVENTORY_UPDATED, RESERVATION_CONFIRMED, RESERVATION_CREATED,
    RESERVATION_EXPIRED, RESERVATION_EXPIRING, RESERVATION_FAILED, RESERVATION_RELEASED,
    ReservationEventKind,
};
use conveyor_domain::events::{ALL_TOPICS, DomainEvent, Validate};

fn check<T: Validate + DomainEvent + serde::Serialize>(payload: &T, topic: &str) {
    payload
        .validate()
        .unwrap_or_else(|e| panic!("{topic}: {e}"));
    let expected = if topic == RETURN_COMPLETED_LEGACY {
        ORDER_RETURN_COMPLETED
    } else {
        topic
    };
    assert_eq!(payload.topic(), expected);
    assert_eq!(
        serde_json::to_value(payload).ok(),
        for_topic(topic),
        "{topic}"
    );
}

#[test]
fn every_topic_has_a_valid_sample_of_its_own_topic() {
    check(&payment_confirmed(), PAYMENT_CONFIRMED);
    check(&payment_failed(), PAYMENT_FAILED);
    check(&order_status_changed(), ORDER_STATUS_CHANGED);
    check(&fulfillment_status_changed(), FULFILLMENT_STATUS_CHANGED);
    check(&picklist_status_changed(), PICKLIST_STATUS_CHANGED);
    check(&package_status_changed(), PACKAGE_STATUS_CHANGED);
    check(
        &reservation(ReservationEventKind::Created),
        RESERVATION_CREATED,
    );
    check(
        &reservation(ReservationEventKind::Confirmed),
        RESERVATION_CONFIRMED,
    );
    check(
        &reservation(ReservationEventKind::Released),
        RESERVATION_RELEASED,
    );
    check(
        &reservation(ReservationEventKind::Expired),
        RESERVATION_EXPIRED,
    );
    check(
        &reservation(ReservationEventKind::Expiring),
        RESERVATION_EXPIRING,
    );
    check(&reservation_failed(), RESERVATION_FAILED);
    check(&fulfillment_creation_failed(), FULFILLMENT_CREATION_FAILED);
    check(&refund_requested(), PAYMENT_REFUND_REQUESTED);
    check(&inventory_updated(), INVENTORY_UPDATED);
    check(&low_stock(), INVENTORY_LOW_STOCK);
    check(&product_created(), PRODUCT_CREATED);
    check(&return_completed(), ORDER_RETURN_COMPLETED);
    check(&return_completed(), RETURN_COMPLETED_LEGACY);
    assert!(ALL_TOPICS.iter().all(|t| for_topic(t).is_some()));
    assert_eq!(for_topic("no.such.topic"), None);
}

#[test]
fn the_order_total_matches_its_lines_and_the_payment() {
    let order = order_status_changed();
    let sum = order.items.iter().try_fold(Money::ZERO, |acc, l| {
        acc.checked_add(l.unit_price.checked_mul(l.quantity.get())?)
    });
    assert_eq!(sum, Some(order.total));
    assert_eq!(payment_confirmed().amount_minor(), Ok(order.total));
}
