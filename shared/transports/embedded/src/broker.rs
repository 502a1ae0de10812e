//! Fan-out publishing into the store's queue, with in-process wake-ups so consumers do not poll
//! an idle queue fast.

use std::collections::HashMap;
use std::sync::Arc;

use conveyor_domain::Clock;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{CloudEvent, Function, PublishError, Publisher};
use conveyor_store::queue::Enqueue;
use conveyor_store::{OutboxRow, Store};
use tokio::sync::Notify;

use conveyor_transport::broker::{Broker, BrokerError};

/// The embedded broker: who subscribes to what, and how to wake them.
#[derive(Debug)]
pub struct EmbeddedBroker {
    store: Store,
    clock: Arc<dyn Clock>,
    /// topic -> (function, the payload field that orders its events).
    subscribers: HashMap<&'static str, Vec<(&'static str, Option<&'static str>)>>,
    wakers: HashMap<&'static str, Arc<Notify>>,
}

impl EmbeddedBroker {
    /// A broker routing to `functions`' subscriptions.
    #[must_use]
    pub fn new(store: Store, clock: Arc<dyn Clock>, functions: &[Arc<dyn Function>]) -> Self {
        let mut subscribers: HashMap<&'static str, Vec<(&'static str, Option<&'static str>)>> =
            HashMap::new();
        let mut wakers = HashMap::new();
        for f in functions {
            let spec = f.spec();
            wakers.insert(spec.name, Arc::new(Notify::new()));
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
        }
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
            let messages: Vec<Enqueue<'_>> = planned
                .iter()
                .map(|(function, row, key)| Enqueue {
                    function,
                    event_id: &row.id,
                    topic: &row.topic,
                    body: &row.body,
                    ordering_key: key.as_deref(),
                })
                .collect();
            if messages.is_empty() {
                return Ok(());
            }
            self.store
                .queue_push(&messages, self.clock.now())
                .await
                .map_err(|e| PublishError::Transport {
                    target: "embedded queue".to_owned(),
                    source: Box::new(e),
                })?;
            for m in &messages {
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
