//! Batched acknowledgements: handlers hand their entry ids to one task per function, which
//! sends them as one pipelined round trip (one `XACK` per stream with many ids) at most
//! `ack_delay` after the first of them, or as soon as a batch is full. When every sender is
//! gone it flushes what is left and ends, so a graceful shutdown loses no acknowledgement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Most ids sent in one flush.
const MAX_BATCH: usize = 1_000;

/// One handled entry: stream key and entry id.
pub type Ack = (Arc<str>, String);

/// Where handlers send the entries to acknowledge.
#[derive(Debug, Clone)]
pub struct Acker {
    tx: mpsc::UnboundedSender<Ack>,
}

impl Acker {
    /// Starts the acknowledging task for `group`; the handle ends once every [`Acker`] clone is
    /// dropped and the last acknowledgements are sent.
    #[must_use]
    pub fn start(con: ConnectionManager, group: &str, delay: Duration) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(con, group.to_owned(), delay, rx));
        (Self { tx }, task)
    }

    /// Queues an acknowledgement.
    pub fn ack(&self, stream: &Arc<str>, id: &str) {
        if self.tx.send((Arc::clone(stream), id.to_owned())).is_err() {
            tracing::warn!(stream = %stream, id, "acknowledger gone; the entry will be delivered again and found in the inbox");
        }
    }
}

async fn run(
    mut con: ConnectionManager,
    group: String,
    delay: Duration,
    mut rx: mpsc::UnboundedReceiver<Ack>,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let until = tokio::time::Instant::now() + delay;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(ack)) => batch.push(ack),
                Ok(None) | Err(_) => break,
            }
        }
        flush(&mut con, &group, &mut batch).await;
    }
}

/// Sends `batch` as one pipeline: one `XACK` per stream.
pub async fn flush(con: &mut ConnectionManager, group: &str, batch: &mut Vec<Ack>) {
    if batch.is_empty() {
        return;
    }
    let mut by_stream: BTreeMap<Arc<str>, Vec<String>> = BTreeMap::new();
    for (stream, id) in batch.drain(..) {
        by_stream.entry(stream).or_default().push(id);
    }
    let mut pipe = ::redis::pipe();
    for (stream, ids) in &by_stream {
        pipe.cmd("XACK").arg(&**stream).arg(group).arg(ids).ignore();
    }
    if let Err(e) = pipe.query_async::<()>(con).await {
        let count: usize = by_stream.values().map(Vec::len).sum();
        tracing::warn!(error = %e, count, "ack failed; the entries will be delivered again and found in the inbox");
    }
}
