//! Which events notify a customer, under which event key, with which text.
//!
//! | event | notifies | event key |
//! |---|---|---|
//! | `orders.order.status_changed` to pending (placed), confirmed, shipped, delivered, cancelled | the order's customer | `order:<order>:<status>` |
//! | `payment.confirmed` | the customer; "refund pending" when the order was cancelled | `payment:<payment>:confirmed` |
//! | `payment.failed` | the customer | `payment:<payment>:failed` |
//! | `warehouse.reservation.expiring` | the customer, once per order (not per line) | `reservation-expiring:<order>` |
//!
//! Status changes to payment_confirmed and payment_failed are not notified: the payment events
//! already are.

use serde::{Deserialize, Serialize};

use crate::events::order::OrderStatusChangedEvent;
use crate::events::payment::{PaymentConfirmedEvent, PaymentFailedEvent};
use crate::events::warehouse::{ReservationEvent, ReservationEventKind};
use crate::events::{Validate, ValidationError};
use crate::notification::Template;
use crate::order::OrderStatus;
use crate::{Currency, CustomerId, Money, OrderId};

/// An event notification dispatch consumes, told apart by its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CustomerEvent {
    /// `orders.order.status_changed`.
    StatusChanged(OrderStatusChangedEvent),
    /// `payment.failed` (tried before `payment.confirmed`, whose fields it contains).
    PaymentFailed(PaymentFailedEvent),
    /// `payment.confirmed`.
    PaymentConfirmed(PaymentConfirmedEvent),
    /// `warehouse.reservation.*`.
    Reservation(ReservationEvent),
}

impl Validate for CustomerEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::StatusChanged(e) => e.validate(),
            Self::PaymentFailed(e) => e.validate(),
            Self::PaymentConfirmed(e) => e.validate(),
            Self::Reservation(e) => e.validate(),
        }
    }
}

/// What the order service knows about the order an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    /// Its customer.
    pub customer_id: CustomerId,
    /// Its status now.
    pub status: OrderStatus,
    /// Its total.
    pub total: Money,
    /// Its currency.
    pub currency: Currency,
}

/// A notification before it is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The business event (unique per customer).
    pub event_key: String,
    /// The order it is about.
    pub order_id: OrderId,
    /// What it says.
    pub template: Template,
    /// The rendered text.
    pub text: String,
}

impl CustomerEvent {
    /// The order the event is about.
    #[must_use]
    pub fn order_id(&self) -> &OrderId {
        match self {
            Self::StatusChanged(e) => &e.order_id,
            Self::PaymentFailed(e) => &e.order_id,
            Self::PaymentConfirmed(e) => &e.order_id,
            Self::Reservation(e) => &e.order_id,
        }
    }

    /// The customer, when the event names one (status changes do; the others need the order).
    #[must_use]
    pub fn customer_id(&self) -> Option<&CustomerId> {
        match self {
            Self::StatusChanged(e) => Some(&e.customer_id),
            Self::PaymentFailed(_) | Self::PaymentConfirmed(_) | Self::Reservation(_) => None,
        }
    }

    /// Whether the event notifies anyone at all (decided from the event alone, so ignored
    /// events never touch the database).
    #[must_use]
    pub fn notifies(&self) -> bool {
        match self {
            Self::StatusChanged(e) => status_template(e).is_some(),
            Self::PaymentFailed(_) | Self::PaymentConfirmed(_) => true,
            Self::Reservation(e) => e.event_type == ReservationEventKind::Expiring,
        }
    }

    /// The notification the event calls for, given the order's facts (`None` when it calls for
    /// none).
    #[must_use]
    pub fn draft(&self, order: &OrderFacts) -> Option<Draft> {
        let order_id = self.order_id().clone();
        let (event_key, template, text) = match self {
            Self::StatusChanged(e) => {
                let template = status_template(e)?;
                let text = match template {
                    Template::OrderPlaced => format!(
                        "Thank you! Your order {} of {} {} has been placed.",
                        e.order_id,
                        money(e.total),
                        e.currency
                    ),
                    Template::OrderConfirmed => {
                        format!("Your order {} is confirmed.", e.order_id)
                    }
                    Template::OrderShipped => {
                        format!("Your order {} is on its way.", e.order_id)
                    }
                    Template::OrderDelivered => {
                        format!("Your order {} has been delivered.", e.order_id)
                    }
                    _ => format!(
                        "Your order {} has been cancelled: {}.",
                        e.order_id, e.reason
                    ),
                };
                (
                    format!("order:{}:{}", e.order_id, e.new_status),
                    template,
                    text,
                )
            }
            Self::PaymentConfirmed(e) => {
                let (template, text) = if order.status == OrderStatus::Cancelled {
                    (
                        Template::PaymentRefundPending,
                        format!(
                            "We received your payment of {:.2} {} for order {}, which was already cancelled. It will be refunded.",
                            e.amount, e.currency, e.order_id
                        ),
                    )
                } else {
                    (
                        Template::PaymentReceived,
                        format!(
                            "We received your payment of {:.2} {} for order {}.",
                            e.amount, e.currency, e.order_id
                        ),
                    )
                };
                (
                    format!("payment:{}:confirmed", e.payment_id),
                    template,
                    text,
                )
            }
            Self::PaymentFailed(e) => (
                format!("payment:{}:failed", e.payment_id),
                Template::PaymentFailed,
                format!(
                    "Your payment of {:.2} {} for order {} failed: {}. You can try again.",
                    e.amount, e.currency, e.order_id, e.failure_reason
                ),
            ),
            Self::Reservation(e) => {
                if e.event_type != ReservationEventKind::Expiring {
                    return None;
                }
                let until = e
                    .expires_at
                    .map(|t| format!(" by {}", t.to_rfc3339()))
                    .unwrap_or_default();
                (
                    format!("reservation-expiring:{}", e.order_id),
                    Template::ReservationExpiring,
                    format!(
                        "Complete the payment of {} {} for order {}{until} to keep its items reserved.",
                        money(order.total),
                        order.currency,
                        e.order_id
                    ),
                )
            }
        };
        Some(Draft {
            event_key,
            order_id,
            template,
            text,
        })
    }
}

fn status_template(e: &OrderStatusChangedEvent) -> Option<Template> {
    match (e.old_status, e.new_status) {
        (None, OrderStatus::Pending) => Some(Template::OrderPlaced),
        (_, OrderStatus::Confirmed) => Some(Template::OrderConfirmed),
        (_, OrderStatus::Shipped) => Some(Template::OrderShipped),
        (_, OrderStatus::Delivered) => Some(Template::OrderDelivered),
        (_, OrderStatus::Cancelled) => Some(Template::OrderCancelled),
        _ => None,
    }
}

fn money(amount: Money) -> String {
    format!("{:.2}", amount.to_major_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;

    fn facts(status: OrderStatus) -> OrderFacts {
        OrderFacts {
            customer_id: CustomerId::parse(samples::CUSTOMER_ID).unwrap(),
            status,
            total: Money::from_minor(4999).unwrap(),
            currency: Currency::parse("USD").unwrap(),
        }
    }

    fn decode<T: Serialize>(payload: &T) -> CustomerEvent {
        serde_json::from_value(serde_json::to_value(payload).unwrap()).unwrap()
    }

    #[test]
    fn each_payload_decodes_as_its_own_kind() {
        assert!(matches!(
            decode(&samples::order_status_changed()),
            CustomerEvent::StatusChanged(_)
        ));
        assert!(matches!(
            decode(&samples::payment_failed()),
            CustomerEvent::PaymentFailed(_)
        ));
        assert!(matches!(
            decode(&samples::payment_confirmed()),
            CustomerEvent::PaymentConfirmed(_)
        ));
        assert!(matches!(
            decode(&samples::reservation(ReservationEventKind::Expiring)),
            CustomerEvent::Reservation(_)
        ));
    }

    #[test]
    fn keys_templates_and_texts() {
        let paid = decode(&samples::payment_confirmed());
        let draft = paid.draft(&facts(OrderStatus::Pending)).unwrap();
        assert_eq!(draft.event_key, "payment:pay-9001:confirmed");
        assert_eq!(draft.template, Template::PaymentReceived);
        assert_eq!(
            draft.text,
            "We received your payment of 49.99 USD for order ord-1001."
        );
        let late = paid.draft(&facts(OrderStatus::Cancelled)).unwrap();
        assert_eq!(late.template, Template::PaymentRefundPending);

        let expiring = decode(&samples::reservation(ReservationEventKind::Expiring));
        let draft = expiring.draft(&facts(OrderStatus::Pending)).unwrap();
        assert_eq!(draft.event_key, "reservation-expiring:ord-1001");
        assert_eq!(
            draft.text,
            "Complete the payment of 49.99 USD for order ord-1001 by 2026-11-22T10:20:00.000Z to keep its items reserved."
        );

        let mut cancelled = samples::order_status_changed();
        cancelled.new_status = OrderStatus::Cancelled;
        cancelled.reason = "unpaid for 24 hours".to_owned();
        let draft = decode(&cancelled)
            .draft(&facts(OrderStatus::Cancelled))
            .unwrap();
        assert_eq!(draft.event_key, "order:ord-1001:cancelled");
        assert_eq!(
            draft.text,
            "Your order ord-1001 has been cancelled: unpaid for 24 hours."
        );
    }

    #[test]
    fn payment_status_changes_and_other_reservation_steps_notify_nobody() {
        let paid_status = decode(&samples::order_status_changed());
        assert!(!paid_status.notifies());
        assert_eq!(
            paid_status.draft(&facts(OrderStatus::PaymentConfirmed)),
            None
        );
        let created = decode(&samples::reservation(ReservationEventKind::Created));
        assert!(!created.notifies());
        assert_eq!(created.draft(&facts(OrderStatus::Pending)), None);
        assert!(decode(&samples::payment_failed()).notifies());
    }
}
