//! An operator's abort and retry of a saga on SQS, on moto: no due-timer poller runs there, so
//! the API arms the timer an action sets (the compensation's reply deadline) as a delay message
//! on the orchestrator's queue. A saga waiting 60 s on its first step is aborted: its undo is
//! never answered, times out after 1 s and gives up; retried, it times out and gives up again.
//! Neither would happen within the test's time without the armed timer.

use axum::http::StatusCode;
use serde_json::json;

use super::moto::Moto;
use crate::saga_ops::{OpsSaga, START, call, has_status, saga_when, send, spawn_on};

#[tokio::test]
async fn an_operators_abort_and_retry_arm_their_timers_on_the_orchestrators_queue() {
    let moto = Moto::start();
    let app = spawn_on(
        conveyor_runtime::orchestrator(OpsSaga::<3>),
        Some(super::settings(&moto, "ops-")),
    )
    .await;
    let s = &app.state;
    send(s, START, "ops-q").await;
    saga_when(s, "ops-q", has_status("running")).await;

    let (status, aborted) = call(
        s,
        "POST",
        "/api/sagas/ops-q/abort",
        Some(json!({"reason": "customer called"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{aborted}");
    assert_eq!(aborted["steps"][0]["status"], "compensating", "{aborted}");
    let failed = saga_when(s, "ops-q", has_status("failed")).await;
    assert_eq!(failed["steps"][0]["status"], "compensation_failed");
    assert_eq!(failed["steps"][0]["compensation_attempts"], 1);

    let (status, retried) = call(s, "POST", "/api/sagas/ops-q/retry", None).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "compensating", "{retried}");
    let again = saga_when(s, "ops-q", |v| {
        v["status"] == "failed" && v["steps"][0]["compensation_attempts"] == 2
    })
    .await;
    assert_eq!(again["steps"][0]["status"], "compensation_failed");
    app.running.shutdown().await;
}
