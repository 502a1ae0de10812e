//! One realistic sample payload per topic, for docs, fixtures and `events/`.
//!
//! The samples tell one story: customer `cus-42` places order `ord-1001` for two `sku-mug` and one
//! `sku-tee` (49.99 USD), a first payment attempt fails, payment `pay-9001` succeeds, the order
//! is fulfilled, shipped and one shirt comes back. The compensation samples are about a second
//! order of the same customer, `ord-1002`: a shirt is out of stock, its fulfillment could not
//! be created, and payment `pay-9002` is refunded. Every timestamp is fixed on 2026-11-22, so the
//! rendered files never change unless the types do.

use serde::Serialize;

use super::catalog::{PRODUCT_CREATED, ProductCreatedEvent};
use super::checkout::{
    CHECKOUT_FINISHED, CHECKOUT_REQUESTED, CONFIRMATION_REQUESTED, CONFIRMATION_SENT,
    CheckoutCommand, CheckoutFinishedEvent, CheckoutOutcome, CheckoutReply, CheckoutRequestedEvent,
    FULFILLMENT_CANCEL_REQUESTED, FULFILLMENT_CANCELLED, FULFILLMENT_CREATE_REJECTED,
    FULFILLMENT_CREATE_REQUESTED, FULFILLMENT_CREATED, INVENTORY_RELEASE_REQUESTED,
    INVENTORY_RELEASED, INVENTORY_RESERVE_REJECTED, INVENTORY_RESERVE_REQUESTED,
    INVENTORY_RESERVED,
};
use super::fulfillment::{
    FULFILLMENT_CREATION_FAILED, FULFILLMENT_STATUS_CHANGED, FulfillmentCreationFailedEvent,
    FulfillmentStatusChangedEvent, PACKAGE_STATUS_CHANGED, PICKLIST_STATUS_CHANGED,
    PackageStatusChangedEvent, PicklistStatusChangedEvent,
};
use super::order::{
    ORDER_RESERVATION_EXPIRED, ORDER_STATUS_CHANGED, OrderLine, OrderReservationExpiredEvent,
    OrderStatusChangedEvent,
};
use super::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED,
    PAYMENT_REFUNDED, PaymentConfirmedEvent, PaymentFailedEvent, PaymentRefundedEvent,
    ProcessPaymentRequestedEvent, RefundRequestedEvent,
};
use super::returns::{
    ORDER_RETURN_COMPLETED, RETURN_COMPLETED_LEGACY, ReturnCompletedEvent, ReturnLine,
};
use super::saga::{TIMER_FIRED, TimerFired};
use super::warehouse::{
    INVENTORY_LOW_STOCK, INVENTORY_UPDATED, InventoryUpdatedEvent, LowStockEvent,
    RESERVATION_CONFIRMED, RESERVATION_CREATED, RESERVATION_EXPIRED, RESERVATION_EXPIRING,
    RESERVATION_FAILED, RESERVATION_RELEASED, ReservationEvent, ReservationEventKind,
    ReservationFailedEvent,
};
use crate::status::fulfillment::{FulfillmentStatus, PackageStatus, PicklistStatus};
use crate::status::order::{OrderStatus, PaymentMethod};
use crate::status::warehouse::ReservationStatus;
use crate::{Currency, Money, Quantity, Timestamp};

/// The order every sample is about.
pub const ORDER_ID: &str = "ord-1001";
/// Its customer.
pub const CUSTOMER_ID: &str = "cus-42";
/// The payment that succeeded.
pub const PAYMENT_ID: &str = "pay-9001";
/// The order the compensation samples are about.
pub const COMPENSATED_ORDER_ID: &str = "ord-1002";
/// The order the orchestrated-checkout samples are about (saga id too).
pub const CHECKOUT_ORDER_ID: &str = "ord-1003";
/// The carrier tracking number of the shipped package.
pub const TRACKING_NUMBER: &str = "1Z999AA10123456784";

/// Parses a sample identifier; the literals here are all valid.
fn id<T: TryFrom<String>>(value: &str) -> T {
    T::try_from(value.to_owned()).unwrap_or_else(|_| panic!("sample id {value:?} is valid"))
}

/// A fixed instant on 2026-11-22 (UTC), `hh:mm:ss`.
fn at(time: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2026-11-22T{time}Z"))
        .unwrap_or_else(|e| panic!("sample time {time:?}: {e}"))
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap_or_else(|e| panic!("sample currency: {e}"))
}

fn units(n: u32) -> Quantity {
    Quantity::new(n)
}

fn cents(minor: i64) -> Money {
    Money::from_minor(minor).unwrap_or_else(|e| panic!("sample amount {minor}: {e}"))
}

/// `payment.confirmed`: 49.99 USD captured for `ord-1001`.
#[must_use]
pub fn payment_confirmed() -> PaymentConfirmedEvent {
    PaymentConfirmedEvent {
        order_id: id(ORDER_ID),
        payment_id: id(PAYMENT_ID),
        amount: 49.99,
        currency: usd(),
        payment_method: Some("card".to_owned()),
        transaction_id: Some("txn-7f3a9c21".to_owned()),
        timestamp: at("10:00:00"),
    }
}

/// `payment.failed`: the first attempt (`pay-9000`) was declined.
#[must_use]
pub fn payment_failed() -> PaymentFailedEvent {
    PaymentFailedEvent {
        order_id: id(ORDER_ID),
        payment_id: id("pay-9000"),
        amount: 49.99,
        currency: usd(),
        failure_reason: "card declined".to_owned(),
        error_code: Some("card_declined".to_owned()),
        timestamp: at("09:55:00"),
    }
}

/// The two lines of `ord-1001`: 2 x `sku-mug` at 12.50 and 1 x `sku-tee` at 24.99.
#[must_use]
pub fn order_lines() -> Vec<OrderLine> {
    vec![
        OrderLine {
            product_id: id("sku-mug"),
            quantity: units(2),
            unit_price: cents(1250),
        },
        OrderLine {
            product_id: id("sku-tee"),
            quantity: units(1),
            unit_price: cents(2499),
        },
    ]
}

/// `orders.order.status_changed`: pending -> payment_confirmed after `pay-9001`.
#[must_use]
pub fn order_status_changed() -> OrderStatusChangedEvent {
    OrderStatusChangedEvent {
        order_id: id(ORDER_ID),
        customer_id: id(CUSTOMER_ID),
        old_status: Some(OrderStatus::Pending),
        new_status: OrderStatus::PaymentConfirmed,
        reason: "payment confirmed".to_owned(),
        payment_id: Some(id(PAYMENT_ID)),
        payment_method: PaymentMethod::Prepaid,
        total: cents(4999),
        currency: usd(),
        items: order_lines(),
        timestamp: at("10:00:01"),
    }
}

/// `orders.order.reservation_expired`: `ord-1001` stayed unpaid past the reservation timeout.
#[must_use]
pub fn order_reservation_expired() -> OrderReservationExpiredEvent {
    OrderReservationExpiredEvent {
        order_id: id(ORDER_ID),
        customer_id: id(CUSTOMER_ID),
        items: order_lines(),
        reason: "payment not received within 30 minutes".to_owned(),
        timestamp: at("10:30:00"),
    }
}

/// `fulfillment.status_changed`: fulfillment `ful-5001` created for the paid order.
#[must_use]
pub fn fulfillment_status_changed() -> FulfillmentStatusChangedEvent {
    FulfillmentStatusChangedEvent {
        fulfillment_id: id("ful-5001"),
        order_id: id(ORDER_ID),
        old_status: None,
        new_status: FulfillmentStatus::Created,
        reason: None,
        timestamp: at("10:00:02"),
    }
}

/// `picklist.status_changed`: the floor reports picklist `pick-7001` shipped.
#[must_use]
pub fn picklist_status_changed() -> PicklistStatusChangedEvent {
    PicklistStatusChangedEvent {
        picklist_id: id("pick-7001"),
        fulfillment_id: id("ful-5001"),
        order_id: id(ORDER_ID),
        old_status: Some(PicklistStatus::Packed),
        new_status: PicklistStatus::Shipped,
        tracking_number: Some(TRACKING_NUMBER.to_owned()),
        timestamp: at("10:45:00"),
    }
}

/// `package.status_changed`: package `pkg-8001` left with the carrier.
#[must_use]
pub fn package_status_changed() -> PackageStatusChangedEvent {
    PackageStatusChangedEvent {
        package_id: id("pkg-8001"),
        fulfillment_id: id("ful-5001"),
        order_id: id(ORDER_ID),
        old_status: Some(PackageStatus::Created),
        new_status: PackageStatus::Shipped,
        tracking_number: Some(TRACKING_NUMBER.to_owned()),
        timestamp: at("10:45:01"),
    }
}

/// `warehouse.reservation.*`: reservation `res-3001` of the two mugs at the given step.
#[must_use]
pub fn reservation(kind: ReservationEventKind) -> ReservationEvent {
    let (status, expires_at, reason, time) = match kind {
        ReservationEventKind::Created => (
            ReservationStatus::Active,
            Some(at("10:20:00")),
            None,
            "09:50:00",
        ),
        ReservationEventKind::Expiring => (
            ReservationStatus::Active,
            Some(at("10:20:00")),
            None,
            "10:15:00",
        ),
        ReservationEventKind::Confirmed => (ReservationStatus::Confirmed, None, None, "10:00:02"),
        ReservationEventKind::Released => (
            ReservationStatus::Released,
            None,
            Some("payment failed".to_owned()),
            "09:55:01",
        ),
        ReservationEventKind::Expired => (
            ReservationStatus::Expired,
            None,
            Some("reservation expired".to_owned()),
            "10:20:00",
        ),
    };
    ReservationEvent {
        event_type: kind,
        reservation_id: id("res-3001"),
        order_id: id(ORDER_ID),
        product_id: id("sku-mug"),
        quantity: units(2),
        status,
        expires_at,
        reason,
        timestamp: at(time),
    }
}

/// `warehouse.inventory.updated`: two mugs reserved out of 40.
#[must_use]
pub fn inventory_updated() -> InventoryUpdatedEvent {
    InventoryUpdatedEvent {
        product_id: id("sku-mug"),
        on_hand: units(40),
        reserved: units(2),
        available: units(38),
        reason: "reserved".to_owned(),
        timestamp: at("09:50:00"),
    }
}

/// `warehouse.inventory.low_stock`: only 3 shirts left, threshold 5.
#[must_use]
pub fn low_stock() -> LowStockEvent {
    LowStockEvent {
        alert_id: id("alert-6001"),
        product_id: id("sku-tee"),
        available: units(3),
        threshold: units(5),
        timestamp: at("10:05:00"),
    }
}

/// `product.created`: the shirt joins the catalog with 50 units.
#[must_use]
pub fn product_created() -> ProductCreatedEvent {
    ProductCreatedEvent {
        product_id: id("sku-tee"),
        name: "Conveyor T-Shirt".to_owned(),
        initial_stock: units(50),
        low_stock_threshold: Some(units(5)),
        timestamp: at("09:00:00"),
    }
}

/// `order.return.completed` (and `return.completed`): one shirt came back.
#[must_use]
pub fn return_completed() -> ReturnCompletedEvent {
    ReturnCompletedEvent {
        return_id: id("ret-2001"),
        order_id: id(ORDER_ID),
        items: vec![ReturnLine {
            product_id: id("sku-tee"),
            quantity: units(1),
        }],
        timestamp: at("16:30:00"),
    }
}

/// `warehouse.reservation.failed`: no shirt left for `ord-1002`.
#[must_use]
pub fn reservation_failed() -> ReservationFailedEvent {
    ReservationFailedEvent {
        order_id: id(COMPENSATED_ORDER_ID),
        product_id: id("sku-tee"),
        requested: units(1),
        available: units(0),
        reason: "insufficient stock of sku-tee: requested 1, available 0".to_owned(),
        timestamp: at("11:00:00"),
    }
}

/// `fulfillment.creation_failed`: the fulfillment of the paid `ord-1002` could not be opened.
#[must_use]
pub fn fulfillment_creation_failed() -> FulfillmentCreationFailedEvent {
    FulfillmentCreationFailedEvent {
        order_id: id(COMPENSATED_ORDER_ID),
        customer_id: id(CUSTOMER_ID),
        reason: "database unavailable".to_owned(),
        attempts: 5,
        timestamp: at("11:05:00"),
    }
}

/// `payment.refund_requested`: payment `pay-9002` of `ord-1002` is to be refunded.
#[must_use]
pub fn refund_requested() -> RefundRequestedEvent {
    RefundRequestedEvent {
        order_id: id(COMPENSATED_ORDER_ID),
        payment_id: id("pay-9002"),
        amount: 49.99,
        currency: usd(),
        reason: "fulfillment could not be created: database unavailable".to_owned(),
        timestamp: at("11:05:01"),
    }
}

/// `order.checkout_requested`: `ord-1003` (one mug) placed for the orchestrated checkout.
#[must_use]
pub fn checkout_requested() -> CheckoutRequestedEvent {
    CheckoutRequestedEvent {
        order_id: id(CHECKOUT_ORDER_ID),
        customer_id: id(CUSTOMER_ID),
        items: checkout_lines(),
        total: cents(1299),
        currency: usd(),
        timestamp: at("12:00:00"),
    }
}

fn checkout_lines() -> Vec<OrderLine> {
    vec![OrderLine {
        product_id: id("sku-mug"),
        quantity: units(1),
        unit_price: cents(1299),
    }]
}

/// `payment.process_requested`: the saga asks for `ord-1003`'s 12.99 USD.
#[must_use]
pub fn process_payment_requested() -> ProcessPaymentRequestedEvent {
    ProcessPaymentRequestedEvent {
        order_id: id(CHECKOUT_ORDER_ID),
        payment_id: id("pay-ord-1003"),
        amount: 12.99,
        currency: usd(),
        attempt: 1,
        timestamp: at("12:00:00"),
    }
}

/// `payment.refunded`: the payment of `ord-1002` was refunded.
#[must_use]
pub fn payment_refunded() -> PaymentRefundedEvent {
    PaymentRefundedEvent {
        order_id: id(COMPENSATED_ORDER_ID),
        payment_id: id("pay-9002"),
        refund_id: "re-5002".to_owned(),
        amount: 49.99,
        currency: usd(),
        timestamp: at("11:06:00"),
    }
}

/// A checkout command for `ord-1003`: the inventory step's, or with `target` a compensation's.
#[must_use]
pub fn checkout_command(target: Option<&str>) -> CheckoutCommand {
    let phase = if target.is_some() {
        "compensate"
    } else {
        "forward"
    };
    CheckoutCommand {
        order_id: id(CHECKOUT_ORDER_ID),
        command_id: format!("{CHECKOUT_ORDER_ID}/inventory/{phase}"),
        attempt: 1,
        customer_id: id(CUSTOMER_ID),
        items: checkout_lines(),
        total: cents(1299),
        currency: usd(),
        target: target.map(str::to_owned),
        reason: target.map(|_| "fulfillment could not be created".to_owned()),
        timestamp: at("12:00:01"),
    }
}

/// A service's reply to a checkout command of `ord-1003`.
#[must_use]
pub fn checkout_reply(result: Option<&str>, reason: Option<&str>) -> CheckoutReply {
    CheckoutReply {
        order_id: id(CHECKOUT_ORDER_ID),
        command_id: format!("{CHECKOUT_ORDER_ID}/inventory/forward"),
        result: result.map(str::to_owned),
        reason: reason.map(str::to_owned),
        timestamp: at("12:00:02"),
    }
}

/// `order.checkout_finished`: `ord-1003`'s checkout completed.
#[must_use]
pub fn checkout_finished() -> CheckoutFinishedEvent {
    CheckoutFinishedEvent {
        order_id: id(CHECKOUT_ORDER_ID),
        customer_id: id(CUSTOMER_ID),
        outcome: CheckoutOutcome::Completed,
        reason: None,
        payment_id: Some(id("pay-ord-1003")),
        timestamp: at("12:00:05"),
    }
}

/// `saga.timer_fired`: the first timer of `ord-1003`'s checkout saga.
#[must_use]
pub fn timer_fired() -> TimerFired {
    TimerFired {
        definition: "order-checkout".to_owned(),
        saga_id: id(CHECKOUT_ORDER_ID),
        seq: 1,
        due: at("12:00:30"),
    }
}

/// The sample payload of `topic` as JSON, or `None` for a topic not in
/// [`ALL_TOPICS`](super::ALL_TOPICS).
#[must_use]
pub fn for_topic(topic: &str) -> Option<serde_json::Value> {
    match topic {
        PAYMENT_CONFIRMED => json(&payment_confirmed()),
        PAYMENT_FAILED => json(&payment_failed()),
        PAYMENT_REFUND_REQUESTED => json(&refund_requested()),
        ORDER_STATUS_CHANGED => json(&order_status_changed()),
        ORDER_RESERVATION_EXPIRED => json(&order_reservation_expired()),
        FULFILLMENT_STATUS_CHANGED => json(&fulfillment_status_changed()),
        FULFILLMENT_CREATION_FAILED => json(&fulfillment_creation_failed()),
        PICKLIST_STATUS_CHANGED => json(&picklist_status_changed()),
        PACKAGE_STATUS_CHANGED => json(&package_status_changed()),
        RESERVATION_CREATED => json(&reservation(ReservationEventKind::Created)),
        RESERVATION_CONFIRMED => json(&reservation(ReservationEventKind::Confirmed)),
        RESERVATION_RELEASED => json(&reservation(ReservationEventKind::Released)),
        RESERVATION_EXPIRED => json(&reservation(ReservationEventKind::Expired)),
        RESERVATION_EXPIRING => json(&reservation(ReservationEventKind::Expiring)),
        RESERVATION_FAILED => json(&reservation_failed()),
        INVENTORY_UPDATED => json(&inventory_updated()),
        INVENTORY_LOW_STOCK => json(&low_stock()),
        PRODUCT_CREATED => json(&product_created()),
        ORDER_RETURN_COMPLETED | RETURN_COMPLETED_LEGACY => json(&return_completed()),
        PAYMENT_PROCESS_REQUESTED => json(&process_payment_requested()),
        PAYMENT_REFUNDED => json(&payment_refunded()),
        CHECKOUT_REQUESTED => json(&checkout_requested()),
        CHECKOUT_FINISHED => json(&checkout_finished()),
        INVENTORY_RESERVE_REQUESTED | FULFILLMENT_CREATE_REQUESTED | CONFIRMATION_REQUESTED => {
            json(&checkout_command(None))
        }
        INVENTORY_RELEASE_REQUESTED | FULFILLMENT_CANCEL_REQUESTED => {
            json(&checkout_command(Some(CHECKOUT_ORDER_ID)))
        }
        INVENTORY_RESERVED | FULFILLMENT_CREATED | CONFIRMATION_SENT => {
            json(&checkout_reply(Some(CHECKOUT_ORDER_ID), None))
        }
        INVENTORY_RESERVE_REJECTED | FULFILLMENT_CREATE_REJECTED => {
            json(&checkout_reply(None, Some("insufficient stock of sku-mug")))
        }
        INVENTORY_RELEASED | FULFILLMENT_CANCELLED => json(&checkout_reply(None, None)),
        TIMER_FIRED => json(&timer_fired()),
        _ => None,
    }
}

fn json<T: Serialize>(payload: &T) -> Option<serde_json::Value> {
    // Plain structs of strings and numbers always serialise.
    serde_json::to_value(payload).ok()
}
