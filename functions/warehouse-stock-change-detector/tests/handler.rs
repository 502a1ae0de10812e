//! warehouse-stock-change-detector against SQLite and PostgreSQL, one tick at a time.

use conveyor_domain::events::warehouse::{
    INVENTORY_LOW_STOCK, INVENTORY_UPDATED, InventoryUpdatedEvent, LowStockEvent,
};
use conveyor_domain::warehouse::AlertStatus;
use conveyor_runtime::JobReport;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_stock_change_detector::WarehouseStockChangeDetector as Job;

async fn tick(h: &Harness, job: &Job) -> JobReport {
    let handled = h.tick(job).await.unwrap();
    assert!(!handled.duplicate);
    handled.report.unwrap()
}

#[tokio::test]
async fn announces_unannounced_changes_once() {
    on_both_backends(|h| async move {
        let job = Job::default();
        wh::product(h.store(), "sku-mug", 40, 5, h.now()).await;
        wh::product(h.store(), "sku-tee", 10, 5, h.now()).await;
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert!(h.published().is_empty(), "seeded stock is announced");

        wh::restock_unannounced(h.store(), "sku-mug", 12, h.now()).await;
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert_eq!(h.published_topics(), vec![INVENTORY_UPDATED]);
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        assert_eq!(
            (
                updated[0].product_id.as_str(),
                updated[0].on_hand.get(),
                updated[0].available.get(),
                updated[0].reason.as_str(),
                updated[0].timestamp
            ),
            ("sku-mug", 52, 52, "changed", h.now())
        );
        assert!(wh::inventory(h.store(), "sku-mug").await.is_published());

        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert_eq!(h.published().len(), 1, "a second tick publishes nothing");
        h
    })
    .await;
}

#[tokio::test]
async fn raises_one_low_stock_alert_and_resolves_it_when_stock_recovers() {
    on_both_backends(|h| async move {
        let job = Job::default();
        wh::product(h.store(), "sku-tee", 3, 5, h.now()).await;
        wh::product(h.store(), "sku-mug", 40, 5, h.now()).await;
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert_eq!(h.published_topics(), vec![INVENTORY_LOW_STOCK]);
        let low: Vec<LowStockEvent> = h.published_payloads(INVENTORY_LOW_STOCK);
        let alerts = wh::alerts(h.store(), "sku-tee").await;
        assert_eq!(alerts.len(), 1);
        assert_eq!(low[0].alert_id, alerts[0].id);
        assert_eq!(
            (
                low[0].product_id.as_str(),
                low[0].available.get(),
                low[0].threshold.get()
            ),
            ("sku-tee", 3, 5)
        );
        assert_eq!(alerts[0].status, AlertStatus::Open);

        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 0,
                more: false
            }
        );
        assert_eq!(h.published().len(), 1, "one open alert per product");

        wh::restock_unannounced(h.store(), "sku-tee", 10, h.now()).await;
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2,
                more: false
            }
        );
        assert_eq!(
            h.published_topics(),
            vec![INVENTORY_LOW_STOCK, INVENTORY_UPDATED]
        );
        let alerts = wh::alerts(h.store(), "sku-tee").await;
        assert_eq!(
            (alerts[0].status, alerts[0].resolved_at),
            (AlertStatus::Resolved, Some(h.now()))
        );
        assert!(wh::alerts(h.store(), "sku-mug").await.is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn each_step_stops_at_its_batch_and_reports_more() {
    on_both_backends(|h| async move {
        let job = Job { batch: 2 };
        for sku in ["sku-a", "sku-b", "sku-c"] {
            wh::product(h.store(), sku, 10, 0, h.now()).await;
            wh::restock_unannounced(h.store(), sku, 1, h.now()).await;
        }
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2,
                more: true
            }
        );
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        let products: Vec<_> = updated.iter().map(|e| e.product_id.to_string()).collect();
        assert_eq!(products, vec!["sku-a", "sku-b", "sku-c"]);

        for sku in ["sku-x", "sku-y", "sku-z"] {
            wh::product(h.store(), sku, 0, 1, h.now()).await;
        }
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 2,
                more: true
            }
        );
        h.advance_minutes(5);
        assert_eq!(
            tick(&h, &job).await,
            JobReport {
                processed: 1,
                more: false
            }
        );
        assert_eq!(
            h.published_payloads::<LowStockEvent>(INVENTORY_LOW_STOCK)
                .len(),
            3
        );
        h
    })
    .await;
}
