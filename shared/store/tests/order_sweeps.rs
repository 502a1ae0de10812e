//! Contract tests of the order jobs' claims ([`OrderSweepRepository`]) on both backends: the
//! store selects exactly what the domain's [`OrderSweep::matches`] says, oldest first, within
//! the limit, and overlapping claims on PostgreSQL take disjoint orders.

use conveyor_domain::events::samples;
use conveyor_domain::order::{
    Order, OrderRepository, OrderStatus, OrderSweep, OrderSweepRepository, PaymentMethod,
};
use conveyor_domain::{Currency, CustomerId, OrderId, Timestamp};
use conveyor_store::testing::on_both_backends;
use conveyor_store::{Backend, Store};

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap()
}

fn order(id: &str, method: PaymentMethod, minutes_ago: i64) -> Order {
    Order::place(
        OrderId::parse(id).unwrap(),
        CustomerId::parse("cus-1").unwrap(),
        method,
        Currency::parse("USD").unwrap(),
        samples::order_lines(),
        now().add_minutes(-minutes_ago),
    )
    .unwrap()
}

fn with(mut o: Order, edit: impl FnOnce(&mut Order)) -> Order {
    edit(&mut o);
    o
}

/// Every kind of order the three sweeps must tell apart.
fn population() -> Vec<Order> {
    use OrderStatus::{Cancelled, Confirmed, PaymentConfirmed, PaymentFailed};
    use PaymentMethod::{Cod, Prepaid};
    let day = 24 * 60;
    vec![
        order("pre-fresh", Prepaid, 10),
        order("pre-29m", Prepaid, 29),
        order("pre-31m", Prepaid, 31),
        order("pre-23h59", Prepaid, day - 1),
        order("pre-24h01", Prepaid, day + 1),
        order("pre-3d", Prepaid, 3 * day),
        with(order("pre-released", Prepaid, 40), |o| {
            o.reservation_expired_at = Some(now().add_minutes(-5));
        }),
        with(order("pre-old-released", Prepaid, 2 * day), |o| {
            o.reservation_expired_at = Some(now().sub_days(1));
        }),
        with(order("pre-failed-old", Prepaid, day + 5), |o| {
            o.status = PaymentFailed;
        }),
        with(order("pre-failed-young", Prepaid, 45), |o| {
            o.status = PaymentFailed;
        }),
        with(order("pre-paid-old", Prepaid, 2 * day), |o| {
            o.status = PaymentConfirmed;
        }),
        with(order("pre-cancelled", Prepaid, 2 * day), |o| {
            o.status = Cancelled
        }),
        order("cod-in-transit", Cod, 3 * day),
        with(order("cod-delivered", Cod, 2 * day), |o| {
            o.delivered_at = Some(now().add_minutes(-60));
        }),
        with(order("cod-delivered-new", Cod, 20), |o| {
            o.delivered_at = Some(now().add_minutes(-1));
        }),
        with(order("cod-confirmed", Cod, 2 * day), |o| {
            o.delivered_at = Some(now().add_minutes(-60));
            o.status = Confirmed;
        }),
    ]
}

async fn insert_all(store: &Store, orders: &[Order]) {
    let mut tx = store.begin().await.unwrap();
    for o in orders {
        assert!(tx.insert_order(o).await.unwrap());
    }
    tx.commit().await.unwrap();
}

fn expected(orders: &[Order], sweep: &OrderSweep) -> Vec<Order> {
    let mut picked: Vec<Order> = orders
        .iter()
        .filter(|o| sweep.matches(o))
        .cloned()
        .collect();
    picked.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    picked
}

fn ids(orders: &[Order]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

#[tokio::test]
async fn each_sweep_claims_exactly_what_the_domain_selects_oldest_first() {
    on_both_backends(|store| async move {
        let all = population();
        insert_all(&store, &all).await;
        let sweeps = [
            (
                OrderSweep::unpaid(now()),
                vec!["pre-3d", "pre-old-released", "pre-failed-old", "pre-24h01"],
            ),
            (
                OrderSweep::reservation_timed_out(now()),
                vec!["pre-3d", "pre-24h01", "pre-23h59", "pre-31m"],
            ),
            (
                OrderSweep::cod_delivered(),
                vec!["cod-delivered", "cod-delivered-new"],
            ),
        ];
        for (sweep, names) in sweeps {
            let want = expected(&all, &sweep);
            assert_eq!(ids(&want), names, "the population covers {sweep:?}");
            let mut tx = store.begin().await.unwrap();
            let claimed = tx.claim_orders(&sweep, 100).await.unwrap();
            assert_eq!(claimed, want, "whole orders with their lines");
            let first_two = tx.claim_orders(&sweep, 2).await.unwrap();
            assert_eq!(ids(&first_two), names[..2].to_vec());
            assert!(tx.claim_orders(&sweep, 0).await.unwrap().is_empty());
            tx.rollback().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_released_reservation_is_persisted_and_no_longer_claimed() {
    on_both_backends(|store| async move {
        insert_all(&store, &[order("ord-1", PaymentMethod::Prepaid, 31)]).await;
        let sweep = OrderSweep::reservation_timed_out(now());

        let mut tx = store.begin().await.unwrap();
        let mut claimed = tx.claim_orders(&sweep, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(claimed[0].expire_reservation(now()));
        tx.save_reservation_expired(&claimed[0]).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let loaded = tx
            .get_order_for_update(&OrderId::parse("ord-1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded, claimed[0]);
        assert_eq!(loaded.reservation_expired_at, Some(now()));
        assert_eq!(loaded.updated_at, now());
        assert!(tx.claim_orders(&sweep, 10).await.unwrap().is_empty());
        tx.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn overlapping_claims_take_disjoint_orders() {
    on_both_backends(|store| async move {
        let day = 24 * 60;
        let orders: Vec<Order> = (0..3)
            .map(|i| order(&format!("ord-{i}"), PaymentMethod::Prepaid, day + 10 - i))
            .collect();
        insert_all(&store, &orders).await;
        let sweep = OrderSweep::unpaid(now());

        if store.backend() == Backend::Postgres {
            // Two runs at once: the second skips what the first holds.
            let mut first = store.begin().await.unwrap();
            let mut second = store.begin().await.unwrap();
            let a = first.claim_orders(&sweep, 2).await.unwrap();
            let b = second.claim_orders(&sweep, 10).await.unwrap();
            assert_eq!(ids(&a), ["ord-0", "ord-1"]);
            assert_eq!(ids(&b), ["ord-2"]);
            first.rollback().await.unwrap();
            second.rollback().await.unwrap();
        }

        // One run after another: what the first changed no longer matches.
        let mut tx = store.begin().await.unwrap();
        for mut o in tx.claim_orders(&sweep, 2).await.unwrap() {
            let change = o.cancel_unpaid(now()).unwrap();
            tx.save_status_change(&o, &change).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(ids(&tx.claim_orders(&sweep, 10).await.unwrap()), ["ord-2"]);
        tx.commit().await.unwrap();
    })
    .await;
}
