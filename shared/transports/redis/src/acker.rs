//! Batched acknowledgements. Handlers queue their entry ids here; two things send them, one
//! `XACK` per stream with many ids:
//! - the read loop, in the same write as its next `XREADGROUP` ([`Acker::take`]), so a busy
//!   consumer acknowledges without a round trip of its own;
//! - a task per function, at most `ack_delay` after the first id queued, for entries handled
//!   while the read loop waits on an empty stream.
//!
//! While the read loop is sure to send the queue itself ([`Acker::hold`]: it is running entries
//! or its next reply has already arrived) the task is not woken, so a busy consumer costs no
//! wake-up and no timer per read; [`Acker::release`] hands the queue back to the task before the
//! read loop waits.
//!
//! [`Acker::close`] makes the task send what is left and end, so a graceful shutdown loses no
//! acknowledgement.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::redis::Cmd;
use ::redis::aio::ConnectionManager;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Most ids sent in one flush.
const MAX_BATCH: usize = 1_000;

/// One handled entry: stream key and entry id.
pub type Ack = (Arc<str>, String);

#[derive(Debug, Default)]
struct Queue {
    acks: Mutex<Vec<Ack>>,
    /// Signalled when the queue stops being empty while not held, when it is released with
    /// ids in it, and at close.
    queued: Notify,
    /// The read loop will send what is queued (see [`Acker::hold`]).
    held: AtomicBool,
    closed: AtomicBool,
}

/// Where handlers queue the entries to acknowledge.
#[derive(Debug, Clone)]
pub struct Acker {
    queue: Arc<Queue>,
}

impl Acker {
    /// Starts the acknowledging task for `group`; the handle ends after [`Acker::close`], once
    /// the last acknowledgements are sent.
    #[must_use]
    pub fn start(con: ConnectionManager, group: &str, delay: Duration) -> (Self, JoinHandle<()>) {
        let queue = Arc::new(Queue::default());
        let task = tokio::spawn(run(con, group.to_owned(), delay, Arc::clone(&queue)));
        (Self { queue }, task)
    }

    fn acks(&self) -> std::sync::MutexGuard<'_, Vec<Ack>> {
        self.queue
            .acks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an acknowledgement.
    pub fn ack(&self, stream: &Arc<str>, id: &str) {
        let first = {
            let mut acks = self.acks();
            acks.push((Arc::clone(stream), id.to_owned()));
            acks.len() == 1
        };
        // Read after the push: a release that comes between sees the id (it looks at the queue
        // under the lock after clearing the flag), so one of the two wakes the task.
        if first && !self.queue.held.load(Ordering::SeqCst) {
            self.queue.queued.notify_one();
        }
    }

    /// The read loop will send what is queued with its next read, soon: queued ids wake nobody.
    pub fn hold(&self) {
        self.queue.held.store(true, Ordering::SeqCst);
    }

    /// The read loop is about to wait (for a reply, a concurrency slot, room): the task sends
    /// what is queued, after its delay.
    pub fn release(&self) {
        if self.queue.held.swap(false, Ordering::SeqCst) && !self.acks().is_empty() {
            self.queue.queued.notify_one();
        }
    }

    /// Everything queued, for a caller that sends it itself (see [`commands`]).
    #[must_use]
    pub fn take(&self) -> Vec<Ack> {
        std::mem::take(&mut *self.acks())
    }

    /// Puts back acknowledgements a caller took but could not send.
    pub fn put_back(&self, mut acks: Vec<Ack>) {
        if acks.is_empty() {
            return;
        }
        self.acks().append(&mut acks);
        self.queue.queued.notify_one();
    }

    /// Makes the task send what is queued and end.
    pub fn close(&self) {
        self.queue.closed.store(true, Ordering::Release);
        self.queue.queued.notify_one();
    }
}

async fn run(mut con: ConnectionManager, group: String, delay: Duration, queue: Arc<Queue>) {
    let acker = Acker { queue };
    loop {
        acker.queue.queued.notified().await;
        let closed = acker.queue.closed.load(Ordering::Acquire);
        if !closed {
            tokio::time::sleep(delay).await;
        }
        loop {
            let batch = {
                let mut acks = acker.acks();
                let at = acks.len().min(MAX_BATCH);
                let rest = acks.split_off(at);
                std::mem::replace(&mut *acks, rest)
            };
            if batch.is_empty() {
                break;
            }
            flush(&mut con, &group, batch).await;
        }
        if closed {
            return;
        }
    }
}

/// `acks` as one `XACK` per stream.
#[must_use]
pub fn commands(group: &str, acks: &[Ack]) -> Vec<Cmd> {
    let mut by_stream: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (stream, id) in acks {
        by_stream.entry(stream).or_default().push(id);
    }
    by_stream
        .into_iter()
        .map(|(stream, ids)| {
            let mut cmd = ::redis::cmd("XACK");
            cmd.arg(stream).arg(group).arg(ids);
            cmd
        })
        .collect()
}

/// Sends `acks` as one pipeline.
async fn flush(con: &mut ConnectionManager, group: &str, acks: Vec<Ack>) {
    let count = acks.len();
    let mut pipe = ::redis::pipe();
    for cmd in commands(group, &acks) {
        pipe.add_command(cmd).ignore();
    }
    if let Err(e) = pipe.query_async::<()>(con).await {
        tracing::warn!(error = %e, count, "ack failed; the entries will be delivered again and found in the inbox");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_xack_per_stream_with_all_its_ids() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let acks = vec![
            (Arc::clone(&b), "1-0".to_owned()),
            (Arc::clone(&a), "2-0".to_owned()),
            (Arc::clone(&b), "3-0".to_owned()),
        ];
        let packed: Vec<String> = commands("g", &acks)
            .iter()
            .map(|c| String::from_utf8(c.get_packed_command()).unwrap())
            .collect();
        assert_eq!(packed.len(), 2);
        assert_eq!(
            packed[0],
            "*4\r\n$4\r\nXACK\r\n$1\r\na\r\n$1\r\ng\r\n$3\r\n2-0\r\n"
        );
        assert!(packed[1].ends_with("$1\r\nb\r\n$1\r\ng\r\n$3\r\n1-0\r\n$3\r\n3-0\r\n"));
    }
}
