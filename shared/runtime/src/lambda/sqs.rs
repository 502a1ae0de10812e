//! One SQS batch: each record decoded once and handled on its own; the response names exactly
//! the records SQS must deliver again.
//!
//! A record that fails never takes the batch with it: bad bodies are dropped to the DLQ, a
//! transient failure on the function's last allowed delivery goes there too (`gave up after N
//! deliveries: ...`, as on every host, rather than waiting for the queue's redrive policy), a
//! panicking handler fails only its record, and records not started before the invocation's
//! deadline are reported rather than cut off half-way. Records of one message group (FIFO), or of
//! one ordering key, run in batch order; a failure stops its group, and the group's later records
//! are reported with it, so SQS redelivers them in order; other groups go on.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use conveyor_domain::Timestamp;
use futures::{FutureExt, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::cloudevent::{CloudEvent, DecodeError};
use crate::context::Deps;
use crate::delivery::{self, Decision};
use crate::error::HandlerError;
use crate::handler::{Function, Input};

use super::dlq::SqsDeadLetter;
use super::emf::{BatchMetrics, Counted, Sample};
use super::envelope::decode_body;
use super::error_type;
use super::timers::{self, TimerQueue};

/// Records are not started when less than this remains before the invocation's deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// A function, its dependencies and its DLQ, built once per cold start.
#[derive(Debug)]
pub struct SqsHost {
    function: Arc<dyn Function>,
    deps: Deps,
    dead_letter: Option<SqsDeadLetter>,
    metrics: Option<Arc<dyn BatchMetrics>>,
    /// A saga orchestrator's own queue, where it arms its timers ([`super::timers`]).
    timers: Option<TimerQueue>,
}

/// Where a batch's records leave their measurements, when the host emits metrics.
type Samples = Option<Mutex<Vec<Sample>>>;

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Handled: delete it.
    Done,
    /// Skipped by the inbox, handled before: delete it.
    Duplicate,
    /// Sent to the DLQ: delete it.
    DeadLettered,
    /// Report it in `batchItemFailures`.
    Failed,
}

/// The invocation's deadline; the Runtime API always sends one, 0 is `Context::default()` in
/// tests.
fn deadline_of(context: &lambda_runtime::Context) -> Option<Timestamp> {
    Some(context.deadline)
        .filter(|ms| *ms > 0)
        .map(|ms| Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX)))
}

/// The Lambda answer for `outcomes`: each failed record's message id, once.
fn batch_response(records: &[SqsMessage], outcomes: &[RecordOutcome]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut listed = HashSet::new();
    for (record, outcome) in records.iter().zip(outcomes) {
        let id = record.message_id.clone().unwrap_or_default();
        if *outcome == RecordOutcome::Failed && listed.insert(id.clone()) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// A record's CloudEvent, decoded once: its group is read from it and its handler gets it.
type Decoded = Result<CloudEvent, DecodeError>;

/// Each record's CloudEvent, in batch order (a missing body decodes as an empty one).
fn decode_all(records: &[SqsMessage]) -> Vec<Decoded> {
    records
        .iter()
        .map(|r| decode_body(r.body.as_deref().unwrap_or("")))
        .collect()
}

/// The records' positions by group, groups in order of first appearance: a FIFO record's
/// group is its `MessageGroupId`; otherwise, for a function ordered by `key`, the field's value
/// in the record's CloudEvent (`decoded`, in record order). A record with neither is a group of
/// its own.
fn groups(records: &[SqsMessage], decoded: &[Decoded], key: Option<&str>) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        let group = record
            .attributes
            .get("MessageGroupId")
            .cloned()
            .or_else(|| decoded.get(i)?.as_ref().ok()?.data_field(key?));
        match group {
            Some(g) => match index.get(&g) {
                Some(&at) => out[at].push(i),
                None => {
                    index.insert(g, out.len());
                    out.push(vec![i]);
                }
            },
            None => out.push(vec![i]),
        }
    }
    out
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl SqsHost {
    /// A host for `function`.
    #[must_use]
    pub fn new(
        function: Arc<dyn Function>,
        deps: Deps,
        dead_letter: Option<SqsDeadLetter>,
    ) -> Self {
        Self {
            function,
            deps,
            dead_letter,
            metrics: None,
            timers: None,
        }
    }

    /// This host, handing each batch's measurements to `metrics` (on Lambda, CloudWatch EMF
    /// lines: [`super::emf`]).
    #[must_use]
    pub fn with_metrics(self, metrics: Arc<dyn BatchMetrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// The host of a saga orchestrator, arming its timers on `queue` ([`super::timers`]).
    #[must_use]
    pub fn with_timers(mut self, queue: TimerQueue) -> Self {
        self.timers = Some(queue);
        self
    }

    /// Handles an invocation whose payload has not been decoded yet: an SQS event gets its
    /// batch response; anything else is answered with a `Conveyor.Drop` error (retrying the
    /// same payload cannot help) and the host keeps serving.
    ///
    /// # Errors
    /// A [`Diagnostic`] when the payload is not an SQS event.
    pub async fn handle_invocation(
        &self,
        event: LambdaEvent<Value>,
    ) -> Result<SqsBatchResponse, Diagnostic> {
        let (payload, context) = event.into_parts();
        match serde_json::from_value::<SqsEvent>(payload) {
            Ok(batch) => Ok(self.handle_batch(LambdaEvent::new(batch, context)).await),
            Err(e) => {
                let name = self.function.spec().name;
                tracing::error!(function = name, request_id = %context.request_id, error = %e, "invocation is not an SQS event");
                Err(Diagnostic {
                    error_type: error_type::DROP.to_owned(),
                    error_message: format!("{name} expects an SQS event: {e}"),
                })
            }
        }
    }

    /// Handles a batch. Records of one group (a FIFO queue's `MessageGroupId`, else the
    /// function's ordering key read from the CloudEvent) run one after another in batch order,
    /// and after a failure the group's later records are not run but reported with it, as AWS
    /// asks of FIFO consumers. Groups, and records without one, run concurrently up to the
    /// function's concurrency. Each failed message id is listed once.
    pub async fn handle_batch(&self, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
        let deadline = deadline_of(&event.context);
        let records = event.payload.records;
        let outcomes = self.outcomes(&records, deadline).await;
        batch_response(&records, &outcomes)
    }

    /// What [`Self::handle_batch`] did with each record, in batch order (a host that deletes
    /// the records itself, such as a local event source, counts them from this).
    pub async fn handle_records(&self, event: LambdaEvent<SqsEvent>) -> Vec<RecordOutcome> {
        let deadline = deadline_of(&event.context);
        self.outcomes(&event.payload.records, deadline).await
    }

    async fn outcomes(
        &self,
        records: &[SqsMessage],
        deadline: Option<Timestamp>,
    ) -> Vec<RecordOutcome> {
        let spec = self.function.spec();
        let samples: Samples = self
            .metrics
            .as_ref()
            .map(|_| Mutex::new(Vec::with_capacity(records.len())));
        let outcomes = self
            .outcomes_sampled(records, deadline, &spec, &samples)
            .await;
        if let (Some(metrics), Some(samples)) = (&self.metrics, samples) {
            let samples = samples.into_inner().unwrap_or_else(PoisonError::into_inner);
            metrics.batch(spec.name, wall_clock_ms(), &samples);
        }
        outcomes
    }

    async fn outcomes_sampled(
        &self,
        records: &[SqsMessage],
        deadline: Option<Timestamp>,
        spec: &crate::spec::FunctionSpec,
        samples: &Samples,
    ) -> Vec<RecordOutcome> {
        let decoded = decode_all(records);
        let groups = groups(records, &decoded, spec.ordering_key);
        // Each group takes its records' events along.
        let mut decoded: Vec<Option<Decoded>> = decoded.into_iter().map(Some).collect();
        // The futures are built before they are streamed: a closure inside the stream's type
        // makes the batch future fail the `Send` check of `tokio::spawn`.
        let handling: Vec<_> = groups
            .into_iter()
            .map(|members| {
                let members: Vec<(usize, Option<Decoded>)> = members
                    .into_iter()
                    .map(|i| (i, decoded[i].take()))
                    .collect();
                async move {
                    let mut outcomes = Vec::with_capacity(members.len());
                    let mut stopped = false;
                    for (i, event) in members {
                        let outcome = match event {
                            Some(event) if !stopped => {
                                self.guarded(&records[i], event, deadline, samples).await
                            }
                            _ => RecordOutcome::Failed,
                        };
                        stopped |= outcome == RecordOutcome::Failed;
                        outcomes.push((i, outcome));
                    }
                    outcomes
                }
            })
            .collect();
        let mut outcomes = vec![RecordOutcome::Failed; records.len()];
        let per_group: Vec<Vec<(usize, RecordOutcome)>> = futures::stream::iter(handling)
            .buffer_unordered(spec.concurrency.max(1) as usize)
            .collect()
            .await;
        for (i, outcome) in per_group.into_iter().flatten() {
            outcomes[i] = outcome;
        }
        outcomes
    }

    /// [`SqsHost::handle_record`], unless the deadline is too close to start it; a panic in the
    /// handler fails this record only.
    async fn guarded(
        &self,
        record: &SqsMessage,
        event: Decoded,
        deadline: Option<Timestamp>,
        samples: &Samples,
    ) -> RecordOutcome {
        let name = self.function.spec().name;
        let message_id = record.message_id.as_deref().unwrap_or("");
        let margin = i64::try_from(DEADLINE_MARGIN.as_millis()).unwrap_or(i64::MAX);
        if deadline.is_some_and(|d| wall_clock_ms().saturating_add(margin) >= d.millis()) {
            tracing::warn!(
                function = name,
                message_id,
                "not started: the invocation deadline is too close; SQS will redeliver"
            );
            return RecordOutcome::Failed;
        }
        let (lag, started) = (
            event
                .as_ref()
                .ok()
                .and_then(|e| e.lag(self.deps.clock.now())),
            Instant::now(),
        );
        match AssertUnwindSafe(self.handle_record(record, event, deadline))
            .catch_unwind()
            .await
        {
            Ok(outcome) => {
                if let Some(samples) = samples {
                    let counted = match outcome {
                        RecordOutcome::Duplicate => Counted::Duplicate,
                        RecordOutcome::Done => Counted::Handled,
                        RecordOutcome::DeadLettered => Counted::DeadLettered,
                        RecordOutcome::Failed => Counted::Retried,
                    };
                    let sample = Sample {
                        lag,
                        took: started.elapsed(),
                        counted,
                    };
                    samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(sample);
                }
                outcome
            }
            Err(panic) => {
                let text = crate::error::panic_text(panic.as_ref());
                tracing::error!(function = name, message_id, panic = %text, "handler panicked; SQS will redeliver");
                RecordOutcome::Failed
            }
        }
    }

    /// Handles one record, whose body the batch decoded into `event` (the body is not read
    /// again: it is only sent on to the DLQ as it came). Its `ApproximateReceiveCount` is the
    /// attempt number; what follows the function's result is [`delivery::decide`]'s: a retry is
    /// left to SQS (the record is reported and comes back after its visibility timeout), a dead
    /// letter is sent to the DLQ with the decision's reason and attempts.
    pub async fn handle_record(
        &self,
        record: &SqsMessage,
        event: Result<CloudEvent, DecodeError>,
        deadline: Option<Timestamp>,
    ) -> RecordOutcome {
        let spec = self.function.spec();
        let name = spec.name;
        let message_id = record.message_id.as_deref().unwrap_or("");
        let attempt = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1);
        let result = match event {
            Ok(event) => {
                if let Some(outcome) = self.rearm_early(&event).await {
                    return outcome;
                }
                let input = Input::Event {
                    event: &event,
                    attempt,
                    deadline,
                };
                let result = self.function.invoke(&self.deps, input).await;
                if result.is_ok()
                    && let Err(e) = self.arm_timer(&event).await
                {
                    // Redelivered, it is a duplicate, and the timer is armed again.
                    tracing::warn!(function = name, message_id, error = %e, "saga timer not armed; SQS will redeliver");
                    return RecordOutcome::Failed;
                }
                result
            }
            Err(e) => Err(HandlerError::from(e)),
        };
        match delivery::decide(&spec, attempt, result.as_ref()) {
            Decision::Acknowledge { duplicate } => {
                let produced = result.as_ref().map_or(0, |h| h.produced.len());
                tracing::info!(
                    function = name,
                    message_id,
                    attempt,
                    duplicate,
                    produced,
                    "handled"
                );
                if duplicate {
                    RecordOutcome::Duplicate
                } else {
                    RecordOutcome::Done
                }
            }
            // SQS delivers it again once its visibility timeout runs out.
            Decision::RetryAfter(_) => {
                if let Err(e) = &result {
                    tracing::warn!(function = name, message_id, attempt, error = %e, "failed; SQS will redeliver");
                }
                RecordOutcome::Failed
            }
            Decision::DeadLetter { reason, attempts } => {
                self.dead_letter(record, &reason, attempts).await
            }
        }
    }

    /// A saga timer's firing that arrived before its due time (a hop of a timer more than 15
    /// minutes away) is armed again for the time left instead of being handled.
    async fn rearm_early(&self, event: &CloudEvent) -> Option<RecordOutcome> {
        let queue = self.timers.as_ref()?;
        let source = self.function.spec().service.app_id();
        let now = self.deps.clock.now();
        Some(
            match timers::rearm_if_early(queue, event, source, now).await? {
                Ok(_) => RecordOutcome::Done,
                Err(e) => {
                    tracing::warn!(error = %e, "saga timer hop not armed; SQS will redeliver");
                    RecordOutcome::Failed
                }
            },
        )
    }

    /// After an orchestrator took `event`, arms the timer its saga now waits for, if any.
    async fn arm_timer(&self, event: &CloudEvent) -> Result<(), timers::ArmError> {
        let (Some(queue), Some(codec)) = (&self.timers, self.function.saga()) else {
            return Ok(());
        };
        let source = self.function.spec().service.app_id();
        timers::arm_after(queue, codec, &self.deps, event, source).await
    }

    /// Sends the record to the DLQ with `reason`; without a DLQ, or when the send fails, it is
    /// reported as failed, so SQS keeps it (and its redrive policy moves it once the receive
    /// count exceeds `maxReceiveCount`).
    async fn dead_letter(&self, record: &SqsMessage, reason: &str, attempts: u32) -> RecordOutcome {
        let name = self.function.spec().name;
        let message_id = record.message_id.as_deref().unwrap_or("");
        let Some(dlq) = &self.dead_letter else {
            tracing::error!(
                function = name,
                message_id,
                error = reason,
                "to be dead-lettered, but no DLQ is configured; reporting failure so SQS redrive moves it"
            );
            return RecordOutcome::Failed;
        };
        let now = self.deps.clock.now().to_rfc3339();
        match dlq.send(record, reason, attempts, &now).await {
            Ok(()) => {
                tracing::error!(
                    function = name,
                    message_id,
                    error = reason,
                    "sent to the DLQ"
                );
                RecordOutcome::DeadLettered
            }
            Err(send) => {
                tracing::error!(function = name, message_id, error = reason, dlq_error = %aws_sdk_sqs::error::DisplayErrorContext(&send), "DLQ send failed; reporting failure");
                RecordOutcome::Failed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, PoisonError};

    use conveyor_domain::ManualClock;
    use conveyor_store::Backend;
    use conveyor_store::testing::TestDb;
    use lambda_runtime::Context;

    use super::*;
    use crate::cloudevent::parses;
    use crate::invoke::Handled;
    use crate::publish::{BoxFuture, MemoryPublisher};
    use crate::spec::{FunctionSpec, Service};

    /// A function ordered by `order_id` that records the ids of the events it is given.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Recorder {
        fn seen(&self) -> Vec<String> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    impl Function for Recorder {
        fn spec(&self) -> FunctionSpec {
            FunctionSpec::on_topics("recorder", Service::Order, &["t"]).ordered_by("order_id")
        }

        fn invoke<'a>(
            &'a self,
            _deps: &'a Deps,
            input: Input<'a>,
        ) -> BoxFuture<'a, Result<Handled, HandlerError>> {
            Box::pin(async move {
                if let Input::Event { event, .. } = input {
                    let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.push(event.id.clone());
                }
                Ok(Handled {
                    duplicate: false,
                    produced: Vec::new(),
                    published: 0,
                    report: None,
                })
            })
        }
    }

    fn body(id: &str, order: &str) -> String {
        format!(
            r#"{{"data":{{"order_id":"{order}"}},"id":"{id}","source":"s","specversion":"1.0","type":"t"}}"#
        )
    }

    fn record(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = Some(body.to_owned());
        m
    }

    async fn host(db: &TestDb) -> (SqsHost, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let deps = Deps {
            store: db.store().clone(),
            publisher: Arc::new(MemoryPublisher::new()),
            clock: Arc::new(ManualClock::new(Timestamp::from_millis(0))),
        };
        let function: Arc<dyn Function> = Arc::clone(&recorder) as Arc<dyn Function>;
        (SqsHost::new(function, deps, None), recorder)
    }

    #[test]
    fn groups_come_from_the_decoded_events_not_the_bodies() {
        // Bodies that are no CloudEvents: a group read from them again would be none.
        let records = [record("m1", "{}"), record("m2", "{}"), record("m3", "{}")];
        let decoded: Vec<Decoded> = [("e1", "o-1"), ("e2", "o-2"), ("e3", "o-1")]
            .iter()
            .map(|(id, order)| CloudEvent::decode(body(id, order).as_bytes()))
            .collect();
        assert_eq!(
            groups(&records, &decoded, Some("order_id")),
            [vec![0, 2], vec![1]]
        );
        assert_eq!(
            groups(&records, &decoded, None),
            [vec![0], vec![1], vec![2]]
        );
    }

    #[tokio::test]
    async fn a_record_is_handled_with_the_event_the_batch_decoded() {
        let db = TestDb::of(Backend::Sqlite).await;
        let (host, recorder) = host(&db).await;
        let event = CloudEvent::decode(body("e1", "o-1").as_bytes()).unwrap();
        // The body is no CloudEvent: decoded again, the record would be dropped.
        let outcome = host
            .handle_record(&record("m1", "not json"), Ok(event), None)
            .await;
        assert_eq!(outcome, RecordOutcome::Done);
        assert_eq!(recorder.seen(), ["e1"]);
        db.close().await;
    }

    #[tokio::test]
    async fn an_ordered_batch_decodes_each_record_once() {
        let db = TestDb::of(Backend::Sqlite).await;
        let (host, recorder) = host(&db).await;
        let records = [
            record("m1", &body("e1", "o-1")),
            record("m2", &body("e2", "o-2")),
            record("m3", &body("e3", "o-1")),
        ];
        let mut batch = SqsEvent::default();
        batch.records = records.to_vec();
        parses::take();
        let response = host
            .handle_batch(LambdaEvent::new(batch, Context::default()))
            .await;
        assert_eq!(
            parses::take(),
            3,
            "one parse per record: its group and its handler share it"
        );
        assert!(response.batch_item_failures.is_empty());
        let mut seen = recorder.seen();
        seen.sort();
        assert_eq!(seen, ["e1", "e2", "e3"]);
        db.close().await;
    }
}
