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

/// `conveyor saga abort --database <url> --saga-timer-queue <url>`, as an operator runs it for
/// an orchestrator on Lambda: the binary, on the database alone, arms the timer the abort sets
/// (the refund's reply deadline) as a delay message on the orchestrator's queue.
#[tokio::test]
async fn an_abort_on_the_database_arms_its_timer_on_the_lambda_orchestrator_s_queue() {
    use aws_sdk_sqs::types::QueueAttributeName;
    use conveyor_domain::events::checkout::CHECKOUT_REQUESTED;
    use conveyor_domain::events::samples;
    use conveyor_domain::{Clock, SystemClock};
    use conveyor_runtime::{CloudEvent, DeferredPublisher, Deps, invoke};
    use conveyor_store::testing::TestDb;
    use order_checkout_saga::OrderCheckoutSaga;
    use std::sync::Arc;

    let moto = Moto::start();
    let client = moto.aws().sqs_client();
    let queue = moto.queue("ops-db-order-checkout-saga").await;
    let db = TestDb::postgres().await;
    let deps = Deps {
        store: db.store().clone(),
        publisher: Arc::new(DeferredPublisher),
        clock: Arc::new(SystemClock),
    };
    let start = CloudEvent::new(
        CHECKOUT_REQUESTED,
        "order-service",
        &samples::checkout_requested(),
        SystemClock.now(),
    )
    .unwrap();
    invoke::handle_event(&OrderCheckoutSaga::default(), &deps, &start, 1, None)
        .await
        .unwrap();

    let aws = moto.aws();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(["saga", "abort", samples::CHECKOUT_ORDER_ID])
        .args(["--database", db.url(), "--saga-timer-queue", &queue])
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_REGION", &aws.region)
        .env("AWS_ACCESS_KEY_ID", &aws.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &aws.secret_access_key)
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aborted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(aborted["status"], "compensating", "{aborted}");
    let due = aborted["timer"]["due"]
        .as_str()
        .expect("the abort set a timer");
    assert!(!due.is_empty());
    let attributes = client
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap();
    let delayed = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessagesDelayed))
        .cloned();
    assert_eq!(
        delayed.as_deref(),
        Some("1"),
        "one timer armed, as a delay message"
    );
    db.close().await;
}
