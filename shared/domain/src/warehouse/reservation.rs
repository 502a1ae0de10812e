//! Stock reservations: units of one product held for one order line, with their lifecycle.

use crate::events::warehouse::{ReservationEvent, ReservationEventKind};
use crate::order::PaymentMethod;
use crate::state::{InvalidTransition, Transition, transition};
use crate::warehouse::ReservationStatus;
use crate::{OrderId, ProductId, Quantity, ReservationId, Timestamp};

/// How long an unpaid prepaid order's reservation holds stock.
pub const RESERVATION_TTL_MINUTES: i64 = 30;

/// How long a cash-on-delivery order's reservation holds stock. Such an order stays pending
/// until its delivery is verified (days), so its stock is held until then or until the order is
/// cancelled; this limit only frees the stock of a parcel that is never delivered. A delivery
/// verified after it reserves again (see [`secure`](super::secure)).
pub const COD_RESERVATION_TTL_DAYS: i64 = 14;

/// When a reservation made now for an order paid by `method` lapses.
#[must_use]
pub fn hold_expiry(method: PaymentMethod, now: Timestamp) -> Timestamp {
    match method {
        PaymentMethod::Prepaid => now.add_minutes(RESERVATION_TTL_MINUTES),
        PaymentMethod::Cod => now.add_minutes(COD_RESERVATION_TTL_DAYS * 24 * 60),
    }
}

/// How long before expiry the holder is warned (`warehouse.reservation.expiring`).
pub const EXPIRY_WARNING_MINUTES: i64 = 10;

/// Units of one product held for one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Id.
    pub id: ReservationId,
    /// The order (one reservation per order and product).
    pub order_id: OrderId,
    /// The product.
    pub product_id: ProductId,
    /// Units held (at least 1).
    pub quantity: Quantity,
    /// Where it is.
    pub status: ReservationStatus,
    /// When an active reservation lapses; `None` once confirmed.
    pub expires_at: Option<Timestamp>,
    /// When the expiry warning went out (sent once).
    pub warned_at: Option<Timestamp>,
    /// Created at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Reservation {
    /// A new active reservation of a prepaid order, expiring [`RESERVATION_TTL_MINUTES`] after
    /// `now`.
    #[must_use]
    pub fn hold(
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        now: Timestamp,
    ) -> Self {
        Self::hold_for(order_id, product_id, quantity, PaymentMethod::Prepaid, now)
    }

    /// A new active reservation of an order paid by `method`, expiring at [`hold_expiry`].
    #[must_use]
    pub fn hold_for(
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        method: PaymentMethod,
        now: Timestamp,
    ) -> Self {
        Self {
            id: ReservationId::generate(),
            order_id,
            product_id,
            quantity,
            status: ReservationStatus::Active,
            expires_at: Some(hold_expiry(method, now)),
            warned_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Moves to `to`; `Ok(false)` when already there.
    ///
    /// # Errors
    /// [`InvalidTransition`] when the state machine forbids it.
    pub fn change_status(
        &mut self,
        to: ReservationStatus,
        at: Timestamp,
    ) -> Result<bool, InvalidTransition> {
        match transition("reservation", &mut self.status, to)? {
            Transition::Unchanged(_) => Ok(false),
            Transition::Changed { .. } => {
                if to != ReservationStatus::Active {
                    // Only an active reservation can lapse.
                    self.expires_at = None;
                }
                self.updated_at = at;
                Ok(true)
            }
        }
    }

    /// The record of a line the warehouse could not hold for lack of stock: released at once,
    /// never holding a unit. It keeps the order's line taken (one reservation per order and
    /// product), so the same placement announced again later does not reserve stock for an
    /// order that was cancelled over the shortage; a payment that still arrives renews it.
    #[must_use]
    pub fn refused(
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        now: Timestamp,
    ) -> Self {
        Self {
            status: ReservationStatus::Released,
            expires_at: None,
            ..Self::hold(order_id, product_id, quantity, now)
        }
    }

    /// Holds the units again for a paid order whose earlier hold was released or expired (the
    /// row is reused: one reservation per order and product): confirmed straight away, no
    /// expiry. `false` when it still holds stock or was fulfilled (nothing to do).
    pub fn renew(&mut self, quantity: Quantity, at: Timestamp) -> bool {
        if !matches!(
            self.status,
            ReservationStatus::Released | ReservationStatus::Expired
        ) {
            return false;
        }
        self.status = ReservationStatus::Confirmed;
        self.quantity = quantity;
        self.expires_at = None;
        self.warned_at = None;
        self.updated_at = at;
        true
    }

    /// Whether it is active and its expiry has come (`now >= expires_at`).
    #[must_use]
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.status == ReservationStatus::Active && self.expires_at.is_some_and(|e| e <= now)
    }

    /// Whether it is active, not yet warned, and expires within the warning window after `now`
    /// (not at or before `now`: then it is due, not expiring).
    #[must_use]
    pub fn needs_warning(&self, now: Timestamp) -> bool {
        let until = now.add_minutes(EXPIRY_WARNING_MINUTES);
        self.status == ReservationStatus::Active
            && self.warned_at.is_none()
            && self.expires_at.is_some_and(|e| e > now && e <= until)
    }

    /// Records the expiry warning; `false` when it was already sent.
    pub fn warn(&mut self, at: Timestamp) -> bool {
        if self.warned_at.is_some() {
            return false;
        }
        self.warned_at = Some(at);
        self.updated_at = at;
        true
    }

    /// The announcement of this reservation's current state.
    #[must_use]
    pub fn event(
        &self,
        kind: ReservationEventKind,
        reason: Option<&str>,
        at: Timestamp,
    ) -> ReservationEvent {
        ReservationEvent {
            event_type: kind,
            reservation_id: self.id.clone(),
            order_id: self.order_id.clone(),
            product_id: self.product_id.clone(),
            quantity: self.quantity,
            status: self.status,
            expires_at: self.expires_at,
            reason: reason.map(str::to_owned),
            timestamp: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Reservation {
        Reservation::hold(
            OrderId::parse("ord-1").unwrap(),
            ProductId::parse("sku-mug").unwrap(),
            Quantity::new(2),
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn hold_expires_after_thirty_minutes_exactly() {
        let r = held();
        assert_eq!(r.expires_at, Some(Timestamp::from_millis(30 * 60_000)));
        assert!(!r.is_due(Timestamp::from_millis(30 * 60_000 - 1)));
        assert!(r.is_due(Timestamp::from_millis(30 * 60_000)));
        assert!(r.is_due(Timestamp::from_millis(30 * 60_000 + 1)));
    }

    #[test]
    fn cash_on_delivery_holds_for_days_and_prepaid_for_thirty_minutes() {
        let now = Timestamp::from_millis(0);
        assert_eq!(
            hold_expiry(PaymentMethod::Prepaid, now),
            now.add_minutes(30)
        );
        let cod = Reservation::hold_for(
            OrderId::parse("ord-1").unwrap(),
            ProductId::parse("sku-mug").unwrap(),
            Quantity::new(1),
            PaymentMethod::Cod,
            now,
        );
        assert_eq!(cod.expires_at, Some(now.add_minutes(14 * 24 * 60)));
        assert!(!cod.is_due(now.add_minutes(3 * 24 * 60)), "days in transit");
        assert!(cod.is_due(now.add_minutes(14 * 24 * 60)));
    }

    #[test]
    fn a_refused_line_holds_nothing_until_a_payment_renews_it() {
        let mut r = Reservation::refused(
            OrderId::parse("ord-1").unwrap(),
            ProductId::parse("sku-mug").unwrap(),
            Quantity::new(2),
            Timestamp::from_millis(0),
        );
        assert_eq!(
            (r.status, r.expires_at),
            (ReservationStatus::Released, None)
        );
        assert!(!r.status.holds_stock() && !r.is_due(Timestamp::from_millis(i64::MAX / 2)));
        assert!(r.renew(Quantity::new(2), Timestamp::from_millis(1)));
        assert_eq!(r.status, ReservationStatus::Confirmed);
    }

    #[test]
    fn only_a_released_or_expired_reservation_is_renewed() {
        let mut r = held();
        assert!(
            !r.renew(Quantity::new(2), Timestamp::from_millis(1)),
            "active"
        );
        r.change_status(ReservationStatus::Expired, Timestamp::from_millis(2))
            .unwrap();
        assert!(r.renew(Quantity::new(3), Timestamp::from_millis(3)));
        assert_eq!(
            (r.status, r.quantity, r.expires_at, r.updated_at),
            (
                ReservationStatus::Confirmed,
                Quantity::new(3),
                None,
                Timestamp::from_millis(3)
            )
        );
        assert!(
            !r.renew(Quantity::new(3), Timestamp::from_millis(4)),
            "held"
        );
    }

    #[test]
    fn warning_window_is_the_ten_minutes_before_expiry() {
        let mut r = held();
        let expiry = 30 * 60_000;
        assert!(!r.needs_warning(Timestamp::from_millis(expiry - 10 * 60_000 - 1)));
        assert!(r.needs_warning(Timestamp::from_millis(expiry - 10 * 60_000)));
        assert!(r.needs_warning(Timestamp::from_millis(expiry - 1)));
        assert!(
            !r.needs_warning(Timestamp::from_millis(expiry)),
            "due, not expiring"
        );
        assert!(r.warn(Timestamp::from_millis(expiry - 60_000)));
        assert!(!r.warn(Timestamp::from_millis(expiry - 30_000)), "once");
        assert!(!r.needs_warning(Timestamp::from_millis(expiry - 1)));
    }

    #[test]
    fn confirm_clears_the_expiry_and_final_states_stay_final() {
        let mut r = held();
        assert!(
            r.change_status(ReservationStatus::Confirmed, Timestamp::from_millis(5))
                .unwrap()
        );
        assert_eq!(
            (r.expires_at, r.updated_at),
            (None, Timestamp::from_millis(5))
        );
        assert!(!r.is_due(Timestamp::from_millis(i64::MAX / 2)));
        assert!(
            !r.change_status(ReservationStatus::Confirmed, Timestamp::from_millis(6))
                .unwrap()
        );
        assert!(
            r.change_status(ReservationStatus::Expired, Timestamp::from_millis(7))
                .is_err()
        );
        assert!(
            r.change_status(ReservationStatus::Fulfilled, Timestamp::from_millis(8))
                .unwrap()
        );
        let ev = r.event(
            ReservationEventKind::Confirmed,
            Some("why"),
            Timestamp::from_millis(8),
        );
        assert_eq!(ev.status, ReservationStatus::Fulfilled);
        assert_eq!(ev.reason.as_deref(), Some("why"));
        assert_eq!(ev.quantity, Quantity::new(2));
    }
}
