//! The stock operations as pure functions: given the locked rows, decide every change. Each
//! either succeeds as a whole or fails without changing anything.

use std::collections::{BTreeMap, BTreeSet};

use crate::events::order::OrderLine;
use crate::events::returns::ReturnLine;
use crate::events::warehouse::ReservationEventKind;
use crate::order::PaymentMethod;
use crate::warehouse::{
    Inventories, MovementKind, Reservation, ReservationStatus, StockChanges, StockError,
    StockMovement, WarehouseEvent,
};
use crate::{OrderId, ProductId, Quantity, ReturnId, Timestamp};

/// How held reservations are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement<'a> {
    /// Active -> confirmed: no expiry any more, stock unchanged.
    Confirm,
    /// Active or confirmed -> released, for this reason: the units become available again.
    Release(&'a str),
    /// Active and due -> expired: the units become available again.
    Expire,
    /// Active or confirmed -> fulfilled: the units leave the warehouse.
    Fulfil,
}

impl<'a> Settlement<'a> {
    fn applies_to(self, r: &Reservation, now: Timestamp) -> bool {
        match self {
            Self::Confirm => r.status == ReservationStatus::Active,
            Self::Expire => r.is_due(now),
            Self::Release(_) | Self::Fulfil => r.status.holds_stock(),
        }
    }

    fn target(self) -> ReservationStatus {
        match self {
            Self::Confirm => ReservationStatus::Confirmed,
            Self::Release(_) => ReservationStatus::Released,
            Self::Expire => ReservationStatus::Expired,
            Self::Fulfil => ReservationStatus::Fulfilled,
        }
    }

    fn movement(self) -> MovementKind {
        match self {
            Self::Confirm => MovementKind::Confirm,
            Self::Release(_) | Self::Expire => MovementKind::Release,
            Self::Fulfil => MovementKind::Deduct,
        }
    }

    /// The reservation event it publishes (none for shipping), with its reason.
    fn reservation_event(self) -> Option<(ReservationEventKind, Option<&'a str>)> {
        match self {
            Self::Confirm => Some((ReservationEventKind::Confirmed, None)),
            Self::Release(why) => Some((ReservationEventKind::Released, Some(why))),
            Self::Expire => Some((ReservationEventKind::Expired, Some("reservation expired"))),
            Self::Fulfil => None,
        }
    }

    /// The reason `warehouse.inventory.updated` gives.
    fn inventory_reason(self) -> &'static str {
        match self {
            Self::Confirm => "confirmed",
            Self::Release(_) => "released",
            Self::Expire => "expired",
            Self::Fulfil => "deducted",
        }
    }
}

/// Units per product, summed over lines that name a product twice.
///
/// # Errors
/// [`StockError::Overflow`].
pub fn totals<'a>(
    lines: impl IntoIterator<Item = (&'a ProductId, Quantity)>,
) -> Result<BTreeMap<ProductId, Quantity>, StockError> {
    let mut totals: BTreeMap<ProductId, Quantity> = BTreeMap::new();
    for (product, quantity) in lines {
        let total = totals.entry(product.clone()).or_default();
        *total = total
            .checked_add(quantity)
            .ok_or_else(|| StockError::Overflow(product.clone()))?;
    }
    Ok(totals)
}

/// Reserves an order's lines, all or nothing, for as long as its payment method allows
/// ([`hold_expiry`](super::hold_expiry)). Products that already have a reservation for this
/// order (in any status) are skipped, so reserving twice changes nothing.
///
/// # Errors
/// [`StockError::UnknownProduct`] when a product has no inventory (checked for every line
/// first), [`StockError::InsufficientStock`] when one line cannot be held.
pub fn reserve(
    order_id: &OrderId,
    lines: &[OrderLine],
    method: PaymentMethod,
    existing: &[Reservation],
    mut stock: Inventories,
    now: Timestamp,
) -> Result<StockChanges, StockError> {
    let mut wanted = totals(lines.iter().map(|l| (&l.product_id, l.quantity)))?;
    wanted.retain(|product, _| !existing.iter().any(|r| &r.product_id == product));
    if let Some(unknown) = wanted.keys().find(|p| !stock.contains_key(*p)) {
        return Err(StockError::UnknownProduct(unknown.clone()));
    }
    let mut changes = StockChanges::default();
    for (product, &quantity) in &wanted {
        if let Some(inventory) = stock.get_mut(product) {
            inventory.reserve(quantity, now)?;
        }
        let r = Reservation::hold_for(order_id.clone(), product.clone(), quantity, method, now);
        changes.movements.push(StockMovement::new(
            product.clone(),
            MovementKind::Reserve,
            quantity,
            Some(order_id.as_str()),
            now,
        ));
        changes.events.push(WarehouseEvent::Reservation(r.event(
            ReservationEventKind::Created,
            None,
            now,
        )));
        changes.new_reservations.push(r);
    }
    changes.announce(&mut stock, wanted.into_keys(), "reserved", now);
    Ok(changes)
}

/// Records the lines of an order the warehouse could not stock (see
/// [`Reservation::refused`]): one released reservation per product without one yet, no stock
/// and no event changed (the caller announces the shortage).
///
/// # Errors
/// [`StockError::Overflow`].
pub fn refuse(
    order_id: &OrderId,
    lines: &[OrderLine],
    existing: &[Reservation],
    now: Timestamp,
) -> Result<StockChanges, StockError> {
    let mut wanted = totals(lines.iter().map(|l| (&l.product_id, l.quantity)))?;
    wanted.retain(|product, _| !existing.iter().any(|r| &r.product_id == product));
    let mut changes = StockChanges::default();
    for (product, quantity) in wanted {
        changes.new_reservations.push(Reservation::refused(
            order_id.clone(),
            product,
            quantity,
            now,
        ));
    }
    Ok(changes)
}

/// Settles the reservations the settlement applies to (others are left alone, so settling
/// twice changes nothing).
///
/// # Errors
/// [`StockError::Inconsistent`] when the stored levels cannot take the change (or a
/// reservation's inventory is missing).
pub fn settle(
    reservations: Vec<Reservation>,
    mut stock: Inventories,
    settlement: Settlement<'_>,
    now: Timestamp,
) -> Result<StockChanges, StockError> {
    let mut changes = StockChanges::default();
    let mut touched = BTreeSet::new();
    for mut r in reservations {
        if !settlement.applies_to(&r, now) {
            continue;
        }
        let Some(inventory) = stock.get_mut(&r.product_id) else {
            return Err(StockError::Inconsistent {
                product_id: r.product_id.clone(),
                reason: format!("reservation {} has no inventory", r.id),
            });
        };
        match settlement {
            Settlement::Confirm => {}
            Settlement::Release(_) | Settlement::Expire => inventory.release(r.quantity, now)?,
            Settlement::Fulfil => inventory.deduct(r.quantity, now)?,
        }
        if settlement != Settlement::Confirm {
            touched.insert(r.product_id.clone());
        }
        r.change_status(settlement.target(), now)
            .map_err(|e| StockError::Inconsistent {
                product_id: r.product_id.clone(),
                reason: e.to_string(),
            })?;
        changes.movements.push(StockMovement::new(
            r.product_id.clone(),
            settlement.movement(),
            r.quantity,
            Some(r.order_id.as_str()),
            now,
        ));
        if let Some((kind, why)) = settlement.reservation_event() {
            changes
                .events
                .push(WarehouseEvent::Reservation(r.event(kind, why, now)));
        }
        changes.reservations.push(r);
    }
    changes.announce(&mut stock, touched, settlement.inventory_reason(), now);
    Ok(changes)
}

/// Puts returned units back on hand. Products already restored for this return (`done`) are
/// skipped, so a return delivered under both of its topic names counts once.
///
/// # Errors
/// [`StockError::UnknownProduct`] when a product has no inventory, [`StockError::Overflow`].
pub fn restore_return(
    return_id: &ReturnId,
    lines: &[ReturnLine],
    done: &BTreeSet<ProductId>,
    mut stock: Inventories,
    now: Timestamp,
) -> Result<StockChanges, StockError> {
    let mut back = totals(lines.iter().map(|l| (&l.product_id, l.quantity)))?;
    back.retain(|product, _| !done.contains(product));
    let mut changes = StockChanges::default();
    for (product, &quantity) in &back {
        let Some(inventory) = stock.get_mut(product) else {
            return Err(StockError::UnknownProduct(product.clone()));
        };
        inventory.restock(quantity, now)?;
        changes.movements.push(StockMovement::new(
            product.clone(),
            MovementKind::Return,
            quantity,
            Some(return_id.as_str()),
            now,
        ));
    }
    changes.announce(&mut stock, back.into_keys(), "returned", now);
    Ok(changes)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
