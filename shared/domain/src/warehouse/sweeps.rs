//! The warehouse jobs' operations over its ports: each handles one bounded batch of claimed rows
//! (claimed with one row more than the batch, to tell whether more remain) and returns what it
//! did with the events to publish.

use crate::Timestamp;
use crate::events::warehouse::ReservationEventKind;
use crate::warehouse::operations::{Decided, apply_plan, lock};
use crate::warehouse::plan::{self, Settlement};
use crate::warehouse::{
    Alert, Batch, EXPIRY_WARNING_MINUTES, Report, ReportKind, WarehouseEvent, WarehouseRepository,
    retention_cutoff, take_batch,
};

/// Expires up to `limit` due reservations and releases their stock.
///
/// # Errors
/// The store's error; inside, [`StockError::Inconsistent`](crate::warehouse::StockError::Inconsistent).
pub async fn expire_due<R: WarehouseRepository + Send>(
    repo: &mut R,
    now: Timestamp,
    limit: usize,
) -> Decided<Batch, R::Error> {
    let (due, more) = take_batch(repo.claim_due_reservations(now, limit + 1).await?, limit);
    let processed = due.len() as u64;
    let stock = lock(repo, due.iter().map(|r| r.product_id.clone())).await?;
    let events = apply_plan(repo, plan::settle(due, stock, Settlement::Expire, now)).await?;
    Ok(events.map(|events| Batch {
        processed,
        more,
        events,
    }))
}

/// Warns (once) up to `limit` active reservations expiring within the warning window.
///
/// # Errors
/// The store's error.
pub async fn warn_expiring<R: WarehouseRepository + Send>(
    repo: &mut R,
    now: Timestamp,
    limit: usize,
) -> Result<Batch, R::Error> {
    let until = now.add_minutes(EXPIRY_WARNING_MINUTES);
    let claimed = repo
        .claim_expiring_reservations(now, until, limit + 1)
        .await?;
    let (expiring, more) = take_batch(claimed, limit);
    let mut batch = Batch {
        more,
        ..Batch::default()
    };
    for mut r in expiring {
        if r.needs_warning(now) && r.warn(now) {
            repo.save_reservation(&r).await?;
            let event = r.event(ReservationEventKind::Expiring, None, now);
            batch.events.push(WarehouseEvent::Reservation(event));
            batch.processed += 1;
        }
    }
    Ok(batch)
}

/// Announces up to `limit` inventories changed since their last announcement.
///
/// # Errors
/// The store's error.
pub async fn announce_changed<R: WarehouseRepository + Send>(
    repo: &mut R,
    now: Timestamp,
    limit: usize,
) -> Result<Batch, R::Error> {
    let (changed, more) = take_batch(repo.claim_unpublished_inventory(limit + 1).await?, limit);
    let mut batch = Batch {
        processed: changed.len() as u64,
        more,
        events: Vec::new(),
    };
    for mut inventory in changed {
        inventory.mark_published();
        repo.save_inventory(&inventory).await?;
        let event = inventory.updated_event("changed", now);
        batch.events.push(WarehouseEvent::Inventory(event));
    }
    Ok(batch)
}

/// Raises a low-stock alert for up to `limit` low products without one.
///
/// # Errors
/// The store's error.
pub async fn raise_low_stock_alerts<R: WarehouseRepository + Send>(
    repo: &mut R,
    now: Timestamp,
    limit: usize,
) -> Result<Batch, R::Error> {
    let claimed = repo.claim_low_stock_without_alert(limit + 1).await?;
    let (low, more) = take_batch(claimed, limit);
    let mut batch = Batch {
        more,
        ..Batch::default()
    };
    for inventory in low {
        if let Some(alert) = Alert::low_stock(&inventory, now)
            && repo.open_alert(&alert).await?
        {
            batch
                .events
                .push(WarehouseEvent::LowStock(alert.low_stock_event()));
            batch.processed += 1;
        }
    }
    Ok(batch)
}

/// Resolves up to `limit` open alerts whose product recovered.
///
/// # Errors
/// The store's error.
pub async fn resolve_recovered_alerts<R: WarehouseRepository + Send>(
    repo: &mut R,
    now: Timestamp,
    limit: usize,
) -> Result<Batch, R::Error> {
    let (recovered, more) = take_batch(repo.claim_recovered_alerts(limit + 1).await?, limit);
    let mut batch = Batch {
        more,
        ..Batch::default()
    };
    for mut alert in recovered {
        if alert.resolve(now) {
            repo.save_alert(&alert).await?;
            batch.processed += 1;
        }
    }
    Ok(batch)
}

/// Deletes up to `limit` alerts resolved longer ago than the retention.
///
/// # Errors
/// The store's error.
pub async fn delete_resolved_alerts<R: WarehouseRepository + Send>(
    repo: &mut R,
    now: Timestamp,
    limit: usize,
) -> Result<Batch, R::Error> {
    let claimed = repo
        .claim_resolved_alerts_before(retention_cutoff(now), limit + 1)
        .await?;
    let (stale, more) = take_batch(claimed, limit);
    let deleted = repo.delete_alerts(&stale).await?;
    Ok(Batch {
        processed: deleted,
        more,
        events: Vec::new(),
    })
}

/// Writes the report of the last complete period before `scheduled`, once (a second run for
/// the same period finds it and writes nothing: `processed` 0).
///
/// # Errors
/// The store's error.
pub async fn write_report<R: WarehouseRepository + Send>(
    repo: &mut R,
    kind: ReportKind,
    scheduled: Timestamp,
    now: Timestamp,
) -> Result<Batch, R::Error> {
    let period = kind.previous_period(scheduled);
    if repo.report(kind, period.start).await?.is_some() {
        return Ok(Batch::default());
    }
    let lines = repo.summarise_movements(period).await?;
    let written = repo
        .insert_report(&Report::new(kind, period, lines, now))
        .await?;
    Ok(Batch {
        processed: u64::from(written),
        ..Batch::default()
    })
}
