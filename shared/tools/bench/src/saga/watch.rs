//! Counts the checkouts that ended: a stateless function on `order.checkout_finished`, which
//! the saga publishes in the transaction that stores its end, so it arrives after the
//! `sagas` row says completed or compensated. It signals when the count the bench waits for is
//! reached, so the bench does not poll the database while it measures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use conveyor_domain::events::checkout::CHECKOUT_FINISHED;
use conveyor_runtime::saga::SagaMessage;
use conveyor_runtime::{Context, FunctionSpec, HandlerError, Service, TopicHandler};

/// What the watcher counted, and the signal at the target.
#[derive(Debug, Default)]
pub struct Finished {
    count: AtomicU64,
    target: u64,
    reached: tokio::sync::Notify,
}

impl Finished {
    /// A counter that signals at `target`.
    #[must_use]
    pub fn until(target: u64) -> Self {
        Self {
            target,
            ..Self::default()
        }
    }

    /// `order.checkout_finished` events handled so far (a redelivered one counts again).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Signalled when the count reaches the target.
    #[must_use]
    pub fn reached(&self) -> &tokio::sync::Notify {
        &self.reached
    }
}

/// The watcher.
#[derive(Debug, Clone)]
pub struct Watcher(pub Arc<Finished>);

impl TopicHandler for Watcher {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "bench-checkout-watcher",
        Service::Order,
        &[CHECKOUT_FINISHED],
    )
    .stateless();

    async fn handle(&self, _: SagaMessage, _: &mut Context<'_>) -> Result<(), HandlerError> {
        let n = self.0.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.0.target {
            self.0.reached.notify_one();
        }
        Ok(())
    }
}
