//! The event store's HTTP API (`GET /api/store/events`) on a running emulator: a payment's flow
//! is found by its order id and its correlation id, pages continue after their cursor without
//! gaps or repeats, newest first on request, and a malformed parameter is refused naming it.

use axum::http::StatusCode;
use serde_json::Value;

use super::{call, payment_for, spawn_app, until};

fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn stored_events_are_found_by_order_and_flow_a_page_at_a_time() {
    let app = spawn_app("store").await;
    let state = &app.state;
    let order = app.orders[0].as_str();
    let (status, sent) = call(
        state,
        "POST",
        "/publish/payment.confirmed",
        Some(&payment_for(&app.orders[0], "pay-store-1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    // The published payment is stored, and so is what its handlers published, in its flow.
    let flow = until(
        "the flow's events to be stored",
        state,
        &format!("/api/store/events?correlation_id={id}"),
        |p| {
            p["events"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|e| e["topic"] == "orders.order.status_changed")
                    && e.iter().any(|e| e["topic"] == "fulfillment.status_changed")
            })
        },
    )
    .await;
    assert!(flow["enabled"].as_bool().unwrap());
    let events = flow["events"].as_array().unwrap();
    assert_eq!(events[0]["id"], id.as_str());
    assert_eq!(events[0]["topic"], "payment.confirmed");
    assert_eq!(events[0]["event"]["data"]["order_id"], order);
    let changed = events
        .iter()
        .find(|e| e["topic"] == "orders.order.status_changed")
        .unwrap();
    assert_eq!(changed["causation_id"], id.as_str());
    assert_eq!(changed["order_id"], order);

    // By order id, in pages of two: the same events as one page, in the same order.
    let (status, whole) = call(
        state,
        "GET",
        &format!("/api/store/events?order_id={order}&limit=1000"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let all = ids(&whole);
    assert!(all.len() > 3, "{whole}");
    assert!(whole["next"].is_null());
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let (_, page) = call(
            state,
            "GET",
            &format!("/api/store/events?order_id={order}&limit=2&after={after}"),
            None,
        )
        .await;
        paged.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let (_, newest) = call(
        state,
        "GET",
        &format!("/api/store/events?order_id={order}&order=desc&limit=1000"),
        None,
    )
    .await;
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(ids(&newest), reversed);

    // A time range that ends before the payment holds none of its flow.
    let (_, before) = call(
        state,
        "GET",
        &format!("/api/store/events?correlation_id={id}&to=2000-01-01T00:00:00Z"),
        None,
    )
    .await;
    assert!(ids(&before).is_empty());
    for (query, says) in [
        ("from=soon", "from=\"soon\""),
        ("limit=5000", "limit=5000"),
        ("after=nope", "is not an event cursor"),
    ] {
        let (status, body) = call(state, "GET", &format!("/api/store/events?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
    app.running.shutdown().await;
}
