//! The orchestrated checkout's throughput: sagas finished per second. N checkouts
//! (`order.checkout_requested`) are published as a backlog, then the emulator starts the
//! checkout saga and the functions that serve its commands (`order-checkout-saga`,
//! `warehouse-checkout-inventory`, `fulfillment-checkout-fulfillment`,
//! `order-checkout-confirmation`, with the catalog's timings) beside a played payment service,
//! and the run is timed until every saga has ended, completed or compensated. One checkout in
//! [`EVERY`] is declined by the payment service (compensated with nothing to undo) and one in
//! [`EVERY`] is for a product out of stock (the payment is refunded), so compensations are part
//! of the load; the rest complete all four steps. The end is seen through `order.checkout_finished`
//! (see [`watch`]) and checked against the `sagas` table, which must hold N ended sagas.
//!
//! # Layout
//! - this module — seeding, the checkouts, the timed wait
//! - [`payment`] — the payment service, played
//! - [`watch`] — the count of ended checkouts
//! - [`rows`] — the report's rows

pub mod payment;
pub mod rows;
pub mod watch;

pub use rows::measure;

use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_catalog as catalog;
use conveyor_domain::events::checkout::{
    CHECKOUT_REQUESTED, CHECKOUT_SAGA, CheckoutRequestedEvent,
};
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::warehouse::{Inventory, InventoryRepository, Product};
use conveyor_domain::{
    Clock, Currency, CustomerId, Money, OrderId, ProductId, Quantity, SystemClock, Timestamp,
};
use conveyor_runtime::saga::SagaStatus;
use conveyor_runtime::{CloudEvent, Function};
use conveyor_store::OutboxRow;
use conveyor_store::testing::TestDb;

use super::{CpuTime, Throughput, Transport, Tuning, clean_up, prefill, start, wait_until};
use crate::emulator::Emulator;
use payment::{DECLINED, PaymentService};
use watch::{Finished, Watcher};

/// Checkouts per run unless told otherwise: about 20 s at the 140 sagas/s measured on the
/// project's 2-core machine under other load.
pub const DEFAULT_SAGAS: u64 = 3_000;

/// The saga and the functions that serve its commands, from the catalog.
pub const FUNCTIONS: [&str; 4] = [
    "order-checkout-saga",
    "warehouse-checkout-inventory",
    "fulfillment-checkout-fulfillment",
    "order-checkout-confirmation",
];

/// One checkout in this many is declined, and one in this many is out of stock.
pub const EVERY: u64 = 10;

/// The product in stock (one unit per checkout) and the one out of stock.
const SKU: &str = "sku-bench-saga";
const SHORT: &str = "sku-bench-saga-short";

/// How checkout `n` is meant to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Paid,
    Declined,
    Short,
}

fn kind(n: u64) -> Kind {
    match n % EVERY {
        3 => Kind::Declined,
        7 => Kind::Short,
        _ => Kind::Paid,
    }
}

/// How many of `sagas` checkouts complete, and how many are compensated.
#[must_use]
pub fn expected(sagas: u64) -> (u64, u64) {
    let compensated = (0..sagas).filter(|&n| kind(n) != Kind::Paid).count() as u64;
    (sagas - compensated, compensated)
}

fn checkout(n: u64, now: Timestamp) -> Result<OutboxRow, String> {
    let (order, sku) = match kind(n) {
        Kind::Paid => (format!("ord-saga-{n}"), SKU),
        Kind::Declined => (format!("ord-saga-{n}{DECLINED}"), SKU),
        Kind::Short => (format!("ord-saga-{n}-short"), SHORT),
    };
    let price = Money::from_minor(1250).map_err(|e| e.to_string())?;
    let request = CheckoutRequestedEvent {
        order_id: OrderId::parse(order).map_err(|e| e.to_string())?,
        customer_id: CustomerId::parse("cus-bench").map_err(|e| e.to_string())?,
        items: vec![OrderLine {
            product_id: ProductId::parse(sku).map_err(|e| e.to_string())?,
            quantity: Quantity::new(1),
            unit_price: price,
        }],
        total: price,
        currency: Currency::parse("USD").map_err(|e| e.to_string())?,
        timestamp: now,
    };
    Ok(
        CloudEvent::new(CHECKOUT_REQUESTED, "conveyor-bench", &request, now)
            .map_err(|e| e.to_string())?
            .into_outbox_row(),
    )
}

/// The two products: enough stock for every checkout, and none.
async fn seed(db: &TestDb, sagas: u64, now: Timestamp) -> Result<(), String> {
    let mut tx = db.store().begin().await.map_err(|e| e.to_string())?;
    for (sku, stock) in [(SKU, u32::try_from(sagas).unwrap_or(u32::MAX)), (SHORT, 0)] {
        let id = ProductId::parse(sku).map_err(|e| e.to_string())?;
        let product = Product {
            id: id.clone(),
            name: format!("Product {sku}"),
            created_at: now,
        };
        let inventory = Inventory::new(id, Quantity::new(stock), Quantity::new(0), now);
        tx.insert_product(&product, &inventory)
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
pub struct SagaRun {
    /// Sagas ended per second (in `events_per_second`), worker CPU per saga (in
    /// `cpu_us_per_event`), its kernel part, the peak RSS.
    pub throughput: Throughput,
    /// Sagas the table holds as completed.
    pub completed: u64,
    /// Sagas the table holds as compensated.
    pub compensated: u64,
}

/// Runs `sagas` checkouts in a fresh database on the server of `admin_url` over `transport`
/// and times them until all have ended (at most 5 minutes). The database is dropped after.
///
/// # Errors
/// A database, start or publish failure, or the time limit.
pub async fn checkout_sagas(
    emulator: &dyn Emulator,
    transport: &Transport,
    admin_url: &str,
    sagas: u64,
) -> Result<SagaRun, String> {
    let db = TestDb::create_postgres(admin_url).await.map_err(|e| {
        format!(
            "PostgreSQL at {}: {e}",
            conveyor_store::redact::url(admin_url)
        )
    })?;
    let result = run(emulator, transport, &db, sagas).await;
    db.close().await;
    result
}

/// Ended sagas in the table: (completed, compensated).
async fn ended(db: &TestDb) -> Result<(u64, u64), String> {
    let counts = db
        .store()
        .saga_counts(CHECKOUT_SAGA)
        .await
        .map_err(|e| e.to_string())?;
    let of = |status| {
        counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    Ok((of(SagaStatus::Completed), of(SagaStatus::Compensated)))
}

async fn run(
    emulator: &dyn Emulator,
    transport: &Transport,
    db: &TestDb,
    sagas: u64,
) -> Result<SagaRun, String> {
    let finished = Arc::new(Finished::until(sagas));
    let mut functions: Vec<Arc<dyn Function>> = FUNCTIONS
        .iter()
        .map(|name| catalog::find(name).ok_or_else(|| format!("{name} is not in the catalog")))
        .collect::<Result<_, _>>()?;
    functions.push(conveyor_runtime::topic(PaymentService));
    functions.push(conveyor_runtime::topic(Watcher(Arc::clone(&finished))));
    let now = SystemClock.now();
    seed(db, sagas, now).await?;
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    prefill(transport, db.url(), &prefix, &functions, sagas, |n| {
        checkout(n, now)
    })
    .await?;
    let tuning = Tuning::default();
    let running = start(emulator, transport, db.url(), functions, &prefix, tuning).await?;
    let (cpu0, t0) = (CpuTime::now(), Instant::now());
    let limit = Duration::from_secs(300);
    let (_, peak_rss_mb) =
        wait_until(|| finished.count(), sagas, limit, Some(finished.reached())).await;
    // The table has the last word (a redelivered announcement counts twice above).
    let mut counts = ended(db).await;
    while let Ok((completed, compensated)) = counts
        && completed + compensated < sagas
        && t0.elapsed() < limit
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        counts = ended(db).await;
    }
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), CpuTime::now().since(cpu0));
    running.shutdown().await;
    clean_up(transport, &prefix).await;
    let (completed, compensated) = counts?;
    if completed + compensated < sagas {
        return Err(format!(
            "only {} of {sagas} sagas ended in 5 minutes ({completed} completed, {compensated} compensated)",
            completed + compensated
        ));
    }
    Ok(SagaRun {
        throughput: Throughput::of(sagas, elapsed, cpu, peak_rss_mb),
        completed,
        compensated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_is_declined_and_a_tenth_is_out_of_stock() {
        assert_eq!(expected(20), (16, 4));
        assert_eq!(expected(5_000), (4_000, 1_000));
        assert_eq!(expected(4), (3, 1));
        assert!(
            checkout(3, Timestamp::from_millis(0))
                .unwrap()
                .body
                .contains(DECLINED)
        );
        assert!(
            checkout(17, Timestamp::from_millis(0))
                .unwrap()
                .body
                .contains(SHORT)
        );
    }
}
