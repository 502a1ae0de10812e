//! The guard in process, through the router: requests as a page on another site, a page behind
//! a rebound name, the dashboard and curl send them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conveyor_emulator::access::{Access, AccessSettings};
use conveyor_emulator::api::{self, ApiState};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::{PING, error, spawn_app};
use crate::functions::eventually;

const LISTEN: &str = "127.0.0.1:8790";

/// One request through the router as `access` guards it; `headers` as a client sent them.
async fn send(
    state: &ApiState,
    access: &Access,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = api::router(state.clone(), access.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn pages_of_other_sites_and_rebound_names_cannot_change_state() {
    let app = spawn_app().await;
    let (state, access) = (&app.state, Access::local(LISTEN.parse().unwrap()));
    let json = ("content-type", "application/json");
    let host = ("host", LISTEN);

    // A form or text/plain POST a page on another site sends without a preflight.
    let (status, body) = send(
        state,
        &access,
        "POST",
        "/publish/test.ping",
        &[
            host,
            ("origin", "http://evil.example"),
            ("content-type", "text/plain"),
        ],
        PING,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error(&body).contains("evil.example"), "{body}");
    // The same from no page at all, but not as JSON.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = send(
            state,
            &access,
            "POST",
            "/publish/test.ping",
            &[host, ("content-type", content_type)],
            PING,
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(error(&body).contains("application/json"), "{body}");
    }
    // A page whose name was rebound to 127.0.0.1: its own name as Host.
    let (status, body) = send(
        state,
        &access,
        "POST",
        "/publish/test.ping",
        &[
            ("host", "rebound.example:8790"),
            ("origin", "http://rebound.example:8790"),
            json,
        ],
        PING,
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{body}");
    let (status, _) = send(
        state,
        &access,
        "GET",
        "/dlq",
        &[("host", "rebound.example:8790")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    // Every other state change is guarded the same way.
    for (method, uri) in [
        ("POST", "/invoke/test-flaky"),
        ("POST", "/dlq/test-flaky/redrive"),
        ("POST", "/api/topics/test.ping/validate"),
        ("PUT", "/dlq/test-flaky/x"),
        ("DELETE", "/dlq/test-flaky/all"),
    ] {
        let (status, _) = send(
            state,
            &access,
            method,
            uri,
            &[host, ("content-type", "text/plain")],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{method} {uri}");
        let (status, _) = send(
            state,
            &access,
            method,
            uri,
            &[host, ("origin", "null"), json],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}");
    }

    // The dashboard's own page, then curl (no Origin): both publish.
    let (status, body) = send(
        state,
        &access,
        "POST",
        "/publish/test.ping",
        &[host, ("origin", "http://127.0.0.1:8790"), json],
        PING,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(
        state,
        &access,
        "POST",
        "/publish/test.ping",
        &[("host", "localhost:8790"), json],
        r#"{"n": 2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the two accepted events to be handled", || async {
        app.calls.load(Ordering::SeqCst) >= 2
    })
    .await;
    // The queue is in order: a refused event, had it been published, would have run first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.calls.load(Ordering::SeqCst), 2);
    let (_, dlq) = send(state, &access, "GET", "/dlq", &[host], "").await;
    assert_eq!(dlq, Value::Array(Vec::new()));
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_wildcard_address_with_the_opt_out_answers_its_address_literals() {
    let app = spawn_app().await;
    let access = Access::new(
        "0.0.0.0:8790".parse().unwrap(),
        AccessSettings {
            insecure_no_token: true,
            ..AccessSettings::default()
        },
    )
    .unwrap();
    assert!(access.is_open());
    let (status, _) = send(
        &app.state,
        &access,
        "GET",
        "/functions",
        &[("host", "192.168.1.5:8790")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &app.state,
        &access,
        "GET",
        "/functions",
        &[("host", "evil.example:8790")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    app.running.shutdown().await;
}
