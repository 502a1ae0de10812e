//! Securing a paid order's stock: what was held is confirmed, and what is held no more (a
//! payment that arrives after a failed one, or after the unpaid-order hold lapsed) is held
//! again, or the shortage is reported so the order is cancelled and refunded. A pure function
//! over locked rows, as the rest of [`plan`](super::plan).

use std::collections::BTreeSet;

use crate::events::order::OrderLine;
use crate::events::warehouse::ReservationEventKind;
use crate::warehouse::plan::totals;
use crate::warehouse::{
    Inventories, MovementKind, Reservation, ReservationStatus, StockChanges, StockError,
    StockMovement, WarehouseEvent,
};
use crate::{OrderId, Timestamp};

/// Secures a paid (or confirmed) order's lines: active reservations are confirmed, and lines
/// held no more (released after a failed payment, expired, never reserved) are held again,
/// confirmed at once. All or nothing: when one line cannot be held again, nothing changes and
/// the shortage is returned, so the order is cancelled (and refunded) rather than fulfilled
/// with stock it does not hold. Securing twice changes nothing.
///
/// # Errors
/// [`StockError::UnknownProduct`], [`StockError::InsufficientStock`],
/// [`StockError::Overflow`].
pub fn secure(
    order_id: &OrderId,
    lines: &[OrderLine],
    existing: Vec<Reservation>,
    mut stock: Inventories,
    now: Timestamp,
) -> Result<StockChanges, StockError> {
    let wanted = totals(lines.iter().map(|l| (&l.product_id, l.quantity)))?;
    let mut changes = StockChanges::default();
    let mut touched = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for mut r in existing {
        seen.insert(r.product_id.clone());
        let Some(&quantity) = wanted.get(&r.product_id) else {
            continue;
        };
        let event = if r.status == ReservationStatus::Active {
            r.change_status(ReservationStatus::Confirmed, now)
                .map_err(|e| StockError::Inconsistent {
                    product_id: r.product_id.clone(),
                    reason: e.to_string(),
                })?;
            changes
                .movements
                .push(movement(&r, MovementKind::Confirm, now));
            ReservationEventKind::Confirmed
        } else if r.renew(quantity, now) {
            hold_again(&mut stock, &r, now)?;
            touched.insert(r.product_id.clone());
            changes
                .movements
                .push(movement(&r, MovementKind::Reserve, now));
            ReservationEventKind::Confirmed
        } else {
            continue;
        };
        changes
            .events
            .push(WarehouseEvent::Reservation(r.event(event, None, now)));
        changes.reservations.push(r);
    }
    for (product, &quantity) in wanted.iter().filter(|(p, _)| !seen.contains(*p)) {
        let mut r = Reservation::hold(order_id.clone(), product.clone(), quantity, now);
        r.change_status(ReservationStatus::Confirmed, now)
            .map_err(|e| StockError::Inconsistent {
                product_id: product.clone(),
                reason: e.to_string(),
            })?;
        hold_again(&mut stock, &r, now)?;
        touched.insert(product.clone());
        changes
            .movements
            .push(movement(&r, MovementKind::Reserve, now));
        changes.events.push(WarehouseEvent::Reservation(r.event(
            ReservationEventKind::Created,
            None,
            now,
        )));
        changes.new_reservations.push(r);
    }
    changes.announce(&mut stock, touched, "reserved", now);
    Ok(changes)
}

fn hold_again(stock: &mut Inventories, r: &Reservation, now: Timestamp) -> Result<(), StockError> {
    stock
        .get_mut(&r.product_id)
        .ok_or_else(|| StockError::UnknownProduct(r.product_id.clone()))?
        .reserve(r.quantity, now)
}

fn movement(r: &Reservation, kind: MovementKind, now: Timestamp) -> StockMovement {
    StockMovement::new(
        r.product_id.clone(),
        kind,
        r.quantity,
        Some(r.order_id.as_str()),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DomainEvent;
    use crate::order::PaymentMethod;
    use crate::warehouse::plan::{Settlement, reserve, settle};
    use crate::warehouse::{Inventory, ReservationStatus};
    use crate::{Money, ProductId, Quantity};

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_millis(0).add_minutes(minutes)
    }

    fn sku(s: &str) -> ProductId {
        ProductId::parse(s).unwrap()
    }

    fn order() -> OrderId {
        OrderId::parse("ord-1").unwrap()
    }

    fn lines() -> Vec<OrderLine> {
        [("sku-a", 2), ("sku-b", 1)]
            .into_iter()
            .map(|(p, n)| OrderLine {
                product_id: sku(p),
                quantity: Quantity::new(n),
                unit_price: Money::from_minor(100).unwrap(),
            })
            .collect()
    }

    fn stock(levels: &[(&str, u32, u32)]) -> Inventories {
        levels
            .iter()
            .map(|&(p, on_hand, reserved)| {
                let mut inv = Inventory::new(sku(p), Quantity::new(on_hand), Quantity::ZERO, at(0));
                inv.reserved = Quantity::new(reserved);
                (sku(p), inv)
            })
            .collect()
    }

    fn levels(c: &StockChanges) -> Vec<(&str, u32, u32)> {
        c.inventories
            .iter()
            .map(|i| (i.product_id.as_str(), i.on_hand.get(), i.reserved.get()))
            .collect()
    }

    fn statuses(rs: &[Reservation]) -> Vec<(&str, ReservationStatus, Option<Timestamp>)> {
        rs.iter()
            .map(|r| (r.product_id.as_str(), r.status, r.expires_at))
            .collect()
    }

    /// The order's reservations after it was placed and its hold released.
    fn released() -> Vec<Reservation> {
        let held = reserve(
            &order(),
            &lines(),
            PaymentMethod::Prepaid,
            &[],
            stock(&[("sku-a", 5, 0), ("sku-b", 1, 0)]),
            at(0),
        )
        .unwrap();
        let stock = held
            .inventories
            .into_iter()
            .map(|i| (i.product_id.clone(), i))
            .collect();
        settle(
            held.new_reservations,
            stock,
            Settlement::Release("card declined"),
            at(1),
        )
        .unwrap()
        .reservations
    }

    #[test]
    fn active_reservations_are_confirmed_without_touching_stock() {
        let held = reserve(
            &order(),
            &lines(),
            PaymentMethod::Prepaid,
            &[],
            stock(&[("sku-a", 5, 0), ("sku-b", 1, 0)]),
            at(0),
        )
        .unwrap();
        let c = secure(
            &order(),
            &lines(),
            held.new_reservations,
            stock(&[("sku-a", 5, 2), ("sku-b", 1, 1)]),
            at(5),
        )
        .unwrap();
        assert_eq!(
            statuses(&c.reservations),
            [
                ("sku-a", ReservationStatus::Confirmed, None),
                ("sku-b", ReservationStatus::Confirmed, None)
            ]
        );
        assert!(c.inventories.is_empty() && c.new_reservations.is_empty());
        let topics: Vec<_> = c.events.iter().map(DomainEvent::topic).collect();
        assert_eq!(topics, ["warehouse.reservation.confirmed"; 2]);
        let again = secure(
            &order(),
            &lines(),
            c.reservations,
            stock(&[("sku-a", 5, 2), ("sku-b", 1, 1)]),
            at(6),
        )
        .unwrap();
        assert!(again.is_empty(), "securing twice changes nothing");
    }

    #[test]
    fn a_payment_after_the_release_holds_the_stock_again() {
        let c = secure(
            &order(),
            &lines(),
            released(),
            stock(&[("sku-a", 5, 0), ("sku-b", 1, 0)]),
            at(40),
        )
        .unwrap();
        assert_eq!(
            statuses(&c.reservations),
            [
                ("sku-a", ReservationStatus::Confirmed, None),
                ("sku-b", ReservationStatus::Confirmed, None)
            ]
        );
        assert_eq!(levels(&c), [("sku-a", 5, 2), ("sku-b", 1, 1)]);
        assert!(
            c.movements
                .iter()
                .all(|m| m.kind == MovementKind::Reserve && m.reference.as_deref() == Some("ord-1"))
        );
        let topics: Vec<_> = c.events.iter().map(DomainEvent::topic).collect();
        assert_eq!(
            topics,
            [
                "warehouse.reservation.confirmed",
                "warehouse.reservation.confirmed",
                "warehouse.inventory.updated",
                "warehouse.inventory.updated"
            ]
        );
    }

    #[test]
    fn lines_never_reserved_are_held_confirmed() {
        let c = secure(
            &order(),
            &lines(),
            Vec::new(),
            stock(&[("sku-a", 2, 0), ("sku-b", 3, 1)]),
            at(1),
        )
        .unwrap();
        assert_eq!(
            statuses(&c.new_reservations),
            [
                ("sku-a", ReservationStatus::Confirmed, None),
                ("sku-b", ReservationStatus::Confirmed, None)
            ]
        );
        assert_eq!(levels(&c), [("sku-a", 2, 2), ("sku-b", 3, 2)]);
    }

    #[test]
    fn stock_sold_meanwhile_is_a_shortage_and_nothing_is_held() {
        // Someone else bought the last tee while the payment was late.
        let err = secure(
            &order(),
            &lines(),
            released(),
            stock(&[("sku-a", 5, 0), ("sku-b", 1, 1)]),
            at(40),
        )
        .unwrap_err();
        assert_eq!(
            err,
            StockError::InsufficientStock {
                product_id: sku("sku-b"),
                requested: Quantity::new(1),
                available: Quantity::ZERO
            }
        );
        assert!(err.reservation_failed(&order(), at(40)).is_some());
        assert_eq!(
            secure(
                &order(),
                &lines(),
                Vec::new(),
                stock(&[("sku-a", 5, 0)]),
                at(1)
            ),
            Err(StockError::UnknownProduct(sku("sku-b")))
        );
    }
}
