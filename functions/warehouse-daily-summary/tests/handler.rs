//! warehouse-daily-summary against SQLite and PostgreSQL, one tick at a time.

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::{MovementKind, MovementSummary, ReportKind};
use conveyor_runtime::JobReport;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_daily_summary::WarehouseDailySummary as Job;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

async fn tick(h: &Harness) -> JobReport {
    let handled = h.tick(&Job).await.unwrap();
    assert!(!handled.duplicate);
    assert!(handled.produced.is_empty(), "reports publish nothing");
    handled.report.unwrap()
}

/// Movements on 2026-11-22 (both ends of the day) and just outside it.
async fn seeded(h: &Harness) {
    let s = h.store();
    wh::product(s, "sku-mug", 40, 5, at("2026-11-01T00:00:00Z")).await;
    wh::product(s, "sku-tee", 10, 5, at("2026-11-01T00:00:00Z")).await;
    wh::movement(
        s,
        "sku-mug",
        MovementKind::Reserve,
        2,
        "ord-1",
        at("2026-11-22T00:00:00Z"),
    )
    .await;
    wh::movement(
        s,
        "sku-mug",
        MovementKind::Reserve,
        1,
        "ord-2",
        at("2026-11-22T12:00:00Z"),
    )
    .await;
    wh::movement(
        s,
        "sku-mug",
        MovementKind::Deduct,
        2,
        "ord-1",
        at("2026-11-22T23:59:59.999Z"),
    )
    .await;
    wh::movement(
        s,
        "sku-tee",
        MovementKind::Return,
        1,
        "ret-1",
        at("2026-11-22T16:30:00Z"),
    )
    .await;
    wh::movement(
        s,
        "sku-tee",
        MovementKind::Reserve,
        5,
        "ord-0",
        at("2026-11-21T23:59:59.999Z"),
    )
    .await;
    wh::movement(
        s,
        "sku-mug",
        MovementKind::Release,
        1,
        "ord-2",
        at("2026-11-23T00:00:00Z"),
    )
    .await;
}

#[tokio::test]
async fn summarises_the_previous_utc_day_per_product_and_kind() {
    on_both_backends(|h| async move {
        seeded(&h).await;
        h.clock.set(at("2026-11-23T00:05:00Z"));
        assert_eq!(
            tick(&h).await,
            JobReport {
                processed: 1,
                more: false
            }
        );

        let report = wh::report(h.store(), ReportKind::Daily, at("2026-11-22T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(report.period.end, at("2026-11-23T00:00:00Z"));
        assert_eq!(report.created_at, h.now());
        let line = |sku: &str, kind, movements, units| MovementSummary {
            product_id: wh::sku(sku),
            kind,
            movements,
            units,
        };
        assert_eq!(
            report.body.lines,
            vec![
                line("sku-mug", MovementKind::Reserve, 2, -3),
                line("sku-mug", MovementKind::Deduct, 1, -2),
                line("sku-tee", MovementKind::Return, 1, 1)
            ]
        );
        assert_eq!(report.body.total_movements, 4);
        h
    })
    .await;
}

#[tokio::test]
async fn a_second_run_for_the_same_day_writes_nothing() {
    on_both_backends(|h| async move {
        seeded(&h).await;
        h.clock.set(at("2026-11-23T00:05:00Z"));
        tick(&h).await;
        let first = wh::report(h.store(), ReportKind::Daily, at("2026-11-22T00:00:00Z")).await;
        assert!(h.tick(&Job).await.unwrap().duplicate, "same minute");
        h.advance_minutes(60);
        assert_eq!(
            tick(&h).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        let again = wh::report(h.store(), ReportKind::Daily, at("2026-11-22T00:00:00Z")).await;
        assert_eq!(again, first);

        h.clock.set(at("2026-11-24T00:05:00Z"));
        assert_eq!(
            tick(&h).await.processed,
            1,
            "the next day gets its own report"
        );
        let next = wh::report(h.store(), ReportKind::Daily, at("2026-11-23T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(next.body.total_movements, 1);
        h
    })
    .await;
}
