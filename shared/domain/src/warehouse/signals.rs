//! What the warehouse hears from other services, and what each message means for stock.

use serde::{Deserialize, Serialize};

use crate::OrderId;
use crate::events::fulfillment::FulfillmentStatusChangedEvent;
use crate::events::order::{OrderLine, OrderReservationExpiredEvent, OrderStatusChangedEvent};
use crate::events::{Validate, ValidationError};
use crate::fulfillment::FulfillmentStatus;
use crate::order::{OrderStatus, PaymentMethod};

/// The payload of the order topics the warehouse consumes: `orders.order.status_changed` or
/// `orders.order.reservation_expired`. A status change carries every field of an expiry (and
/// more), so it must be tried first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderStockEvent {
    /// `orders.order.status_changed`.
    StatusChanged(OrderStatusChangedEvent),
    /// `orders.order.reservation_expired`.
    ReservationExpired(OrderReservationExpiredEvent),
}

impl Validate for OrderStockEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::StatusChanged(e) => e.validate(),
            Self::ReservationExpired(e) => e.validate(),
        }
    }
}

/// What an order or fulfillment event asks of the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockAction<'a> {
    /// Reserve the lines (a new pending order), for as long as its payment method allows.
    Reserve(&'a [OrderLine], PaymentMethod),
    /// Secure a paid or confirmed order's lines: confirm what is held, hold again what is not.
    Secure(&'a [OrderLine]),
    /// Confirm the order's active reservations (fulfillment created).
    Confirm,
    /// Release the order's active and confirmed reservations, for this reason.
    Release(&'a str),
    /// Ship: the reserved units leave the warehouse.
    Deduct,
    /// Nothing to do.
    Ignore,
}

impl OrderStockEvent {
    /// The order.
    #[must_use]
    pub fn order_id(&self) -> &OrderId {
        match self {
            Self::StatusChanged(e) => &e.order_id,
            Self::ReservationExpired(e) => &e.order_id,
        }
    }

    /// What it asks for.
    #[must_use]
    pub fn action(&self) -> StockAction<'_> {
        use OrderStatus::{Cancelled, Confirmed, PaymentConfirmed, PaymentFailed, Pending};
        match self {
            Self::ReservationExpired(e) => StockAction::Release(&e.reason),
            Self::StatusChanged(e) => match (e.old_status, e.new_status) {
                (None | Some(Pending), Pending) => StockAction::Reserve(&e.items, e.payment_method),
                (_, PaymentConfirmed | Confirmed) => StockAction::Secure(&e.items),
                (_, PaymentFailed | Cancelled) => StockAction::Release(&e.reason),
                _ => StockAction::Ignore,
            },
        }
    }
}

/// What a fulfillment status change asks of the warehouse.
#[must_use]
pub fn fulfillment_action(event: &FulfillmentStatusChangedEvent) -> StockAction<'_> {
    match event.new_status {
        FulfillmentStatus::Created => StockAction::Confirm,
        FulfillmentStatus::Shipped => StockAction::Deduct,
        FulfillmentStatus::Cancelled => {
            StockAction::Release(event.reason.as_deref().unwrap_or("fulfillment cancelled"))
        }
        _ => StockAction::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;

    fn status(old: Option<OrderStatus>, new: OrderStatus) -> OrderStockEvent {
        OrderStockEvent::StatusChanged(OrderStatusChangedEvent {
            old_status: old,
            new_status: new,
            reason: "why".to_owned(),
            ..samples::order_status_changed()
        })
    }

    #[test]
    fn decodes_status_changes_first_and_expiries_second() {
        let changed = serde_json::to_string(&samples::order_status_changed()).unwrap();
        let decoded: OrderStockEvent = serde_json::from_str(&changed).unwrap();
        assert!(matches!(decoded, OrderStockEvent::StatusChanged(_)));
        let expired = serde_json::to_string(&samples::order_reservation_expired()).unwrap();
        let decoded: OrderStockEvent = serde_json::from_str(&expired).unwrap();
        assert_eq!(
            decoded,
            OrderStockEvent::ReservationExpired(samples::order_reservation_expired())
        );
        assert_eq!(decoded.order_id().as_str(), samples::ORDER_ID);
        assert!(
            serde_json::from_str::<OrderStockEvent>(r#"{"order_id":"o"}"#).is_err(),
            "neither shape"
        );
        let mut empty = samples::order_reservation_expired();
        empty.items.clear();
        assert!(
            OrderStockEvent::ReservationExpired(empty)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn maps_order_statuses_to_stock_actions() {
        use OrderStatus::*;
        let lines = samples::order_lines();
        let method = samples::order_status_changed().payment_method;
        assert_eq!(
            status(None, Pending).action(),
            StockAction::Reserve(&lines, method)
        );
        assert_eq!(
            status(Some(Pending), Pending).action(),
            StockAction::Reserve(&lines, method)
        );
        let mut cod = status(None, Pending);
        if let OrderStockEvent::StatusChanged(e) = &mut cod {
            e.payment_method = PaymentMethod::Cod;
        }
        assert_eq!(
            cod.action(),
            StockAction::Reserve(&lines, PaymentMethod::Cod)
        );
        assert_eq!(
            status(Some(Pending), PaymentConfirmed).action(),
            StockAction::Secure(&lines)
        );
        assert_eq!(
            status(Some(PaymentFailed), PaymentConfirmed).action(),
            StockAction::Secure(&lines)
        );
        assert_eq!(
            status(Some(PaymentConfirmed), Confirmed).action(),
            StockAction::Secure(&lines)
        );
        assert_eq!(
            status(Some(Pending), PaymentFailed).action(),
            StockAction::Release("why")
        );
        assert_eq!(
            status(Some(Confirmed), Cancelled).action(),
            StockAction::Release("why")
        );
        assert_eq!(
            status(Some(Processing), Shipped).action(),
            StockAction::Ignore
        );
        assert_eq!(
            status(Some(Confirmed), Processing).action(),
            StockAction::Ignore
        );
        let expired = OrderStockEvent::ReservationExpired(samples::order_reservation_expired());
        assert_eq!(
            expired.action(),
            StockAction::Release("payment not received within 30 minutes")
        );
    }

    #[test]
    fn maps_fulfillment_statuses_to_stock_actions() {
        let with = |new_status, reason: Option<&str>| FulfillmentStatusChangedEvent {
            new_status,
            reason: reason.map(str::to_owned),
            ..samples::fulfillment_status_changed()
        };
        use FulfillmentStatus::*;
        assert_eq!(
            fulfillment_action(&with(Created, None)),
            StockAction::Confirm
        );
        assert_eq!(
            fulfillment_action(&with(Shipped, None)),
            StockAction::Deduct
        );
        assert_eq!(
            fulfillment_action(&with(Cancelled, None)),
            StockAction::Release("fulfillment cancelled")
        );
        assert_eq!(
            fulfillment_action(&with(Cancelled, Some("out of stock"))),
            StockAction::Release("out of stock")
        );
        assert_eq!(fulfillment_action(&with(Packed, None)), StockAction::Ignore);
        assert_eq!(
            fulfillment_action(&with(Delivered, None)),
            StockAction::Ignore
        );
    }
}
