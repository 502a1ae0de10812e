//! warehouse-weekly-report against SQLite and PostgreSQL, one tick at a time.

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::{MovementKind, ReportKind};
use conveyor_runtime::JobReport;
use conveyor_testkit::on_both_backends;
use conveyor_testkit::seed::warehouse as wh;
use warehouse_weekly_report::WarehouseWeeklyReport as Job;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

#[tokio::test]
async fn summarises_the_previous_iso_week_once() {
    on_both_backends(|h| async move {
        let s = h.store();
        wh::product(s, "sku-mug", 40, 5, at("2026-11-01T00:00:00Z")).await;
        // 2026-11-16 is a Monday: the week runs to 2026-11-23 00:00 (excluded).
        for (kind, n, when) in [
            (MovementKind::Reserve, 2, "2026-11-16T00:00:00Z"),
            (MovementKind::Reserve, 4, "2026-11-19T08:00:00Z"),
            (MovementKind::Restock, 10, "2026-11-22T23:59:59.999Z"),
            (MovementKind::Reserve, 7, "2026-11-15T23:59:59.999Z"),
            (MovementKind::Reserve, 9, "2026-11-23T00:00:00Z"),
        ] {
            wh::movement(s, "sku-mug", kind, n, "ref", at(when)).await;
        }
        h.clock.set(at("2026-11-23T00:15:00Z"));
        let handled = h.tick(&Job).await.unwrap();
        assert!(handled.produced.is_empty());
        assert_eq!(
            handled.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );

        let report = wh::report(h.store(), ReportKind::Weekly, at("2026-11-16T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(report.period.end, at("2026-11-23T00:00:00Z"));
        let lines: Vec<_> = report
            .body
            .lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.kind, l.movements, l.units))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("sku-mug", MovementKind::Reserve, 2, -6),
                ("sku-mug", MovementKind::Restock, 1, 10)
            ]
        );
        assert!(
            wh::report(h.store(), ReportKind::Daily, at("2026-11-16T00:00:00Z"))
                .await
                .is_none()
        );

        h.advance_minutes(1);
        let again = h.tick(&Job).await.unwrap();
        assert!(!again.duplicate);
        assert_eq!(
            again.report,
            Some(JobReport {
                processed: 0,
                more: false
            })
        );
        h
    })
    .await;
}
