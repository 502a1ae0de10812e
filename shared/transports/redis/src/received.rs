//! An entry as this instance received it: the stream entry, its delivery count, when it came,
//! and its CloudEvent, decoded once for everything the delivery does with it.

use std::time::Instant;

use once_cell::race::OnceBox;

use conveyor_runtime::CloudEvent;
use conveyor_runtime::cloudevent::DecodeError;

use super::wire::Entry;

/// An entry delivered to this instance.
#[derive(Debug)]
pub struct Delivery {
    /// The entry.
    pub entry: Entry,
    /// Its delivery count (1 = first).
    pub attempt: u32,
    /// When this instance received it.
    pub delivered: Instant,
    /// The entry's CloudEvent, decoded on first use ([`Delivery::event`]). Boxed: a delivery
    /// is moved from the read to its task several times, and a decoded event is hundreds of
    /// bytes, so inline it made each move a large copy. A `OnceBox` (one atomic pointer) rather
    /// than a `OnceLock`, whose first initialisation goes through a `Once`: measured, the
    /// `OnceLock` and the copies cost more instructions per delivery than the box's
    /// allocation. Only the task that holds the delivery reads it, so it is decoded once.
    decoded: OnceBox<Result<CloudEvent, NoEvent>>,
}

/// Why an entry has no CloudEvent.
#[derive(Debug, thiserror::Error)]
pub enum NoEvent {
    /// The entry has no `data` field.
    #[error("stream entry has no data field")]
    NoData,
    /// Its `data` is not a CloudEvent.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl Delivery {
    /// Received now.
    #[must_use]
    pub fn new(entry: Entry, attempt: u32) -> Self {
        Self::received_at(entry, attempt, Instant::now())
    }

    /// Received at `delivered` (the entries of one read share one reading of the clock).
    #[must_use]
    pub fn received_at(entry: Entry, attempt: u32, delivered: Instant) -> Self {
        Self {
            entry,
            attempt,
            delivered,
            decoded: OnceBox::new(),
        }
    }

    /// The entry's CloudEvent: decoded from its `data` the first time it is asked for (for its
    /// ordering key, or to run it), and that one decoding serves every later use, the
    /// function's included. An entry is never decoded twice.
    ///
    /// # Errors
    /// Why the entry's `data` is not a CloudEvent (or why it has none).
    pub fn event(&self) -> Result<&CloudEvent, &NoEvent> {
        self.decoded
            .get_or_init(|| {
                Box::new(match &self.entry.data {
                    Some(body) => CloudEvent::decode(body).map_err(NoEvent::from),
                    None => Err(NoEvent::NoData),
                })
            })
            .as_ref()
    }

    /// The entry's ordering key: the field of its CloudEvent's data; `None` when the body is not
    /// a CloudEvent or lacks the field (such an entry runs at once). The event decoded for it is
    /// the one the delivery then runs ([`Delivery::event`]).
    #[must_use]
    pub fn ordering_key(&self, field: &str) -> Option<String> {
        self.event().ok()?.data_field(field)
    }

    /// The next delivery of the same entry, claimed back as `entry` for a retry: its event is
    /// the one already decoded (a stream entry never changes).
    #[must_use]
    pub(super) fn retried(self, entry: Entry) -> Self {
        Self {
            entry,
            attempt: self.attempt + 1,
            delivered: Instant::now(),
            decoded: self.decoded,
        }
    }
}
