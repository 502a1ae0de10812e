//! What happens outside the platform, as the model's steps ask: the catalog announcing a
//! product, the order service placing and cancelling orders, the payment service, the warehouse
//! floor reporting picklist progress, the carrier verifying a cash-on-delivery delivery, a
//! return completed. Each skips what the real actor could not do at this point (a payment of a
//! cash-on-delivery order, a pick of an order without a fulfillment).

use std::collections::BTreeMap;

use conveyor_domain::events::DomainEvent;
use conveyor_domain::events::catalog::ProductCreatedEvent;
use conveyor_domain::events::fulfillment::PicklistStatusChangedEvent;
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::events::payment::{PaymentConfirmedEvent, PaymentFailedEvent};
use conveyor_domain::events::returns::{RETURN_COMPLETED_LEGACY, ReturnCompletedEvent, ReturnLine};
use conveyor_domain::fulfillment::PicklistStatus;
use conveyor_domain::order::{Order, OrderRepository, OrderStatus, PaymentMethod};
use conveyor_domain::{
    Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Quantity, ReturnId,
};
use conveyor_testkit::seed;

use super::{Placed, System};

impl System {
    pub(super) async fn create_product(&mut self, stock: u32) {
        let sku = ProductId::parse(format!("sku-{}", self.products.len())).expect("sku");
        let event = ProductCreatedEvent {
            product_id: sku.clone(),
            name: format!("Product {sku}"),
            initial_stock: Quantity::new(stock),
            low_stock_threshold: Some(Quantity::new(1)),
            timestamp: self.h.now(),
        };
        self.products.push(sku.clone());
        self.received.insert(sku, i64::from(stock));
        self.inject(self.h.event(event.topic(), &event), false)
            .await;
    }

    pub(super) async fn place(&mut self, cod: bool, lines: &[(usize, u32)]) {
        let index = self.orders.len();
        let method = if cod {
            PaymentMethod::Cod
        } else {
            PaymentMethod::Prepaid
        };
        let items: Vec<OrderLine> = lines
            .iter()
            .map(|&(p, n)| OrderLine {
                product_id: self.products[p].clone(),
                quantity: Quantity::new(n),
                unit_price: Money::from_minor(100).expect("price"),
            })
            .collect();
        let mut units = BTreeMap::new();
        for line in &items {
            *units.entry(line.product_id.clone()).or_default() += line.quantity.get();
        }
        let order = Order::place(
            OrderId::parse(format!("ord-{index}")).expect("order id"),
            CustomerId::parse(format!("cus-{}", index % 2)).expect("customer id"),
            method,
            Currency::parse("USD").expect("currency"),
            items,
            self.h.now(),
        )
        .expect("valid order");
        seed::order::insert(self.h.store(), &order).await;
        self.orders.push(Placed {
            id: order.id.clone(),
            units,
        });
        let placed = order.placed_event(self.h.now());
        self.inject(self.h.event(placed.topic(), &placed), false)
            .await;
    }

    pub(super) async fn order(&self, index: usize) -> Order {
        seed::order::load(self.h.store(), &self.orders[index].id)
            .await
            .expect("placed order")
    }

    pub(super) async fn pay(&mut self, index: usize) {
        let order = self.order(index).await;
        if order.payment_method == PaymentMethod::Cod {
            return;
        }
        let payment = PaymentConfirmedEvent {
            order_id: order.id.clone(),
            payment_id: PaymentId::parse(format!("pay-{index}")).expect("payment id"),
            amount: order.total.to_major_f64(),
            currency: order.currency.clone(),
            payment_method: Some("card".to_owned()),
            transaction_id: None,
            timestamp: self.h.now(),
        };
        self.inject(self.h.event(payment.topic(), &payment), true)
            .await;
    }

    pub(super) async fn fail_payment(&mut self, index: usize) {
        let order = self.order(index).await;
        if order.payment_method == PaymentMethod::Cod {
            return;
        }
        self.failed_payments += 1;
        let failed = PaymentFailedEvent {
            order_id: order.id.clone(),
            payment_id: PaymentId::parse(format!("payf-{}", self.failed_payments))
                .expect("payment id"),
            amount: order.total.to_major_f64(),
            currency: order.currency.clone(),
            failure_reason: "card declined".to_owned(),
            error_code: Some("card_declined".to_owned()),
            timestamp: self.h.now(),
        };
        self.inject(self.h.event(failed.topic(), &failed), true)
            .await;
    }

    /// The customer cancels through the order service, which records it and announces it.
    pub(super) async fn cancel(&mut self, index: usize) {
        let mut order = self.order(index).await;
        if !matches!(
            order.status,
            OrderStatus::Pending | OrderStatus::PaymentFailed
        ) {
            return;
        }
        let now = self.h.now();
        let Ok(Some(change)) = order.change_status(
            OrderStatus::Cancelled,
            "cancelled by the customer",
            None,
            now,
        ) else {
            return;
        };
        let mut tx = self.h.store().begin().await.expect("begin");
        tx.save_status_change(&order, &change).await.expect("save");
        tx.commit().await.expect("commit");
        let event = order.status_changed_event(&change);
        self.inject(self.h.event(event.topic(), &event), false)
            .await;
    }

    pub(super) async fn pick(&mut self, index: usize) {
        let id = self.orders[index].id.clone();
        let Some(fulfillment) = seed::fulfillment::of_order(self.h.store(), &id).await else {
            return;
        };
        let Some(picklist) = seed::fulfillment::picklist_of(self.h.store(), &fulfillment.id).await
        else {
            return;
        };
        let next = match picklist.status {
            PicklistStatus::Pending => PicklistStatus::InProgress,
            PicklistStatus::InProgress => PicklistStatus::Picked,
            PicklistStatus::Picked => PicklistStatus::Packed,
            PicklistStatus::Packed => PicklistStatus::Shipped,
            PicklistStatus::Shipped | PicklistStatus::Cancelled => return,
        };
        let event = PicklistStatusChangedEvent {
            picklist_id: picklist.id.clone(),
            fulfillment_id: fulfillment.id.clone(),
            order_id: id,
            old_status: Some(picklist.status),
            new_status: next,
            tracking_number: (next == PicklistStatus::Shipped).then(|| format!("trk-{index}")),
            timestamp: self.h.now(),
        };
        self.inject(self.h.event(event.topic(), &event), false)
            .await;
    }

    pub(super) async fn verify_delivery(&mut self, index: usize) {
        let order = self.order(index).await;
        if order.payment_method == PaymentMethod::Cod
            && order.status == OrderStatus::Pending
            && order.delivered_at.is_none()
        {
            seed::order::mark_delivered(self.h.store(), &order.id, self.h.now()).await;
        }
    }

    pub(super) async fn give_back(&mut self, index: usize, legacy_topic: bool) {
        let placed = self.orders[index].clone();
        let shipped = seed::fulfillment::of_order(self.h.store(), &placed.id)
            .await
            .is_some_and(|f| f.status.has_shipped());
        if !shipped {
            return;
        }
        let return_id = ReturnId::parse(format!("ret-{index}")).expect("return id");
        let event = ReturnCompletedEvent {
            return_id: return_id.clone(),
            order_id: placed.id.clone(),
            items: placed
                .units
                .iter()
                .map(|(product_id, &n)| ReturnLine {
                    product_id: product_id.clone(),
                    quantity: Quantity::new(n),
                })
                .collect(),
            timestamp: self.h.now(),
        };
        if self.returns.insert(return_id) {
            for (product, &n) in &placed.units {
                *self.received.entry(product.clone()).or_default() += i64::from(n);
            }
        }
        let topic = if legacy_topic {
            RETURN_COMPLETED_LEGACY
        } else {
            event.topic()
        };
        self.inject(self.h.event(topic, &event), false).await;
    }
}
