//! The sagas' HTTP API: list and filters, one saga's detail, abort and retry through the
//! engine, and the refusals that name why.

use axum::http::StatusCode;
use serde_json::json;

use super::{FIRST_DONE, OpsSaga, START, UNDONE, call, has_status, saga_when, send, spawn};

#[tokio::test]
async fn abort_compensates_a_running_saga_and_retry_resends_a_compensation_that_gave_up() {
    let app = spawn(conveyor_runtime::orchestrator(OpsSaga::<0>)).await;
    let s = &app.state;
    send(s, START, "ops-a").await;
    send(s, START, "ops-b").await;
    let a = saga_when(s, "ops-a", has_status("running")).await;
    assert_eq!(a["definition"], "test-ops-api");
    assert_eq!(a["function"], "test-ops-api");
    assert_eq!(a["current_step_name"], "first");
    assert_eq!(a["steps"][0]["status"], "running");
    assert_eq!(a["steps"][0]["attempts"], 1);
    assert_eq!(a["steps"][0]["max_attempts"], 1);
    assert_eq!(a["timer"]["purpose"], "reply_deadline");
    assert!(a["deadline"].is_string(), "{a:#}");
    assert_eq!(
        (a["can_abort"].clone(), a["can_retry"].clone()),
        (json!(true), json!(false))
    );
    // ops-b gets its first step done: it runs the second.
    send(s, FIRST_DONE, "ops-b").await;
    saga_when(s, "ops-b", |v| v["current_step_name"] == "second").await;

    // A retry of a running saga is refused, and says why.
    let (status, refused) = call(s, "POST", "/api/sagas/ops-a/retry", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let why = refused["error"].as_str().unwrap();
    assert!(why.contains("is running: only a failed saga"), "{why}");

    // Abort ops-b: second (awaited) is given up, first undone; the undo is never answered
    // and gives up after its one send: the saga stops as failed.
    let (status, aborted) = call(
        s,
        "POST",
        "/api/sagas/ops-b/abort",
        Some(json!({"reason": "customer called"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{aborted}");
    assert_eq!(aborted["status"], "compensating");
    assert_eq!(aborted["steps"][1]["status"], "aborted");
    assert_eq!(aborted["steps"][0]["status"], "compensating");
    assert!(
        aborted["failure"]
            .as_str()
            .unwrap()
            .contains("customer called")
    );
    assert_eq!(aborted["compensation_path"][0]["name"], "first");
    let failed = saga_when(s, "ops-b", has_status("failed")).await;
    assert_eq!(failed["steps"][0]["status"], "compensation_failed");
    assert_eq!(failed["steps"][0]["compensation_attempts"], 1);
    assert_eq!(failed["can_retry"], true);
    assert!(failed["timer"].is_null());

    // Listed by status.
    let (_, list) = call(s, "GET", "/api/sagas?status=failed", None).await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ops-b"]);
    let (_, all) = call(
        s,
        "GET",
        "/api/sagas?definition=test-ops-api&limit=10",
        None,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (status, bad) = call(s, "GET", "/api/sagas?status=stuck", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("running, compensating"),
        "{bad}"
    );

    // A failed saga cannot be aborted; it is retried: the undo is sent again, answered this
    // time, and the saga ends compensated.
    let (status, refused) = call(s, "POST", "/api/sagas/ops-b/abort", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (status, retried) = call(s, "POST", "/api/sagas/ops-b/retry", None).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "compensating");
    assert_eq!(retried["steps"][0]["operator_retries"], 1);
    assert_eq!(retried["steps"][0]["compensation_attempts"], 2);
    send(s, UNDONE, "ops-b").await;
    let done = saga_when(s, "ops-b", has_status("compensated")).await;
    assert_eq!(done["steps"][0]["status"], "compensated");
    let (status, _) = call(s, "POST", "/api/sagas/ops-b/retry", None).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Unknown sagas and ids that cannot be one.
    let (status, missing) = call(s, "GET", "/api/sagas/nobody", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (status, _) = call(s, "POST", "/api/sagas/nobody/abort", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.running.shutdown().await;
}

#[tokio::test]
async fn the_commands_an_abort_sends_are_published_once_committed() {
    let app = spawn(conveyor_runtime::orchestrator(OpsSaga::<0>)).await;
    let s = &app.state;
    send(s, START, "ops-c").await;
    saga_when(s, "ops-c", has_status("running")).await;
    let (status, _) = call(s, "POST", "/api/sagas/ops-c/abort", None).await;
    assert_eq!(status, StatusCode::OK);
    // The undo command reached the broker: the event log shows it, caused by the action.
    let mut found = None;
    for _ in 0..400 {
        let (_, events) = call(s, "GET", "/api/events?topic=test.ops.undo", None).await;
        if let Some(e) = events["events"].as_array().and_then(|l| l.first()).cloned() {
            found = Some(e);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let event = found.expect("the undo command was published");
    assert_eq!(event["correlation_id"], "ops-c");
    app.running.shutdown().await;
}
