//! order-cod-auto-confirm against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use std::collections::BTreeSet;

use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::order::{Order, OrderStatus, StatusChange};
use conveyor_domain::{OrderId, Timestamp};
use conveyor_runtime::context::Meta;
use conveyor_runtime::{Handled, JobReport, ScheduleHandler, invoke};
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_cod_auto_confirm::{BATCH_SIZE, OrderCodAutoConfirm};

fn id(order: &str) -> OrderId {
    OrderId::parse(order).unwrap()
}

async fn status(h: &Harness, order: &str) -> OrderStatus {
    seed::order::load(h.store(), &id(order))
        .await
        .unwrap()
        .status
}

fn confirmed(order: &Order, at: Timestamp) -> OrderStatusChangedEvent {
    let mut o = order.clone();
    let change = o.change_status(
        OrderStatus::Confirmed,
        "cash on delivery collected",
        None,
        at,
    );
    o.status_changed_event(&change.unwrap().unwrap())
}

/// Two runs of the job scheduled five minutes apart, started together.
async fn overlapping_ticks(h: &Harness) -> (Handled, Handled) {
    let (t0, t1) = (h.now(), h.now().add_minutes(5));
    let name = OrderCodAutoConfirm::SPEC.name;
    let (m0, m1) = (Meta::for_tick(name, t0, 1), Meta::for_tick(name, t1, 1));
    let (a, b) = tokio::join!(
        invoke::run_tick(&OrderCodAutoConfirm, &h.deps, &m0, t0),
        invoke::run_tick(&OrderCodAutoConfirm, &h.deps, &m1, t1),
    );
    (a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn confirms_delivered_cod_orders_and_leaves_the_rest_alone() {
    on_both_backends(|h| async move {
        let now = h.now();
        let delivered = seed::order::cod_placed("ord-cod-delivered", now, 3 * 24 * 60, Some(30));
        let mut prepaid_delivered = seed::order::prepaid_placed("ord-prepaid", now, 3 * 24 * 60);
        prepaid_delivered.delivered_at = Some(now.add_minutes(-30));
        seed::order::insert_all(
            h.store(),
            &[
                delivered.clone(),
                seed::order::cod_placed("ord-cod-in-transit", now, 2 * 24 * 60, None),
                prepaid_delivered,
                seed::order::in_status(
                    seed::order::cod_placed("ord-cod-cancelled", now, 60, Some(10)),
                    OrderStatus::Cancelled,
                ),
            ],
        )
        .await;

        let run = h.tick(&OrderCodAutoConfirm).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        for (order, expected) in [
            ("ord-cod-delivered", OrderStatus::Confirmed),
            ("ord-cod-in-transit", OrderStatus::Pending),
            ("ord-prepaid", OrderStatus::Pending),
            ("ord-cod-cancelled", OrderStatus::Cancelled),
        ] {
            assert_eq!(status(&h, order).await, expected, "{order}");
        }
        assert_eq!(
            seed::order::history(h.store(), &delivered.id).await,
            vec![StatusChange {
                from: OrderStatus::Pending,
                to: OrderStatus::Confirmed,
                reason: "cash on delivery collected".to_owned(),
                payment_id: None,
                at: now,
            }]
        );
        assert_eq!(h.published_topics(), [ORDER_STATUS_CHANGED]);
        assert_eq!(h.published()[0].source, "order-worker");
        assert_eq!(
            h.published_payloads::<OrderStatusChangedEvent>(ORDER_STATUS_CHANGED),
            vec![confirmed(&delivered, now)]
        );

        // The same tick again is recognised; the next tick finds nothing to do.
        assert!(h.tick(&OrderCodAutoConfirm).await.unwrap().duplicate);
        h.advance_minutes(5);
        let next = h.tick(&OrderCodAutoConfirm).await.unwrap();
        assert_eq!(next.report, Some(JobReport::default()));
        assert!(next.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn a_full_batch_stops_at_the_limit_and_the_next_tick_takes_the_rest() {
    on_both_backends(|h| async move {
        let orders: Vec<Order> = (0..=BATCH_SIZE)
            .map(|i| seed::order::cod_placed(&format!("ord-{i:04}"), h.now(), 600, Some(5)))
            .collect();
        seed::order::insert_all(h.store(), &orders).await;

        let run = h.tick(&OrderCodAutoConfirm).await.unwrap();
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

        h.advance_minutes(5);
        let rest = h.tick(&OrderCodAutoConfirm).await.unwrap();
        assert_eq!(
            rest.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(
            seed::order::count_in_status(h.store(), OrderStatus::Confirmed).await,
            BATCH_SIZE as i64 + 1
        );
        assert_eq!(h.published().len(), BATCH_SIZE + 1);
        h
    })
    .await;
}

#[tokio::test]
async fn overlapping_runs_confirm_each_order_once() {
    on_both_backends(|h| async move {
        let orders: Vec<Order> = (0..20_i64)
            .map(|i| seed::order::cod_placed(&format!("ord-{i:02}"), h.now(), 600 + i, Some(5)))
            .collect();
        seed::order::insert_all(h.store(), &orders).await;

        let (a, b) = overlapping_ticks(&h).await;
        let processed = |r: &Handled| r.report.unwrap().processed;
        assert_eq!(processed(&a) + processed(&b), 20);
        let published: Vec<OrderStatusChangedEvent> = h.published_payloads(ORDER_STATUS_CHANGED);
        let distinct: BTreeSet<&str> = published.iter().map(|e| e.order_id.as_str()).collect();
        assert_eq!((published.len(), distinct.len()), (20, 20));
        assert_eq!(
            seed::order::count_in_status(h.store(), OrderStatus::Confirmed).await,
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
