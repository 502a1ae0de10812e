//! The dashboard's saga pages in headless Chromium: a checkout saga waiting for its payment is
//! listed; its page draws the four steps as a timeline with the one awaited, its deadline and
//! sends, and, once aborted, the compensation path.

use conveyor_emulator::access::Access;
use serde_json::{Value, json};

use super::browser::Browser;
use super::{call, spawn_app, until};

#[tokio::test]
async fn a_checkout_saga_is_listed_and_its_page_draws_its_steps_deadline_and_compensation() {
    let app = spawn_app("ui-saga").await;
    let mut payload =
        conveyor_domain::events::samples::for_topic("order.checkout_requested").unwrap();
    payload["order_id"] = Value::from("ord-ui-saga");
    let (status, sent) = call(
        &app.state,
        "POST",
        "/publish/order.checkout_requested",
        Some(&payload.to_string()),
    )
    .await;
    assert!(status.is_success(), "{sent}");
    until(
        "the saga to run",
        &app.state,
        "/api/sagas/ord-ui-saga",
        |v| v["status"] == "running",
    )
    .await;

    let browser = Browser::open_with(&app, Access::local).await;
    browser.goto("#/sagas").await;
    browser
        .wait(
            "the saga's row",
            "tr[data-saga=\"ord-ui-saga\"][data-status=\"running\"]",
        )
        .await;
    browser
        .click(
            "the saga's link",
            "tr[data-saga=\"ord-ui-saga\"] a.saga-link",
        )
        .await;
    let steps = browser
        .wait_all("the four steps", "#saga-timeline li.step", |f| f.len() == 4)
        .await;
    assert_eq!(steps.len(), 4);
    browser
        .wait(
            "the payment step awaited",
            "#saga-timeline li.current[data-step=\"payment\"][data-status=\"running\"]",
        )
        .await;
    let deadline = browser.wait("the deadline", "#saga-deadline").await;
    assert!(!deadline.text().await.unwrap().is_empty());
    browser.wait("the abort button", "#saga-abort").await;
    browser.screenshot("saga-running").await;

    // Aborted (through the API; the page's button asks for a reason in a prompt), the page
    // shows the compensation path: the payment, whose outcome is unknown, is refunded.
    let (status, aborted) = call(
        &app.state,
        "POST",
        "/api/sagas/ord-ui-saga/abort",
        Some(&json!({"reason": "test"}).to_string()),
    )
    .await;
    assert!(status.is_success(), "{aborted}");
    browser.goto("#/sagas").await;
    browser.goto("#/sagas/ord-ui-saga").await;
    browser
        .wait(
            "the compensation path",
            "#saga-compensation li[data-step=\"payment\"]",
        )
        .await;
    browser
        .wait(
            "the aborted payment step",
            "#saga-timeline li[data-step=\"payment\"][data-status=\"compensating\"]",
        )
        .await;
    browser.screenshot("saga-compensating").await;
    browser.close().await;
    app.running.shutdown().await;
}
