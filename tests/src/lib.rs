//! conveyor-tests: end-to-end flows across functions. [`Flow`] routes every published event to
//! the catalog functions subscribed to its topic, through the same inbox/outbox pipeline the
//! hosts use, until nothing new is published: the whole platform, in one process.
//!
//! # Layout
//! - [`Flow`] — the catalog in one process
//! - [`process`] — `conveyor up` as a child process, and its HTTP API
//! - [`published`] — events read back from the Redis topic streams, and flow assertions
//! - [`redis_server`] — a private `redis-server` a test may restart
//! - [`proxy`] — a TCP proxy a test cuts to make PostgreSQL unreachable
//! - [`stack`] — one child emulator with its own database and key prefix

pub mod process;
pub mod proxy;
pub mod published;
pub mod redis_server;
pub mod stack;

use std::collections::VecDeque;

use conveyor_emulator::catalog;
use conveyor_runtime::{CloudEvent, HandlerError, Input};
use conveyor_testkit::Harness;

/// One delivery the flow made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The function.
    pub function: &'static str,
    /// The event's topic.
    pub topic: String,
    /// `Ok` or the error text.
    pub outcome: Result<(), String>,
}

/// Drives events through the catalog on a [`Harness`].
#[derive(Debug, Default)]
pub struct Flow {
    /// Every delivery, in order.
    pub deliveries: Vec<Delivery>,
    /// Every event seen (published by a function or injected), in order.
    pub events: Vec<CloudEvent>,
}

impl Flow {
    /// A flow with no history.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Injects `event` and delivers it and everything it causes, breadth first. Returns the
    /// number of deliveries made. A function's failure is recorded, not retried.
    ///
    /// # Panics
    /// After 10,000 deliveries (an event loop between functions).
    pub async fn run(&mut self, h: &Harness, event: CloudEvent) -> usize {
        let before = self.deliveries.len();
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            self.events.push(event.clone());
            for function in catalog::subscribers(event.topic_name()) {
                let name = function.spec().name;
                let input = Input::Event {
                    event: &event,
                    attempt: 1,
                    deadline: None,
                };
                let outcome = function
                    .invoke(&h.deps, input)
                    .await
                    .map(|_| ())
                    .map_err(|e: HandlerError| e.to_string());
                self.deliveries.push(Delivery {
                    function: name,
                    topic: event.topic_name().to_owned(),
                    outcome,
                });
                assert!(
                    self.deliveries.len() < 10_000,
                    "event loop between functions"
                );
            }
            queue.extend(
                h.publisher.take().iter().map(|row| {
                    CloudEvent::decode(row.body.as_bytes()).expect("published CloudEvent")
                }),
            );
        }
        self.deliveries.len() - before
    }

    /// Topics of every event seen, in order.
    #[must_use]
    pub fn topics(&self) -> Vec<&str> {
        self.events.iter().map(CloudEvent::topic_name).collect()
    }

    /// Deliveries that failed.
    #[must_use]
    pub fn failures(&self) -> Vec<&Delivery> {
        self.deliveries
            .iter()
            .filter(|d| d.outcome.is_err())
            .collect()
    }
}
