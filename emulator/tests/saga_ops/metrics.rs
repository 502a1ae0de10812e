//! The saga metrics on `/metrics` after sagas ran: one completed, one whose first step timed
//! out and whose compensation then gave up (failed), one aborted and compensated.

use axum::http::StatusCode;
use serde_json::Value;

use super::{
    FIRST_DONE, OpsSaga, SECOND_DONE, START, UNDONE, call, has_status, saga_when, send, spawn,
};

/// The value of the series `name{labels}` in a Prometheus text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn sagas_started_completed_compensated_failed_timeouts_and_step_latency_are_counted() {
    let app = spawn(conveyor_runtime::orchestrator(OpsSaga::<2>)).await;
    let s = &app.state;
    for id in ["m-done", "m-silent", "m-abort"] {
        send(s, START, id).await;
    }
    // Both answered (or aborted) well within their first step's 1.5 s.
    saga_when(s, "m-abort", has_status("running")).await;
    let (status, _) = call(s, "POST", "/api/sagas/m-abort/abort", None).await;
    assert_eq!(status, StatusCode::OK);
    send(s, UNDONE, "m-abort").await;
    send(s, FIRST_DONE, "m-done").await;
    saga_when(s, "m-done", |v| v["current_step_name"] == "second").await;
    send(s, SECOND_DONE, "m-done").await;
    saga_when(s, "m-done", has_status("completed")).await;
    saga_when(s, "m-abort", has_status("compensated")).await;
    // m-silent: its first step times out (1.5 s), its undo goes unanswered and gives up.
    saga_when(s, "m-silent", has_status("failed")).await;

    let (status, text) = call(s, "GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    let Value::String(text) = text else {
        panic!("metrics are text: {text}")
    };
    let def = r#"{definition="test-ops-metrics"}"#;
    let at = |name: &str| sample(&text, &format!("conveyor_saga_{name}_total{def}"));
    assert_eq!(at("started"), Some(3.0), "{text}");
    assert_eq!(at("completed"), Some(1.0), "{text}");
    assert_eq!(at("compensated"), Some(1.0), "{text}");
    assert_eq!(at("failed"), Some(1.0), "{text}");
    let first = r#"{definition="test-ops-metrics",step="0"}"#;
    let timeouts = sample(&text, &format!("conveyor_saga_step_timeouts_total{first}"));
    assert_eq!(timeouts, Some(1.0), "{text}");
    // Settled steps: m-done's two, m-silent's timed-out first (aborted steps are not timed).
    let second = r#"{definition="test-ops-metrics",step="1"}"#;
    let count = |labels: &str| sample(&text, &format!("conveyor_saga_step_seconds_count{labels}"));
    assert_eq!(count(first), Some(2.0), "{text}");
    assert_eq!(count(second), Some(1.0), "{text}");
    let slow = sample(&text, &format!("conveyor_saga_step_seconds_sum{first}")).unwrap();
    assert!(
        slow >= 1.5,
        "the timed-out step took its 1.5 s timeout: {slow}"
    );
    app.running.shutdown().await;
}
