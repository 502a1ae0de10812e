//! `conveyor up --demo`: a small shop's morning, so a newcomer sees the whole flow in the log
//! within seconds. Products arrive through `product.created`; three orders are placed (rows of
//! the order service plus their `orders.order.status_changed`); one prepaid order is paid, one
//! payment fails, and a delivered cash-on-delivery order is picked up by the COD job.

use conveyor_domain::events::catalog::{PRODUCT_CREATED, ProductCreatedEvent};
use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderLine};
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PaymentConfirmedEvent, PaymentFailedEvent,
};
use conveyor_domain::events::{DomainEvent, samples};
use conveyor_domain::order::{Order, OrderRepository, PaymentMethod};
use conveyor_domain::{
    Currency, CustomerId, IdError, Money, OrderId, PaymentId, ProductId, Quantity, Timestamp,
};
use conveyor_runtime::{CloudEvent, Deps, PublishError};
use conveyor_store::{OutboxRow, StoreError};

use conveyor_transport::broker::Broker;

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store refused a row.
    #[error("demo seed: {0}")]
    Store(#[from] StoreError),
    /// Publishing failed.
    #[error("demo publish: {0}")]
    Publish(#[from] PublishError),
    /// Bad demo data (a bug).
    #[error("demo data: {0}")]
    Data(String),
}

impl From<IdError> for DemoError {
    fn from(e: IdError) -> Self {
        Self::Data(e.to_string())
    }
}

pub(crate) fn event(
    topic: &str,
    payload: &impl serde::Serialize,
    now: Timestamp,
) -> Result<OutboxRow, DemoError> {
    let mut ce = CloudEvent::new(topic, "conveyor-demo", payload, now)
        .map_err(|e| DemoError::Data(e.to_string()))?;
    ce.correlationid = Some(format!("demo-{}", ce.id));
    Ok(ce.into_outbox_row())
}

pub(crate) fn line(sku: &str, n: u32, cents: i64) -> Result<OrderLine, DemoError> {
    Ok(OrderLine {
        product_id: ProductId::parse(sku)?,
        quantity: Quantity::new(n),
        unit_price: Money::from_minor(cents).map_err(|e| DemoError::Data(e.to_string()))?,
    })
}

/// Seeds the demo through `broker` and the store: products, then three placed orders (paid,
/// declined, delivered COD). Order ids carry `run` so a second demo on the same database starts
/// fresh orders. Payments follow with [`pay`], once the warehouse has had a moment to reserve.
///
/// # Errors
/// [`DemoError`].
pub async fn seed(deps: &Deps, broker: &dyn Broker, run: &str) -> Result<Vec<OrderId>, DemoError> {
    let now = deps.clock.now();
    let mut products = Vec::new();
    for (sku, name, stock) in [
        ("sku-mug", "Conveyor mug", 40),
        ("sku-tee", "Conveyor tee", 25),
    ] {
        let created = ProductCreatedEvent {
            product_id: ProductId::parse(sku)?,
            name: name.to_owned(),
            initial_stock: Quantity::new(stock),
            low_stock_threshold: Some(Quantity::new(5)),
            timestamp: now,
        };
        products.push(event(PRODUCT_CREATED, &created, now)?);
    }
    broker.publish(&products).await?;

    let usd = Currency::parse("USD").map_err(|e| DemoError::Data(e.to_string()))?;
    let customer = CustomerId::parse("cus-demo")?;
    let specs = [
        ("paid", PaymentMethod::Prepaid),
        ("declined", PaymentMethod::Prepaid),
        ("cod", PaymentMethod::Cod),
    ];
    let mut orders = Vec::new();
    let mut tx = deps.store.begin().await?;
    for (kind, method) in specs {
        let id = OrderId::parse(format!("ord-{run}-{kind}"))?;
        let mut order = Order::place(
            id,
            customer.clone(),
            method,
            usd.clone(),
            vec![line("sku-mug", 2, 1250)?, line("sku-tee", 1, 2499)?],
            now,
        )
        .map_err(|e| DemoError::Data(e.to_string()))?;
        if method == PaymentMethod::Cod {
            order.delivered_at = Some(now);
        }
        tx.insert_order(&order).await?;
        orders.push(order);
    }
    tx.commit().await?;
    let announcements: Vec<OutboxRow> = orders
        .iter()
        .map(|o| event(ORDER_STATUS_CHANGED, &o.placed_event(o.created_at), now))
        .collect::<Result<_, _>>()?;
    broker.publish(&announcements).await?;
    Ok(orders.into_iter().map(|o| o.id).collect())
}

/// Publishes the payments of a seeded demo: `orders[0]` paid, `orders[1]` declined.
///
/// # Errors
/// [`DemoError`].
pub async fn pay(
    deps: &Deps,
    broker: &dyn Broker,
    run: &str,
    orders: &[OrderId],
) -> Result<(), DemoError> {
    let now = deps.clock.now();
    let (Some(paid_order), Some(declined_order)) = (orders.first(), orders.get(1)) else {
        return Err(DemoError::Data(
            "the demo needs two orders to pay".to_owned(),
        ));
    };
    let mut tx = deps.store.begin().await?;
    let total = |o: Option<Order>| o.map(|o| o.total.to_major_f64()).unwrap_or_default();
    let (paid_total, declined_total) = (
        total(tx.get_order_for_update(paid_order).await?),
        total(tx.get_order_for_update(declined_order).await?),
    );
    tx.commit().await?;
    let paid = PaymentConfirmedEvent {
        order_id: paid_order.clone(),
        payment_id: PaymentId::parse(format!("pay-{run}-1"))?,
        amount: paid_total,
        timestamp: now,
        ..samples::payment_confirmed()
    };
    let failed = PaymentFailedEvent {
        order_id: declined_order.clone(),
        payment_id: PaymentId::parse(format!("pay-{run}-2"))?,
        amount: declined_total,
        timestamp: now,
        ..samples::payment_failed()
    };
    debug_assert_eq!(
        (paid.topic(), failed.topic()),
        (PAYMENT_CONFIRMED, PAYMENT_FAILED)
    );
    broker
        .publish(&[
            event(PAYMENT_CONFIRMED, &paid, now)?,
            event(PAYMENT_FAILED, &failed, now)?,
        ])
        .await?;
    Ok(())
}
