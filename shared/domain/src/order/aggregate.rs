//! The order aggregate: lines, totals, payment method, and the status changes it accepts.

use crate::events::order::{OrderLine, OrderStatusChangedEvent};
use crate::order::{OrderStatus, PaymentMethod};
use crate::state::{InvalidTransition, Transition, transition};
use crate::{Currency, CustomerId, Money, OrderId, PaymentId, Timestamp};

/// An order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Id.
    pub id: OrderId,
    /// Buyer.
    pub customer_id: CustomerId,
    /// Where it is.
    pub status: OrderStatus,
    /// Prepaid or COD.
    pub payment_method: PaymentMethod,
    /// ISO 4217 of every amount.
    pub currency: Currency,
    /// Lines (at least one).
    pub items: Vec<OrderLine>,
    /// Sum of the lines.
    pub total: Money,
    /// The payment that confirmed it.
    pub payment_id: Option<PaymentId>,
    /// When the carrier reported a COD parcel delivered (cash collected).
    pub delivered_at: Option<Timestamp>,
    /// When the reservation cleanup released the stock held for this unpaid order (set once).
    pub reservation_expired_at: Option<Timestamp>,
    /// Placed at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One recorded status change (the order's history row and the event it publishes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Status before.
    pub from: OrderStatus,
    /// Status after.
    pub to: OrderStatus,
    /// Why.
    pub reason: String,
    /// The payment behind it.
    pub payment_id: Option<PaymentId>,
    /// When.
    pub at: Timestamp,
}

/// Why an order cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceOrderError {
    /// No lines.
    #[error("an order needs at least one line")]
    NoLines,
    /// A line with zero units.
    #[error("line for {0} has quantity 0")]
    ZeroQuantity(crate::ProductId),
    /// The total overflows.
    #[error("order total overflows")]
    TotalOverflow,
}

/// Why a payment confirmation cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmPaymentError {
    /// The order is in a state that cannot be paid (cancelled, shipped, ...).
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The amount paid differs from the order total.
    #[error("payment of {paid} {currency} does not match order total {expected} {currency}")]
    AmountMismatch {
        /// Order total.
        expected: Money,
        /// Amount paid.
        paid: Money,
        /// Currency.
        currency: Currency,
    },
    /// The payment's currency differs from the order's.
    #[error("payment currency {paid} differs from order currency {expected}")]
    CurrencyMismatch {
        /// Order currency.
        expected: Currency,
        /// Payment currency.
        paid: Currency,
    },
}

impl Order {
    /// A new pending order; the total is computed from the lines.
    ///
    /// # Errors
    /// [`PlaceOrderError`] for an empty order, a zero line or an overflowing total.
    pub fn place(
        id: OrderId,
        customer_id: CustomerId,
        payment_method: PaymentMethod,
        currency: Currency,
        items: Vec<OrderLine>,
        at: Timestamp,
    ) -> Result<Self, PlaceOrderError> {
        if items.is_empty() {
            return Err(PlaceOrderError::NoLines);
        }
        let mut total = Money::ZERO;
        for line in &items {
            if line.quantity.get() == 0 {
                return Err(PlaceOrderError::ZeroQuantity(line.product_id.clone()));
            }
            total = line
                .unit_price
                .checked_mul(line.quantity.get())
                .and_then(|l| total.checked_add(l))
                .ok_or(PlaceOrderError::TotalOverflow)?;
        }
        Ok(Self {
            id,
            customer_id,
            status: OrderStatus::Pending,
            payment_method,
            currency,
            items,
            total,
            payment_id: None,
            delivered_at: None,
            reservation_expired_at: None,
            created_at: at,
            updated_at: at,
        })
    }

    /// Moves to `to`. `Ok(None)` when already there (a repeated event).
    ///
    /// # Errors
    /// [`InvalidTransition`] when the state machine forbids it.
    pub fn change_status(
        &mut self,
        to: OrderStatus,
        reason: impl Into<String>,
        payment_id: Option<PaymentId>,
        at: Timestamp,
    ) -> Result<Option<StatusChange>, InvalidTransition> {
        match transition("order", &mut self.status, to)? {
            Transition::Unchanged(_) => Ok(None),
            Transition::Changed { from, to } => {
                self.updated_at = at;
                if payment_id.is_some() {
                    self.payment_id.clone_from(&payment_id);
                }
                Ok(Some(StatusChange {
                    from,
                    to,
                    reason: reason.into(),
                    payment_id,
                    at,
                }))
            }
        }
    }

    /// Applies a confirmed payment: checks amount and currency, then moves to
    /// `payment_confirmed`. `Ok(None)` when already confirmed.
    ///
    /// # Errors
    /// [`ConfirmPaymentError`].
    pub fn confirm_payment(
        &mut self,
        payment_id: &PaymentId,
        paid: Money,
        currency: &Currency,
        at: Timestamp,
    ) -> Result<Option<StatusChange>, ConfirmPaymentError> {
        if self.status == OrderStatus::PaymentConfirmed {
            return Ok(None);
        }
        if currency != &self.currency {
            return Err(ConfirmPaymentError::CurrencyMismatch {
                expected: self.currency.clone(),
                paid: currency.clone(),
            });
        }
        if paid != self.total {
            return Err(ConfirmPaymentError::AmountMismatch {
                expected: self.total,
                paid,
                currency: self.currency.clone(),
            });
        }
        let reason = format!("payment {payment_id} confirmed");
        Ok(self.change_status(
            OrderStatus::PaymentConfirmed,
            reason,
            Some(payment_id.clone()),
            at,
        )?)
    }

    /// The event announcing `change`.
    #[must_use]
    pub fn status_changed_event(&self, change: &StatusChange) -> OrderStatusChangedEvent {
        self.event(
            Some(change.from),
            change.to,
            change.reason.clone(),
            change.payment_id.clone(),
            change.at,
        )
    }

    /// The event announcing this order as placed at `at` (no status before, its status now),
    /// as the order service publishes it.
    #[must_use]
    pub fn placed_event(&self, at: Timestamp) -> OrderStatusChangedEvent {
        self.event(None, self.status, "order placed".to_owned(), None, at)
    }

    fn event(
        &self,
        old_status: Option<OrderStatus>,
        new_status: OrderStatus,
        reason: String,
        payment_id: Option<PaymentId>,
        at: Timestamp,
    ) -> OrderStatusChangedEvent {
        OrderStatusChangedEvent {
            order_id: self.id.clone(),
            customer_id: self.customer_id.clone(),
            old_status,
            new_status,
            reason,
            payment_id,
            payment_method: self.payment_method,
            total: self.total,
            currency: self.currency.clone(),
            items: self.items.clone(),
            timestamp: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProductId, Quantity};

    pub(crate) fn order() -> Order {
        let line = |sku: &str, q, cents| OrderLine {
            product_id: ProductId::parse(sku).unwrap(),
            quantity: Quantity::new(q),
            unit_price: Money::from_minor(cents).unwrap(),
        };
        Order::place(
            OrderId::parse("ord-1").unwrap(),
            CustomerId::parse("cus-1").unwrap(),
            PaymentMethod::Prepaid,
            Currency::parse("USD").unwrap(),
            vec![line("sku-a", 2, 1250), line("sku-b", 1, 999)],
            Timestamp::from_millis(0),
        )
        .unwrap()
    }

    #[test]
    fn place_computes_total_and_rejects_empty_orders() {
        assert_eq!(order().total.minor(), 3499);
        let err = Order::place(
            OrderId::parse("o").unwrap(),
            CustomerId::parse("c").unwrap(),
            PaymentMethod::Cod,
            Currency::parse("USD").unwrap(),
            vec![],
            Timestamp::from_millis(0),
        );
        assert_eq!(err, Err(PlaceOrderError::NoLines));
    }

    #[test]
    fn confirm_payment_checks_amount_and_is_idempotent() {
        let mut o = order();
        let pay = PaymentId::parse("pay-1").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let wrong = o.confirm_payment(
            &pay,
            Money::from_minor(100).unwrap(),
            &usd,
            Timestamp::from_millis(5),
        );
        assert!(matches!(
            wrong,
            Err(ConfirmPaymentError::AmountMismatch { .. })
        ));
        let eur = Currency::parse("EUR").unwrap();
        assert!(matches!(
            o.confirm_payment(&pay, o.total, &eur, Timestamp::from_millis(5)),
            Err(ConfirmPaymentError::CurrencyMismatch { .. })
        ));
        let change = o
            .confirm_payment(&pay, o.total, &usd, Timestamp::from_millis(5))
            .unwrap()
            .unwrap();
        assert_eq!(
            (change.from, change.to),
            (OrderStatus::Pending, OrderStatus::PaymentConfirmed)
        );
        assert_eq!(o.payment_id, Some(pay.clone()));
        assert_eq!(
            o.confirm_payment(&pay, o.total, &usd, Timestamp::from_millis(6)),
            Ok(None)
        );
        let ev = o.status_changed_event(&change);
        assert_eq!(ev.old_status, Some(OrderStatus::Pending));
        assert_eq!(ev.reason, "payment pay-1 confirmed");
    }

    #[test]
    fn cancelled_order_cannot_be_paid() {
        let mut o = order();
        o.change_status(
            OrderStatus::Cancelled,
            "unpaid",
            None,
            Timestamp::from_millis(1),
        )
        .unwrap();
        let pay = PaymentId::parse("pay-1").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let err = o
            .confirm_payment(&pay, o.total, &usd, Timestamp::from_millis(2))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "order cannot move from cancelled to payment_confirmed"
        );
        assert_eq!(o.status, OrderStatus::Cancelled);
    }
}
