//! Handing a freshly published message to an idle consumer in memory.
//!
//! A consumer with nothing to do says so ([`Handoff::set_idle`]) before it waits. A publish that
//! finds its subscriber idle claims it ([`Handoff::claim`]), inserts the message already leased
//! to it (one write, where a wake-up would cost a second one, the lease), and passes it over a
//! channel. The message is in the queue, committed and leased, before it is handed over, so
//! nothing is lost to a crash in between: a leased message that never reaches its handler is
//! delivered again when its lease ends. Messages with an ordering key are never handed over,
//! since the queue alone knows whether an older message of the key is still in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use conveyor_domain::Timestamp;
use conveyor_runtime::FunctionSpec;
use conveyor_store::Store;
use conveyor_store::queue::Leased;
use tokio::sync::mpsc;

/// How long a delivery of `spec`'s function holds its message: the handler's timeout and 5 s
/// more, after which an unacknowledged message is delivered again.
#[must_use]
pub fn lease_millis(spec: &FunctionSpec) -> i64 {
    i64::try_from(spec.timeout.as_millis())
        .unwrap_or(i64::MAX)
        .saturating_add(5_000)
}

/// One function's hand-over point.
#[derive(Debug)]
pub struct Handoff {
    idle: AtomicBool,
    lease_millis: i64,
    sender: mpsc::UnboundedSender<Leased>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Leased>>>,
}

impl Handoff {
    /// A hand-over point for `spec`'s function.
    #[must_use]
    pub fn new(spec: &FunctionSpec) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            idle: AtomicBool::new(false),
            lease_millis: lease_millis(spec),
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }

    /// How long a handed message is leased for.
    #[must_use]
    pub fn lease_millis(&self) -> i64 {
        self.lease_millis
    }

    /// The receiving end, for the function's consumer; `None` while another consumer holds it.
    pub fn take(&self) -> Option<mpsc::UnboundedReceiver<Leased>> {
        self.receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Gives the receiving end back when the consumer stops (with whatever is still in it).
    pub fn put_back(&self, receiver: mpsc::UnboundedReceiver<Leased>) {
        *self.receiver.lock().unwrap_or_else(PoisonError::into_inner) = Some(receiver);
    }

    /// A consumer stops taking hand-overs: the messages handed to it but not started go back to
    /// the queue, their delivery uncounted, and the receiving end back here for the function's
    /// next consumer.
    pub async fn give_back(
        &self,
        mut receiver: mpsc::UnboundedReceiver<Leased>,
        store: &Store,
        now: Timestamp,
    ) {
        self.set_idle(false);
        let mut unstarted = Vec::new();
        while let Ok(m) = receiver.try_recv() {
            unstarted.push(m.seq);
        }
        if !unstarted.is_empty()
            && let Err(e) = store.queue_unlease(&unstarted, now).await
        {
            tracing::warn!(error = %e, messages = unstarted.len(), "could not release handed messages; they come back when their lease ends");
        }
        self.put_back(receiver);
    }

    /// Whether the consumer waits idle, unclaimed.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Acquire)
    }

    /// The consumer is waiting with free capacity (`true`), or busy again (`false`).
    pub fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::Release);
    }

    /// Claims the idle consumer for one publish: `true` once per idle spell.
    pub fn claim(&self) -> bool {
        self.idle.swap(false, Ordering::AcqRel)
    }

    /// Hands a message leased to the consumer over; gives it back when the consumer is gone.
    ///
    /// # Errors
    /// The message, when no consumer holds the receiving end's channel open.
    pub fn hand(&self, message: Leased) -> Result<(), Leased> {
        self.sender.send(message).map_err(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        FunctionSpec::on_topics("f", conveyor_runtime::Service::Order, &["t"])
    }

    fn message(seq: i64) -> Leased {
        Leased {
            seq,
            function: "f".to_owned(),
            event_id: format!("e{seq}"),
            topic: "t".to_owned(),
            body: "{}".to_owned(),
            attempts: 1,
            enqueued_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn an_idle_consumer_is_claimed_once() {
        let h = Handoff::new(&spec());
        assert!(!h.claim(), "a consumer is not idle until it says so");
        h.set_idle(true);
        assert!(h.claim());
        assert!(!h.claim(), "a second publish finds it claimed");
    }

    #[tokio::test]
    async fn handed_messages_reach_the_receiver_and_outlive_a_put_back() {
        let h = Handoff::new(&spec());
        let mut rx = h.take().expect("the receiver");
        assert!(h.take().is_none(), "one consumer at a time");
        h.hand(message(1)).unwrap();
        assert_eq!(rx.recv().await.unwrap().seq, 1);
        h.hand(message(2)).unwrap();
        h.put_back(rx);
        let mut rx = h.take().expect("given back");
        assert_eq!(
            rx.recv().await.unwrap().seq,
            2,
            "kept for the next consumer"
        );
    }

    #[test]
    fn the_lease_is_the_timeout_and_five_seconds() {
        let s = spec();
        let h = Handoff::new(&s);
        let timeout = i64::try_from(s.timeout.as_millis()).unwrap();
        assert_eq!(h.lease_millis(), timeout + 5_000);
    }
}
