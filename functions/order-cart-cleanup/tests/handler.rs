//! order-cart-cleanup against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::order::Cart;
use conveyor_runtime::context::Meta;
use conveyor_runtime::{Handled, JobReport, ScheduleHandler, invoke};
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_cart_cleanup::{BATCH_SIZE, OrderCartCleanup};

const DAY: i64 = 24 * 60;

/// Two runs of the job scheduled an hour apart, started together.
async fn overlapping_ticks(h: &Harness) -> (Handled, Handled) {
    let (t0, t1) = (h.now(), h.now().add_minutes(60));
    let name = OrderCartCleanup::SPEC.name;
    let (m0, m1) = (Meta::for_tick(name, t0, 1), Meta::for_tick(name, t1, 1));
    let (a, b) = tokio::join!(
        invoke::run_tick(&OrderCartCleanup, &h.deps, &m0, t0),
        invoke::run_tick(&OrderCartCleanup, &h.deps, &m1, t1),
    );
    (a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn deletes_active_carts_untouched_for_more_than_7_days_with_their_items() {
    on_both_backends(|h| async move {
        let now = h.now();
        seed::order::insert_carts(
            h.store(),
            &[
                seed::order::cart("cart-6d", now, 6 * DAY, false),
                seed::order::cart("cart-8d", now, 8 * DAY, false),
                seed::order::cart("cart-7d-minus-1m", now, 7 * DAY - 1, false),
                seed::order::cart("cart-converted-30d", now, 30 * DAY, true),
            ],
        )
        .await;
        assert_eq!(seed::order::count_rows(h.store(), "cart_items").await, 8);

        let run = h.tick(&OrderCartCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        for (cart, kept) in [
            ("cart-6d", true),
            ("cart-8d", false),
            ("cart-7d-minus-1m", true),
            ("cart-converted-30d", true),
        ] {
            let found = seed::order::load_cart(h.store(), cart).await;
            assert_eq!(found.is_some(), kept, "{cart}");
        }
        let kept = seed::order::load_cart(h.store(), "cart-6d").await.unwrap();
        assert_eq!(kept.items.len(), 2);
        assert_eq!(seed::order::count_rows(h.store(), "cart_items").await, 6);
        assert!(run.produced.is_empty() && h.published().is_empty());

        // The same tick again is recognised; the next tick finds nothing to do.
        assert!(h.tick(&OrderCartCleanup).await.unwrap().duplicate);
        h.advance_minutes(1);
        let next = h.tick(&OrderCartCleanup).await.unwrap();
        assert_eq!(next.report, Some(JobReport::default()));

        // A minute later the cart touched 7 days minus a minute ago is abandoned too.
        h.advance_minutes(1);
        let later = h.tick(&OrderCartCleanup).await.unwrap();
        assert_eq!(
            later.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(seed::order::count_rows(h.store(), "carts").await, 2);
        assert_eq!(seed::order::count_rows(h.store(), "cart_items").await, 4);
        h
    })
    .await;
}

#[tokio::test]
async fn a_full_batch_stops_at_the_limit_and_the_next_tick_takes_the_rest() {
    on_both_backends(|h| async move {
        let carts: Vec<Cart> = (0..=BATCH_SIZE)
            .map(|i| seed::order::cart(&format!("cart-{i:04}"), h.now(), 10 * DAY, false))
            .collect();
        seed::order::insert_carts(h.store(), &carts).await;

        let run = h.tick(&OrderCartCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: BATCH_SIZE as u64,
                more: true
            })
        );
        assert_eq!(seed::order::count_rows(h.store(), "carts").await, 1);
        assert_eq!(seed::order::count_rows(h.store(), "cart_items").await, 2);

        h.advance_minutes(60);
        let rest = h.tick(&OrderCartCleanup).await.unwrap();
        assert_eq!(
            rest.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(seed::order::count_rows(h.store(), "carts").await, 0);
        assert_eq!(seed::order::count_rows(h.store(), "cart_items").await, 0);
        h
    })
    .await;
}

#[tokio::test]
async fn overlapping_runs_delete_each_cart_once() {
    on_both_backends(|h| async move {
        let carts: Vec<Cart> = (0..30_i64)
            .map(|i| seed::order::cart(&format!("cart-{i:02}"), h.now(), 10 * DAY + i, false))
            .collect();
        seed::order::insert_carts(h.store(), &carts).await;

        let (a, b) = overlapping_ticks(&h).await;
        let processed = |r: &Handled| r.report.unwrap().processed;
        assert_eq!(processed(&a) + processed(&b), 30);
        assert_eq!(seed::order::count_rows(h.store(), "carts").await, 0);
        assert_eq!(seed::order::count_rows(h.store(), "cart_items").await, 0);
        h
    })
    .await;
}
