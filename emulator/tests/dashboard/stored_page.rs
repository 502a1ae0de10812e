//! The dashboard's Stored page in headless Chromium: the event store newest first, searched by
//! order id from its form, each event's CloudEvent unfolded on a click.

use conveyor_emulator::access::Access;
use serde_json::Value;

use super::browser::Browser;
use super::{call, spawn_app, until};

#[tokio::test]
async fn the_stored_page_lists_the_event_store_and_searches_it_by_order() {
    let app = spawn_app("ui-store").await;
    let order = app.orders[0].as_str().to_owned();
    let stored = until(
        "the seed's events in the store",
        &app.state,
        &format!("/api/store/events?order_id={order}&order=desc"),
        |p| p["events"].as_array().is_some_and(|e| !e.is_empty()),
    )
    .await;
    let browser = Browser::open_with(&app, Access::local).await;
    browser.goto("#/stored").await;
    // The emulator's jobs may store more events meanwhile (a tick at a minute's turn): the page
    // must come to list what the store holds, counted again each time it is compared.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, everything) = call(&app.state, "GET", "/api/store/events?limit=1000", None).await;
        let total = everything["events"].as_array().map_or(0, Vec::len);
        assert!(total > stored["events"].as_array().map_or(0, Vec::len));
        let rows = browser
            .wait_all("stored events", "table#stored tbody tr", |r| !r.is_empty())
            .await;
        if rows.len() == total.min(100) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page lists {} stored events, the store holds {total}",
            rows.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        !browser.page().await.0.contains(">null<"),
        "a view printed a left-out part as \"null\""
    );
    browser.screenshot("stored").await;

    // Searched by the order: only its events, newest first, as the API lists them.
    let input = browser.wait("the order id field", "input#s-order_id").await;
    input.send_keys(&order).await.unwrap();
    browser
        .click("the search button", "form#store-filters button")
        .await;
    let expected: Vec<String> = stored["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    let rows = browser
        .wait_all("the order's events", "table#stored tbody tr", |r| {
            r.len() == expected.len()
        })
        .await;
    let mut shown = Vec::new();
    for row in &rows {
        shown.push(row.attr("data-stored").await.unwrap().unwrap_or_default());
    }
    assert_eq!(shown, expected);
    let (source, address) = browser.page().await;
    assert!(address.contains(&format!("order_id={order}")), "{address}");
    // The first event's CloudEvent, unfolded.
    browser
        .click(
            "the first event's id",
            "table#stored tbody tr details summary",
        )
        .await;
    let body = browser
        .wait("the CloudEvent", "table#stored tbody tr details[open] pre")
        .await;
    let text = body.text().await.unwrap();
    let event: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(event["id"], expected[0].as_str());
    assert!(source.contains("Stored events"));
    browser.close().await;
    app.running.shutdown().await;
}
