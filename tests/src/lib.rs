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

use conveyor_catalog as catalog;
use conveyor_runtime::{CloudEvent, HandlerError, Input, Meta};
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
    /// Redeliver an event a function asks to retry, as the hosts do (without the backoff).
    retries: bool,
}

impl Flow {
    /// A flow with no history.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A flow that redelivers an event whose function returned `Retry`, with the next attempt
    /// number, up to the function's maximum deliveries, as the hosts do (without waiting).
    #[must_use]
    pub fn with_retries() -> Self {
        Self {
            retries: true,
            ..Self::default()
        }
    }

    /// Injects `event` and delivers it and everything it causes, breadth first. Returns the
    /// number of deliveries made. A function's failure is recorded; it is retried only by a
    /// flow made with [`Flow::with_retries`].
    ///
    /// # Panics
    /// After 10,000 deliveries (an event loop between functions).
    pub async fn run(&mut self, h: &Harness, event: CloudEvent) -> usize {
        let before = self.deliveries.len();
        self.drain(h, VecDeque::from([event])).await;
        self.deliveries.len() - before
    }

    /// Runs one tick of the job `job` at the harness clock's time, then delivers what it
    /// published and everything that causes, as [`Flow::run`] does. Returns the number of
    /// deliveries made (the tick included).
    ///
    /// # Panics
    /// For a job not in the catalog, or as [`Flow::run`].
    pub async fn tick(&mut self, h: &Harness, job: &str) -> usize {
        let before = self.deliveries.len();
        let function = catalog::find(job).expect("job in the catalog");
        let scheduled = h.now();
        let input = Input::Tick {
            meta: Box::new(Meta::for_tick(job, scheduled, 1)),
            scheduled,
        };
        let result = function.invoke(&h.deps, input).await;
        self.deliveries.push(Delivery {
            function: function.spec().name,
            topic: String::new(),
            outcome: result.map(|_| ()).map_err(|e| e.to_string()),
        });
        self.drain(h, published(h)).await;
        self.deliveries.len() - before
    }

    async fn drain(&mut self, h: &Harness, mut queue: VecDeque<CloudEvent>) {
        while let Some(event) = queue.pop_front() {
            self.events.push(event.clone());
            for function in catalog::subscribers(event.topic_name()) {
                let spec = function.spec();
                let mut attempt = 1;
                loop {
                    let input = Input::Event {
                        event: &event,
                        attempt,
                        deadline: None,
                    };
                    let result = function.invoke(&h.deps, input).await;
                    let retry = self.retries
                        && attempt < spec.retry.max_deliveries
                        && result.as_ref().is_err_and(HandlerError::is_retry);
                    self.deliveries.push(Delivery {
                        function: spec.name,
                        topic: event.topic_name().to_owned(),
                        outcome: result.map(|_| ()).map_err(|e| e.to_string()),
                    });
                    assert!(
                        self.deliveries.len() < 10_000,
                        "event loop between functions"
                    );
                    if !retry {
                        break;
                    }
                    attempt += 1;
                }
            }
            queue.extend(published(h));
        }
    }

    /// Topics of the events seen from index `start` on, in order.
    #[must_use]
    pub fn topics_since(&self, start: usize) -> Vec<&str> {
        self.events[start..]
            .iter()
            .map(CloudEvent::topic_name)
            .collect()
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

/// What the functions published since the last call, decoded.
fn published(h: &Harness) -> VecDeque<CloudEvent> {
    h.publisher
        .take()
        .iter()
        .map(|row| CloudEvent::decode(row.body.as_bytes()).expect("published CloudEvent"))
        .collect()
}
