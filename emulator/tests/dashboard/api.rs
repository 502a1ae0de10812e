//! The dashboard's JSON API, through the router.

use axum::http::StatusCode;
use conveyor_domain::events::ALL_TOPICS;
use serde_json::{Value, json};

use super::{PAYMENT_FLOW, call, payment_for, spawn_app, spawn_app_one_payment_consumer, until};

fn handlers(flow: &Value) -> Vec<(String, String)> {
    flow["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["handlers"].as_array().unwrap().iter())
        .map(|h| {
            (
                h["function"].as_str().unwrap().to_owned(),
                h["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_payment_shows_as_events_with_attempts_and_as_a_flow_of_its_handlers() {
    let app = spawn_app("flow").await;
    let state = &app.state;
    let (status, sent) = call(
        state,
        "POST",
        "/publish/payment.confirmed",
        Some(&payment_for(&app.orders[0], "pay-flow-1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();

    let flow = until(
        "the flow to finish",
        state,
        &format!("/api/flows/{id}"),
        |f| {
            f["events"].is_array() && {
                let h = handlers(f);
                h.len() == PAYMENT_FLOW.len() && h.iter().all(|(_, s)| s == "handled")
            }
        },
    )
    .await;
    let mut functions: Vec<String> = handlers(&flow).into_iter().map(|(f, _)| f).collect();
    functions.sort();
    assert_eq!(functions, PAYMENT_FLOW);
    let events = flow["events"].as_array().unwrap();
    assert_eq!(events[0]["id"], id.as_str());
    assert_eq!(events[0]["topic"], "payment.confirmed");
    assert!(events[0]["parent"].is_null());
    let changed = events
        .iter()
        .find(|e| e["topic"] == "orders.order.status_changed")
        .unwrap();
    assert_eq!(
        changed["parent"],
        json!({ "event_id": id, "function": "order-payment-confirmed" })
    );
    let fulfilled = events
        .iter()
        .find(|e| e["topic"] == "fulfillment.status_changed")
        .unwrap();
    assert_eq!(
        fulfilled["parent"]["function"],
        "fulfillment-order-status-changed"
    );
    assert!(events.iter().all(|e| e["offset_ms"].as_i64().unwrap() >= 0));

    // One event's detail: the CloudEvent, its attempt, the events it caused.
    let (status, detail) = call(state, "GET", &format!("/api/events/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        detail["cloudevent"]["data"]["order_id"],
        app.orders[0].as_str()
    );
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "one per subscriber: {attempts:#?}");
    let attempt = attempts
        .iter()
        .find(|a| a["function"] == "order-payment-confirmed")
        .unwrap();
    assert_eq!(attempt["outcome"], "handled");
    assert!(attempt["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(detail["caused"][0]["topic"], "orders.order.status_changed");
    assert_eq!(detail["caused"][0]["by"], "order-payment-confirmed");
    let (_, child) = call(
        state,
        "GET",
        &format!("/api/events/{}", changed["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(child["caused_by"]["event_id"], id.as_str());
    // The child names its cause itself, in its CloudEvent and in the list.
    assert_eq!(child["cloudevent"]["causationid"], id.as_str());
    assert_eq!(child["summary"]["causation_id"], id.as_str());
    let (status, _) = call(state, "GET", "/api/events/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(state, "GET", "/api/flows/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Filters: topic and order id, correlation id, function, status.
    let order = app.orders[0].as_str();
    let (_, by_order) = call(
        state,
        "GET",
        &format!("/api/events?topic=payment.confirmed&order_id={order}"),
        None,
    )
    .await;
    let list = by_order["events"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{by_order:#}");
    assert_eq!(list[0]["id"], id.as_str());
    let (_, by_flow) = call(
        state,
        "GET",
        &format!("/api/events?correlation_id={id}"),
        None,
    )
    .await;
    assert_eq!(by_flow["events"].as_array().unwrap().len(), events.len());
    let (_, by_function) = call(
        state,
        "GET",
        &format!("/api/events?correlation_id={id}&function=warehouse-fulfillment-status-changed"),
        None,
    )
    .await;
    let list = by_function["events"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["topic"], "fulfillment.status_changed");
    let (_, none) = call(state, "GET", "/api/events?status=dead_lettered", None).await;
    assert!(none["events"].as_array().unwrap().is_empty());
    let (_, limited) = call(state, "GET", "/api/events?limit=2", None).await;
    let list = limited["events"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list[0]["seq"].as_u64() > list[1]["seq"].as_u64(),
        "newest first"
    );
    let before = list[1]["seq"].as_u64().unwrap();
    let (_, page) = call(
        state,
        "GET",
        &format!("/api/events?limit=1&before={before}"),
        None,
    )
    .await;
    assert_eq!(page["events"][0]["seq"].as_u64(), Some(before - 1));

    // Functions: every catalog function, with totals.
    let (_, functions) = call(state, "GET", "/api/functions", None).await;
    let functions = functions.as_array().unwrap();
    assert_eq!(functions.len(), conveyor_catalog::all().len());
    let opc = functions
        .iter()
        .find(|f| f["name"] == "order-payment-confirmed")
        .unwrap();
    assert_eq!(opc["topics"], json!(["payment.confirmed"]));
    assert_eq!(opc["totals"]["handled"], 1);
    assert_eq!(opc["totals"]["last_outcome"], "handled");
    assert!(opc["totals"]["p50_ms"].as_f64().is_some());
    let job = functions
        .iter()
        .find(|f| f["name"] == "warehouse-reservation-expiry")
        .unwrap();
    assert_eq!(job["schedule"], "* * * * *");
    assert!(job["next"].is_string());
    app.running.shutdown().await;
}

#[tokio::test]
async fn dead_letters_are_listed_edited_redriven_and_deleted() {
    let app = spawn_app_one_payment_consumer("dlq").await;
    let state = &app.state;
    let f = "order-payment-confirmed";
    // A payload that does not decode is dropped straight to the DLQ.
    let (_, poison) = call(
        state,
        "POST",
        "/publish/payment.confirmed",
        Some(r#"{"order_id": 42}"#),
    )
    .await;
    let poison_id = poison["id"].as_str().unwrap().to_owned();
    let letters = until(
        "the poison event in the DLQ",
        state,
        &format!("/dlq/{f}"),
        |v| v.as_array().is_some_and(|a| a.len() == 1),
    )
    .await;
    let letter = letters[0].clone();
    assert_eq!(letter["event_id"], poison_id.as_str());
    assert_eq!(letter["attempts"], 1);
    let (_, listed) = call(state, "GET", "/api/events?status=dead_lettered", None).await;
    assert_eq!(listed["events"][0]["id"], poison_id.as_str());

    // Fix the payload, then redrive: the same event id is handled.
    let mut body: Value = serde_json::from_str(letter["body"].as_str().unwrap()).unwrap();
    body["data"] = serde_json::from_str(&payment_for(&app.orders[1], "pay-dlq-1")).unwrap();
    let letter_id = letter["id"].as_str().unwrap();
    let (status, edited) = call(
        state,
        "PUT",
        &format!("/dlq/{f}/{letter_id}"),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let (_, letters) = call(state, "GET", &format!("/dlq/{f}"), None).await;
    let stored: Value = serde_json::from_str(letters[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(stored["data"]["order_id"], app.orders[1].as_str());
    let (status, _) = call(
        state,
        "PUT",
        &format!("/dlq/{f}/no-such-letter"),
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, redriven) = call(
        state,
        "POST",
        &format!("/dlq/{f}/redrive"),
        Some(&json!({ "ids": [edited["id"]] }).to_string()),
    )
    .await;
    assert_eq!(redriven["redriven"], 1);
    let detail = until(
        "the redriven event handled",
        state,
        &format!("/api/events/{poison_id}"),
        |d| d["summary"]["status"] == "handled",
    )
    .await;
    let outcomes: Vec<&str> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["dead_lettered", "handled"]);

    // Two more poison events: delete one, then all.
    for _ in 0..2 {
        call(
            state,
            "POST",
            "/publish/payment.confirmed",
            Some(r#"{"order_id": []}"#),
        )
        .await;
    }
    let letters = until("two dead letters", state, &format!("/dlq/{f}"), |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let one = letters[0]["id"].as_str().unwrap();
    let (status, deleted) = call(state, "DELETE", &format!("/dlq/{f}/{one}"), None).await;
    assert_eq!(
        (status, deleted["deleted"].clone()),
        (StatusCode::OK, json!(1))
    );
    let (status, _) = call(state, "DELETE", &format!("/dlq/{f}/{one}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, left) = call(state, "GET", &format!("/dlq/{f}"), None).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    let (_, all) = call(state, "DELETE", &format!("/dlq/{f}/all"), None).await;
    assert_eq!(all["deleted"], 1);
    let (_, left) = call(state, "GET", "/dlq", None).await;
    assert!(left.as_array().unwrap().is_empty(), "{left:#}");
    let (status, _) = call(state, "DELETE", "/dlq/no-such-function/x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.running.shutdown().await;
}

#[tokio::test]
async fn topics_come_with_samples_and_schemas_and_payloads_are_validated() {
    let app = spawn_app("topics").await;
    let state = &app.state;
    let (_, topics) = call(state, "GET", "/api/topics", None).await;
    let topics = topics.as_array().unwrap();
    assert_eq!(topics.len(), ALL_TOPICS.len());
    for t in topics {
        let topic = t["topic"].as_str().unwrap();
        let (status, one) = call(state, "GET", &format!("/api/topics/{topic}"), None).await;
        assert_eq!(status, StatusCode::OK, "{topic}");
        assert!(one["schema"]["properties"].is_object(), "{topic}: {one:#}");
        assert_eq!(one["cloudevent"]["type"], topic);
        let (_, verdict) = call(
            state,
            "POST",
            &format!("/api/topics/{topic}/validate"),
            Some(&t["sample"].to_string()),
        )
        .await;
        assert_eq!(verdict["valid"], true, "{topic}: {verdict:#}");
    }
    let payment = topics
        .iter()
        .find(|t| t["topic"] == "payment.confirmed")
        .unwrap();
    assert_eq!(
        payment["subscribers"],
        json!([
            "order-payment-confirmed",
            "notification-dispatch",
            "order-checkout-saga"
        ])
    );

    let mut bad = payment["sample"].clone();
    bad["amount"] = json!("a lot");
    bad.as_object_mut().unwrap().remove("order_id");
    let (_, verdict) = call(
        state,
        "POST",
        "/api/topics/payment.confirmed/validate",
        Some(&bad.to_string()),
    )
    .await;
    assert_eq!(verdict["valid"], false);
    let errors = verdict["errors"].to_string();
    assert!(
        errors.contains("amount") && errors.contains("order_id"),
        "{errors}"
    );
    // A whole CloudEvent is checked by its data; rules beyond the schema too.
    let (_, verdict) = call(
        state,
        "POST",
        "/api/topics/payment.confirmed/validate",
        Some(&json!({ "specversion": "1.0", "data": payment["sample"] }).to_string()),
    )
    .await;
    assert_eq!(verdict["valid"], true);
    let (_, verdict) = call(
        state,
        "POST",
        "/api/topics/payment.confirmed/validate",
        Some("not json"),
    )
    .await;
    assert_eq!(verdict["valid"], false);
    let (status, _) = call(
        state,
        "POST",
        "/api/topics/no.such.topic/validate",
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.running.shutdown().await;
}

#[tokio::test]
async fn schedules_list_next_runs_and_a_manual_run_is_recorded() {
    let app = spawn_app("jobs").await;
    let state = &app.state;
    let (_, jobs) = call(state, "GET", "/api/schedules", None).await;
    let jobs = jobs.as_array().unwrap();
    let expected = conveyor_catalog::specs()
        .iter()
        .filter(|s| s.schedule().is_some())
        .count();
    assert_eq!(jobs.len(), expected);
    let job = jobs
        .iter()
        .find(|j| j["name"] == "order-session-cleanup")
        .unwrap();
    assert_eq!(job["cron"], "0 * * * *");
    assert_eq!(job["next"].as_array().unwrap().len(), 5);
    assert!(job["runs"].as_array().unwrap().is_empty());

    let (status, run) = call(state, "POST", "/invoke/order-session-cleanup", None).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let (_, jobs) = call(state, "GET", "/api/schedules", None).await;
    let job = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "order-session-cleanup")
        .unwrap()
        .clone();
    let runs = job["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["outcome"], "ticked");
    assert!(
        runs[0]["event_id"]
            .as_str()
            .unwrap()
            .starts_with("order-session-cleanup@manual-")
    );
    assert_eq!(job["totals"]["runs"], 1);
    // Runs are not events: the stream does not list them.
    let (_, events) = call(
        state,
        "GET",
        "/api/events?function=order-session-cleanup",
        None,
    )
    .await;
    assert!(events["events"].as_array().unwrap().is_empty());
    let (_, cursor) = call(state, "GET", "/api/cursor", None).await;
    assert!(cursor["attempts"].as_u64().unwrap() > 0);
    app.running.shutdown().await;
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_binary() {
    let app = spawn_app("page").await;
    for (uri, needle) in [
        ("/", "/ui/app.js"),
        ("/ui/app.js", "/api/cursor"),
        ("/ui/app.css", "svg"),
    ] {
        let (status, body) = call(&app.state, "GET", uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(body.as_str().is_some_and(|b| b.contains(needle)), "{uri}");
    }
    app.running.shutdown().await;
}
