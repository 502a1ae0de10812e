//! Compensation on the order side, when a flow breaks after the customer acted: a payment that
//! arrives for an order already cancelled is refunded instead of applied, and an order the
//! warehouse cannot stock or the fulfillment service cannot open is cancelled (its reservations
//! are released by the warehouse on the cancellation) and its payment refunded.
//!
//! Each decision returns what to persist and announce; repeating it changes nothing (the order
//! is already cancelled, and one refund request is kept per payment).

use serde::{Deserialize, Serialize};

use crate::events::fulfillment::FulfillmentCreationFailedEvent;
use crate::events::payment::RefundRequestedEvent;
use crate::events::warehouse::ReservationFailedEvent;
use crate::events::{Validate, ValidationError};
use crate::order::{Order, OrderStatus, StatusChange};
use crate::state::InvalidTransition;
use crate::{Currency, Money, OrderId, PaymentId, Timestamp};

/// Another service reports that an order's flow cannot go on; told apart by its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BrokenFlow {
    /// `warehouse.reservation.failed` (tried first: it has the more specific fields).
    ReservationFailed(ReservationFailedEvent),
    /// `fulfillment.creation_failed`.
    FulfillmentCreationFailed(FulfillmentCreationFailedEvent),
}

impl Validate for BrokenFlow {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::ReservationFailed(e) => e.validate(),
            Self::FulfillmentCreationFailed(e) => e.validate(),
        }
    }
}

impl BrokenFlow {
    /// The order.
    #[must_use]
    pub fn order_id(&self) -> &OrderId {
        match self {
            Self::ReservationFailed(e) => &e.order_id,
            Self::FulfillmentCreationFailed(e) => &e.order_id,
        }
    }

    /// The cancellation (and refund) reason.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Self::ReservationFailed(e) => e.reason.clone(),
            Self::FulfillmentCreationFailed(e) => {
                format!("fulfillment could not be created: {}", e.reason)
            }
        }
    }
}

/// A refund the order service asks the payment service for, once per payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The payment to refund (at most one request each).
    pub payment_id: PaymentId,
    /// Its order.
    pub order_id: OrderId,
    /// Amount to refund.
    pub amount: Money,
    /// ISO 4217.
    pub currency: Currency,
    /// Why.
    pub reason: String,
    /// When it was requested.
    pub requested_at: Timestamp,
}

impl RefundRequest {
    /// The `payment.refund_requested` event, in the payment service's wire units.
    #[must_use]
    pub fn requested_event(&self) -> RefundRequestedEvent {
        RefundRequestedEvent {
            order_id: self.order_id.clone(),
            payment_id: self.payment_id.clone(),
            amount: self.amount.to_major_f64(),
            currency: self.currency.clone(),
            reason: self.reason.clone(),
            timestamp: self.requested_at,
        }
    }
}

/// What compensating an order did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Compensation {
    /// The cancellation, unless the order was already cancelled.
    pub cancelled: Option<StatusChange>,
    /// The refund of its payment, when it was paid.
    pub refund: Option<RefundRequest>,
}

impl Order {
    /// A confirmed payment for an order that was cancelled (by the customer, the unpaid-order
    /// timeout or a compensation) before the payment arrived: the money is sent back rather
    /// than the order revived. `None` for an order that is not cancelled.
    #[must_use]
    pub fn refund_late_payment(
        &self,
        payment_id: &PaymentId,
        paid: Money,
        currency: &Currency,
        at: Timestamp,
    ) -> Option<RefundRequest> {
        (self.status == OrderStatus::Cancelled).then(|| RefundRequest {
            payment_id: payment_id.clone(),
            order_id: self.id.clone(),
            amount: paid,
            currency: currency.clone(),
            reason: format!(
                "order {} was cancelled before payment {payment_id}",
                self.id
            ),
            requested_at: at,
        })
    }

    /// Cancels the order because its flow cannot go on (`reason` says why), and asks for its
    /// payment back if it was paid. An order already cancelled is not changed; its refund is
    /// proposed again (the store keeps one per payment).
    ///
    /// # Errors
    /// [`InvalidTransition`] for an order past the point of cancelling (shipped, delivered,
    /// completed).
    pub fn compensate(
        &mut self,
        reason: &str,
        at: Timestamp,
    ) -> Result<Compensation, InvalidTransition> {
        let cancelled = self.change_status(OrderStatus::Cancelled, reason, None, at)?;
        let refund = self.payment_id.clone().map(|payment_id| RefundRequest {
            payment_id,
            order_id: self.id.clone(),
            amount: self.total,
            currency: self.currency.clone(),
            reason: reason.to_owned(),
            requested_at: at,
        });
        Ok(Compensation { cancelled, refund })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::order::PaymentMethod;
    use crate::{CustomerId, OrderId};

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000).add_minutes(minutes)
    }

    fn placed() -> Order {
        Order::place(
            OrderId::parse("ord-1").unwrap(),
            CustomerId::parse("cus-1").unwrap(),
            PaymentMethod::Prepaid,
            Currency::parse("USD").unwrap(),
            samples::order_lines(),
            t(0),
        )
        .unwrap()
    }

    #[test]
    fn a_payment_for_a_cancelled_order_is_refunded_not_applied() {
        let mut o = placed();
        let pay = PaymentId::parse("pay-1").unwrap();
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(o.refund_late_payment(&pay, o.total, &usd, t(1)), None);
        o.cancel_unpaid(t(24 * 60 + 1)).unwrap();
        let refund = o
            .refund_late_payment(&pay, o.total, &usd, t(24 * 60 + 5))
            .unwrap();
        assert_eq!(refund.amount, o.total);
        assert_eq!(
            refund.reason,
            "order ord-1 was cancelled before payment pay-1"
        );
        let event = refund.requested_event();
        assert_eq!((event.amount, event.payment_id), (49.99, pay));
    }

    #[test]
    fn compensating_cancels_once_and_refunds_only_a_paid_order() {
        let mut unpaid = placed();
        let c = unpaid.compensate("no stock", t(1)).unwrap();
        assert_eq!(
            c.cancelled.map(|c| (c.from, c.to, c.reason)),
            Some((
                OrderStatus::Pending,
                OrderStatus::Cancelled,
                "no stock".to_owned()
            ))
        );
        assert_eq!(c.refund, None);
        assert_eq!(
            unpaid.compensate("no stock", t(2)).unwrap(),
            Compensation::default()
        );

        let mut paid = placed();
        let pay = PaymentId::parse("pay-1").unwrap();
        let total = paid.total;
        let usd = paid.currency.clone();
        paid.confirm_payment(&pay, total, &usd, t(1)).unwrap();
        let c = paid.compensate("fulfillment failed", t(2)).unwrap();
        assert_eq!(c.cancelled.unwrap().from, OrderStatus::PaymentConfirmed);
        let refund = c.refund.unwrap();
        assert_eq!((refund.payment_id, refund.amount), (pay.clone(), total));
        let again = paid.compensate("fulfillment failed", t(3)).unwrap();
        assert_eq!(
            (again.cancelled, again.refund.map(|r| r.payment_id)),
            (None, Some(pay))
        );
    }

    #[test]
    fn broken_flows_decode_by_shape_and_give_their_reason() {
        let stock: BrokenFlow =
            serde_json::from_value(serde_json::to_value(samples::reservation_failed()).unwrap())
                .unwrap();
        assert!(matches!(stock, BrokenFlow::ReservationFailed(_)));
        assert_eq!(
            stock.reason(),
            "insufficient stock of sku-tee: requested 1, available 0"
        );
        let fulfillment: BrokenFlow = serde_json::from_value(
            serde_json::to_value(samples::fulfillment_creation_failed()).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            fulfillment,
            BrokenFlow::FulfillmentCreationFailed(_)
        ));
        assert_eq!(
            fulfillment.reason(),
            samples::refund_requested().reason,
            "the sample refund gives the same reason"
        );
        assert_eq!(
            fulfillment.order_id().as_str(),
            samples::COMPENSATED_ORDER_ID
        );
    }

    #[test]
    fn a_shipped_order_cannot_be_compensated() {
        let mut o = placed();
        o.status = OrderStatus::Shipped;
        assert!(o.compensate("too late", t(1)).is_err());
        assert_eq!(o.status, OrderStatus::Shipped);
    }
}
