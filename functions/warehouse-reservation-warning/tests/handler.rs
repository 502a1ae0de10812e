//! warehouse-reservation-warning against SQLite and PostgreSQL, one tick at a time.

use conveyor_domain::events::warehouse::{
    RESERVATION_EXPIRING, ReservationEvent, ReservationEventKind,
};
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_runtime::JobReport;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_reservation_warning::WarehouseReservationWarning as Job;

async fn tick(h: &Harness, job: &Job) -> JobReport {
    let handled = h.tick(job).await.unwrap();
    assert!(!handled.duplicate);
    handled.report.unwrap()
}

const MINUTE: i64 = 60_000;

/// Reservations expiring now (due, not expiring), in 5 and exactly 10 minutes (inside the
/// window), and a confirmed one; with `later`, also in 10 minutes and 1 ms and in 30 minutes
/// (outside the window at first).
async fn seeded(h: &Harness, later: bool) {
    let now = h.now();
    wh::product(h.store(), "sku-mug", 40, 5, now).await;
    let mut expiries = vec![
        ("ord-due", 0),
        ("ord-soon", 5 * MINUTE),
        ("ord-edge", 10 * MINUTE),
    ];
    if later {
        expiries.extend([("ord-after", 10 * MINUTE + 1), ("ord-late", 30 * MINUTE)]);
    }
    for (order, expires) in expiries {
        wh::hold(h.store(), order, "sku-mug", 1, now.add_millis(expires), now).await;
    }
    let mut paid = wh::hold(h.store(), "ord-paid", "sku-mug", 1, now.add_minutes(3), now).await;
    wh::held_as(h.store(), &mut paid, ReservationStatus::Confirmed, now).await;
}

fn warned(h: &Harness) -> Vec<String> {
    h.published_payloads::<ReservationEvent>(RESERVATION_EXPIRING)
        .into_iter()
        .map(|r| r.order_id.to_string())
        .collect()
}

#[tokio::test]
async fn warns_once_per_reservation_expiring_within_ten_minutes() {
    on_both_backends(|h| async move {
        seeded(&h, true).await;
        let job = Job::default();
        let start = h.now();
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2,
                more: false
            }
        );
        assert_eq!(warned(&h), vec!["ord-soon", "ord-edge"]);
        let events: Vec<ReservationEvent> = h.published_payloads(RESERVATION_EXPIRING);
        assert_eq!(events[0].event_type, ReservationEventKind::Expiring);
        assert_eq!(events[0].status, ReservationStatus::Active);
        assert_eq!(events[0].expires_at, Some(start.add_minutes(5)));
        assert_eq!(events[0].timestamp, start);
        let soon = wh::reservations(h.store(), "ord-soon").await;
        assert_eq!(soon[0].warned_at, Some(start));

        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert_eq!(warned(&h), vec!["ord-soon", "ord-edge", "ord-after"]);
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        h.advance_minutes(15);
        assert_eq!(tick(&h, &job).await.processed, 1);
        assert_eq!(
            warned(&h),
            vec!["ord-soon", "ord-edge", "ord-after", "ord-late"]
        );
        assert!(
            wh::reservations(h.store(), "ord-due").await[0]
                .warned_at
                .is_none()
        );
        assert!(
            wh::reservations(h.store(), "ord-paid").await[0]
                .warned_at
                .is_none()
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_second_tick_publishes_nothing() {
    on_both_backends(|h| async move {
        seeded(&h, false).await;
        let job = Job::default();
        tick(&h, &job).await;
        assert!(h.tick(&job).await.unwrap().duplicate, "same minute");
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert_eq!(h.published().len(), 2);
        h
    })
    .await;
}

#[tokio::test]
async fn a_run_stops_at_its_batch_and_reports_more() {
    on_both_backends(|h| async move {
        seeded(&h, false).await;
        let job = Job { batch: 1 };
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: true
            }
        );
        assert_eq!(warned(&h), vec!["ord-soon"]);
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert_eq!(warned(&h), vec!["ord-soon", "ord-edge"]);
        h
    })
    .await;
}
