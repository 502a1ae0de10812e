//! What the emulator needs from a transport, whichever it is (the embedded queue or Redis
//! Streams, or SQS): publish with fan-out to subscribers, one function's dead letters (list, edit,
//! delete), redrive to that function only, and delivery of given events to one function only
//! (a replay from the event store). The HTTP API and the operator commands work through this trait.

use std::fmt;

use conveyor_runtime::Publisher;
use conveyor_runtime::publish::BoxFuture;
use conveyor_store::OutboxRow;
use conveyor_store::queue::DeadLetter;

/// A transport failure, with its cause as text.
#[derive(Debug, thiserror::Error)]
#[error("{transport}: {message}")]
pub struct BrokerError {
    /// Which transport.
    pub transport: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A transport the emulator runs on.
pub trait Broker: Publisher + fmt::Debug {
    /// The functions subscribed to `topic`.
    fn subscribers(&self, topic: &str) -> Vec<&'static str>;

    /// Dead letters of one function (or all), newest first.
    fn dead_letters<'a>(
        &'a self,
        function: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>>;

    /// Delivers dead letters of `function` again, to that function only; `ids` narrows the
    /// selection. Returns how many were redriven.
    fn redrive<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>>;

    /// Delivers `events` to `function` only, through its own queue (the embedded broker's
    /// queue, its Redis inbox stream, its SQS queue), with their ids as they are: the function's
    /// inbox drops an event it handled before. Returns how many were delivered.
    fn deliver<'a>(
        &'a self,
        function: &'a str,
        events: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<usize, BrokerError>>;

    /// Deletes dead letters of `function` (all, or those in `ids`) without delivering them.
    /// Returns how many were deleted.
    fn delete_dead_letters<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>>;

    /// Replaces the body of one dead letter of `function` (to fix it before a redrive).
    /// Returns the entry's id afterwards (a transport that cannot change an entry in place
    /// writes a new one), or `None` when there is no such entry.
    fn edit_dead_letter<'a>(
        &'a self,
        function: &'a str,
        id: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrokerError>>;

    /// Messages waiting (or in flight) per function.
    fn depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>>;

    /// Events not yet delivered to each function's consumer group or queue (functions without
    /// any may be left out): on Redis the groups' `lag` from `XINFO GROUPS`, summed over the
    /// function's streams; by default what [`Broker::depths`] counts (the embedded queue's
    /// rows, the SQS queue's messages).
    fn consumer_lags(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        self.depths()
    }

    /// Dead letters per function (functions without any may be left out).
    fn dlq_depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>>;
}
