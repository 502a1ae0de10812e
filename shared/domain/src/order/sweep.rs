//! Which orders the order service's jobs pick up, and when. One [`OrderSweep`] is both the
//! store's query (the adapter turns its fields into a `WHERE` clause) and a predicate on the
//! aggregate ([`OrderSweep::matches`]), so the two can be checked against each other.

use crate::Timestamp;
use crate::order::{Order, OrderStatus, PaymentMethod};

/// A prepaid order still unpaid this long after it was placed is cancelled.
pub const UNPAID_ORDER_TIMEOUT_HOURS: i64 = 24;

/// Stock held for an unpaid prepaid order is released this long after the order was placed
/// (the warehouse holds a reservation for the same 30 minutes).
pub const RESERVATION_TIMEOUT_MINUTES: i64 = 30;

/// A selection of orders for a job. Every condition must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSweep {
    /// Only orders paid this way.
    pub payment_method: PaymentMethod,
    /// Only orders in one of these statuses.
    pub statuses: &'static [OrderStatus],
    /// Only orders placed strictly before this instant.
    pub placed_before: Option<Timestamp>,
    /// Only orders whose reservation has not been released yet (`reservation_expired_at` unset).
    pub reservation_held: bool,
    /// Only orders whose delivery was reported (`delivered_at` set).
    pub delivered: bool,
}

impl OrderSweep {
    /// Prepaid orders not paid [`UNPAID_ORDER_TIMEOUT_HOURS`] after they were placed: still
    /// pending, or with a failed payment the customer never retried.
    #[must_use]
    pub fn unpaid(now: Timestamp) -> Self {
        Self {
            payment_method: PaymentMethod::Prepaid,
            statuses: &[OrderStatus::Pending, OrderStatus::PaymentFailed],
            placed_before: Some(now.sub_hours(UNPAID_ORDER_TIMEOUT_HOURS)),
            reservation_held: false,
            delivered: false,
        }
    }

    /// Pending prepaid orders past the [`RESERVATION_TIMEOUT_MINUTES`] whose stock is still
    /// held. A `payment_failed` order is left out: the warehouse already released its stock
    /// when it saw that status.
    #[must_use]
    pub fn reservation_timed_out(now: Timestamp) -> Self {
        Self {
            payment_method: PaymentMethod::Prepaid,
            statuses: &[OrderStatus::Pending],
            placed_before: Some(now.add_minutes(-RESERVATION_TIMEOUT_MINUTES)),
            reservation_held: true,
            delivered: false,
        }
    }

    /// Pending cash-on-delivery orders whose delivery (and so the cash collection) was reported.
    #[must_use]
    pub fn cod_delivered() -> Self {
        Self {
            payment_method: PaymentMethod::Cod,
            statuses: &[OrderStatus::Pending],
            placed_before: None,
            reservation_held: false,
            delivered: true,
        }
    }

    /// Whether `order` belongs to this selection.
    #[must_use]
    pub fn matches(&self, order: &Order) -> bool {
        order.payment_method == self.payment_method
            && self.statuses.contains(&order.status)
            && self.placed_before.is_none_or(|t| order.created_at < t)
            && (!self.reservation_held || order.reservation_expired_at.is_none())
            && (!self.delivered || order.delivered_at.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::{Currency, CustomerId, OrderId};

    fn placed(method: PaymentMethod, at: Timestamp) -> Order {
        Order::place(
            OrderId::parse("ord-1").unwrap(),
            CustomerId::parse("cus-1").unwrap(),
            method,
            Currency::parse("USD").unwrap(),
            samples::order_lines(),
            at,
        )
        .unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap()
    }

    #[test]
    fn unpaid_means_prepaid_pending_or_failed_for_more_than_24_hours() {
        let sweep = OrderSweep::unpaid(now());
        let young = placed(PaymentMethod::Prepaid, now().add_minutes(-(24 * 60 - 1)));
        let old = placed(PaymentMethod::Prepaid, now().add_minutes(-(24 * 60 + 1)));
        let exactly = placed(PaymentMethod::Prepaid, now().sub_hours(24));
        assert!(!sweep.matches(&young), "23h59 is not yet unpaid");
        assert!(sweep.matches(&old), "24h01 is unpaid");
        assert!(!sweep.matches(&exactly), "more than 24 hours, not 24 hours");

        let mut failed = old.clone();
        failed.status = OrderStatus::PaymentFailed;
        assert!(sweep.matches(&failed));
        for status in [
            OrderStatus::PaymentConfirmed,
            OrderStatus::Confirmed,
            OrderStatus::Cancelled,
        ] {
            let mut o = old.clone();
            o.status = status;
            assert!(!sweep.matches(&o), "{status}");
        }
        let cod = placed(PaymentMethod::Cod, now().sub_days(3));
        assert!(!sweep.matches(&cod), "COD orders wait for delivery");
    }

    #[test]
    fn reservation_timeout_is_30_minutes_once_and_pending_prepaid_only() {
        let sweep = OrderSweep::reservation_timed_out(now());
        assert!(!sweep.matches(&placed(PaymentMethod::Prepaid, now().add_minutes(-29))));
        let mut late = placed(PaymentMethod::Prepaid, now().add_minutes(-31));
        assert!(sweep.matches(&late));
        assert!(!sweep.matches(&placed(PaymentMethod::Cod, now().add_minutes(-31))));
        late.reservation_expired_at = Some(now());
        assert!(!sweep.matches(&late), "released once");
        let mut failed = placed(PaymentMethod::Prepaid, now().add_minutes(-31));
        failed.status = OrderStatus::PaymentFailed;
        assert!(!sweep.matches(&failed));
    }

    #[test]
    fn cod_delivered_needs_a_delivery_whatever_the_age() {
        let sweep = OrderSweep::cod_delivered();
        let mut cod = placed(PaymentMethod::Cod, now());
        assert!(!sweep.matches(&cod), "not delivered yet");
        cod.delivered_at = Some(now());
        assert!(sweep.matches(&cod));
        let mut prepaid = placed(PaymentMethod::Prepaid, now());
        prepaid.delivered_at = Some(now());
        assert!(!sweep.matches(&prepaid));
        cod.status = OrderStatus::Confirmed;
        assert!(!sweep.matches(&cod), "already confirmed");
    }
}
