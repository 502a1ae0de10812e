//! Where the checkouts run: [`Host`] is what [`super::run_on`] asks of a running deployment
//! (publish the checkouts, tell when everything was delivered, the dead letters, the timer
//! firings the orchestrator handled); [`Up`] is a running emulator (`up`), on any transport.

use std::future::Future;

use conveyor_emulator::eventlog::ATTEMPTS;
use conveyor_emulator::up::Running;
use conveyor_store::{OutboxRow, Store};

use super::NAME_OF_SAGA;

/// A deployment running the checkout's functions, on one database.
pub(crate) trait Host {
    /// The database every function of the deployment uses.
    fn store(&self) -> &Store;

    /// Publishes `events` as the order service does.
    fn publish(&self, events: &[OutboxRow]) -> impl Future<Output = ()>;

    /// Whether everything published was delivered and handled, and the outbox is empty.
    fn drained(&self) -> impl Future<Output = bool>;

    /// The deliveries given up on (dead-lettered), described.
    fn dead_letters(&self) -> impl Future<Output = Vec<String>>;

    /// The timer firings (`saga.timer_fired`, distinct events) the orchestrator handled.
    fn timers(&self) -> usize;

    /// Stops the deployment.
    fn shutdown(self) -> impl Future<Output = ()>;
}

/// A running emulator.
pub(crate) struct Up(pub(crate) Running);

impl Host for Up {
    fn store(&self) -> &Store {
        &self.0.deps.store
    }

    async fn publish(&self, events: &[OutboxRow]) {
        self.0.broker.publish(events).await.unwrap();
    }

    async fn drained(&self) -> bool {
        self.0
            .broker
            .depths()
            .await
            .unwrap()
            .iter()
            .all(|(_, n)| *n == 0)
            && self.store().outbox_backlog().await.unwrap() == 0
    }

    async fn dead_letters(&self) -> Vec<String> {
        let letters = self.0.broker.dead_letters(None, 10).await.unwrap();
        letters.iter().map(|l| format!("{l:?}")).collect()
    }

    fn timers(&self) -> usize {
        self.0
            .events
            .latest_attempts(ATTEMPTS)
            .iter()
            .filter(|a| a.function == NAME_OF_SAGA && a.event_id.starts_with("saga-timer/"))
            .count()
    }

    async fn shutdown(self) {
        self.0.shutdown().await;
    }
}
