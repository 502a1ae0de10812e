//! The business rules that must hold after every step and at quiescence, read from the
//! database and compared with what the model did. Each returns what it found wrong, one line
//! each, so a failure names every broken rule at once.

use std::collections::BTreeMap;

use conveyor_domain::ProductId;
use conveyor_domain::order::{OrderStatus, PaymentMethod};
use conveyor_domain::warehouse::{
    COD_RESERVATION_TTL_DAYS, RESERVATION_TTL_MINUTES, ReservationStatus,
};
use conveyor_store::sqlx;
use conveyor_testkit::seed;

use crate::system::System;

/// Every broken rule, or nothing.
pub(crate) async fn broken(sys: &System) -> Vec<String> {
    let mut found = sys.problems.clone();
    found.extend(stock(sys).await);
    found.extend(orders(sys).await);
    found.extend(uniqueness(sys).await);
    found
}

/// Per product: on hand = received (created, restocked, returned) - shipped; reserved is what
/// the holding reservations hold, and never more than on hand.
async fn stock(sys: &System) -> Vec<String> {
    let store = sys.h.store();
    let mut shipped: BTreeMap<ProductId, i64> = BTreeMap::new();
    let mut held: BTreeMap<ProductId, i64> = BTreeMap::new();
    for order in &sys.orders {
        let gone = seed::fulfillment::of_order(store, &order.id)
            .await
            .is_some_and(|f| f.status.has_shipped());
        if gone {
            for (product, &n) in &order.units {
                *shipped.entry(product.clone()).or_default() += i64::from(n);
            }
        }
        for r in seed::warehouse::reservations(store, order.id.as_str()).await {
            if r.status.holds_stock() {
                *held.entry(r.product_id).or_default() += i64::from(r.quantity.get());
            }
        }
    }
    let mut found = Vec::new();
    for (product, &received) in &sys.received {
        let inventory = seed::warehouse::inventory(store, product.as_str()).await;
        let on_hand = i64::from(inventory.on_hand.get());
        let reserved = i64::from(inventory.reserved.get());
        let expected = received - shipped.get(product).copied().unwrap_or(0);
        if on_hand != expected {
            found.push(format!(
                "{product}: on hand {on_hand}, but received {received} and shipped {}",
                received - expected
            ));
        }
        let holds = held.get(product).copied().unwrap_or(0);
        if reserved != holds || reserved > on_hand {
            found.push(format!(
                "{product}: reserved {reserved}, reservations hold {holds}, on hand {on_hand}"
            ));
        }
    }
    found
}

/// Per order: a pending order holds every unit it sells for as long as its payment method
/// allows; a paid or confirmed order holds (or shipped) every unit it sells; a cancelled or
/// failed one holds nothing; a cancelled order that was paid has its refund requested, and
/// only a cancelled order has one.
async fn orders(sys: &System) -> Vec<String> {
    let store = sys.h.store();
    let mut found = Vec::new();
    for placed in &sys.orders {
        let Some(order) = seed::order::load(store, &placed.id).await else {
            found.push(format!("{} is gone", placed.id));
            continue;
        };
        let reservations = seed::warehouse::reservations(store, placed.id.as_str()).await;
        let secured = |status: ReservationStatus| {
            matches!(
                status,
                ReservationStatus::Confirmed | ReservationStatus::Fulfilled
            )
        };
        match order.status {
            OrderStatus::PaymentConfirmed
            | OrderStatus::Confirmed
            | OrderStatus::Processing
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed => {
                for (product, &n) in &placed.units {
                    let ok = reservations.iter().any(|r| {
                        &r.product_id == product && secured(r.status) && r.quantity.get() == n
                    });
                    if !ok {
                        found.push(format!(
                            "{} is {} but does not hold {n} x {product}: {:?}",
                            placed.id,
                            order.status,
                            reservations
                                .iter()
                                .map(|r| (r.product_id.as_str(), r.quantity.get(), r.status))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
            }
            OrderStatus::Cancelled | OrderStatus::PaymentFailed => {
                if let Some(r) = reservations.iter().find(|r| r.status.holds_stock()) {
                    found.push(format!(
                        "{} is {} but holds {} x {} ({})",
                        placed.id, order.status, r.quantity, r.product_id, r.status
                    ));
                }
            }
            OrderStatus::Pending => {
                // Held for as long as its payment method allows: 30 minutes prepaid, until the
                // delivery is verified (within the COD limit) for cash on delivery.
                let hold = match order.payment_method {
                    PaymentMethod::Prepaid => RESERVATION_TTL_MINUTES,
                    PaymentMethod::Cod => COD_RESERVATION_TTL_DAYS * 24 * 60,
                };
                if order.created_at.add_minutes(hold) > sys.h.now() {
                    for (product, &n) in &placed.units {
                        let ok = reservations.iter().any(|r| {
                            &r.product_id == product
                                && r.status == ReservationStatus::Active
                                && r.quantity.get() == n
                        });
                        if !ok {
                            found.push(format!(
                                "{} is pending ({}) within its hold but does not hold {n} x {product}",
                                placed.id, order.payment_method
                            ));
                        }
                    }
                }
            }
        }
        let mut tx = store.begin().await.expect("begin");
        let refunds =
            conveyor_domain::order::RefundRepository::refund_requests_of_order(&mut tx, &placed.id)
                .await
                .expect("refunds");
        tx.commit().await.expect("commit");
        let cancelled = order.status == OrderStatus::Cancelled;
        let paid = order.payment_id.is_some() || sys.paid.contains(&placed.id);
        if cancelled && paid && refunds.is_empty() {
            found.push(format!(
                "{} was paid and cancelled, but not refunded",
                placed.id
            ));
        }
        if !cancelled && !refunds.is_empty() {
            found.push(format!(
                "{} is {} but was refunded",
                placed.id, order.status
            ));
        }
    }
    found
}

/// Rows that must be unique: one fulfillment per order, one refund request per payment, one
/// notification per customer and business event.
async fn uniqueness(sys: &System) -> Vec<String> {
    let queries = [
        (
            "fulfillments per order",
            "SELECT order_id, COUNT(*) FROM fulfillments GROUP BY order_id HAVING COUNT(*) > 1",
        ),
        (
            "refund requests per payment",
            "SELECT payment_id, COUNT(*) FROM refund_requests GROUP BY payment_id HAVING COUNT(*) > 1",
        ),
        (
            "notifications per customer and event",
            "SELECT customer_id || ' ' || event_key, COUNT(*) FROM notifications GROUP BY customer_id, event_key HAVING COUNT(*) > 1",
        ),
    ];
    let mut found = Vec::new();
    for (what, sql) in queries {
        let rows: Vec<(String, i64)> = sqlx::query_as(sql)
            .fetch_all(sys.h.store().pool())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        for (key, n) in rows {
            found.push(format!("{n} {what}: {key}"));
        }
    }
    found
}
