//! A fault point for the process-level durability tests, in debug builds only: with
//! `CONVEYOR_FAULT_BATCH_COMMIT=<before|after>:<marker file>`, the first batch transaction
//! ([`crate::batch`]) that reaches that point (just before its commit, or just after it and
//! before its events are published and acknowledged) creates the marker file and then waits
//! forever, so a test can SIGKILL the process exactly there. Release builds do not read the
//! variable.

/// Where in a batch's commit the fault point sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchCommit {
    /// The batch's statements ran; the commit has not.
    Before,
    /// The batch committed; nothing was published or acknowledged yet.
    After,
}

/// Stops here forever if the environment asks for a fault at `point` (once per process).
#[cfg(debug_assertions)]
pub(crate) async fn batch_commit(point: BatchCommit) {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    static ASKED: OnceLock<Option<(BatchCommit, String)>> = OnceLock::new();
    static FIRED: AtomicBool = AtomicBool::new(false);
    let asked = ASKED.get_or_init(|| {
        let value = std::env::var("CONVEYOR_FAULT_BATCH_COMMIT").ok()?;
        let (at, marker) = value.split_once(':')?;
        let at = match at {
            "before" => BatchCommit::Before,
            "after" => BatchCommit::After,
            _ => return None,
        };
        Some((at, marker.to_owned()))
    });
    let Some((at, marker)) = asked else {
        return;
    };
    if *at != point || FIRED.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::warn!(?point, marker, "fault point reached: waiting to be killed");
    if let Err(e) = std::fs::write(marker, b"") {
        tracing::error!(error = %e, marker, "could not create the fault marker");
    }
    std::future::pending::<()>().await;
}

/// Release builds have no fault points.
#[cfg(not(debug_assertions))]
#[allow(clippy::unused_async)]
pub(crate) async fn batch_commit(_point: BatchCommit) {}
