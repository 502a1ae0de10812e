//! conveyor-testkit: what handler tests share. A [`Harness`] owns a fresh database (PostgreSQL
//! or SQLite), a [`MemoryPublisher`] and a [`ManualClock`], and delivers events to handlers
//! through the same inbox/outbox pipeline the hosts use, so a test sees exactly what a host
//! would commit and publish.
//!
//! # Layout
//! - [`Harness`] and [`on_both_backends`]: per-test environment
//! - [`seed`]: rows a scenario starts from
//! - [`tls`]: a throwaway CA and certificates for tests that start their own TLS servers

pub mod seed;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use conveyor_domain::{Clock, ManualClock, Timestamp};
use conveyor_runtime::context::Meta;
use conveyor_runtime::{
    CloudEvent, Deps, EventInput, Handled, HandlerError, MemoryPublisher, ScheduleHandler,
    TopicHandler, invoke,
};
use conveyor_store::testing::TestDb;
use conveyor_store::{Backend, Store};
use serde::Serialize;

/// The instant every harness clock starts at.
pub const START: &str = "2026-11-22T10:00:00Z";

/// A fresh database, publisher and clock for one test.
#[derive(Debug)]
pub struct Harness {
    db: TestDb,
    /// What handlers published, in order.
    pub publisher: Arc<MemoryPublisher>,
    /// The clock handlers read.
    pub clock: Arc<ManualClock>,
    /// What hosts pass to the pipeline.
    pub deps: Deps,
}

impl Harness {
    /// A harness on a fresh database of `backend`, clock at [`START`].
    pub async fn new(backend: Backend) -> Self {
        Self::on(TestDb::of(backend).await)
    }

    /// A harness on a fresh database made on the PostgreSQL server that `admin_url` reaches
    /// (with its TLS options, e.g. a [`tls::postgres::TlsPostgres`] URL), clock at [`START`].
    ///
    /// # Errors
    /// When the server cannot be reached or the database cannot be made and migrated.
    pub async fn on_postgres(admin_url: &str) -> Result<Self, conveyor_store::StoreError> {
        Ok(Self::on(TestDb::create_postgres(admin_url).await?))
    }

    fn on(db: TestDb) -> Self {
        let publisher = Arc::new(MemoryPublisher::new());
        let clock = Arc::new(ManualClock::new(start()));
        let deps = Deps {
            store: db.store().clone(),
            publisher: publisher.clone(),
            clock: clock.clone(),
        };
        Self {
            db,
            publisher,
            clock,
            deps,
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        self.db.store()
    }

    /// Which backend this harness runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.db.store().backend()
    }

    /// A CloudEvent for `payload` on `topic`, as an external publisher would send it.
    ///
    /// # Panics
    /// If the payload does not serialise.
    #[must_use]
    pub fn event(&self, topic: &str, payload: &impl Serialize) -> CloudEvent {
        let mut ce = CloudEvent::new(topic, "test-publisher", payload, self.clock.now())
            .expect("payload serialises");
        ce.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
        ce.correlationid = Some(format!("corr-{}", ce.id));
        ce
    }

    /// Delivers `payload` on the handler's first topic as a new event (first delivery).
    ///
    /// # Errors
    /// What the pipeline returns.
    pub async fn deliver<H: TopicHandler>(
        &self,
        handler: &H,
        payload: &impl Serialize,
    ) -> Result<Handled, HandlerError> {
        let topic = H::SPEC.topics().first().copied().unwrap_or_default();
        let event = self.event(topic, payload);
        self.deliver_event(handler, &event, 1).await
    }

    /// Delivers a given event (deliver the same one twice to test duplicates).
    ///
    /// # Errors
    /// What the pipeline returns.
    pub async fn deliver_event<H: TopicHandler>(
        &self,
        handler: &H,
        event: &CloudEvent,
        attempt: u32,
    ) -> Result<Handled, HandlerError> {
        invoke::handle_event(handler, &self.deps, event, attempt, None).await
    }

    /// Delivers several events together (first deliveries), the way a host hands over the
    /// entries of one read: one result per event, in order.
    pub async fn deliver_together<H: TopicHandler>(
        &self,
        handler: &H,
        events: &[CloudEvent],
    ) -> Vec<Result<Handled, HandlerError>> {
        let inputs: Vec<EventInput<'_>> = events.iter().map(EventInput::first).collect();
        conveyor_runtime::batch::handle_events(handler, &self.deps, &inputs, &|| false).await
    }

    /// Runs the job's tick scheduled now.
    ///
    /// # Errors
    /// What the pipeline returns.
    pub async fn tick<H: ScheduleHandler>(&self, handler: &H) -> Result<Handled, HandlerError> {
        let scheduled = self.clock.now();
        invoke::run_tick(
            handler,
            &self.deps,
            &Meta::for_tick(H::SPEC.name, scheduled, 1),
            scheduled,
        )
        .await
    }

    /// Everything published so far, decoded, in order.
    #[must_use]
    pub fn published(&self) -> Vec<CloudEvent> {
        self.publisher.events()
    }

    /// Topics published so far, in order.
    #[must_use]
    pub fn published_topics(&self) -> Vec<String> {
        self.published().iter().map(|e| e.ty.clone()).collect()
    }

    /// Published payloads of one topic, decoded as `T`.
    ///
    /// # Panics
    /// If one does not decode.
    #[must_use]
    pub fn published_payloads<T: serde::de::DeserializeOwned>(&self, topic: &str) -> Vec<T> {
        self.published()
            .iter()
            .filter(|e| e.ty == topic)
            .map(|e| e.payload().expect("published payload decodes"))
            .collect()
    }

    /// The harness clock's "now".
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves the clock.
    pub fn advance_minutes(&self, minutes: i64) {
        self.clock.advance_millis(minutes * 60_000);
    }

    /// Drops the database.
    pub async fn close(self) {
        self.db.close().await;
    }
}

/// The harness start time.
///
/// # Panics
/// Never: [`START`] is a valid timestamp.
#[must_use]
pub fn start() -> Timestamp {
    Timestamp::parse_rfc3339(START).expect("valid start time")
}

/// Runs a test on SQLite, then on PostgreSQL, each with a fresh harness.
pub async fn on_both_backends<F, Fut>(test: F)
where
    F: Fn(Harness) -> Fut,
    Fut: Future<Output = Harness>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let harness = test(Harness::new(backend).await).await;
        harness.close().await;
    }
}
