//! The outbox relay: publishes rows that were committed but not published (a crash or a
//! transport outage between commit and publish). Rows younger than the grace period are left to
//! the invocation that staged them. What the table does not keep of a row's event (its source,
//! correlation and causation ids and data fields) is read from its body once, before it is
//! published.

use std::time::Duration;

use crate::context::Deps;
use crate::error::HandlerError;
use crate::publish::describe;

/// Publishes up to `limit` committed rows older than `grace`. Returns how many were published.
/// On PostgreSQL concurrent relays claim disjoint rows.
///
/// # Errors
/// A store error; a transport failure is not an error here (the rows stay and their attempt
/// count grows).
pub async fn relay_once(deps: &Deps, grace: Duration, limit: i64) -> Result<usize, HandlerError> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let cutoff = deps.clock.now().add_millis(-grace_ms);
    let mut tx = deps.store.begin().await?;
    let mut rows = tx.outbox_claim(cutoff, limit).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    // SQLite has one connection: held across the publish, it would starve a publisher that
    // writes to the same database (the embedded broker) until the pool's acquire timeout. So
    // there the claim ends before the publish; a row another relay publishes meanwhile is
    // published twice at worst, and consumers drop the repeat by its event id.
    let held = if deps.store.backend() == conveyor_store::Backend::Sqlite {
        tx.commit().await?;
        None
    } else {
        Some(tx)
    };
    rows.iter_mut().for_each(describe);
    let (sent, failed): (Vec<String>, Vec<String>) = match deps.publisher.publish(&rows).await {
        Ok(()) => (rows.iter().map(|r| r.id.clone()).collect(), Vec::new()),
        Err(e) => {
            let failed = e.unpublished(&rows);
            tracing::warn!(error = %e, left = failed.len(), "relay publish failed");
            rows.iter()
                .map(|r| r.id.clone())
                .partition(|id| !failed.contains(&id.as_str()))
        }
    };
    let mut tx = match held {
        Some(tx) => tx,
        None => deps.store.begin().await?,
    };
    tx.outbox_delete(&sent).await?;
    tx.outbox_bump_attempts(&failed).await?;
    tx.commit().await?;
    Ok(sent.len())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use conveyor_domain::{ManualClock, Timestamp};
    use conveyor_store::testing::TestDb;
    use conveyor_store::{Backend, OutboxRow};

    use super::*;
    use crate::cloudevent::CloudEvent;
    use crate::publish::MemoryPublisher;

    #[tokio::test]
    async fn a_row_read_back_is_published_with_what_its_event_says() {
        let db = TestDb::of(Backend::Sqlite).await;
        let publisher = Arc::new(MemoryPublisher::new());
        let deps = Deps {
            store: db.store().clone(),
            publisher: Arc::clone(&publisher) as Arc<dyn crate::publish::Publisher>,
            clock: Arc::new(ManualClock::new(Timestamp::from_millis(10_000))),
        };
        let data = serde_json::json!({ "order_id": "ord-1", "lines": [1] });
        let mut event =
            CloudEvent::new("t", "order-worker", &data, Timestamp::from_millis(0)).unwrap();
        event.correlationid = Some("flow-1".to_owned());
        event.causationid = Some("evt-0".to_owned());
        let staged = event.into_outbox_row();
        let not_an_event = OutboxRow::bare("raw".to_owned(), "t".to_owned(), "{".to_owned());
        let mut tx = db.store().begin().await.unwrap();
        tx.outbox_stage(
            &[staged.clone(), not_an_event.clone()],
            Timestamp::from_millis(0),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(relay_once(&deps, Duration::ZERO, 10).await.unwrap(), 2);
        assert_eq!(publisher.rows(), [staged.clone(), not_an_event]);
        // Read back from the table, the row carries its cause as it was staged.
        assert_eq!(publisher.rows()[0].causation_id.as_deref(), Some("evt-0"));
        db.close().await;
    }

    /// A transport that writes to the relay's own database, as the embedded broker does.
    #[derive(Debug)]
    struct SameDatabase(conveyor_store::Store);

    impl crate::publish::Publisher for SameDatabase {
        fn publish<'a>(
            &'a self,
            _events: &'a [OutboxRow],
        ) -> crate::publish::BoxFuture<'a, Result<(), crate::PublishError>> {
            Box::pin(async move {
                let tx = self.0.begin().await.expect("a connection for the publish");
                tx.commit().await.expect("commit");
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn on_sqlite_a_transport_writing_to_the_same_database_gets_the_connection() {
        let db = TestDb::of(Backend::Sqlite).await;
        let deps = Deps {
            store: db.store().clone(),
            publisher: Arc::new(SameDatabase(db.store().clone())),
            clock: Arc::new(ManualClock::new(Timestamp::from_millis(10_000))),
        };
        let row = OutboxRow::bare("e-1".to_owned(), "t".to_owned(), "{}".to_owned());
        let mut tx = db.store().begin().await.unwrap();
        tx.outbox_stage(&[row], Timestamp::from_millis(0))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        // Its one connection held across the publish, the relay waited out the acquire
        // timeout (30 s).
        let relayed = tokio::time::timeout(
            Duration::from_secs(5),
            relay_once(&deps, Duration::ZERO, 10),
        )
        .await
        .expect("the relay does not wait for its own connection");
        assert_eq!(relayed.unwrap(), 1);
        assert_eq!(db.store().outbox_backlog().await.unwrap(), 0);
        db.close().await;
    }
}
