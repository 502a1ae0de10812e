//! The payment flow: `order-payment-confirmed` draining a backlog of `payment.confirmed` events
//! for as many seeded orders, on PostgreSQL or on the embedded default (the embedded broker on
//! a SQLite file). Each event is the whole domain path: the inbox row, the order's status change
//! and history row, the outbox row of `orders.order.status_changed`, the commit, the publish
//! and the outbox delete.

use std::time::{Duration, Instant};

use conveyor_domain::events::order::OrderLine;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::order::{Order, OrderRepository, PaymentMethod};
use conveyor_domain::{
    Clock, Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Quantity, SystemClock,
    Timestamp,
};
use conveyor_runtime::CloudEvent;
use conveyor_store::OutboxRow;
use conveyor_store::testing::TestDb;

use super::{CpuTime, Throughput, Transport, Tuning, clean_up, prefill, start, wait_until};
use crate::emulator::Emulator;
use conveyor_catalog as catalog;

/// The function the flow runs.
pub const FUNCTION: &str = "order-payment-confirmed";
/// Orders seeded per transaction.
const SEED_BATCH: u64 = 500;

fn order_id(n: u64) -> Result<OrderId, String> {
    OrderId::parse(format!("ord-bench-{n}")).map_err(|e| e.to_string())
}

pub(crate) fn payment(n: u64, now: Timestamp) -> Result<OutboxRow, String> {
    let paid = PaymentConfirmedEvent {
        order_id: order_id(n)?,
        payment_id: PaymentId::parse(format!("pay-bench-{n}")).map_err(|e| e.to_string())?,
        amount: 12.5,
        timestamp: now,
        ..samples::payment_confirmed()
    };
    Ok(
        CloudEvent::new(PAYMENT_CONFIRMED, "conveyor-bench", &paid, now)
            .map_err(|e| e.to_string())?
            .into_outbox_row(),
    )
}

/// One mug at 12.50.
fn mug() -> Result<OrderLine, String> {
    Ok(OrderLine {
        product_id: ProductId::parse("sku-mug").map_err(|e| e.to_string())?,
        quantity: Quantity::new(1),
        unit_price: Money::from_minor(1250).map_err(|e| e.to_string())?,
    })
}

/// Places `events` prepaid orders of 12.50 USD.
pub(crate) async fn seed(db: &TestDb, events: u64, now: Timestamp) -> Result<(), String> {
    let usd = Currency::parse("USD").map_err(|e| e.to_string())?;
    let customer = CustomerId::parse("cus-bench").map_err(|e| e.to_string())?;
    let mut n = 0;
    while n < events {
        let mut tx = db.store().begin().await.map_err(|e| e.to_string())?;
        for i in n..(n + SEED_BATCH).min(events) {
            let order = Order::place(
                order_id(i)?,
                customer.clone(),
                PaymentMethod::Prepaid,
                usd.clone(),
                vec![mug()?],
                now,
            )
            .map_err(|e| e.to_string())?;
            tx.insert_order(&order).await.map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        n = (n + SEED_BATCH).min(events);
    }
    Ok(())
}

/// Seeds `events` orders in a fresh database on the server of `admin_url`, publishes a
/// payment for each, then times the drain (at most 5 minutes). The database is dropped after.
///
/// # Errors
/// A database, start or publish failure, or the time limit.
pub async fn payment_flow(
    emulator: &dyn Emulator,
    transport: &Transport,
    admin_url: &str,
    events: u64,
    tuning: Tuning,
) -> Result<Throughput, String> {
    let db = TestDb::create_postgres(admin_url).await.map_err(|e| {
        format!(
            "PostgreSQL at {}: {e}",
            conveyor_store::redact::url(admin_url)
        )
    })?;
    let result = run(emulator, transport, &db, events, tuning).await;
    db.close().await;
    result
}

/// As [`payment_flow`], on the embedded default: a fresh SQLite file, the embedded broker.
///
/// # Errors
/// A database, start or publish failure, or the time limit.
pub async fn payment_flow_sqlite(
    emulator: &dyn Emulator,
    events: u64,
    tuning: Tuning,
) -> Result<Throughput, String> {
    let db = TestDb::sqlite().await;
    let result = run(emulator, &Transport::Embedded, &db, events, tuning).await;
    db.close().await;
    result
}

async fn run(
    emulator: &dyn Emulator,
    transport: &Transport,
    db: &TestDb,
    events: u64,
    tuning: Tuning,
) -> Result<Throughput, String> {
    let function =
        catalog::find(FUNCTION).ok_or_else(|| format!("{FUNCTION} is not in the catalog"))?;
    let now = SystemClock.now();
    seed(db, events, now).await?;
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let functions = vec![function];
    prefill(transport, db.url(), &prefix, &functions, events, |n| {
        payment(n, now)
    })
    .await?;
    let running = start(emulator, transport, db.url(), functions, &prefix, tuning).await?;
    let (cpu0, t0) = (CpuTime::now(), Instant::now());
    let stats = std::sync::Arc::clone(running.stats());
    let (done, peak_rss_mb) = wait_until(
        || stats.handled(FUNCTION),
        events,
        Duration::from_secs(300),
        None,
    )
    .await;
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), CpuTime::now().since(cpu0));
    running.shutdown().await;
    clean_up(transport, &prefix).await;
    if !done {
        return Err(format!(
            "only {} of {events} payments handled in 5 minutes",
            stats.handled(FUNCTION)
        ));
    }
    Ok(Throughput::of(events, elapsed, cpu, peak_rss_mb))
}
