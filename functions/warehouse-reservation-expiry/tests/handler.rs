//! warehouse-reservation-expiry against SQLite and PostgreSQL, one tick at a time.

use conveyor_domain::events::warehouse::{
    INVENTORY_UPDATED, InventoryUpdatedEvent, RESERVATION_EXPIRED, ReservationEvent,
};
use conveyor_domain::warehouse::{MovementKind, ReservationStatus};
use conveyor_runtime::JobReport;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_reservation_expiry::WarehouseReservationExpiry as Job;

async fn tick(h: &Harness, job: &Job) -> JobReport {
    let handled = h.tick(job).await.unwrap();
    assert!(!handled.duplicate);
    handled.report.unwrap()
}

/// ord-1 holds 2 mugs and 1 shirt until now + 30 min, ord-2 3 mugs until now + 40 min, ord-3
/// 1 confirmed shirt (no expiry).
async fn seeded(h: &Harness) {
    let now = h.now();
    wh::product(h.store(), "sku-mug", 40, 5, now).await;
    wh::product(h.store(), "sku-tee", 10, 5, now).await;
    wh::hold(h.store(), "ord-1", "sku-mug", 2, now.add_minutes(30), now).await;
    wh::hold(h.store(), "ord-1", "sku-tee", 1, now.add_minutes(30), now).await;
    wh::hold(h.store(), "ord-2", "sku-mug", 3, now.add_minutes(40), now).await;
    let mut paid = wh::hold(h.store(), "ord-3", "sku-tee", 1, now.add_minutes(1), now).await;
    wh::held_as(h.store(), &mut paid, ReservationStatus::Confirmed, now).await;
}

#[tokio::test]
async fn expires_reservations_exactly_at_their_expiry_and_releases_the_stock() {
    on_both_backends(|h| async move {
        seeded(&h).await;
        let job = Job::default();
        h.clock.advance_millis(30 * 60_000 - 1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert!(h.published().is_empty(), "one millisecond early");

        h.clock.advance_millis(1);
        let report = tick(&h, &job).await;
        assert_eq!(
            report,
            JobReport {
                processed: 2,
                more: false
            }
        );
        assert_eq!(
            h.published_topics(),
            vec![
                RESERVATION_EXPIRED,
                RESERVATION_EXPIRED,
                INVENTORY_UPDATED,
                INVENTORY_UPDATED
            ]
        );
        let expired: Vec<ReservationEvent> = h.published_payloads(RESERVATION_EXPIRED);
        let expired: Vec<_> = expired
            .iter()
            .map(|r| {
                (
                    r.order_id.as_str(),
                    r.product_id.as_str(),
                    r.status,
                    r.reason.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            expired,
            vec![
                (
                    "ord-1",
                    "sku-mug",
                    ReservationStatus::Expired,
                    Some("reservation expired")
                ),
                (
                    "ord-1",
                    "sku-tee",
                    ReservationStatus::Expired,
                    Some("reservation expired")
                )
            ]
        );
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        let levels: Vec<_> = updated
            .iter()
            .map(|e| {
                (
                    e.product_id.as_str(),
                    e.reserved.get(),
                    e.available.get(),
                    e.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            levels,
            vec![("sku-mug", 3, 37, "expired"), ("sku-tee", 1, 9, "expired")]
        );
        let rows = wh::reservations(h.store(), "ord-1").await;
        assert!(rows.iter().all(|r| r.status == ReservationStatus::Expired));
        let moves = wh::movements(h.store(), "sku-tee").await;
        let last = moves.last().unwrap();
        assert_eq!(
            (last.kind, last.delta, last.reference.as_deref()),
            (MovementKind::Release, 1, Some("ord-1"))
        );
        assert_eq!(
            wh::reservations(h.store(), "ord-3").await[0].status,
            ReservationStatus::Confirmed
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_second_tick_publishes_nothing_and_a_repeated_tick_is_a_duplicate() {
    on_both_backends(|h| async move {
        seeded(&h).await;
        let job = Job::default();
        h.advance_minutes(31);
        assert_eq!(tick(&h, &job).await.processed, 2);
        assert!(h.tick(&job).await.unwrap().duplicate, "same minute");
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert_eq!(h.published().len(), 4);
        h
    })
    .await;
}

#[tokio::test]
async fn a_run_stops_at_its_batch_and_reports_more() {
    on_both_backends(|h| async move {
        seeded(&h).await;
        let job = Job { batch: 2 };
        h.advance_minutes(45);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2,
                more: true
            }
        );
        assert_eq!(
            h.published_payloads::<ReservationEvent>(RESERVATION_EXPIRED)
                .len(),
            2
        );
        assert_eq!(
            wh::reservations(h.store(), "ord-2").await[0].status,
            ReservationStatus::Active,
            "latest expiry waits"
        );
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert_eq!(
            wh::reservations(h.store(), "ord-2").await[0].status,
            ReservationStatus::Expired
        );
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 0);
        h
    })
    .await;
}
