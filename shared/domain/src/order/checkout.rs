//! The end of an orchestrated checkout, on the order: the saga's `order.checkout_finished`
//! moves the pending order to `confirmed` (completed: paid, stock held, fulfillment opened,
//! customer told) or to `cancelled` (compensated: what was done is undone). Repeating it changes
//! nothing.

use crate::events::checkout::{CheckoutFinishedEvent, CheckoutOutcome};
use crate::order::{Order, OrderStatus, StatusChange};
use crate::state::InvalidTransition;

/// History reason of an order whose checkout saga completed.
pub const CHECKOUT_COMPLETED_REASON: &str = "checkout completed";

/// History reason prefix of an order whose checkout saga was compensated.
pub const CHECKOUT_COMPENSATED_REASON: &str = "checkout compensated";

impl Order {
    /// Applies the saga's outcome. The payment the saga captured is recorded on a completed
    /// checkout; a compensated one keeps no payment (it was refunded, or never taken).
    /// `Ok(None)` when the order is already there (the outcome delivered again).
    ///
    /// # Errors
    /// [`InvalidTransition`] when the order can no longer take the outcome: it was cancelled
    /// (or moved on) while its checkout completed, or it moved on while it was compensated.
    pub fn finish_checkout(
        &mut self,
        finished: &CheckoutFinishedEvent,
    ) -> Result<Option<StatusChange>, InvalidTransition> {
        let at = finished.timestamp;
        match finished.outcome {
            CheckoutOutcome::Completed => self.change_status(
                OrderStatus::Confirmed,
                CHECKOUT_COMPLETED_REASON,
                finished.payment_id.clone(),
                at,
            ),
            CheckoutOutcome::Compensated => {
                let reason = match finished.reason.as_deref() {
                    Some(why) if !why.trim().is_empty() => {
                        format!("{CHECKOUT_COMPENSATED_REASON}: {why}")
                    }
                    _ => CHECKOUT_COMPENSATED_REASON.to_owned(),
                };
                self.change_status(OrderStatus::Cancelled, reason, None, at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::order::PaymentMethod;
    use crate::{OrderId, PaymentId};

    fn pending() -> Order {
        let sample = samples::checkout_requested();
        Order::place(
            OrderId::parse(samples::CHECKOUT_ORDER_ID).unwrap(),
            sample.customer_id,
            PaymentMethod::Prepaid,
            sample.currency,
            sample.items,
            sample.timestamp,
        )
        .unwrap()
    }

    fn compensated(reason: Option<&str>) -> CheckoutFinishedEvent {
        CheckoutFinishedEvent {
            outcome: CheckoutOutcome::Compensated,
            reason: reason.map(str::to_owned),
            payment_id: None,
            ..samples::checkout_finished()
        }
    }

    #[test]
    fn a_completed_checkout_confirms_the_order_with_its_payment_once() {
        let mut order = pending();
        let finished = samples::checkout_finished();
        let change = order.finish_checkout(&finished).unwrap().unwrap();
        assert_eq!(
            (change.from, change.to),
            (OrderStatus::Pending, OrderStatus::Confirmed)
        );
        assert_eq!(change.reason, CHECKOUT_COMPLETED_REASON);
        assert_eq!(change.at, finished.timestamp);
        let paid = Some(PaymentId::parse(format!("pay-{}", samples::CHECKOUT_ORDER_ID)).unwrap());
        assert_eq!(change.payment_id, paid);
        assert_eq!(order.payment_id, paid);
        assert_eq!(order.finish_checkout(&finished).unwrap(), None);
    }

    #[test]
    fn a_compensated_checkout_cancels_the_order_with_the_saga_s_reason() {
        let mut order = pending();
        let change = order
            .finish_checkout(&compensated(Some("payment declined")))
            .unwrap()
            .unwrap();
        assert_eq!(change.to, OrderStatus::Cancelled);
        assert_eq!(change.reason, "checkout compensated: payment declined");
        assert_eq!(order.payment_id, None);
        let mut order = pending();
        let change = order.finish_checkout(&compensated(None)).unwrap().unwrap();
        assert_eq!(change.reason, CHECKOUT_COMPENSATED_REASON);
    }

    #[test]
    fn an_order_cancelled_meanwhile_refuses_a_completed_checkout() {
        let mut order = pending();
        order.finish_checkout(&compensated(None)).unwrap();
        let err = order
            .finish_checkout(&samples::checkout_finished())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "order cannot move from cancelled to confirmed"
        );
        assert_eq!(order.status, OrderStatus::Cancelled);
    }
}
