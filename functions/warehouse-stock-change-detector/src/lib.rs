//! # warehouse-stock-change-detector
//!
//! - **Trigger**: schedule `*/5 * * * *` (UTC); no payload, the run reads `now` from its
//!   context.
//! - **Effect**: (1) every inventory changed since its last announcement (its version is ahead
//!   of its published version: a change made outside the handlers, which announce their own)
//!   is announced with `warehouse.inventory.updated` and marked; (2) every product whose
//!   available stock is at or below its threshold and has no open low-stock alert gets one;
//!   publishes `warehouse.inventory.low_stock`; (3) open low-stock alerts whose product is back
//!   above its threshold are resolved. Each step handles at most `batch` rows per run; the
//!   report says when more remain.
//! - **Idempotency**: the published version, and at most one open alert per product (a
//!   partial unique index), so a second run publishes nothing new; the tick's inbox row
//!   (`warehouse-stock-change-detector@<minute>`) makes a repeated tick a no-op. Overlapping
//!   runs claim disjoint rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! - **Retryable**: database errors.
//! - **Dropped**: nothing (there is no input to reject).

use std::sync::Arc;

use conveyor_domain::Timestamp;
use conveyor_domain::warehouse::sweeps;
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service,
};

/// Rows per step per run.
pub const BATCH: usize = 500;

/// The function; `batch` bounds each step of one run.
#[derive(Debug, Clone, Copy)]
pub struct WarehouseStockChangeDetector {
    /// Most rows per step per run.
    pub batch: usize,
}

impl Default for WarehouseStockChangeDetector {
    fn default() -> Self {
        Self { batch: BATCH }
    }
}

impl ScheduleHandler for WarehouseStockChangeDetector {
    const SPEC: FunctionSpec = FunctionSpec::on_schedule(
        "warehouse-stock-change-detector",
        Service::Warehouse,
        "*/5 * * * *",
    );

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let now = cx.now();
        let changed = sweeps::announce_changed(cx.tx()?, now, self.batch).await?;
        let raised = sweeps::raise_low_stock_alerts(cx.tx()?, now, self.batch).await?;
        let resolved = sweeps::resolve_recovered_alerts(cx.tx()?, now, self.batch).await?;
        let batch = changed.and(raised).and(resolved);
        for event in &batch.events {
            cx.publish(event)?;
        }
        Ok(JobReport {
            processed: batch.processed,
            more: batch.more,
        })
    }
}

/// The catalog entry.
#[must_use]
pub fn function() -> Arc<dyn Function> {
    conveyor_runtime::schedule(WarehouseStockChangeDetector::default())
}
