//! The warehouse's event-driven operations over its ports: lock the rows (in the documented
//! order), decide with the pure [`plan`] functions, store the changes, and return
//! the events to publish. Every topic function of the warehouse service is a thin shell around
//! one of these; the jobs' operations are in [`sweeps`](crate::warehouse::sweeps).
//!
//! Results are `Result<Result<T, StockError>, E>`: the outer error is the store's (the
//! handler's `?` classifies it), the inner one a domain decision the handler classifies itself.

use std::collections::BTreeSet;

use crate::events::catalog::ProductCreatedEvent;
use crate::events::order::OrderLine;
use crate::events::returns::ReturnLine;
use crate::order::PaymentMethod;
use crate::warehouse::plan::{self, Settlement};
use crate::warehouse::secure;
use crate::warehouse::{
    DEFAULT_LOW_STOCK_THRESHOLD, Inventories, Inventory, MovementKind, Product, Reservation,
    StockChanges, StockError, StockMovement, WarehouseEvent, WarehouseRepository,
};
use crate::{OrderId, ProductId, ReturnId, Timestamp};

/// A store result around a domain decision.
pub type Decided<T, E> = Result<Result<T, StockError>, E>;

/// Locks the inventories of `products` in product order; unknown products are left out.
pub(super) async fn lock<R: WarehouseRepository + Send>(
    repo: &mut R,
    products: impl IntoIterator<Item = ProductId>,
) -> Result<Inventories, R::Error> {
    let mut stock = Inventories::new();
    for product in products.into_iter().collect::<BTreeSet<_>>() {
        if let Some(inventory) = repo.inventory_for_update(&product).await? {
            stock.insert(product, inventory);
        }
    }
    Ok(stock)
}

/// Stores a plan; returns its events.
async fn apply<R: WarehouseRepository + Send>(
    repo: &mut R,
    changes: StockChanges,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    for r in &changes.new_reservations {
        if !repo.insert_reservation(r).await? {
            return Ok(Err(StockError::ConcurrentReservation {
                order_id: r.order_id.clone(),
                product_id: r.product_id.clone(),
            }));
        }
    }
    for r in &changes.reservations {
        repo.save_reservation(r).await?;
    }
    for inventory in &changes.inventories {
        repo.save_inventory(inventory).await?;
    }
    for movement in &changes.movements {
        repo.record_movement(movement).await?;
    }
    Ok(Ok(changes.events))
}

pub(super) async fn apply_plan<R: WarehouseRepository + Send>(
    repo: &mut R,
    planned: Result<StockChanges, StockError>,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    match planned {
        Ok(changes) => apply(repo, changes).await,
        Err(e) => Ok(Err(e)),
    }
}

/// Reserves a pending order's lines for as long as its payment method allows
/// ([`hold_expiry`](super::hold_expiry)), all or nothing (see [`plan::reserve`]).
///
/// # Errors
/// The store's error; inside, [`StockError`] from the plan.
pub async fn reserve_order<R: WarehouseRepository + Send>(
    repo: &mut R,
    order_id: &OrderId,
    lines: &[OrderLine],
    method: PaymentMethod,
    now: Timestamp,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    let existing = repo.order_reservations_for_update(order_id).await?;
    let stock = lock(repo, lines.iter().map(|l| l.product_id.clone())).await?;
    let planned = plan::reserve(order_id, lines, method, &existing, stock, now);
    refuse_on_shortage(repo, order_id, lines, &existing, planned, now).await
}

/// Applies `planned`; when it failed for lack of stock, records the order's lines as refused
/// instead (see [`plan::refuse`]) and returns the shortage.
async fn refuse_on_shortage<R: WarehouseRepository + Send>(
    repo: &mut R,
    order_id: &OrderId,
    lines: &[OrderLine],
    existing: &[Reservation],
    planned: Result<StockChanges, StockError>,
    now: Timestamp,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    match planned {
        Err(shortage @ StockError::InsufficientStock { .. }) => {
            let refused = plan::refuse(order_id, lines, existing, now);
            Ok(apply_plan(repo, refused).await?.and(Err(shortage)))
        }
        planned => apply_plan(repo, planned).await,
    }
}

/// Secures a paid or confirmed order's lines: confirms what is held and holds again what is
/// not, all or nothing (see [`secure::secure`]).
///
/// # Errors
/// The store's error; inside, [`StockError`] from the plan (a shortage among them).
pub async fn secure_order<R: WarehouseRepository + Send>(
    repo: &mut R,
    order_id: &OrderId,
    lines: &[OrderLine],
    now: Timestamp,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    let existing = repo.order_reservations_for_update(order_id).await?;
    let stock = lock(repo, lines.iter().map(|l| l.product_id.clone())).await?;
    let planned = secure::secure(order_id, lines, existing.clone(), stock, now);
    refuse_on_shortage(repo, order_id, lines, &existing, planned, now).await
}

/// Settles an order's reservations (see [`plan::settle`]).
///
/// # Errors
/// The store's error; inside, [`StockError::Inconsistent`].
pub async fn settle_order<R: WarehouseRepository + Send>(
    repo: &mut R,
    order_id: &OrderId,
    settlement: Settlement<'_>,
    now: Timestamp,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    let reservations = repo.order_reservations_for_update(order_id).await?;
    let held = reservations.iter().filter(|r| r.status.holds_stock());
    let stock = lock(repo, held.map(|r| r.product_id.clone())).await?;
    apply_plan(repo, plan::settle(reservations, stock, settlement, now)).await
}

/// Puts a return's units back on hand, once per return and product.
///
/// # Errors
/// The store's error; inside, [`StockError::UnknownProduct`] (retryable) or overflow.
pub async fn restore_return<R: WarehouseRepository + Send>(
    repo: &mut R,
    return_id: &ReturnId,
    lines: &[ReturnLine],
    now: Timestamp,
) -> Decided<Vec<WarehouseEvent>, R::Error> {
    let stock = lock(repo, lines.iter().map(|l| l.product_id.clone())).await?;
    let mut done = BTreeSet::new();
    for product in stock.keys() {
        if repo
            .has_movement(product, MovementKind::Return, return_id.as_str())
            .await?
        {
            done.insert(product.clone());
        }
    }
    apply_plan(
        repo,
        plan::restore_return(return_id, lines, &done, stock, now),
    )
    .await
}

/// Creates a new product's inventory with its initial stock; nothing when it exists.
///
/// # Errors
/// The store's error.
pub async fn create_product<R: WarehouseRepository + Send>(
    repo: &mut R,
    event: &ProductCreatedEvent,
    now: Timestamp,
) -> Result<Vec<WarehouseEvent>, R::Error> {
    let product = Product {
        id: event.product_id.clone(),
        name: event.name.trim().to_owned(),
        created_at: event.timestamp,
    };
    let threshold = event
        .low_stock_threshold
        .unwrap_or(DEFAULT_LOW_STOCK_THRESHOLD);
    let inventory = Inventory::new(product.id.clone(), event.initial_stock, threshold, now);
    if !repo.insert_product(&product, &inventory).await? {
        return Ok(Vec::new());
    }
    let init = StockMovement::new(
        product.id,
        MovementKind::Init,
        event.initial_stock,
        None,
        now,
    );
    repo.record_movement(&init).await?;
    Ok(vec![WarehouseEvent::Inventory(
        inventory.updated_event("initialised", now),
    )])
}
