//! A token on a served emulator: needed on every request, kept by the browser in a cookie
//! after one visit with it, and sent by the operator commands from CONVEYOR_API_TOKEN.

use std::process::Output;

use conveyor_emulator::access::{Access, AccessSettings, ApiToken};
use conveyor_emulator::api;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::{App, PING, error, spawn_app};

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
    // The event store's API too: refused without the token, and the published event is there.
    let store = format!("{base}/api/store/events?topic=test.ping");
    assert_eq!(http("GET", &store, &[], "").await.0, 401);
    let (status, _, body) = http("GET", &store, &right, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1), "{body}");

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
    let unknown = conveyor(
        &["invoke", "no-such-function", "--api", &base],
        Some("s3cret-token"),
    )
    .await;
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success()
            && stderr.contains("no function no-such-function in this emulator")
            && stderr.contains("GET /functions"),
        "{stderr}"
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
