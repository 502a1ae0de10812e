//! Unit tests of the pure stock operations.

use super::*;
use crate::Money;
use crate::events::DomainEvent;
use crate::warehouse::Inventory;

const PREPAID: PaymentMethod = PaymentMethod::Prepaid;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn sku(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn order() -> OrderId {
    OrderId::parse("ord-1").unwrap()
}

fn stock(levels: &[(&str, u32)]) -> Inventories {
    levels
        .iter()
        .map(|&(p, n)| {
            let mut inv = Inventory::new(sku(p), Quantity::new(n), Quantity::new(1), at(0));
            inv.mark_published();
            (sku(p), inv)
        })
        .collect()
}

fn line(p: &str, n: u32) -> OrderLine {
    OrderLine {
        product_id: sku(p),
        quantity: Quantity::new(n),
        unit_price: Money::from_minor(100).unwrap(),
    }
}

fn topics(changes: &StockChanges) -> Vec<&'static str> {
    changes.events.iter().map(DomainEvent::topic).collect()
}

#[test]
fn reserve_holds_every_line_and_announces_each_product() {
    let lines = [line("sku-a", 2), line("sku-b", 1), line("sku-a", 1)];
    let c = reserve(
        &order(),
        &lines,
        PREPAID,
        &[],
        stock(&[("sku-a", 5), ("sku-b", 1)]),
        at(10),
    )
    .unwrap();
    let held: Vec<_> = c
        .new_reservations
        .iter()
        .map(|r| (r.product_id.as_str(), r.quantity.get(), r.status))
        .collect();
    assert_eq!(
        held,
        vec![
            ("sku-a", 3, ReservationStatus::Active),
            ("sku-b", 1, ReservationStatus::Active)
        ]
    );
    assert_eq!(
        topics(&c),
        vec![
            "warehouse.reservation.created",
            "warehouse.reservation.created",
            "warehouse.inventory.updated",
            "warehouse.inventory.updated"
        ]
    );
    let levels: Vec<_> = c
        .inventories
        .iter()
        .map(|i| (i.reserved.get(), i.available().get(), i.is_published()))
        .collect();
    assert_eq!(levels, vec![(3, 2, true), (1, 0, true)]);
    let deltas: Vec<_> = c.movements.iter().map(|m| (m.kind, m.delta)).collect();
    assert_eq!(
        deltas,
        vec![(MovementKind::Reserve, -3), (MovementKind::Reserve, -1)]
    );
    assert_eq!(c.movements[0].reference.as_deref(), Some("ord-1"));
}

#[test]
fn reserve_is_all_or_nothing_and_unknown_products_come_first() {
    let lines = [line("sku-a", 1), line("sku-b", 2)];
    let err = reserve(
        &order(),
        &lines,
        PREPAID,
        &[],
        stock(&[("sku-a", 5), ("sku-b", 1)]),
        at(1),
    )
    .unwrap_err();
    assert_eq!(
        err,
        StockError::InsufficientStock {
            product_id: sku("sku-b"),
            requested: Quantity::new(2),
            available: Quantity::new(1)
        }
    );
    let lines = [line("sku-b", 2), line("sku-z", 1)];
    let err = reserve(
        &order(),
        &lines,
        PREPAID,
        &[],
        stock(&[("sku-b", 1)]),
        at(1),
    )
    .unwrap_err();
    assert_eq!(err, StockError::UnknownProduct(sku("sku-z")));
    assert!(err.is_retryable());
}

#[test]
fn reserving_again_skips_lines_already_reserved() {
    let lines = [line("sku-a", 1), line("sku-b", 1)];
    let first = reserve(
        &order(),
        &lines,
        PREPAID,
        &[],
        stock(&[("sku-a", 5), ("sku-b", 5)]),
        at(1),
    )
    .unwrap();
    let again = reserve(
        &order(),
        &lines,
        PREPAID,
        &first.new_reservations,
        stock(&[("sku-a", 5), ("sku-b", 5)]),
        at(2),
    )
    .unwrap();
    assert!(again.is_empty());
    let partly = reserve(
        &order(),
        &lines,
        PREPAID,
        &first.new_reservations[..1],
        stock(&[("sku-b", 5)]),
        at(2),
    )
    .unwrap();
    assert_eq!(partly.new_reservations.len(), 1);
    assert_eq!(partly.new_reservations[0].product_id, sku("sku-b"));
}

fn held(levels: &[(&str, u32)], lines: &[OrderLine]) -> (Vec<Reservation>, Inventories) {
    let c = reserve(&order(), lines, PREPAID, &[], stock(levels), at(0)).unwrap();
    let stock = c
        .inventories
        .into_iter()
        .map(|i| (i.product_id.clone(), i))
        .collect();
    (c.new_reservations, stock)
}

#[test]
fn confirm_changes_only_active_reservations_and_no_stock() {
    let (rs, stock) = held(&[("sku-a", 5)], &[line("sku-a", 2)]);
    let c = settle(rs, stock.clone(), Settlement::Confirm, at(5)).unwrap();
    assert_eq!(topics(&c), vec!["warehouse.reservation.confirmed"]);
    assert!(c.inventories.is_empty());
    assert_eq!(c.reservations[0].status, ReservationStatus::Confirmed);
    assert_eq!(c.reservations[0].expires_at, None);
    assert_eq!(
        (c.movements[0].kind, c.movements[0].delta),
        (MovementKind::Confirm, 0)
    );
    let again = settle(c.reservations, stock, Settlement::Confirm, at(6)).unwrap();
    assert!(again.is_empty());
}

#[test]
fn release_gives_back_active_and_confirmed_stock_with_the_reason() {
    let (mut rs, stock) = held(
        &[("sku-a", 5), ("sku-b", 3)],
        &[line("sku-a", 2), line("sku-b", 3)],
    );
    rs[1]
        .change_status(ReservationStatus::Confirmed, at(1))
        .unwrap();
    let c = settle(rs, stock, Settlement::Release("card declined"), at(5)).unwrap();
    assert_eq!(
        topics(&c),
        vec![
            "warehouse.reservation.released",
            "warehouse.reservation.released",
            "warehouse.inventory.updated",
            "warehouse.inventory.updated"
        ]
    );
    let WarehouseEvent::Reservation(ev) = &c.events[0] else {
        panic!("reservation event first")
    };
    assert_eq!(ev.reason.as_deref(), Some("card declined"));
    assert_eq!(ev.status, ReservationStatus::Released);
    assert!(c.inventories.iter().all(|i| i.reserved == Quantity::ZERO));
    assert_eq!(c.movements[1].delta, 3);
    let again = settle(
        c.reservations,
        Inventories::new(),
        Settlement::Release("x"),
        at(6),
    )
    .unwrap();
    assert!(again.is_empty(), "released reservations are final");
}

#[test]
fn expire_takes_only_due_active_reservations() {
    let (rs, stock) = held(&[("sku-a", 5)], &[line("sku-a", 2)]);
    let due = rs[0].expires_at.unwrap().millis();
    let early = settle(rs.clone(), stock.clone(), Settlement::Expire, at(due - 1)).unwrap();
    assert!(early.is_empty());
    let c = settle(rs, stock, Settlement::Expire, at(due)).unwrap();
    assert_eq!(
        topics(&c),
        vec![
            "warehouse.reservation.expired",
            "warehouse.inventory.updated"
        ]
    );
    let WarehouseEvent::Inventory(inv) = &c.events[1] else {
        panic!("inventory event second")
    };
    assert_eq!((inv.available.get(), inv.reason.as_str()), (5, "expired"));
}

#[test]
fn fulfil_deducts_stock_without_a_reservation_event() {
    let (rs, stock) = held(&[("sku-a", 5)], &[line("sku-a", 2)]);
    let c = settle(rs, stock, Settlement::Fulfil, at(5)).unwrap();
    assert_eq!(topics(&c), vec!["warehouse.inventory.updated"]);
    assert_eq!(c.reservations[0].status, ReservationStatus::Fulfilled);
    let inv = &c.inventories[0];
    assert_eq!((inv.on_hand.get(), inv.reserved.get()), (3, 0));
    assert_eq!(
        (c.movements[0].kind, c.movements[0].delta),
        (MovementKind::Deduct, -2)
    );
}

#[test]
fn settling_against_missing_or_short_inventory_is_inconsistent() {
    let (rs, _) = held(&[("sku-a", 5)], &[line("sku-a", 2)]);
    let err = settle(rs.clone(), Inventories::new(), Settlement::Fulfil, at(5)).unwrap_err();
    assert!(matches!(err, StockError::Inconsistent { .. }), "{err}");
    let err = settle(rs, stock(&[("sku-a", 5)]), Settlement::Release("x"), at(5)).unwrap_err();
    assert!(
        err.to_string().contains("release of 2 with 0 reserved"),
        "{err}"
    );
}

#[test]
fn returns_restock_once_per_product() {
    let lines = [
        ReturnLine {
            product_id: sku("sku-a"),
            quantity: Quantity::new(1),
        },
        ReturnLine {
            product_id: sku("sku-b"),
            quantity: Quantity::new(2),
        },
    ];
    let ret = ReturnId::parse("ret-1").unwrap();
    let c = restore_return(
        &ret,
        &lines,
        &BTreeSet::new(),
        stock(&[("sku-a", 0), ("sku-b", 1)]),
        at(3),
    )
    .unwrap();
    let levels: Vec<_> = c.inventories.iter().map(|i| i.on_hand.get()).collect();
    assert_eq!(levels, vec![1, 3]);
    assert_eq!(c.movements[1].reference.as_deref(), Some("ret-1"));
    let done = BTreeSet::from([sku("sku-a")]);
    let c = restore_return(&ret, &lines, &done, stock(&[("sku-b", 1)]), at(3)).unwrap();
    assert_eq!(c.inventories.len(), 1);
    let err = restore_return(
        &ret,
        &lines,
        &BTreeSet::new(),
        stock(&[("sku-b", 1)]),
        at(3),
    )
    .unwrap_err();
    assert_eq!(err, StockError::UnknownProduct(sku("sku-a")));
}
