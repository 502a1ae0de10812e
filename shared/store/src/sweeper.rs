//! Deleting published outbox rows in batches, off the handlers' path. A long-running host
//! (the emulator, the Dapr worker) hands the ids of rows it has published to one background
//! task, which deletes whatever has gathered in one statement: one round trip and one commit
//! for many events instead of one each. A row whose deletion is lost (a crash, a database
//! error) is only published again by the relay, and consumers drop the duplicate by event id.
//! Lambda hosts do not use it: a frozen sandbox would hold the deletions back.

use tokio::sync::{mpsc, oneshot};

use crate::Store;

/// Most ids deleted by one statement.
const BATCH: usize = 512;

enum Message {
    Delete(Vec<String>),
    Flush(oneshot::Sender<()>),
}

/// The handle the store keeps; cloning the store shares it.
#[derive(Debug, Clone)]
pub(crate) struct Sweeper {
    sender: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Delete(ids) => write!(f, "Delete({})", ids.len()),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Sweeper {
    /// Starts the task on the current Tokio runtime; it deletes through `store` (which must
    /// not sweep itself) and ends when every handle is gone.
    pub(crate) fn start(store: Store) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(store, receiver));
        Self { sender }
    }

    /// Queues `ids` for deletion; `false` when the task is gone.
    pub(crate) fn delete(&self, ids: Vec<String>) -> bool {
        ids.is_empty() || self.sender.send(Message::Delete(ids)).is_ok()
    }

    /// Waits until everything queued before this call was deleted (or failed and was logged).
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(store: Store, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let mut pending: Vec<String> = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        // Take what has gathered meanwhile, up to one batch, without waiting.
        while let Some(message) = next.take() {
            match message {
                Message::Delete(ids) => pending.extend(ids),
                Message::Flush(done) => flushes.push(done),
            }
            if pending.len() < BATCH {
                next = receiver.try_recv().ok();
            }
        }
        while !pending.is_empty() {
            let take = pending.len().min(BATCH);
            let batch: Vec<String> = pending.drain(..take).collect();
            if let Err(e) = store.delete_outbox_rows(&batch).await {
                tracing::warn!(error = %e, rows = batch.len(), "could not delete published outbox rows; the relay will publish them again");
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}
