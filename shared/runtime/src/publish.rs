//! The publishing port: how committed outbox rows leave the process. Each host plugs in its
//! transport (Redis Streams, the Dapr sidecar, EventBridge); [`MemoryPublisher`] keeps them in
//! memory for tests and in-process runs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use conveyor_store::OutboxRow;

use crate::cloudevent::CloudEvent;
use crate::error::BoxError;

/// A boxed, sendable future (publishers are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a publish did not (entirely) succeed. Rows not confirmed stay in the outbox for the relay.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The transport failed as a whole.
    #[error("publishing to {target} failed: {source}")]
    Transport {
        /// Where it was going.
        target: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Some events were accepted, others not.
    #[error("{} of {total} events were not accepted: {reason}", failed_ids.len())]
    Partial {
        /// Ids not accepted.
        failed_ids: Vec<String>,
        /// Events in the call.
        total: usize,
        /// The first failure reason.
        reason: String,
    },
}

impl PublishError {
    /// Ids of `events` that may not have been published.
    #[must_use]
    pub fn unpublished<'a>(&'a self, events: &'a [OutboxRow]) -> Vec<&'a str> {
        match self {
            Self::Transport { .. } => events.iter().map(|e| e.id.as_str()).collect(),
            Self::Partial { failed_ids, .. } => failed_ids.iter().map(String::as_str).collect(),
        }
    }
}

impl CloudEvent {
    /// This event as an outbox row: its JSON, and what publishers route and show it by (its
    /// source, correlation and causation ids and data fields), so none of them decodes the body
    /// again.
    #[must_use]
    pub fn into_outbox_row(self) -> OutboxRow {
        let body = self.to_json();
        let topic = self.topic_name().to_owned();
        let data_fields = self.data_fields();
        OutboxRow {
            id: self.id,
            topic,
            body,
            ordering_key: None,
            source: self.source,
            correlation_id: self.correlationid,
            causation_id: self.causationid,
            data_fields,
        }
    }
}

/// Fills in what the outbox table does not keep of `row`'s event (its source, correlation and
/// causation ids and data fields) from its body, decoded once: for a row the relay read back.
/// A body that is not a CloudEvent is left as it is.
pub fn describe(row: &mut OutboxRow) {
    if let Ok(event) = CloudEvent::decode(row.body.as_bytes()) {
        row.data_fields = event.data_fields();
        row.source = event.source;
        row.correlation_id = event.correlationid;
        row.causation_id = event.causationid;
    }
}

/// Sends committed events to the transport.
pub trait Publisher: Send + Sync + fmt::Debug {
    /// Publishes `events` in order; `Ok` means every one was accepted by the transport.
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>>;

    /// `true` when events are meant to stay in the outbox until a relay elsewhere publishes
    /// them (nothing is attempted after commit).
    fn is_deferred(&self) -> bool {
        false
    }
}

/// Leaves every event in the outbox, for a relay running elsewhere (the emulator or a relay job
/// sharing the database).
#[derive(Debug, Default, Clone, Copy)]
pub struct DeferredPublisher;

impl Publisher for DeferredPublisher {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            Err(PublishError::Partial {
                failed_ids: events.iter().map(|e| e.id.clone()).collect(),
                total: events.len(),
                reason: "publishing is deferred to the outbox relay".to_owned(),
            })
        })
    }

    fn is_deferred(&self) -> bool {
        true
    }
}

/// Keeps published events in memory, in publish order; can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    events: Mutex<Vec<OutboxRow>>,
    failing: Mutex<bool>,
}

impl MemoryPublisher {
    /// An empty publisher that accepts everything.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, every publish fails as a transport error.
    pub fn set_failing(&self, failing: bool) {
        *lock(&self.failing) = failing;
    }

    /// Everything published so far.
    #[must_use]
    pub fn rows(&self) -> Vec<OutboxRow> {
        lock(&self.events).clone()
    }

    /// Everything published so far, decoded.
    ///
    /// # Panics
    /// If a published body is not a CloudEvent (a bug worth failing a test over).
    #[must_use]
    pub fn events(&self) -> Vec<CloudEvent> {
        self.rows()
            .iter()
            .map(|r| CloudEvent::decode(r.body.as_bytes()).expect("published body is a CloudEvent"))
            .collect()
    }

    /// Removes and returns everything published so far.
    pub fn take(&self) -> Vec<OutboxRow> {
        std::mem::take(&mut *lock(&self.events))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Publisher for MemoryPublisher {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            if *lock(&self.failing) {
                return Err(PublishError::Transport {
                    target: "memory".to_owned(),
                    source: "publisher set to fail".into(),
                });
            }
            lock(&self.events).extend_from_slice(events);
            Ok(())
        })
    }
}
