//! Replaying events from the event store ([`conveyor_store::events`]): the stored events of one
//! topic and time range (optionally of one flow) delivered again, to every subscriber of the
//! topic or to one function only, each through its own queue ([`Broker::deliver`]).
//!
//! - **Original ids** (the default): the events go out as they were published; a function's
//!   inbox drops those it handled, so only what it missed (or lost) takes effect.
//! - **As new** ([`ReplaySpec::as_new`]): each event gets a new id, `<original id>~<replay id>`,
//!   and the CloudEvent extension attribute `replayof` naming the original id, so functions
//!   handle it again. The new id is fixed by the replay, so a page delivered twice (a replay
//!   interrupted between delivering and recording its progress) is still handled once.
//! - **Bounded and resumable**: a run delivers at most [`ReplayRequest::limit`] events, a page
//!   at a time, and records the position of the last event of each page delivered. A run that
//!   stops (at its limit, on an error, killed) is continued by another run with the replay's id
//!   or with the same arguments: it starts after the recorded position.
//! - **Dry run**: lists what the run would deliver, delivering and recording nothing.

use conveyor_domain::Timestamp;
use conveyor_runtime::CloudEvent;
use conveyor_store::events::replays::{Replay, ReplaySpec};
use conveyor_store::events::{EventCursor, EventQuery, MAX_PAGE, StoredEvent};
use conveyor_store::{OutboxRow, Store, StoreError};

use crate::broker::{Broker, BrokerError};

/// Events one run delivers unless told otherwise.
pub const DEFAULT_LIMIT: usize = 1000;
/// Events delivered between two records of progress unless told otherwise.
pub const DEFAULT_PAGE: usize = 100;

/// One run of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// What to replay.
    pub spec: ReplaySpec,
    /// Continue this replay (its spec must be `spec`); `None`: continue the unfinished replay
    /// of the same spec if there is one, else start a new one.
    pub resume: Option<String>,
    /// Most events this run delivers.
    pub limit: usize,
    /// Events per page (progress is recorded after each).
    pub page: usize,
    /// List, do not deliver.
    pub dry_run: bool,
}

/// Why a replay cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The event store or the replay's record.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The transport refused a delivery; progress up to the last page delivered is kept.
    #[error("{0} (run the replay again to continue where it stopped)")]
    Broker(#[from] BrokerError),
    /// `--resume` names no replay.
    #[error("no replay {0} is recorded")]
    Unknown(String),
    /// `--resume` names a replay of other arguments.
    #[error(
        "replay {id} replays {recorded}, not {asked}: give its own arguments, or none but --resume"
    )]
    OtherSpec {
        /// The replay.
        id: String,
        /// What it replays.
        recorded: String,
        /// What was asked.
        asked: String,
    },
    /// The function does not consume the topic (or is unknown).
    #[error("{function} does not subscribe to {topic}: `conveyor functions` lists who does")]
    NotSubscribed {
        /// The function.
        function: String,
        /// The topic.
        topic: String,
    },
    /// Nothing consumes the topic.
    #[error("no function subscribes to {0}: nothing to replay to")]
    NoSubscriber(String),
    /// `to` is not after `from`.
    #[error("the time range is empty: --to must be after --from")]
    EmptyRange,
}

/// One event a run delivered (or, on a dry run, would deliver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Its position in the store.
    pub position: EventCursor,
    /// The stored event's id.
    pub id: String,
    /// The id it was delivered with (the same unless replayed as new).
    pub delivered_as: String,
    /// Its time.
    pub time: Timestamp,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// The replay's id (`None` on a dry run of a replay not yet started).
    pub id: Option<String>,
    /// Whether the run continued an earlier one.
    pub resumed: bool,
    /// The functions delivered to.
    pub targets: Vec<String>,
    /// The events of this run, in store order.
    pub events: Vec<Replayed>,
    /// Events the replay has delivered in all its runs.
    pub total: u64,
    /// Events remain after this run (it stopped at its limit).
    pub more: bool,
}

fn describe(spec: &ReplaySpec) -> String {
    format!(
        "{} from {} to {}{}{}{}",
        spec.topic,
        spec.from.to_rfc3339(),
        spec.to.to_rfc3339(),
        spec.function
            .as_deref()
            .map_or_else(String::new, |f| format!(" to {f}")),
        spec.correlation_id
            .as_deref()
            .map_or_else(String::new, |c| format!(" of flow {c}")),
        if spec.as_new { " as new" } else { "" }
    )
}

/// The functions `spec`'s events go to.
fn targets(broker: &dyn Broker, spec: &ReplaySpec) -> Result<Vec<String>, ReplayError> {
    let subscribers = broker.subscribers(&spec.topic);
    match &spec.function {
        Some(f) if subscribers.contains(&f.as_str()) => Ok(vec![f.clone()]),
        Some(f) => Err(ReplayError::NotSubscribed {
            function: f.clone(),
            topic: spec.topic.clone(),
        }),
        None if subscribers.is_empty() => Err(ReplayError::NoSubscriber(spec.topic.clone())),
        None => Ok(subscribers.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// The replay a run continues, if any.
async fn earlier(store: &Store, request: &ReplayRequest) -> Result<Option<Replay>, ReplayError> {
    let Some(id) = &request.resume else {
        return Ok(store.replay_unfinished(&request.spec).await?);
    };
    let replay = store
        .replay(id)
        .await?
        .ok_or_else(|| ReplayError::Unknown(id.clone()))?;
    if replay.spec != request.spec {
        return Err(ReplayError::OtherSpec {
            id: id.clone(),
            recorded: describe(&replay.spec),
            asked: describe(&request.spec),
        });
    }
    Ok(Some(replay))
}

/// The event as it is delivered: as stored, or as a new event naming it.
fn outgoing(event: &StoredEvent, replay_id: &str, as_new: bool) -> OutboxRow {
    let mut row = OutboxRow::bare(event.id.clone(), event.topic.clone(), event.body.clone());
    conveyor_runtime::publish::describe(&mut row);
    if as_new && let Ok(mut ce) = CloudEvent::decode(event.body.as_bytes()) {
        ce.id = format!("{}~{replay_id}", event.id);
        ce.replayof = Some(event.id.clone());
        row.id.clone_from(&ce.id);
        row.body = ce.to_json();
    }
    row
}

/// Runs one run of a replay at `now`; a new replay gets the id `new_id`.
///
/// # Errors
/// [`ReplayError`]; after a delivery failed, the progress of the pages delivered before stays
/// recorded.
pub async fn run(
    store: &Store,
    broker: &dyn Broker,
    request: &ReplayRequest,
    new_id: &str,
    now: Timestamp,
) -> Result<ReplayOutcome, ReplayError> {
    let spec = &request.spec;
    if spec.to <= spec.from {
        return Err(ReplayError::EmptyRange);
    }
    let targets = targets(broker, spec)?;
    let earlier = earlier(store, request).await?;
    let resumed = earlier.is_some();
    let replay = match (earlier, request.dry_run) {
        (Some(replay), _) => Some(replay),
        (None, true) => None,
        (None, false) => Some(store.replay_create(new_id, spec, now).await?),
    };
    let id = replay.as_ref().map(|r| r.id.clone());
    let mut after = replay.as_ref().and_then(|r| r.after);
    let mut total = replay.as_ref().map_or(0, |r| r.replayed);
    let mut events = Vec::new();
    let finished = replay.as_ref().is_some_and(|r| r.finished_at.is_some());
    let mut more = !finished;
    while more && events.len() < request.limit {
        let page = store
            .events_query(&EventQuery {
                topic: Some(spec.topic.clone()),
                from: Some(spec.from),
                to: Some(spec.to),
                correlation_id: spec.correlation_id.clone(),
                after,
                limit: request
                    .page
                    .min(request.limit - events.len())
                    .clamp(1, MAX_PAGE),
                ..EventQuery::default()
            })
            .await?;
        more = page.next.is_some();
        let Some(last) = page.events.last().map(|e| e.position) else {
            break;
        };
        let rows: Vec<OutboxRow> = page
            .events
            .iter()
            .map(|e| outgoing(e, id.as_deref().unwrap_or(new_id), spec.as_new))
            .collect();
        if let Some(id) = id.as_deref().filter(|_| !request.dry_run) {
            for target in &targets {
                broker.deliver(target, &rows).await?;
            }
            store
                .replay_advance(id, last, rows.len() as u64, now)
                .await?;
            total += rows.len() as u64;
        }
        events.extend(page.events.iter().zip(&rows).map(|(e, row)| Replayed {
            position: e.position,
            id: e.id.clone(),
            delivered_as: row.id.clone(),
            time: e.time,
        }));
        after = Some(last);
    }
    if !more
        && !finished
        && !request.dry_run
        && let Some(id) = id.as_deref()
    {
        store.replay_finish(id, now).await?;
    }
    Ok(ReplayOutcome {
        id,
        resumed,
        targets,
        events,
        total,
        more,
    })
}

#[cfg(test)]
mod tests;
