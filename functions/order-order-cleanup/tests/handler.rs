//! order-order-cleanup against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use std::collections::BTreeSet;

use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::order::{Order, OrderStatus, StatusChange};
use conveyor_domain::{OrderId, Timestamp};
use conveyor_runtime::context::Meta;
use conveyor_runtime::{Handled, JobReport, ScheduleHandler, invoke};
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_order_cleanup::{BATCH_SIZE, OrderOrderCleanup};

const DAY: i64 = 24 * 60;

fn id(order: &str) -> OrderId {
    OrderId::parse(order).unwrap()
}

async fn status(h: &Harness, order: &str) -> OrderStatus {
    seed::order::load(h.store(), &id(order))
        .await
        .unwrap()
        .status
}

fn cancelled(order: &Order, at: Timestamp) -> OrderStatusChangedEvent {
    let mut o = order.clone();
    let change = o.change_status(OrderStatus::Cancelled, "unpaid for 24 hours", None, at);
    o.status_changed_event(&change.unwrap().unwrap())
}

/// Two runs of the job scheduled a minute apart, started together.
async fn overlapping_ticks(h: &Harness) -> (Handled, Handled) {
    let (t0, t1) = (h.now(), h.now().add_minutes(1));
    let name = OrderOrderCleanup::SPEC.name;
    let (m0, m1) = (Meta::for_tick(name, t0, 1), Meta::for_tick(name, t1, 1));
    let (a, b) = tokio::join!(
        invoke::run_tick(&OrderOrderCleanup, &h.deps, &m0, t0),
        invoke::run_tick(&OrderOrderCleanup, &h.deps, &m1, t1),
    );
    (a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn cancels_prepaid_orders_unpaid_for_more_than_24_hours_and_publishes_each_once() {
    on_both_backends(|h| async move {
        let now = h.now();
        let old = seed::order::prepaid_placed("ord-24h01", now, DAY + 1);
        let failed = seed::order::in_status(
            seed::order::prepaid_placed("ord-failed", now, DAY + 30),
            OrderStatus::PaymentFailed,
        );
        seed::order::insert_all(
            h.store(),
            &[
                old.clone(),
                failed.clone(),
                seed::order::prepaid_placed("ord-23h59", now, DAY - 1),
                seed::order::in_status(
                    seed::order::prepaid_placed("ord-paid", now, 2 * DAY),
                    OrderStatus::PaymentConfirmed,
                ),
                seed::order::cod_placed("ord-cod", now, 3 * DAY, None),
            ],
        )
        .await;

        let run = h.tick(&OrderOrderCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: 2,
                more: false
            })
        );
        assert_eq!((run.produced.len(), run.published), (2, 2));
        for (order, expected) in [
            ("ord-24h01", OrderStatus::Cancelled),
            ("ord-failed", OrderStatus::Cancelled),
            ("ord-23h59", OrderStatus::Pending),
            ("ord-paid", OrderStatus::PaymentConfirmed),
            ("ord-cod", OrderStatus::Pending),
        ] {
            assert_eq!(status(&h, order).await, expected, "{order}");
        }
        assert_eq!(
            seed::order::history(h.store(), &id("ord-24h01")).await,
            vec![StatusChange {
                from: OrderStatus::Pending,
                to: OrderStatus::Cancelled,
                reason: "unpaid for 24 hours".to_owned(),
                payment_id: None,
                at: now,
            }]
        );
        assert_eq!(h.published_topics(), [ORDER_STATUS_CHANGED; 2]);
        assert!(h.published().iter().all(|e| e.source == "order-worker"));
        assert_eq!(
            h.published_payloads::<OrderStatusChangedEvent>(ORDER_STATUS_CHANGED),
            vec![cancelled(&failed, now), cancelled(&old, now)],
            "oldest first"
        );

        // The same tick again is recognised; the next tick finds nothing to do.
        assert!(h.tick(&OrderOrderCleanup).await.unwrap().duplicate);
        h.advance_minutes(1);
        let next = h.tick(&OrderOrderCleanup).await.unwrap();
        assert_eq!(next.report, Some(JobReport::default()));
        assert!(next.produced.is_empty());
        assert_eq!(h.published().len(), 2);

        // An hour later the 23h59 order is past the timeout too.
        h.advance_minutes(59);
        let later = h.tick(&OrderOrderCleanup).await.unwrap();
        assert_eq!(
            later.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(status(&h, "ord-23h59").await, OrderStatus::Cancelled);
        assert_eq!(status(&h, "ord-cod").await, OrderStatus::Pending);
        h
    })
    .await;
}

#[tokio::test]
async fn a_full_batch_stops_at_the_limit_and_the_next_tick_takes_the_rest() {
    on_both_backends(|h| async move {
        let orders: Vec<Order> = (0..=BATCH_SIZE)
            .map(|i| seed::order::prepaid_placed(&format!("ord-{i:04}"), h.now(), 2 * DAY))
            .collect();
        seed::order::insert_all(h.store(), &orders).await;

        let run = h.tick(&OrderOrderCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: BATCH_SIZE as u64,
                more: true
            })
        );
        assert_eq!(
            seed::order::count_in_status(h.store(), OrderStatus::Pending).await,
            1
        );
        assert_eq!(h.published().len(), BATCH_SIZE);

        h.advance_minutes(60);
        let rest = h.tick(&OrderOrderCleanup).await.unwrap();
        assert_eq!(
            rest.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(
            seed::order::count_in_status(h.store(), OrderStatus::Pending).await,
            0
        );
        assert_eq!(h.published().len(), BATCH_SIZE + 1);
        h
    })
    .await;
}

#[tokio::test]
async fn overlapping_runs_cancel_each_order_once() {
    on_both_backends(|h| async move {
        let orders: Vec<Order> = (0..20_i64)
            .map(|i| seed::order::prepaid_placed(&format!("ord-{i:02}"), h.now(), 2 * DAY + i))
            .collect();
        seed::order::insert_all(h.store(), &orders).await;

        let (a, b) = overlapping_ticks(&h).await;
        let processed = |r: &Handled| r.report.unwrap().processed;
        assert_eq!(processed(&a) + processed(&b), 20);
        let published: Vec<OrderStatusChangedEvent> = h.published_payloads(ORDER_STATUS_CHANGED);
        let distinct: BTreeSet<&str> = published.iter().map(|e| e.order_id.as_str()).collect();
        assert_eq!((published.len(), distinct.len()), (20, 20));
        assert_eq!(
            seed::order::count_in_status(h.store(), OrderStatus::Cancelled).await,
            20
        );
        assert_eq!(
            seed::order::count_rows(h.store(), "order_status_history").await,
            20
        );
        h
    })
    .await;
}
