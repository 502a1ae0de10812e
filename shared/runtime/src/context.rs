//! What a handler gets besides its payload: the event's metadata, the open transaction, the
//! clock reading, and a way to stage outgoing events in the outbox.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use conveyor_domain::events::DomainEvent;
use conveyor_domain::{Clock, Timestamp};
use conveyor_store::{OutboxRow, Store, Tx};

use crate::cloudevent::{CloudEvent, data_schema};
use crate::error::HandlerError;
use crate::publish::Publisher;
use crate::trace::TraceParent;

/// Clients and configuration built once per process (Lambda cold start, emulator start) and
/// shared by every invocation.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The database.
    pub store: Store,
    /// Where committed events go.
    pub publisher: Arc<dyn Publisher>,
    /// "Now".
    pub clock: Arc<dyn Clock>,
}

/// Identity and tracing of the event (or tick) being handled. An event's metadata borrows its
/// strings from the envelope (no copy per invocation); a tick's owns them.
#[derive(Debug, Clone)]
pub struct Meta<'a> {
    /// Event id (for a tick: `<job>@<scheduled minute>`).
    pub event_id: Cow<'a, str>,
    /// 1 on first delivery.
    pub attempt: u32,
    /// When the host gives up on this invocation.
    pub deadline: Option<Timestamp>,
    /// The incoming trace, or one started when first asked for (see [`Meta::trace`]).
    trace: OnceLock<TraceParent>,
    /// The incoming `tracestate`, passed on unchanged.
    pub tracestate: Option<Cow<'a, str>>,
    /// The flow's correlation id.
    pub correlation_id: Cow<'a, str>,
    /// The id of the event whose handling published this one (`None` for a tick, or an event
    /// from outside conveyor).
    pub causation_id: Option<Cow<'a, str>>,
    /// The topic the event came on (empty for a tick).
    pub topic: Cow<'a, str>,
    /// On an event replayed from the event store as a new event, the id of the original.
    pub replay_of: Option<Cow<'a, str>>,
}

impl<'a> Meta<'a> {
    /// Metadata of an incoming CloudEvent. A missing or malformed traceparent starts a new
    /// trace; a missing correlation id makes this event the start of its flow.
    #[must_use]
    pub fn from_event(event: &'a CloudEvent, attempt: u32, deadline: Option<Timestamp>) -> Self {
        let trace = event
            .traceparent
            .as_deref()
            .or(event.traceid.as_deref())
            .and_then(TraceParent::parse)
            .map_or_else(OnceLock::new, OnceLock::from);
        Self {
            event_id: Cow::Borrowed(&event.id),
            attempt,
            deadline,
            trace,
            tracestate: event
                .tracestate
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(Cow::Borrowed),
            correlation_id: Cow::Borrowed(
                event
                    .correlationid
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .unwrap_or(&event.id),
            ),
            causation_id: event
                .causationid
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(Cow::Borrowed),
            topic: Cow::Borrowed(event.topic_name()),
            replay_of: event
                .replayof
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(Cow::Borrowed),
        }
    }

    /// Metadata of a schedule tick. Its id is the job and the minute, so two firings of one
    /// tick (a host retry, two schedulers) run the job once.
    #[must_use]
    pub fn for_tick(job: &str, scheduled: Timestamp, attempt: u32) -> Meta<'static> {
        let minute =
            Timestamp::from_millis(scheduled.millis() - scheduled.millis().rem_euclid(60_000));
        let event_id = format!("{job}@{}", minute.to_rfc3339());
        Meta {
            correlation_id: Cow::Owned(event_id.clone()),
            event_id: Cow::Owned(event_id),
            attempt,
            deadline: None,
            trace: OnceLock::new(),
            tracestate: None,
            causation_id: None,
            topic: Cow::Borrowed(""),
            replay_of: None,
        }
    }

    /// The incoming trace; outgoing events are its children. Without one (an event without
    /// trace context, a tick) a new trace starts here, made on first use, since most
    /// invocations publish nothing and a trace id costs random numbers.
    #[must_use]
    pub fn trace(&self) -> &TraceParent {
        self.trace.get_or_init(TraceParent::new_root)
    }
}

/// The handler's view of one invocation.
#[derive(Debug)]
pub struct Context<'a> {
    meta: &'a Meta<'a>,
    source: &'static str,
    now: Timestamp,
    tx: Option<&'a mut Tx>,
    staged: Vec<OutboxRow>,
}

impl<'a> Context<'a> {
    /// A context over an open transaction. `source` is the publishing app id.
    pub fn new(meta: &'a Meta<'a>, source: &'static str, now: Timestamp, tx: &'a mut Tx) -> Self {
        Self {
            meta,
            source,
            now,
            tx: Some(tx),
            staged: Vec::new(),
        }
    }

    /// A context without a transaction, for a stateless function.
    pub fn stateless(meta: &'a Meta<'a>, source: &'static str, now: Timestamp) -> Self {
        Self {
            meta,
            source,
            now,
            tx: None,
            staged: Vec::new(),
        }
    }

    /// The open transaction: every repository call goes through it.
    ///
    /// # Errors
    /// [`HandlerError::Drop`] in a function declared stateless, which has no transaction (a bug
    /// in the function's declaration, so retrying cannot help).
    pub fn tx(&mut self) -> Result<&mut Tx, HandlerError> {
        self.tx.as_deref_mut().ok_or_else(|| {
            HandlerError::drop("this function is declared stateless and has no transaction")
        })
    }

    /// "Now", read once when the invocation started.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The event id.
    #[must_use]
    pub fn event_id(&self) -> &str {
        &self.meta.event_id
    }

    /// 1 on first delivery.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.meta.attempt
    }

    /// The topic the event came on (empty for a tick): what a function subscribed to several
    /// topics with differently shaped payloads reads them by.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.meta.topic
    }

    /// The correlation id.
    #[must_use]
    pub fn correlation_id(&self) -> &str {
        &self.meta.correlation_id
    }

    /// The id of the event that caused the one being handled, when it says.
    #[must_use]
    pub fn causation_id(&self) -> Option<&str> {
        self.meta.causation_id.as_deref()
    }

    /// On an event replayed as a new event (`conveyor events replay --as-new`), the id of the
    /// event it replays.
    #[must_use]
    pub fn replay_of(&self) -> Option<&str> {
        self.meta.replay_of.as_deref()
    }

    /// The incoming trace.
    #[must_use]
    pub fn trace(&self) -> &TraceParent {
        self.meta.trace()
    }

    /// When the host gives up.
    #[must_use]
    pub fn deadline(&self) -> Option<Timestamp> {
        self.meta.deadline
    }

    /// Stages an event; it is written to the outbox in this transaction and published after
    /// commit. It carries this invocation's trace (as parent) and correlation id, and the id of
    /// the event (or tick) being handled as its causation id.
    ///
    /// # Errors
    /// [`HandlerError::Drop`] if the payload cannot be serialised (a bug, never transient).
    pub fn publish<E: DomainEvent>(&mut self, event: &E) -> Result<(), HandlerError> {
        self.publish_keyed(event, None)
    }

    /// As [`Context::publish`], with an ordering key (events of one key are delivered in order).
    ///
    /// # Errors
    /// As [`Context::publish`].
    pub fn publish_keyed<E: DomainEvent>(
        &mut self,
        event: &E,
        key: Option<&str>,
    ) -> Result<(), HandlerError> {
        let topic = event.topic();
        let mut ce =
            CloudEvent::new(topic, self.source, event, self.now).map_err(HandlerError::drop)?;
        let trace = self.meta.trace().child().to_string();
        ce.traceid = Some(trace.clone());
        ce.traceparent = Some(trace);
        ce.tracestate = self.meta.tracestate.as_deref().map(str::to_owned);
        ce.correlationid = Some(self.meta.correlation_id.clone().into_owned());
        ce.causationid = Some(self.meta.event_id.clone().into_owned());
        ce.dataschema = data_schema(topic);
        self.staged.push(OutboxRow {
            ordering_key: key.map(str::to_owned),
            ..ce.into_outbox_row()
        });
        Ok(())
    }

    /// The events staged so far.
    #[must_use]
    pub fn staged(&self) -> &[OutboxRow] {
        &self.staged
    }

    pub(crate) fn into_staged(self) -> Vec<OutboxRow> {
        self.staged
    }
}

#[cfg(test)]
mod tests {
    use conveyor_domain::events::samples;

    use super::*;

    fn traceparent(row: &OutboxRow) -> TraceParent {
        let event = CloudEvent::decode(row.body.as_bytes()).unwrap();
        TraceParent::parse(event.traceparent.as_deref().unwrap()).unwrap()
    }

    fn published_twice(meta: &Meta<'_>) -> [TraceParent; 2] {
        let mut cx = Context::stateless(meta, "order-worker", Timestamp::from_millis(0));
        cx.publish(&samples::payment_confirmed()).unwrap();
        cx.publish(&samples::payment_confirmed()).unwrap();
        let staged = cx.into_staged();
        [traceparent(&staged[0]), traceparent(&staged[1])]
    }

    /// A payment.confirmed as another service published it, without trace context.
    fn incoming() -> CloudEvent {
        let payload = samples::payment_confirmed();
        CloudEvent::new(
            "payment.confirmed",
            "tests",
            &payload,
            Timestamp::from_millis(0),
        )
        .unwrap()
    }

    #[test]
    fn an_events_metadata_reads_its_envelope() {
        let mut event = incoming();
        event.correlationid = Some(String::new());
        event.tracestate = Some(String::new());
        let meta = Meta::from_event(&event, 2, None);
        assert_eq!(meta.event_id, event.id);
        assert_eq!(
            meta.correlation_id, event.id,
            "an empty correlation id starts a flow"
        );
        assert_eq!(meta.tracestate, None);
        assert_eq!(meta.attempt, 2);
        assert_eq!(meta.topic, "payment.confirmed");
        event.correlationid = Some("flow-1".to_owned());
        event.tracestate = Some("vendor=1".to_owned());
        let meta = Meta::from_event(&event, 1, None);
        assert_eq!(meta.correlation_id, "flow-1");
        assert_eq!(meta.tracestate.as_deref(), Some("vendor=1"));
        let mut cx = Context::stateless(&meta, "order-worker", Timestamp::from_millis(0));
        cx.publish(&samples::payment_confirmed()).unwrap();
        let row = &cx.staged()[0];
        let out = CloudEvent::decode(row.body.as_bytes()).unwrap();
        assert_eq!(out.correlationid.as_deref(), Some("flow-1"));
        assert_eq!(out.tracestate.as_deref(), Some("vendor=1"));
        // The row carries what publishers route it by, as its body says it.
        assert_eq!(
            (row.id.as_str(), row.topic.as_str()),
            (out.id.as_str(), "payment.confirmed")
        );
        assert_eq!(row.source, "order-worker");
        assert_eq!(row.correlation_id.as_deref(), Some("flow-1"));
        assert_eq!(row.data_fields, out.data_fields());
        // It names its payload's schema and version.
        assert_eq!(
            out.dataschema.as_deref(),
            Some("schemas/payment.confirmed/v1.json")
        );
        // The event handled caused it.
        assert_eq!(out.causationid.as_deref(), Some(event.id.as_str()));
        assert_eq!(row.causation_id.as_deref(), Some(event.id.as_str()));
        assert_eq!(
            meta.causation_id, None,
            "nothing in conveyor caused the incoming event"
        );
        assert!(row.data_field("order_id").is_some());
    }

    #[test]
    fn the_cause_of_an_event_is_the_event_or_tick_being_handled() {
        let mut caused = incoming();
        caused.causationid = Some("evt-0".to_owned());
        let meta = Meta::from_event(&caused, 1, None);
        let mut cx = Context::stateless(&meta, "order-worker", Timestamp::from_millis(0));
        assert_eq!(cx.causation_id(), Some("evt-0"));
        cx.publish(&samples::payment_confirmed()).unwrap();
        let out = CloudEvent::decode(cx.staged()[0].body.as_bytes()).unwrap();
        assert_eq!(
            out.causationid.as_deref(),
            Some(caused.id.as_str()),
            "the event handled, not its own cause"
        );
        let tick = Meta::for_tick("order-cod-auto-confirm", Timestamp::from_millis(90_500), 1);
        let mut cx = Context::stateless(&tick, "order-worker", Timestamp::from_millis(0));
        assert_eq!(cx.causation_id(), None);
        cx.publish(&samples::payment_confirmed()).unwrap();
        let out = CloudEvent::decode(cx.staged()[0].body.as_bytes()).unwrap();
        assert!(tick.event_id.starts_with("order-cod-auto-confirm@"));
        assert_eq!(out.causationid.as_deref(), Some(&*tick.event_id));
    }

    #[test]
    fn events_caused_by_one_invocation_share_one_trace() {
        let mut incoming = incoming();
        // Without trace context: one new trace for everything this invocation causes.
        let meta = Meta::from_event(&incoming, 1, None);
        let [a, b] = published_twice(&meta);
        assert_eq!(a.trace_id(), b.trace_id());
        assert_eq!(meta.trace().trace_id(), a.trace_id());
        assert_ne!(a.parent_id(), b.parent_id());
        // With it: children of the incoming span.
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        incoming.traceparent = Some(parent.to_owned());
        let [a, b] = published_twice(&Meta::from_event(&incoming, 1, None));
        for child in [a, b] {
            assert_eq!(child.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(child.parent_id(), "00f067aa0ba902b7");
        }
        // A tick starts its own trace too.
        let tick = Meta::for_tick("job", Timestamp::from_millis(0), 1);
        let [a, b] = published_twice(&tick);
        assert_eq!(a.trace_id(), b.trace_id());
    }
}
