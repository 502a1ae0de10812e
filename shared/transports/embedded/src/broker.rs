//! Fan-out publishing into the store's queue, with in-process wake-ups so consumers do not poll
//! an idle queue fast, and messages handed straight to idle consumers ([`crate::handoff`]).

use std::collections::HashMap;
use std::sync::Arc;

use conveyor_domain::Clock;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{CloudEvent, Function, PublishError, Publisher};
use conveyor_store::queue::Enqueue;
use conveyor_store::{OutboxRow, Store};
use tokio::sync::Notify;

use crate::handoff::Handoff;
use conveyor_transport::broker::{Broker, BrokerError};

/// The embedded broker: who subscribes to what, and how to wake them.
#[derive(Debug)]
pub struct EmbeddedBroker {
    store: Store,
    clock: Arc<dyn Clock>,
    /// topic -> (function, the payload field that orders its events).
    subscribers: HashMap<&'static str, Vec<(&'static str, Option<&'static str>)>>,
    wakers: HashMap<&'static str, Arc<Notify>>,
    handoffs: HashMap<&'static str, Handoff>,
}

impl EmbeddedBroker {
    /// A broker routing to `functions`' subscriptions.
    #[must_use]
    pub fn new(store: Store, clock: Arc<dyn Clock>, functions: &[Arc<dyn Function>]) -> Self {
        let mut subscribers: HashMap<&'static str, Vec<(&'static str, Option<&'static str>)>> =
            HashMap::new();
        let mut wakers = HashMap::new();
        let mut handoffs = HashMap::new();
        for f in functions {
            let spec = f.spec();
            wakers.insert(spec.name, Arc::new(Notify::new()));
            handoffs.insert(spec.name, Handoff::new(&spec));
            for topic in spec.topics() {
                subscribers
                    .entry(*topic)
                    .or_default()
                    .push((spec.name, spec.ordering_key));
            }
        }
        Self {
            store,
            clock,
            subscribers,
            wakers,
            handoffs,
        }
    }

    /// Where `function`'s consumer is handed messages published while it waits idle.
    #[must_use]
    pub fn handoff(&self, function: &str) -> Option<&Handoff> {
        self.handoffs.get(function)
    }

    /// The queue's clock: when messages become available, retries fall due and leases end.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn subscribed(&self, topic: &str) -> &[(&'static str, Option<&'static str>)] {
        self.subscribers.get(topic).map_or(&[], Vec::as_slice)
    }

    /// The wake-up of `function`'s consumer.
    #[must_use]
    pub fn waker(&self, function: &str) -> Option<Arc<Notify>> {
        self.wakers.get(function).cloned()
    }

    /// Wakes `function`'s consumer (after a redrive or a direct enqueue).
    pub fn wake(&self, function: &str) {
        if let Some(n) = self.wakers.get(function) {
            n.notify_one();
        }
    }
}

impl Publisher for EmbeddedBroker {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            // Each subscriber with an ordering key gets the key from the payload: from the row's
            // data fields (set where the row was made), else from its body, decoded at most once
            // per event and only if someone needs a key.
            let mut planned: Vec<(&'static str, &OutboxRow, Option<String>)> = Vec::new();
            for row in events {
                let mut event: Option<Option<CloudEvent>> = None;
                for &(function, field) in self.subscribed(&row.topic) {
                    let key = field.and_then(|field| {
                        if !row.data_fields.is_empty() {
                            return row.data_field(field).map(str::to_owned);
                        }
                        event
                            .get_or_insert_with(|| CloudEvent::decode(row.body.as_bytes()).ok())
                            .as_ref()
                            .and_then(|e| e.data_field(field))
                    });
                    planned.push((function, row, key));
                }
            }
            // A subscriber waiting idle is claimed once per publish and gets its messages
            // without an ordering key leased to it already, handed over in memory.
            let now = self.clock.now();
            let mut claimed: Vec<&'static str> = Vec::new();
            let mut messages: Vec<Enqueue<'_>> = Vec::with_capacity(planned.len());
            for (function, row, key) in &planned {
                let mut leased_until = None;
                if let Some(handoff) = self.handoffs.get(function).filter(|_| key.is_none())
                    && (claimed.contains(function) || handoff.claim())
                {
                    if !claimed.contains(function) {
                        claimed.push(function);
                    }
                    leased_until = Some(now.add_millis(handoff.lease_millis()));
                }
                messages.push(Enqueue {
                    function,
                    event_id: &row.id,
                    topic: &row.topic,
                    body: &row.body,
                    ordering_key: key.as_deref(),
                    leased_until,
                });
            }
            if messages.is_empty() {
                return Ok(());
            }
            let leased = match self.store.queue_push(&messages, now).await {
                Ok(leased) => leased,
                Err(e) => {
                    // The claimed consumers wait for a hand-over that will not come: wake them.
                    for function in claimed {
                        self.wake(function);
                    }
                    return Err(PublishError::Transport {
                        target: "embedded queue".to_owned(),
                        source: Box::new(e),
                    });
                }
            };
            let mut orphans = Vec::new();
            for message in leased {
                let handed = self
                    .handoffs
                    .get(message.function.as_str())
                    .map(|h| h.hand(message));
                if let Some(Err(message)) = handed {
                    orphans.push(message.seq);
                }
            }
            if !orphans.is_empty() {
                // The consumer stopped between its claim and now: the messages go back to the
                // queue for whoever consumes it next (else their lease would hold them back).
                if let Err(e) = self.store.queue_unlease(&orphans, now).await {
                    tracing::warn!(error = %e, messages = orphans.len(), "could not release handed messages; they come back when their lease ends");
                }
            }
            for m in messages.iter().filter(|m| m.leased_until.is_none()) {
                self.wake(m.function);
            }
            Ok(())
        })
    }
}

fn embedded_error(e: &conveyor_store::StoreError) -> BrokerError {
    BrokerError {
        transport: "embedded",
        message: e.to_string(),
    }
}

impl Broker for EmbeddedBroker {
    fn subscribers(&self, topic: &str) -> Vec<&'static str> {
        self.subscribed(topic).iter().map(|(f, _)| *f).collect()
    }

    fn dead_letters<'a>(
        &'a self,
        function: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<conveyor_store::queue::DeadLetter>, BrokerError>> {
        Box::pin(async move {
            self.store
                .dead_letters(function, i64::try_from(limit).unwrap_or(i64::MAX))
                .await
                .map_err(|e| embedded_error(&e))
        })
    }

    fn redrive<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            // The function's ordering key, read from each body as at publish.
            let field = self
                .subscribers
                .values()
                .flatten()
                .find(|(name, _)| *name == function)
                .and_then(|(_, field)| *field);
            let key_of = |body: &str| CloudEvent::decode(body.as_bytes()).ok()?.data_field(field?);
            let moved = self
                .store
                .redrive(function, ids, self.clock.now(), &key_of)
                .await
                .map_err(|e| embedded_error(&e))?;
            self.wake(function);
            Ok(moved)
        })
    }

    fn deliver<'a>(
        &'a self,
        function: &'a str,
        events: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            let Some(field) = self
                .subscribers
                .values()
                .flatten()
                .find(|(name, _)| *name == function)
                .map(|(_, field)| *field)
            else {
                return Err(BrokerError {
                    transport: "embedded",
                    message: format!("{function} subscribes to no topic here"),
                });
            };
            let keys: Vec<Option<String>> = events
                .iter()
                .map(|row| field.and_then(|f| row.data_field(f)).map(str::to_owned))
                .collect();
            let messages: Vec<Enqueue<'_>> = events
                .iter()
                .zip(&keys)
                .map(|(row, key)| Enqueue {
                    function,
                    event_id: &row.id,
                    topic: &row.topic,
                    body: &row.body,
                    ordering_key: key.as_deref(),
                    leased_until: None,
                })
                .collect();
            if !messages.is_empty() {
                self.store
                    .queue_push(&messages, self.clock.now())
                    .await
                    .map_err(|e| embedded_error(&e))?;
                self.wake(function);
            }
            Ok(messages.len())
        })
    }

    fn delete_dead_letters<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            self.store
                .delete_dead_letters(function, ids)
                .await
                .map_err(|e| embedded_error(&e))
        })
    }

    fn edit_dead_letter<'a>(
        &'a self,
        function: &'a str,
        id: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrokerError>> {
        Box::pin(async move {
            let found = self
                .store
                .edit_dead_letter(function, id, body)
                .await
                .map_err(|e| embedded_error(&e))?;
            Ok(found.then(|| id.to_owned()))
        })
    }

    fn depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            self.store
                .queue_depths()
                .await
                .map_err(|e| embedded_error(&e))
        })
    }

    fn dlq_depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            self.store
                .dead_letter_counts()
                .await
                .map_err(|e| embedded_error(&e))
        })
    }
}
