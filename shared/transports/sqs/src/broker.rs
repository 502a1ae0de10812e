//! The SQS transport as the emulator's [`Broker`]: publishing goes through EventBridge
//! `PutEvents` when a bus is configured (its rules route to the queues, as deployed), else
//! straight to the queues of the subscribed functions this process runs (the body is the
//! CloudEvent, as a rule with `InputPath` `$.detail` delivers it). Dead letters are read from
//! and redriven to the functions' DLQs; depths are SQS's approximate counts.

use std::sync::Arc;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use conveyor_runtime::lambda::eventbridge::EventBridgePublisher;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{Function, PublishError, Publisher};
use conveyor_store::OutboxRow;
use conveyor_store::queue::DeadLetter;

use super::queues::{self, FunctionQueues};
use super::redrive::{self, RedriveOutcome};
use super::{SqsError, SqsSettings, edit, letters};
use conveyor_runtime::lambda::fifo::{self, QueueRoute};
use conveyor_transport::broker::{Broker, BrokerError};

/// One topic function served from SQS.
#[derive(Debug, Clone)]
struct Subscription {
    topics: &'static [&'static str],
    max_deliveries: u32,
    queues: FunctionQueues,
}

/// The queues of the topic functions, and where events are published.
#[derive(Debug)]
pub struct SqsBroker {
    client: Client,
    settings: SqsSettings,
    subscriptions: Vec<Subscription>,
    /// Every subscription's queue, for publishing without a bus.
    routes: Vec<QueueRoute>,
    eventbridge: Option<EventBridgePublisher>,
}

impl SqsBroker {
    /// Finds (or creates, if the settings say so) the queues of every topic function.
    ///
    /// # Errors
    /// [`SqsError`] when a queue is missing or SQS cannot be reached.
    pub async fn connect(
        settings: SqsSettings,
        functions: &[Arc<dyn Function>],
    ) -> Result<Self, SqsError> {
        let client = settings.sqs_client();
        let (mut subscriptions, mut routes) = (Vec::new(), Vec::new());
        for function in functions {
            let spec = function.spec();
            if spec.topics().is_empty() {
                continue;
            }
            let queues = queues::resolve(&client, &settings, &spec).await?;
            routes.push(QueueRoute {
                queue_url: queues.queue_url.clone(),
                topics: spec.topics().iter().map(|t| (*t).to_owned()).collect(),
                key: spec.ordering_key.map(str::to_owned),
            });
            subscriptions.push(Subscription {
                topics: spec.topics(),
                max_deliveries: spec.retry.max_deliveries,
                queues,
            });
        }
        // With a bus, the ordered functions' FIFO queues still get their events directly, with
        // the key as message group, as the Lambda publisher does.
        let ordered: Vec<QueueRoute> = routes.iter().filter(|r| r.key.is_some()).cloned().collect();
        let eventbridge = settings.event_bus.as_deref().map(|bus| {
            EventBridgePublisher::new(bus, &settings.eventbridge)
                .with_ordered_routes(&settings.sqs, ordered)
        });
        Ok(Self {
            client,
            settings,
            subscriptions,
            routes,
            eventbridge,
        })
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &SqsSettings {
        &self.settings
    }

    /// The queues of `function`, if it is a topic function of this broker.
    #[must_use]
    pub fn queues(&self, function: &str) -> Option<&FunctionQueues> {
        self.subscriptions
            .iter()
            .map(|s| &s.queues)
            .find(|q| q.function == function)
    }

    fn subscription(&self, function: &str) -> Result<&Subscription, BrokerError> {
        self.subscriptions
            .iter()
            .find(|s| s.queues.function == function)
            .ok_or_else(|| BrokerError {
                transport: "SQS",
                message: format!("{function} has no queue here (jobs have none)"),
            })
    }

    /// Moves dead letters of `function` back to its queue; see [`redrive::redrive`].
    ///
    /// # Errors
    /// [`BrokerError`] for a function without a queue, or when SQS refuses.
    pub async fn redrive_outcome(
        &self,
        function: &str,
        ids: Option<&[String]>,
    ) -> Result<RedriveOutcome, BrokerError> {
        let subscription = self.subscription(function)?;
        Ok(redrive::redrive(&self.client, &subscription.queues, ids).await?)
    }

    /// An approximate count attribute of the queue at `url`.
    async fn count(&self, url: &str, names: &[QueueAttributeName]) -> Result<i64, SqsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| SqsError::sdk(format!("GetQueueAttributes {url}"), &e))?;
        Ok(names
            .iter()
            .filter_map(|n| out.attributes()?.get(n)?.parse::<i64>().ok())
            .sum())
    }
}

impl Publisher for SqsBroker {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            if let Some(eventbridge) = &self.eventbridge {
                return eventbridge.publish(events).await;
            }
            let (failed_ids, reason) = fifo::send(&self.client, &self.routes, events).await;
            if failed_ids.is_empty() {
                Ok(())
            } else {
                Err(PublishError::Partial {
                    total: events.len(),
                    failed_ids,
                    reason,
                })
            }
        })
    }
}

impl Broker for SqsBroker {
    fn subscribers(&self, topic: &str) -> Vec<&'static str> {
        self.subscriptions
            .iter()
            .filter(|s| s.topics.contains(&topic))
            .map(|s| s.queues.function)
            .collect()
    }

    fn dead_letters<'a>(
        &'a self,
        function: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for s in &self.subscriptions {
                if function.is_some_and(|f| f != s.queues.function) || out.len() >= limit {
                    continue;
                }
                let messages =
                    letters::peek(&self.client, &s.queues.dlq_url, limit - out.len()).await?;
                out.extend(
                    messages
                        .iter()
                        .map(|m| letters::dead_letter(m, s.queues.function, s.max_deliveries)),
                );
            }
            out.sort_by_key(|l| std::cmp::Reverse(l.failed_at.millis()));
            Ok(out)
        })
    }

    fn redrive<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            let subscription = self.subscription(function)?;
            let before = self
                .count(
                    &subscription.queues.dlq_url,
                    &[QueueAttributeName::ApproximateNumberOfMessages],
                )
                .await?;
            Ok(match self.redrive_outcome(function, ids).await? {
                RedriveOutcome::ReceiveSendDelete { moved } => moved,
                // The task moves them in the background: report what it has to move.
                RedriveOutcome::MoveTask { .. } => usize::try_from(before).unwrap_or(0),
            })
        })
    }

    fn depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            let names = [
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ];
            let mut out = Vec::new();
            for s in &self.subscriptions {
                let depth = self.count(&s.queues.queue_url, &names).await?;
                out.push((s.queues.function.to_owned(), depth));
            }
            Ok(out)
        })
    }

    fn deliver<'a>(
        &'a self,
        function: &'a str,
        events: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            let subscription = self.subscription(function)?;
            // A route of this one queue, taking every topic the events carry.
            let mut topics: Vec<String> = events.iter().map(|r| r.topic.clone()).collect();
            topics.sort();
            topics.dedup();
            let route = QueueRoute {
                queue_url: subscription.queues.queue_url.clone(),
                topics,
                key: self
                    .routes
                    .iter()
                    .find(|r| r.queue_url == subscription.queues.queue_url)
                    .and_then(|r| r.key.clone()),
            };
            let (failed, reason) = fifo::send(&self.client, &[route], events).await;
            if failed.is_empty() {
                Ok(events.len())
            } else {
                Err(BrokerError {
                    transport: "SQS",
                    message: format!(
                        "{} of {} events were not sent to {function}'s queue: {reason}",
                        failed.len(),
                        events.len()
                    ),
                })
            }
        })
    }

    fn delete_dead_letters<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            let subscription = self.subscription(function)?;
            Ok(edit::delete(&self.client, &subscription.queues.dlq_url, ids).await?)
        })
    }

    fn edit_dead_letter<'a>(
        &'a self,
        function: &'a str,
        id: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrokerError>> {
        Box::pin(async move {
            let subscription = self.subscription(function)?;
            Ok(edit::replace(&self.client, &subscription.queues.dlq_url, id, body).await?)
        })
    }

    fn dlq_depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            let names = [QueueAttributeName::ApproximateNumberOfMessages];
            let mut out = Vec::new();
            for s in &self.subscriptions {
                let depth = self.count(&s.queues.dlq_url, &names).await?;
                out.push((s.queues.function.to_owned(), depth));
            }
            Ok(out)
        })
    }
}
