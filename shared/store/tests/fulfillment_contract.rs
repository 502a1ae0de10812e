//! Contract tests of the fulfillment repositories on both backends.

use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{
    Fulfillment, FulfillmentRepository, FulfillmentStatus, NewFulfillment, Package,
    PackageRepository, PackageStatus, PicklistRepository, PicklistStatus,
};
use conveyor_domain::{FulfillmentId, OrderId, PackageId, PicklistId, Timestamp};
use conveyor_store::testing::on_both_backends;

fn opened(fulfillment: &str, picklist: &str, order: &str) -> NewFulfillment {
    let event = samples::order_status_changed();
    Fulfillment::open(
        FulfillmentId::parse(fulfillment).unwrap(),
        PicklistId::parse(picklist).unwrap(),
        &conveyor_domain::events::order::OrderStatusChangedEvent {
            order_id: OrderId::parse(order).unwrap(),
            ..event
        },
        Timestamp::from_millis(1_000),
    )
}

#[tokio::test]
async fn fulfillments_insert_once_per_order_and_round_trip() {
    on_both_backends(|store| async move {
        let new = opened("ful-1", "pick-1", "ord-1");
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.insert_fulfillment(&new.fulfillment, &new.picklist)
                .await
                .unwrap()
        );
        let second = opened("ful-2", "pick-2", "ord-1");
        assert!(
            !tx.insert_fulfillment(&second.fulfillment, &second.picklist)
                .await
                .unwrap(),
            "a second fulfillment of the same order is not written"
        );
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let by_id = tx
            .get_fulfillment_for_update(&new.fulfillment.id)
            .await
            .unwrap();
        assert_eq!(by_id.as_ref(), Some(&new.fulfillment));
        let mut by_order = tx
            .get_fulfillment_of_order_for_update(&new.fulfillment.order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_order, new.fulfillment);
        assert_eq!(
            tx.get_fulfillment_for_update(&second.fulfillment.id)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            tx.get_picklist_for_update(&second.picklist.id)
                .await
                .unwrap(),
            None,
            "the refused fulfillment's picklist is not written either"
        );
        assert_eq!(
            tx.get_fulfillment_of_order_for_update(&OrderId::parse("ord-none").unwrap())
                .await
                .unwrap(),
            None
        );

        by_order
            .cancel("customer asked", Timestamp::from_millis(2_000))
            .unwrap();
        tx.save_fulfillment(&by_order).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let saved = tx
            .get_fulfillment_for_update(&new.fulfillment.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.status, FulfillmentStatus::Cancelled);
        assert_eq!(saved.cancel_reason.as_deref(), Some("customer asked"));
        assert_eq!(saved.updated_at, Timestamp::from_millis(2_000));
        assert_eq!(saved.created_at, Timestamp::from_millis(1_000));
        assert_eq!(saved, by_order);
    })
    .await;
}

#[tokio::test]
async fn picklists_round_trip_with_their_lines() {
    on_both_backends(|store| async move {
        let new = opened("ful-1", "pick-1", "ord-1");
        let mut tx = store.begin().await.unwrap();
        tx.insert_fulfillment(&new.fulfillment, &new.picklist)
            .await
            .unwrap();
        let mut picklist = tx
            .get_picklist_for_update(&new.picklist.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(picklist, new.picklist);
        assert_eq!(picklist.lines.len(), 2);
        assert_eq!(picklist.lines[0].product_id.as_str(), "sku-mug");
        assert_eq!(picklist.lines[0].quantity.get(), 2);
        assert_eq!(
            tx.get_picklist_of_fulfillment_for_update(&new.fulfillment.id)
                .await
                .unwrap()
                .as_ref(),
            Some(&new.picklist)
        );
        assert_eq!(
            tx.get_picklist_for_update(&PicklistId::parse("pick-none").unwrap())
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            tx.get_picklist_of_fulfillment_for_update(&FulfillmentId::parse("ful-none").unwrap())
                .await
                .unwrap(),
            None
        );

        picklist
            .move_to(PicklistStatus::InProgress, Timestamp::from_millis(3_000))
            .unwrap();
        tx.save_picklist(&picklist).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let saved = tx
            .get_picklist_for_update(&new.picklist.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.status, PicklistStatus::InProgress);
        assert_eq!(saved.updated_at, Timestamp::from_millis(3_000));
        assert_eq!(saved, picklist);
    })
    .await;
}

#[tokio::test]
async fn packages_insert_once_per_fulfillment_and_round_trip() {
    on_both_backends(|store| async move {
        let new = opened("ful-1", "pick-1", "ord-1");
        let mut tx = store.begin().await.unwrap();
        tx.insert_fulfillment(&new.fulfillment, &new.picklist)
            .await
            .unwrap();
        assert_eq!(
            tx.get_package_of_fulfillment_for_update(&new.fulfillment.id)
                .await
                .unwrap(),
            None
        );
        let (mut package, _) = Package::pack(
            PackageId::parse("pkg-1").unwrap(),
            &new.fulfillment,
            Timestamp::from_millis(4_000),
        );
        assert!(tx.insert_package(&package).await.unwrap());
        let (other, _) = Package::pack(
            PackageId::parse("pkg-2").unwrap(),
            &new.fulfillment,
            Timestamp::from_millis(4_001),
        );
        assert!(
            !tx.insert_package(&other).await.unwrap(),
            "one package per fulfillment"
        );
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let loaded = tx
            .get_package_of_fulfillment_for_update(&new.fulfillment.id)
            .await
            .unwrap();
        assert_eq!(loaded.as_ref(), Some(&package));
        package
            .ship(
                Some(samples::TRACKING_NUMBER),
                Timestamp::from_millis(5_000),
            )
            .unwrap();
        tx.save_package(&package).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let saved = tx
            .get_package_of_fulfillment_for_update(&new.fulfillment.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.status, PackageStatus::Shipped);
        assert_eq!(
            saved.tracking_number.as_deref(),
            Some(samples::TRACKING_NUMBER)
        );
        assert_eq!(saved.updated_at, Timestamp::from_millis(5_000));
        assert_eq!(saved, package);
    })
    .await;
}

#[tokio::test]
async fn concurrent_openings_of_one_order_write_one_fulfillment() {
    on_both_backends(|store| async move {
        let first = opened("ful-1", "pick-1", "ord-1");
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.insert_fulfillment(&first.fulfillment, &first.picklist)
                .await
                .unwrap()
        );
        // The second opening runs while the first is uncommitted: it waits (the unique order id
        // on PostgreSQL, the single writer on SQLite) and then writes nothing.
        let racer = tokio::spawn({
            let store = store.clone();
            async move {
                let second = opened("ful-2", "pick-2", "ord-1");
                let mut tx = store.begin().await.unwrap();
                let inserted = tx
                    .insert_fulfillment(&second.fulfillment, &second.picklist)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                inserted
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            !racer.is_finished(),
            "the second opening waits for the first"
        );
        tx.commit().await.unwrap();
        assert!(!racer.await.unwrap());

        let mut tx = store.begin().await.unwrap();
        let stored = tx
            .get_fulfillment_of_order_for_update(&first.fulfillment.order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.id, first.fulfillment.id);
    })
    .await;
}
