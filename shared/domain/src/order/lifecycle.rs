//! What happens to an order after it was placed, besides a confirmed payment: a failed payment,
//! the unpaid-order timeout, the reservation timeout and the cash-on-delivery confirmation.
//! Each returns what changed so the caller persists and announces exactly that, and nothing
//! when the order is already there (a repeated event or a second run of a job).

use crate::events::order::OrderReservationExpiredEvent;
use crate::order::{Order, OrderStatus, OrderSweep, StatusChange};
use crate::state::InvalidTransition;
use crate::{PaymentId, Timestamp};

/// History reason of an order cancelled by the unpaid-order cleanup.
pub const UNPAID_REASON: &str = "unpaid for 24 hours";

/// History reason of a cash-on-delivery order confirmed after delivery.
pub const COD_COLLECTED_REASON: &str = "cash on delivery collected";

/// Reason carried by `orders.order.reservation_expired`.
pub const RESERVATION_EXPIRED_REASON: &str = "payment not received within 30 minutes";

impl Order {
    /// Records a failed payment: the order moves to `payment_failed` with the payment service's
    /// reason. The payment id goes into the history row and the event; [`Order::payment_id`]
    /// keeps naming only a payment that succeeded. `Ok(None)` when the order is already
    /// `payment_failed` (a repeated event, or another attempt that failed too).
    ///
    /// # Errors
    /// [`InvalidTransition`] when the order can no longer fail a payment (paid, cancelled, ...).
    pub fn fail_payment(
        &mut self,
        payment_id: &PaymentId,
        reason: &str,
        at: Timestamp,
    ) -> Result<Option<StatusChange>, InvalidTransition> {
        let change = self.change_status(OrderStatus::PaymentFailed, reason, None, at)?;
        Ok(change.map(|c| StatusChange {
            payment_id: Some(payment_id.clone()),
            ..c
        }))
    }

    /// Cancels a prepaid order that is still unpaid at `now` (see [`OrderSweep::unpaid`]).
    /// `None` when the order does not qualify at `now`: paid meanwhile, cash on delivery, too
    /// young, or already cancelled.
    pub fn cancel_unpaid(&mut self, now: Timestamp) -> Option<StatusChange> {
        if !OrderSweep::unpaid(now).matches(self) {
            return None;
        }
        self.change_status(OrderStatus::Cancelled, UNPAID_REASON, None, now)
            .ok()
            .flatten()
    }

    /// Marks the stock of a pending prepaid order past the reservation timeout as released
    /// (see [`OrderSweep::reservation_timed_out`]). Returns whether it changed: `true` once per
    /// order, then `false`. The order itself stays pending; the customer may still pay, and the
    /// unpaid-order cleanup cancels it later.
    pub fn expire_reservation(&mut self, now: Timestamp) -> bool {
        if !OrderSweep::reservation_timed_out(now).matches(self) {
            return false;
        }
        self.reservation_expired_at = Some(now);
        self.updated_at = now;
        true
    }

    /// The event announcing the released reservation; `None` until
    /// [`Order::expire_reservation`] has changed the order.
    #[must_use]
    pub fn reservation_expired_event(&self) -> Option<OrderReservationExpiredEvent> {
        let at = self.reservation_expired_at?;
        Some(OrderReservationExpiredEvent {
            order_id: self.id.clone(),
            customer_id: self.customer_id.clone(),
            items: self.items.clone(),
            reason: RESERVATION_EXPIRED_REASON.to_owned(),
            timestamp: at,
        })
    }

    /// Confirms a pending cash-on-delivery order whose delivery was reported (the carrier
    /// collected the cash; see [`OrderSweep::cod_delivered`]). `None` when the order does not
    /// qualify: prepaid, not delivered yet, or no longer pending.
    pub fn confirm_cash_on_delivery(&mut self, now: Timestamp) -> Option<StatusChange> {
        if !OrderSweep::cod_delivered().matches(self) {
            return None;
        }
        self.change_status(OrderStatus::Confirmed, COD_COLLECTED_REASON, None, now)
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::order::PaymentMethod;
    use crate::{Currency, CustomerId, OrderId};

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000).add_minutes(minutes)
    }

    fn placed(method: PaymentMethod) -> Order {
        Order::place(
            OrderId::parse("ord-1").unwrap(),
            CustomerId::parse("cus-1").unwrap(),
            method,
            Currency::parse("USD").unwrap(),
            samples::order_lines(),
            t(0),
        )
        .unwrap()
    }

    #[test]
    fn a_failed_payment_is_recorded_once_without_claiming_the_order_is_paid() {
        let mut o = placed(PaymentMethod::Prepaid);
        let pay = PaymentId::parse("pay-1").unwrap();
        let change = o
            .fail_payment(&pay, "card declined", t(5))
            .unwrap()
            .unwrap();
        assert_eq!(
            change,
            StatusChange {
                from: OrderStatus::Pending,
                to: OrderStatus::PaymentFailed,
                reason: "card declined".to_owned(),
                payment_id: Some(pay.clone()),
                at: t(5),
            }
        );
        assert_eq!(
            (o.status, o.payment_id.as_ref()),
            (OrderStatus::PaymentFailed, None)
        );
        assert_eq!(
            o.status_changed_event(&change).payment_id,
            Some(pay.clone())
        );
        let other = PaymentId::parse("pay-2").unwrap();
        assert_eq!(o.fail_payment(&other, "expired card", t(6)), Ok(None));

        // The customer may pay again after a failure.
        let usd = Currency::parse("USD").unwrap();
        assert!(
            o.confirm_payment(&other, o.total, &usd, t(7))
                .unwrap()
                .is_some()
        );
        let err = o.fail_payment(&pay, "late failure", t(8)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "order cannot move from payment_confirmed to payment_failed"
        );
    }

    #[test]
    fn unpaid_prepaid_orders_are_cancelled_after_24_hours_once() {
        let mut o = placed(PaymentMethod::Prepaid);
        assert_eq!(o.cancel_unpaid(t(24 * 60 - 1)), None);
        let change = o.cancel_unpaid(t(24 * 60 + 1)).unwrap();
        assert_eq!(
            (change.from, change.to, change.reason.as_str()),
            (OrderStatus::Pending, OrderStatus::Cancelled, UNPAID_REASON)
        );
        assert_eq!(
            (o.status, o.updated_at),
            (OrderStatus::Cancelled, t(24 * 60 + 1))
        );
        assert_eq!(o.cancel_unpaid(t(24 * 60 + 2)), None);

        let mut cod = placed(PaymentMethod::Cod);
        assert_eq!(cod.cancel_unpaid(t(10 * 24 * 60)), None);
        assert_eq!(cod.status, OrderStatus::Pending);
    }

    #[test]
    fn reservation_expires_once_after_30_minutes_and_keeps_the_order_pending() {
        let mut o = placed(PaymentMethod::Prepaid);
        assert!(o.reservation_expired_event().is_none());
        assert!(!o.expire_reservation(t(29)));
        assert!(o.expire_reservation(t(31)));
        assert!(!o.expire_reservation(t(61)), "once only");
        assert_eq!(
            (o.status, o.reservation_expired_at, o.updated_at),
            (OrderStatus::Pending, Some(t(31)), t(31))
        );
        let event = o.reservation_expired_event().unwrap();
        assert_eq!(event.items, samples::order_lines());
        assert_eq!(
            (event.reason.as_str(), event.timestamp),
            (RESERVATION_EXPIRED_REASON, t(31))
        );
        assert!(!placed(PaymentMethod::Cod).expire_reservation(t(31)));
    }

    #[test]
    fn delivered_cod_orders_are_confirmed_once() {
        let mut o = placed(PaymentMethod::Cod);
        assert_eq!(o.confirm_cash_on_delivery(t(5)), None, "not delivered");
        o.delivered_at = Some(t(60));
        let change = o.confirm_cash_on_delivery(t(65)).unwrap();
        assert_eq!(
            (change.from, change.to, change.reason.as_str()),
            (
                OrderStatus::Pending,
                OrderStatus::Confirmed,
                COD_COLLECTED_REASON
            )
        );
        assert_eq!(o.confirm_cash_on_delivery(t(70)), None);
        let mut prepaid = placed(PaymentMethod::Prepaid);
        prepaid.delivered_at = Some(t(60));
        assert_eq!(prepaid.confirm_cash_on_delivery(t(65)), None);
    }
}
