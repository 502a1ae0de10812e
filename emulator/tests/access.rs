//! Only its user drives the emulator: a page on another site or behind a rebound DNS name
//! cannot publish, invoke or redrive; a token, when set, is needed on every request, and the
//! operator commands send it; a non-loopback address needs a token or the explicit opt-out.

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conveyor_emulator::access::{Access, AccessSettings, ApiToken};
use conveyor_emulator::api::{self, ApiState};
use conveyor_emulator::embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::Function;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tower::ServiceExt;

use crate::functions::{Flaky, eventually};

const LISTEN: &str = "127.0.0.1:8790";
const PING: &str = r#"{"n": 1}"#;

struct App {
    running: Running,
    state: ApiState,
    calls: Arc<AtomicU32>,
    dir: tempfile::TempDir,
}

async fn spawn_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(Flaky {
        calls: Arc::clone(&calls),
        fail_first: 0,
    })];
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("access.db").display()),
        functions,
        consumer: ConsumerSettings {
            batch: 8,
            idle_poll: Duration::from_millis(20),
        },
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let state = running.api_state();
    App {
        running,
        state,
        calls,
        dir,
    }
}

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

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
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

/// One HTTP/1.1 request over the loopback; answers status, headers and body.
async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status.as_u16(),
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn conveyor(args: &[&str], token: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_conveyor"));
    command
        .args(args)
        .env_remove("CONVEYOR_API_TOKEN")
        .env_remove("CONVEYOR_API")
        .env_remove("CONVEYOR_REDIS_URL");
    if let Some(token) = token {
        command.env("CONVEYOR_API_TOKEN", token);
    }
    command.output().await.unwrap()
}

#[tokio::test]
async fn with_a_token_every_request_needs_it_and_the_operator_commands_send_it() {
    let app = spawn_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let access = Access::new(
        address,
        AccessSettings {
            token: ApiToken::new("s3cret-token").unwrap(),
            ..AccessSettings::default()
        },
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = api::router(app.state.clone(), access);
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let base = format!("http://{address}");

    let (status, headers, body) = http("GET", &format!("{base}/healthz"), &[], "").await;
    assert_eq!(status, 401);
    assert!(error(&body).contains("CONVEYOR_API_TOKEN"), "{body}");
    assert!(headers.contains_key("www-authenticate"));
    let wrong = [("authorization", "Bearer not-it")];
    assert_eq!(
        http("GET", &format!("{base}/functions"), &wrong, "")
            .await
            .0,
        401
    );
    let right = [
        ("authorization", "Bearer s3cret-token"),
        ("content-type", "application/json"),
    ];
    assert_eq!(
        http("GET", &format!("{base}/functions"), &right, "")
            .await
            .0,
        200
    );
    let (status, _, body) = http("POST", &format!("{base}/publish/test.ping"), &right, PING).await;
    assert_eq!(status, 200, "{body}");

    // The browser: opened once with the token, it keeps a strict cookie and loses the token
    // from its address bar.
    let (status, headers, _) = http("GET", &format!("{base}/?token=s3cret-token"), &[], "").await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(
        http(
            "GET",
            &format!("{base}/api/functions"),
            &[("cookie", pair)],
            ""
        )
        .await
        .0,
        200
    );
    assert_eq!(
        http("GET", &format!("{base}/?token=nope"), &[], "").await.0,
        401
    );

    // The operator commands send CONVEYOR_API_TOKEN.
    let listed = conveyor(&["dlq", "list", "--api", &base], Some("s3cret-token")).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no dead letters"));
    let invoked = conveyor(
        &[
            "invoke",
            "test-flaky",
            "--api",
            &base,
            "--data-file",
            &ping_file(&app),
        ],
        Some("s3cret-token"),
    )
    .await;
    assert!(
        invoked.status.success(),
        "{}",
        String::from_utf8_lossy(&invoked.stderr)
    );
    let refused = conveyor(&["dlq", "list", "--api", &base], None).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("CONVEYOR_API_TOKEN"),
        "{stderr}"
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    app.running.shutdown().await;
}

fn ping_file(app: &App) -> String {
    let path = app.dir.path().join("ping.json");
    std::fs::write(&path, PING).unwrap();
    path.display().to_string()
}

/// `conveyor up` in a folder of its own with a database there, and the environment cleared of
/// what would change its start.
fn up(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_conveyor"));
    command
        .current_dir(dir)
        .arg("up")
        .args(args)
        .env(
            "CONVEYOR_DATABASE_URL",
            format!("sqlite://{}", dir.join("up.db").display()),
        )
        .env("CONVEYOR_FUNCTIONS", "order-payment-confirmed");
    for name in [
        "CONVEYOR_API_TOKEN",
        "CONVEYOR_HTTP",
        "CONVEYOR_HTTP_ALLOWED_HOSTS",
        "CONVEYOR_HTTP_INSECURE_NO_TOKEN",
        "CONVEYOR_REDIS_URL",
        "CONVEYOR_TRANSPORT",
        "CONVEYOR_SERVICE",
    ] {
        command.env_remove(name);
    }
    command
}

#[test]
fn a_non_loopback_address_without_a_token_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = up(dir.path(), &["--http", "0.0.0.0:8790"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--http 0.0.0.0:8790 is not a loopback address")
            && stderr.contains("CONVEYOR_API_TOKEN")
            && stderr.contains("--http-insecure-no-token"),
        "{stderr}"
    );
    // Nothing was opened: the check comes first.
    assert!(!dir.path().join("up.db").exists());
}

#[test]
fn the_opt_out_passes_the_check_and_warns() {
    // The tests listen on loopback only: the wildcard address is taken on its port by a
    // listener of the test's own, so `up` passes the check, warns, and stops at the bind.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let address = format!("0.0.0.0:{port}");
    let output = up(
        dir.path(),
        &["--http", &address, "--http-insecure-no-token"],
    )
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        stdout.contains("WARN")
            && stdout.contains("without a token")
            && stdout.contains("--http-insecure-no-token"),
        "{stdout}"
    );
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    drop(held);
}
