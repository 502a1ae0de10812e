//! The [`Journal`] port: where a transport reports deliveries that never reached the function
//! (the emulator's event log implements it; a production host needs none).

use std::fmt;

/// Where a transport reports deliveries the function never saw: those past their last delivery,
/// and entries that are not CloudEvents at all.
pub trait Journal: Send + Sync + fmt::Debug {
    /// A delivery dead-lettered without running the function (attempt `attempt`).
    fn not_run(&self, function: &'static str, event_id: &str, attempt: u32, reason: &str);

    /// An entry that is not a CloudEvent, shown under its transport id with its raw body.
    fn undeliverable(
        &self,
        function: &'static str,
        entry_id: &str,
        topic: &str,
        body: &str,
        reason: &str,
    );
}

/// The journal of a host that keeps none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn not_run(&self, _: &'static str, _: &str, _: u32, _: &str) {}
    fn undeliverable(&self, _: &'static str, _: &str, _: &str, _: &str, _: &str) {}
}
