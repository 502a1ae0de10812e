//! Contract tests of the order repositories on both backends.

use conveyor_domain::events::order::OrderLine;
use conveyor_domain::order::{Order, OrderRepository, OrderStatus, PaymentMethod};
use conveyor_domain::{
    Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Quantity, Timestamp,
};
use conveyor_store::testing::on_both_backends;

fn order(id: &str) -> Order {
    Order::place(
        OrderId::parse(id).unwrap(),
        CustomerId::parse("cus-1").unwrap(),
        PaymentMethod::Prepaid,
        Currency::parse("USD").unwrap(),
        vec![
            OrderLine {
                product_id: ProductId::parse("sku-a").unwrap(),
                quantity: Quantity::new(2),
                unit_price: Money::from_minor(1250).unwrap(),
            },
            OrderLine {
                product_id: ProductId::parse("sku-b").unwrap(),
                quantity: Quantity::new(1),
                unit_price: Money::from_minor(999).unwrap(),
            },
        ],
        Timestamp::from_millis(1_000),
    )
    .unwrap()
}

#[tokio::test]
async fn orders_round_trip_with_lines_and_history() {
    on_both_backends(|store| async move {
        let o = order("ord-1");
        let mut tx = store.begin().await.unwrap();
        assert!(tx.insert_order(&o).await.unwrap());
        assert!(
            !tx.insert_order(&o).await.unwrap(),
            "second insert is a no-op"
        );
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let mut loaded = tx.get_order_for_update(&o.id).await.unwrap().unwrap();
        assert_eq!(loaded, o);
        let pay = PaymentId::parse("pay-1").unwrap();
        let change = loaded
            .confirm_payment(&pay, o.total, &o.currency, Timestamp::from_millis(2_000))
            .unwrap()
            .unwrap();
        tx.save_status_change(&loaded, &change).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let again = tx.get_order_for_update(&o.id).await.unwrap().unwrap();
        assert_eq!(again.status, OrderStatus::PaymentConfirmed);
        assert_eq!(again.payment_id, Some(pay));
        assert_eq!(again.updated_at, Timestamp::from_millis(2_000));
        assert_eq!(tx.status_history(&o.id).await.unwrap(), vec![change]);
        assert!(
            tx.get_order_for_update(&OrderId::parse("nope").unwrap())
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}
