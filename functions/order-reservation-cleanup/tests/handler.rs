//! order-reservation-cleanup against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use std::collections::BTreeSet;

use conveyor_domain::events::order::{ORDER_RESERVATION_EXPIRED, OrderReservationExpiredEvent};
use conveyor_domain::order::{Order, OrderStatus};
use conveyor_domain::{OrderId, Timestamp};
use conveyor_runtime::context::Meta;
use conveyor_runtime::{Handled, JobReport, ScheduleHandler, invoke};
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_reservation_cleanup::{BATCH_SIZE, OrderReservationCleanup};

async fn load(h: &Harness, order: &str) -> Order {
    seed::order::load(h.store(), &OrderId::parse(order).unwrap())
        .await
        .unwrap()
}

fn expired(order: &Order, at: Timestamp) -> OrderReservationExpiredEvent {
    OrderReservationExpiredEvent {
        order_id: order.id.clone(),
        customer_id: order.customer_id.clone(),
        items: order.items.clone(),
        reason: "payment not received within 30 minutes".to_owned(),
        timestamp: at,
    }
}

/// Two runs of the job scheduled a minute apart, started together.
async fn overlapping_ticks(h: &Harness) -> (Handled, Handled) {
    let (t0, t1) = (h.now(), h.now().add_minutes(1));
    let name = OrderReservationCleanup::SPEC.name;
    let (m0, m1) = (Meta::for_tick(name, t0, 1), Meta::for_tick(name, t1, 1));
    let (a, b) = tokio::join!(
        invoke::run_tick(&OrderReservationCleanup, &h.deps, &m0, t0),
        invoke::run_tick(&OrderReservationCleanup, &h.deps, &m1, t1),
    );
    (a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn releases_stock_of_unpaid_prepaid_orders_past_30_minutes_once_each() {
    on_both_backends(|h| async move {
        let now = h.now();
        let late = seed::order::prepaid_placed("ord-31m", now, 31);
        let young = seed::order::prepaid_placed("ord-29m", now, 29);
        seed::order::insert_all(
            h.store(),
            &[
                late.clone(),
                young.clone(),
                seed::order::cod_placed("ord-cod", now, 31, None),
                seed::order::in_status(
                    seed::order::prepaid_placed("ord-failed", now, 31),
                    OrderStatus::PaymentFailed,
                ),
                seed::order::in_status(
                    seed::order::prepaid_placed("ord-paid", now, 31),
                    OrderStatus::PaymentConfirmed,
                ),
            ],
        )
        .await;

        let run = h.tick(&OrderReservationCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        let order = load(&h, "ord-31m").await;
        assert_eq!(order.reservation_expired_at, Some(now));
        assert_eq!(
            order.status,
            OrderStatus::Pending,
            "the customer may still pay"
        );
        for untouched in ["ord-29m", "ord-cod", "ord-failed", "ord-paid"] {
            assert_eq!(
                load(&h, untouched).await.reservation_expired_at,
                None,
                "{untouched}"
            );
        }
        assert!(seed::order::history(h.store(), &late.id).await.is_empty());
        assert_eq!(h.published_topics(), [ORDER_RESERVATION_EXPIRED]);
        assert_eq!(h.published()[0].source, "order-worker");
        assert_eq!(
            h.published_payloads::<OrderReservationExpiredEvent>(ORDER_RESERVATION_EXPIRED),
            vec![expired(&late, now)]
        );

        // The same tick again is recognised; the next tick finds nothing to do.
        assert!(h.tick(&OrderReservationCleanup).await.unwrap().duplicate);
        h.advance_minutes(1);
        let next = h.tick(&OrderReservationCleanup).await.unwrap();
        assert_eq!(next.report, Some(JobReport::default()));
        assert!(next.produced.is_empty());

        // Half an hour later only the younger order is due; the first is not announced again.
        h.advance_minutes(29);
        let later = h.tick(&OrderReservationCleanup).await.unwrap();
        assert_eq!(
            later.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(
            h.published_payloads::<OrderReservationExpiredEvent>(ORDER_RESERVATION_EXPIRED),
            vec![expired(&late, now), expired(&young, h.now())]
        );
        assert_eq!(load(&h, "ord-cod").await.reservation_expired_at, None);
        h
    })
    .await;
}

#[tokio::test]
async fn a_full_batch_stops_at_the_limit_and_the_next_tick_takes_the_rest() {
    on_both_backends(|h| async move {
        let orders: Vec<Order> = (0..=BATCH_SIZE)
            .map(|i| seed::order::prepaid_placed(&format!("ord-{i:04}"), h.now(), 45))
            .collect();
        seed::order::insert_all(h.store(), &orders).await;

        let run = h.tick(&OrderReservationCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: BATCH_SIZE as u64,
                more: true
            })
        );
        assert_eq!(h.published().len(), BATCH_SIZE);
        let left = load(&h, &format!("ord-{BATCH_SIZE:04}")).await;
        assert_eq!(
            left.reservation_expired_at, None,
            "the newest waits for the next tick"
        );

        h.advance_minutes(30);
        let rest = h.tick(&OrderReservationCleanup).await.unwrap();
        assert_eq!(
            rest.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(h.published().len(), BATCH_SIZE + 1);
        h
    })
    .await;
}

#[tokio::test]
async fn overlapping_runs_announce_each_order_once() {
    on_both_backends(|h| async move {
        let orders: Vec<Order> = (0..20_i64)
            .map(|i| seed::order::prepaid_placed(&format!("ord-{i:02}"), h.now(), 40 + i))
            .collect();
        seed::order::insert_all(h.store(), &orders).await;

        let (a, b) = overlapping_ticks(&h).await;
        let processed = |r: &Handled| r.report.unwrap().processed;
        assert_eq!(processed(&a) + processed(&b), 20);
        let published: Vec<OrderReservationExpiredEvent> =
            h.published_payloads(ORDER_RESERVATION_EXPIRED);
        let distinct: BTreeSet<&str> = published.iter().map(|e| e.order_id.as_str()).collect();
        assert_eq!((published.len(), distinct.len()), (20, 20));
        h
    })
    .await;
}
