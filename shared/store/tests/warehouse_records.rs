//! Contract tests of the warehouse's ledger, alert and report repositories on both backends.

use conveyor_domain::warehouse::{
    Alert, AlertRepository, AlertStatus, Inventory, InventoryRepository, MovementKind, MovementLog,
    MovementSummary, Period, Product, Report, ReportKind, ReportRepository, StockMovement,
};
use conveyor_domain::{AlertId, ProductId, Quantity, Timestamp};
use conveyor_store::Tx;
use conveyor_store::testing::on_both_backends;

fn sku(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

async fn product(tx: &mut Tx, id: &str, on_hand: u32, threshold: u32) -> Inventory {
    let p = Product {
        id: sku(id),
        name: id.to_owned(),
        created_at: at(0),
    };
    let inv = Inventory::new(
        sku(id),
        Quantity::new(on_hand),
        Quantity::new(threshold),
        at(0),
    );
    tx.insert_product(&p, &inv).await.unwrap();
    inv
}

async fn movement(tx: &mut Tx, id: &str, kind: MovementKind, n: u32, reference: &str, ms: i64) {
    let m = StockMovement::new(sku(id), kind, Quantity::new(n), Some(reference), at(ms));
    tx.record_movement(&m).await.unwrap();
}

#[tokio::test]
async fn movements_are_listed_found_by_reference_and_summarised_per_period() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        product(&mut tx, "sku-a", 10, 0).await;
        product(&mut tx, "sku-b", 10, 0).await;
        movement(&mut tx, "sku-a", MovementKind::Reserve, 2, "ord-1", 100).await;
        movement(&mut tx, "sku-a", MovementKind::Reserve, 3, "ord-2", 150).await;
        movement(&mut tx, "sku-a", MovementKind::Return, 1, "ret-1", 199).await;
        movement(&mut tx, "sku-b", MovementKind::Deduct, 4, "ord-1", 100).await;
        movement(&mut tx, "sku-b", MovementKind::Restock, 9, "po-1", 200).await;
        movement(&mut tx, "sku-a", MovementKind::Release, 2, "ord-1", 99).await;

        let listed = tx.product_movements(&sku("sku-a")).await.unwrap();
        let kinds: Vec<_> = listed
            .iter()
            .map(|m| (m.kind, m.delta, m.at.millis()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (MovementKind::Release, 2, 99),
                (MovementKind::Reserve, -2, 100),
                (MovementKind::Reserve, -3, 150),
                (MovementKind::Return, 1, 199)
            ]
        );
        assert_eq!(listed[3].reference.as_deref(), Some("ret-1"));

        assert!(
            tx.has_movement(&sku("sku-a"), MovementKind::Return, "ret-1")
                .await
                .unwrap()
        );
        assert!(
            !tx.has_movement(&sku("sku-b"), MovementKind::Return, "ret-1")
                .await
                .unwrap()
        );
        assert!(
            !tx.has_movement(&sku("sku-a"), MovementKind::Reserve, "ret-1")
                .await
                .unwrap()
        );

        let period = Period {
            start: at(100),
            end: at(200),
        };
        let summary = tx.summarise_movements(period).await.unwrap();
        let line = |id: &str, kind, movements, units| MovementSummary {
            product_id: sku(id),
            kind,
            movements,
            units,
        };
        assert_eq!(
            summary,
            vec![
                line("sku-a", MovementKind::Reserve, 2, -5),
                line("sku-a", MovementKind::Return, 1, 1),
                line("sku-b", MovementKind::Deduct, 1, -4)
            ],
            "start included, end excluded"
        );
        let empty = Period {
            start: at(1_000),
            end: at(2_000),
        };
        assert!(tx.summarise_movements(empty).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn one_open_alert_per_product_resolved_when_stock_recovers() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let mut low = product(&mut tx, "sku-low", 2, 5).await;
        let still_low = product(&mut tx, "sku-still", 1, 5).await;
        let alert = Alert::low_stock(&low, at(10)).unwrap();
        assert!(tx.open_alert(&alert).await.unwrap());
        let twin = Alert::low_stock(&low, at(11)).unwrap();
        assert!(
            !tx.open_alert(&twin).await.unwrap(),
            "one open alert at a time"
        );
        assert!(
            tx.open_alert(&Alert::low_stock(&still_low, at(12)).unwrap())
                .await
                .unwrap()
        );
        assert_eq!(
            tx.product_alerts(&sku("sku-low")).await.unwrap(),
            vec![alert.clone()]
        );
        assert!(tx.claim_recovered_alerts(10).await.unwrap().is_empty());

        low.restock(Quantity::new(4), at(20)).unwrap();
        tx.save_inventory(&low).await.unwrap();
        let mut recovered = tx.claim_recovered_alerts(10).await.unwrap();
        assert_eq!(recovered, vec![alert]);
        assert!(recovered[0].resolve(at(21)));
        tx.save_alert(&recovered[0]).await.unwrap();
        assert!(tx.claim_recovered_alerts(10).await.unwrap().is_empty());
        let stored = tx.product_alerts(&sku("sku-low")).await.unwrap();
        assert_eq!(
            (stored[0].status, stored[0].resolved_at),
            (AlertStatus::Resolved, Some(at(21)))
        );
        let still = Alert::low_stock(&still_low, at(30)).unwrap();
        assert!(
            !tx.open_alert(&still).await.unwrap(),
            "still open for sku-still"
        );
        let mut again = low.clone();
        again.reserve(Quantity::new(5), at(40)).unwrap();
        let next = Alert::low_stock(&again, at(40)).unwrap();
        assert!(
            tx.open_alert(&next).await.unwrap(),
            "a resolved alert allows a new one"
        );
    })
    .await;
}

#[tokio::test]
async fn resolved_alerts_are_claimed_by_age_and_deleted() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let mut ids = Vec::new();
        for (n, resolved) in [(1, Some(300)), (2, Some(100)), (3, Some(200)), (4, None)] {
            let inv = product(&mut tx, &format!("sku-{n}"), 0, 1).await;
            let mut alert = Alert::low_stock(&inv, at(50)).unwrap();
            tx.open_alert(&alert).await.unwrap();
            if let Some(ms) = resolved {
                alert.resolve(at(ms));
                tx.save_alert(&alert).await.unwrap();
            }
            ids.push(alert.id);
        }
        let old = tx.claim_resolved_alerts_before(at(300), 10).await.unwrap();
        assert_eq!(
            old,
            vec![ids[1].clone(), ids[2].clone()],
            "oldest first, cutoff excluded"
        );
        assert_eq!(
            tx.claim_resolved_alerts_before(at(300), 1).await.unwrap(),
            vec![ids[1].clone()]
        );
        let missing = AlertId::parse("alert-missing").unwrap();
        assert_eq!(
            tx.delete_alerts(&[old[0].clone(), missing]).await.unwrap(),
            1
        );
        assert_eq!(tx.delete_alerts(&[]).await.unwrap(), 0);
        assert!(tx.product_alerts(&sku("sku-2")).await.unwrap().is_empty());
        assert_eq!(tx.product_alerts(&sku("sku-4")).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn reports_are_stored_once_per_kind_and_period() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let now = Timestamp::parse_rfc3339("2026-11-23T00:15:00Z").unwrap();
        let period = ReportKind::Weekly.previous_period(now);
        let lines = vec![MovementSummary {
            product_id: sku("sku-a"),
            kind: MovementKind::Deduct,
            movements: 2,
            units: -3,
        }];
        let report = Report::new(ReportKind::Weekly, period, lines, now);
        assert!(tx.insert_report(&report).await.unwrap());
        let twin = Report::new(ReportKind::Weekly, period, vec![], now);
        assert!(!tx.insert_report(&twin).await.unwrap());
        let daily = Report::new(ReportKind::Daily, period, vec![], now);
        assert!(
            tx.insert_report(&daily).await.unwrap(),
            "other kind, same start"
        );

        let loaded = tx
            .report(ReportKind::Weekly, period.start)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded, report);
        assert!(
            tx.report(ReportKind::Weekly, period.end)
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}
