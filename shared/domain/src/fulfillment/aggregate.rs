//! The fulfillment aggregate: one per paid or confirmed order, from creation to shipping, and
//! what an order status change means for it.

use crate::events::fulfillment::FulfillmentStatusChangedEvent;
use crate::events::order::{OrderLine, OrderStatusChangedEvent};
use crate::fulfillment::{FulfillmentStatus, Picklist};
use crate::order::OrderStatus;
use crate::state::{InvalidTransition, Transition, transition};
use crate::{FulfillmentId, OrderId, PicklistId, Timestamp};

/// The fulfillment of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfillment {
    /// Id.
    pub id: FulfillmentId,
    /// The order it fulfils (one fulfillment per order).
    pub order_id: OrderId,
    /// Where it is.
    pub status: FulfillmentStatus,
    /// Why it was cancelled, once cancelled.
    pub cancel_reason: Option<String>,
    /// Created at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One fulfillment status change (creation included), as announced on
/// `fulfillment.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentChange {
    /// Status before; `None` on creation.
    pub from: Option<FulfillmentStatus>,
    /// Status after.
    pub to: FulfillmentStatus,
    /// Why, when not obvious.
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// What an order status change asks of the fulfillment service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderReaction {
    /// The order may be fulfilled: open its fulfillment (once).
    Open,
    /// The order was cancelled: cancel its fulfillment unless it has shipped.
    Cancel,
    /// Nothing to do.
    Ignore,
}

impl OrderReaction {
    /// The reaction to an order entering `status`.
    #[must_use]
    pub fn to(status: OrderStatus) -> Self {
        match status {
            OrderStatus::PaymentConfirmed | OrderStatus::Confirmed => Self::Open,
            OrderStatus::Cancelled => Self::Cancel,
            OrderStatus::Pending
            | OrderStatus::PaymentFailed
            | OrderStatus::Processing
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed => Self::Ignore,
        }
    }
}

/// The outcome of cancelling a fulfillment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancellation {
    /// It was cancelled now.
    Cancelled(FulfillmentChange),
    /// It was already cancelled (a repeated request).
    AlreadyCancelled,
    /// The goods have left the warehouse; it stays as it is.
    TooLate(FulfillmentStatus),
}

/// A fulfillment just opened for an order, with its picklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFulfillment {
    /// The fulfillment, `created`.
    pub fulfillment: Fulfillment,
    /// Its picklist, `pending`, one line per order line.
    pub picklist: Picklist,
    /// The creation, to announce.
    pub created: FulfillmentChange,
}

impl Fulfillment {
    /// Opens the fulfillment of the order `order` announces, with a pending picklist holding one
    /// line per order line.
    #[must_use]
    pub fn open(
        id: FulfillmentId,
        picklist_id: PicklistId,
        order: &OrderStatusChangedEvent,
        at: Timestamp,
    ) -> NewFulfillment {
        Self::open_for(id, picklist_id, &order.order_id, &order.items, at)
    }

    /// Opens the fulfillment of `order_id` with a pending picklist holding one line per item
    /// (the checkout saga's command carries the lines without a status change).
    #[must_use]
    pub fn open_for(
        id: FulfillmentId,
        picklist_id: PicklistId,
        order_id: &OrderId,
        items: &[OrderLine],
        at: Timestamp,
    ) -> NewFulfillment {
        let fulfillment = Self {
            id,
            order_id: order_id.clone(),
            status: FulfillmentStatus::Created,
            cancel_reason: None,
            created_at: at,
            updated_at: at,
        };
        let picklist = Picklist::issue(picklist_id, &fulfillment, items, at);
        NewFulfillment {
            fulfillment,
            picklist,
            created: FulfillmentChange {
                from: None,
                to: FulfillmentStatus::Created,
                reason: None,
                at,
            },
        }
    }

    /// Moves to `to`. `Ok(None)` when already there.
    ///
    /// # Errors
    /// [`InvalidTransition`] when the state machine forbids it.
    pub fn advance(
        &mut self,
        to: FulfillmentStatus,
        at: Timestamp,
    ) -> Result<Option<FulfillmentChange>, InvalidTransition> {
        match transition("fulfillment", &mut self.status, to)? {
            Transition::Unchanged(_) => Ok(None),
            Transition::Changed { from, to } => {
                self.updated_at = at;
                Ok(Some(FulfillmentChange {
                    from: Some(from),
                    to,
                    reason: None,
                    at,
                }))
            }
        }
    }

    /// Cancels unless the goods have shipped.
    ///
    /// # Errors
    /// [`InvalidTransition`] only if the state machine forbids a cancellation it should allow
    /// (every status before shipping may be cancelled).
    pub fn cancel(
        &mut self,
        reason: impl Into<String>,
        at: Timestamp,
    ) -> Result<Cancellation, InvalidTransition> {
        if self.status.has_shipped() {
            return Ok(Cancellation::TooLate(self.status));
        }
        match self.advance(FulfillmentStatus::Cancelled, at)? {
            None => Ok(Cancellation::AlreadyCancelled),
            Some(mut change) => {
                let reason = reason.into();
                self.cancel_reason = Some(reason.clone());
                change.reason = Some(reason);
                Ok(Cancellation::Cancelled(change))
            }
        }
    }

    /// The event announcing `change`.
    #[must_use]
    pub fn status_changed_event(
        &self,
        change: &FulfillmentChange,
    ) -> FulfillmentStatusChangedEvent {
        FulfillmentStatusChangedEvent {
            fulfillment_id: self.id.clone(),
            order_id: self.order_id.clone(),
            old_status: change.from,
            new_status: change.to,
            reason: change.reason.clone(),
            timestamp: change.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples;
    use crate::fulfillment::PicklistStatus;

    fn opened() -> NewFulfillment {
        Fulfillment::open(
            FulfillmentId::parse("ful-1").unwrap(),
            PicklistId::parse("pick-1").unwrap(),
            &samples::order_status_changed(),
            Timestamp::from_millis(10),
        )
    }

    #[test]
    fn only_paid_confirmed_and_cancelled_orders_matter() {
        let reactions: Vec<_> = OrderStatus::ALL
            .iter()
            .map(|&s| (s, OrderReaction::to(s)))
            .filter(|(_, r)| *r != OrderReaction::Ignore)
            .collect();
        assert_eq!(
            reactions,
            vec![
                (OrderStatus::PaymentConfirmed, OrderReaction::Open),
                (OrderStatus::Confirmed, OrderReaction::Open),
                (OrderStatus::Cancelled, OrderReaction::Cancel),
            ]
        );
    }

    #[test]
    fn open_issues_a_pending_picklist_with_the_order_lines() {
        let new = opened();
        assert_eq!(new.fulfillment.status, FulfillmentStatus::Created);
        assert_eq!(new.fulfillment.order_id.as_str(), samples::ORDER_ID);
        assert_eq!(new.picklist.status, PicklistStatus::Pending);
        assert_eq!(new.picklist.fulfillment_id, new.fulfillment.id);
        let lines: Vec<_> = new
            .picklist
            .lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.quantity.get()))
            .collect();
        assert_eq!(lines, vec![("sku-mug", 2), ("sku-tee", 1)]);
        let ev = new.fulfillment.status_changed_event(&new.created);
        assert_eq!(
            (ev.old_status, ev.new_status),
            (None, FulfillmentStatus::Created)
        );
        assert_eq!(ev.timestamp, Timestamp::from_millis(10));
    }

    #[test]
    fn cancel_records_the_reason_once_and_never_after_shipping() {
        let mut f = opened().fulfillment;
        let Cancellation::Cancelled(change) = f
            .cancel("customer asked", Timestamp::from_millis(20))
            .unwrap()
        else {
            panic!("expected a cancellation");
        };
        assert_eq!(change.from, Some(FulfillmentStatus::Created));
        assert_eq!(change.reason.as_deref(), Some("customer asked"));
        assert_eq!(f.cancel_reason.as_deref(), Some("customer asked"));
        assert_eq!(f.updated_at, Timestamp::from_millis(20));
        assert_eq!(
            f.cancel("again", Timestamp::from_millis(30)),
            Ok(Cancellation::AlreadyCancelled)
        );
        assert_eq!(f.cancel_reason.as_deref(), Some("customer asked"));

        let mut shipped = opened().fulfillment;
        shipped.status = FulfillmentStatus::Shipped;
        assert_eq!(
            shipped.cancel("late", Timestamp::from_millis(40)),
            Ok(Cancellation::TooLate(FulfillmentStatus::Shipped))
        );
        assert_eq!(shipped.status, FulfillmentStatus::Shipped);
        assert_eq!(shipped.cancel_reason, None);
    }

    #[test]
    fn advance_follows_the_state_machine() {
        let mut f = opened().fulfillment;
        let change = f
            .advance(FulfillmentStatus::Picking, Timestamp::from_millis(11))
            .unwrap()
            .unwrap();
        assert_eq!(change.from, Some(FulfillmentStatus::Created));
        assert_eq!(
            f.advance(FulfillmentStatus::Picking, Timestamp::from_millis(12)),
            Ok(None)
        );
        assert!(
            f.advance(FulfillmentStatus::Shipped, Timestamp::from_millis(13))
                .is_err()
        );
        assert_eq!(f.status, FulfillmentStatus::Picking);
        assert_eq!(f.updated_at, Timestamp::from_millis(11));
    }
}
