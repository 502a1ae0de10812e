//! The system under test: the whole catalog in one process on a fresh database, driven the way
//! the hosts drive it (every event routed to its subscribers through the inbox/outbox pipeline,
//! a `Retry` redelivered with the next attempt number, the outbox relay publishing what a crash
//! left behind), plus what happens outside it (the order service, the payment service, the
//! warehouse floor, the carrier), and the ledger the invariants compare the stock with.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_domain::events::payment::{PAYMENT_CONFIRMED, PaymentConfirmedEvent};
use conveyor_domain::{OrderId, ProductId, ReturnId, Timestamp};
use conveyor_runtime::{CloudEvent, HandlerError, Input, Meta, Trigger};
use conveyor_store::Backend;
use conveyor_testkit::{Harness, seed};

use crate::schemas::Schemas;
use crate::steps::Step;

mod outside;

/// Days an inbox row is kept (the platform's default).
const INBOX_RETENTION_DAYS: i64 = 14;

/// An order the model placed.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    /// Its id.
    pub(crate) id: OrderId,
    /// Units per product.
    pub(crate) units: BTreeMap<ProductId, u32>,
}

/// The catalog on a database, and what the model did to it.
#[derive(Debug)]
pub(crate) struct System {
    /// The database, publisher and clock.
    pub(crate) h: Harness,
    schemas: &'static Schemas,
    /// Orders placed, by index.
    pub(crate) orders: Vec<Placed>,
    /// Products created, by index.
    pub(crate) products: Vec<ProductId>,
    /// Units each product was created with, plus restocks and returns.
    pub(crate) received: BTreeMap<ProductId, i64>,
    returns: BTreeSet<ReturnId>,
    /// Every event seen, in order: the event, when, and whether it came from outside.
    log: Vec<(CloudEvent, Timestamp, bool)>,
    /// Indices into `log` of the events from outside.
    external: Vec<usize>,
    held: Vec<CloudEvent>,
    hold_payments: usize,
    crash_next: bool,
    failed_payments: u32,
    /// Event id -> body of every event seen.
    bodies: HashMap<String, String>,
    /// Orders whose `payment.confirmed` was handled.
    pub(crate) paid: BTreeSet<OrderId>,
    /// Problems found while running: a published event that breaks its schema or reuses an id,
    /// a handler failing on an event the platform published itself.
    pub(crate) problems: Vec<String>,
}

impl System {
    /// A fresh catalog on `backend`.
    pub(crate) async fn new(backend: Backend, schemas: &'static Schemas) -> Self {
        Self {
            h: Harness::new(backend).await,
            schemas,
            orders: Vec::new(),
            products: Vec::new(),
            received: BTreeMap::new(),
            returns: BTreeSet::new(),
            log: Vec::new(),
            external: Vec::new(),
            held: Vec::new(),
            hold_payments: 0,
            crash_next: false,
            failed_payments: 0,
            bodies: HashMap::new(),
            paid: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    /// Applies one step and delivers everything it causes.
    pub(crate) async fn apply(&mut self, step: &Step) {
        match step {
            Step::CreateProduct { stock } => self.create_product(*stock).await,
            Step::Restock { product, units } => {
                let sku = self.products[*product].clone();
                seed::warehouse::restock_unannounced(
                    self.h.store(),
                    sku.as_str(),
                    *units,
                    self.h.now(),
                )
                .await;
                *self.received.entry(sku).or_default() += i64::from(*units);
            }
            Step::PlaceOrder { cod, lines } => self.place(*cod, lines).await,
            Step::Pay { order } => self.pay(*order).await,
            Step::FailPayment { order } => self.fail_payment(*order).await,
            Step::Cancel { order } => self.cancel(*order).await,
            Step::Pick { order, steps } => {
                for _ in 0..*steps {
                    self.pick(*order).await;
                }
            }
            Step::VerifyCodDelivery { order } => self.verify_delivery(*order).await,
            Step::Return {
                order,
                legacy_topic,
            } => self.give_back(*order, *legacy_topic).await,
            Step::Advance { minutes } => self.advance(*minutes).await,
            Step::Redeliver { event, attempt } => {
                // Within the inbox retention only: past it a redelivery is outside the
                // platform's contract (SQS keeps a message at most 14 days).
                let recent = self.h.now().sub_days(INBOX_RETENTION_DAYS - 1);
                let candidates: Vec<usize> = (0..self.log.len())
                    .filter(|&i| self.log[i].1 >= recent)
                    .collect();
                if !candidates.is_empty() {
                    let (event, _, external) =
                        self.log[candidates[event % candidates.len()]].clone();
                    self.deliver(event, *attempt, false, external).await;
                }
            }
            Step::Resend { event } => {
                if !self.external.is_empty() {
                    let old = &self.log[self.external[event % self.external.len()]].0;
                    let mut again = self.h.event(old.topic_name(), &());
                    again.data.clone_from(&old.data);
                    self.inject(again, false).await;
                }
            }
            Step::HoldNextPayment => self.hold_payments += 1,
            Step::ReleaseHeld { which } => {
                if *which < self.held.len() {
                    let event = self.held.remove(*which);
                    self.deliver(event, 1, false, true).await;
                }
            }
            Step::CrashAfterCommit => self.crash_next = true,
        }
    }

    /// Delivers everything held back, then lets every clock-driven rule run out.
    pub(crate) async fn quiesce(&mut self) {
        for event in std::mem::take(&mut self.held) {
            self.deliver(event, 1, false, true).await;
        }
        self.advance(15 * 24 * 60).await;
        self.advance(15 * 24 * 60).await;
    }

    async fn advance(&mut self, minutes: i64) {
        self.h.advance_minutes(minutes);
        for function in catalog::all() {
            let spec = function.spec();
            if !matches!(spec.trigger, Trigger::Schedule(_)) {
                continue;
            }
            let scheduled = self.h.now();
            let input = Input::Tick {
                meta: Box::new(Meta::for_tick(spec.name, scheduled, 1)),
                scheduled,
            };
            if let Err(e) = function.invoke(&self.h.deps, input).await {
                self.problems.push(format!("job {} failed: {e}", spec.name));
            }
            let published = self.published();
            self.drain(published).await;
        }
    }

    /// An event from outside the platform: held back, or delivered (after a crash if asked).
    async fn inject(&mut self, event: CloudEvent, payment: bool) {
        if payment && self.hold_payments > 0 {
            self.hold_payments -= 1;
            self.held.push(event);
            return;
        }
        let crash = std::mem::take(&mut self.crash_next);
        self.deliver(event, 1, crash, true).await;
    }

    fn record(&mut self, event: &CloudEvent, external: bool) {
        if external {
            self.external.push(self.log.len());
        }
        self.log.push((event.clone(), self.h.now(), external));
    }

    /// Delivers `event` (delivery number `attempt`) and everything it causes, breadth first.
    async fn deliver(&mut self, event: CloudEvent, attempt: u32, crash: bool, external: bool) {
        self.note(&event, false);
        self.record(&event, external);
        let mut queue = VecDeque::new();
        self.route(&event, attempt, crash, external, &mut queue)
            .await;
        self.drain(queue).await;
    }

    async fn drain(&mut self, mut queue: VecDeque<CloudEvent>) {
        let mut deliveries = 0;
        while let Some(event) = queue.pop_front() {
            self.record(&event, false);
            self.route(&event, 1, false, false, &mut queue).await;
            deliveries += 1;
            assert!(deliveries < 10_000, "event loop between functions");
        }
    }

    /// Hands `event` to each subscriber (retrying a `Retry` as the hosts do) and queues what
    /// they publish.
    async fn route(
        &mut self,
        event: &CloudEvent,
        first_attempt: u32,
        mut crash: bool,
        external: bool,
        queue: &mut VecDeque<CloudEvent>,
    ) {
        for function in catalog::subscribers(event.topic_name()) {
            let spec = function.spec();
            let mut attempt = first_attempt.min(spec.retry.max_deliveries);
            loop {
                self.h.publisher.set_failing(crash);
                let result = function
                    .invoke(
                        &self.h.deps,
                        Input::Event {
                            event,
                            attempt,
                            deadline: None,
                        },
                    )
                    .await;
                self.h.publisher.set_failing(false);
                if std::mem::take(&mut crash) {
                    // The outbox relay publishes what the crashed invocation committed.
                    conveyor_runtime::relay::relay_once(&self.h.deps, Duration::ZERO, 1_000)
                        .await
                        .expect("relay");
                }
                if event.topic_name() == PAYMENT_CONFIRMED
                    && spec.name == "order-payment-confirmed"
                    && result.is_ok()
                    && let Ok(payment) = event.payload::<PaymentConfirmedEvent>()
                {
                    self.paid.insert(payment.order_id);
                }
                match result {
                    Err(e) if e.is_retry() && attempt < spec.retry.max_deliveries => attempt += 1,
                    Err(e) => {
                        // The platform's own events never fail; an outside report may be
                        // refused (a stale picklist report), but never left to retry forever.
                        if !external || matches!(e, HandlerError::Retry(_)) {
                            self.problems.push(format!(
                                "{} failed on {} {}: {e}",
                                spec.name,
                                event.topic_name(),
                                event.data.as_deref().map_or("", |d| d.get())
                            ));
                        }
                        break;
                    }
                    Ok(_) => break,
                }
            }
            for published in self.published() {
                queue.push_back(published);
            }
        }
    }

    /// What the functions published since the last call, checked.
    fn published(&mut self) -> VecDeque<CloudEvent> {
        let events: VecDeque<CloudEvent> = self
            .h
            .publisher
            .take()
            .iter()
            .map(|row| CloudEvent::decode(row.body.as_bytes()).expect("published CloudEvent"))
            .collect();
        for event in &events {
            self.note(event, true);
        }
        events
    }

    /// Records the event's body under its id, and checks a published one against its schema.
    fn note(&mut self, event: &CloudEvent, published: bool) {
        let body = event
            .data
            .as_deref()
            .map(|d| d.get().to_owned())
            .unwrap_or_default();
        match self.bodies.get(&event.id) {
            Some(seen) if *seen != body => self.problems.push(format!(
                "event id {} carries two bodies: {seen} and {body}",
                event.id
            )),
            Some(_) => {}
            None => {
                self.bodies.insert(event.id.clone(), body);
            }
        }
        if published {
            self.problems.extend(self.schemas.check(event));
        }
    }

    /// The database backend.
    pub(crate) fn backend(&self) -> Backend {
        self.h.backend()
    }
}
