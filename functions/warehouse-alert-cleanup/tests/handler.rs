//! warehouse-alert-cleanup against SQLite and PostgreSQL, one tick at a time.

use conveyor_domain::Timestamp;
use conveyor_runtime::JobReport;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_alert_cleanup::WarehouseAlertCleanup as Job;

async fn tick(h: &Harness, job: &Job) -> JobReport {
    let handled = h.tick(job).await.unwrap();
    assert!(!handled.duplicate);
    assert!(handled.produced.is_empty(), "the cleanup publishes nothing");
    handled.report.unwrap()
}

/// An alert on its own low product, raised 60 days ago, resolved `resolved_days_ago` days ago.
async fn alert(h: &Harness, sku: &str, resolved_days_ago: Option<i64>) {
    let now = h.now();
    let inv = wh::product(h.store(), sku, 0, 1, now.sub_days(60)).await;
    let resolved = resolved_days_ago.map(|d| now.sub_days(d));
    wh::alert(h.store(), &inv, now.sub_days(60), resolved).await;
}

async fn remaining(h: &Harness, skus: &[&str]) -> Vec<String> {
    let mut left = Vec::new();
    for sku in skus {
        if !wh::alerts(h.store(), sku).await.is_empty() {
            left.push((*sku).to_owned());
        }
    }
    left
}

#[tokio::test]
async fn deletes_resolved_alerts_past_thirty_days_only() {
    on_both_backends(|h| async move {
        h.clock
            .set(Timestamp::parse_rfc3339("2026-11-22T03:00:00Z").unwrap());
        alert(&h, "sku-old", Some(31)).await;
        alert(&h, "sku-edge", Some(30)).await;
        alert(&h, "sku-recent", Some(1)).await;
        alert(&h, "sku-open", None).await;
        let job = Job::default();
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        let all = ["sku-old", "sku-edge", "sku-recent", "sku-open"];
        assert_eq!(
            remaining(&h, &all).await,
            vec!["sku-edge", "sku-recent", "sku-open"]
        );

        // A minute later the edge alert is past retention too; then nothing is left to do.
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert_eq!(remaining(&h, &all).await, vec!["sku-recent", "sku-open"]);
        h
    })
    .await;
}

#[tokio::test]
async fn a_run_stops_at_its_batch_and_reports_more() {
    on_both_backends(|h| async move {
        for sku in ["sku-a", "sku-b", "sku-c"] {
            alert(&h, sku, Some(40)).await;
        }
        let job = Job { batch: 2 };
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2,
                more: true
            }
        );
        h.advance_minutes(1);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert!(remaining(&h, &["sku-a", "sku-b", "sku-c"]).await.is_empty());
        h
    })
    .await;
}
