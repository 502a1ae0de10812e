//! The built `conveyor worker` binary: configured through its environment like in a pod, it
//! serves daprd's callbacks (over HTTP, or over gRPC with `APP_PROTOCOL=grpc`) and stops
//! cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::grpc_harness::{Daprd, FakeDaprApi};
use super::harness::{FakeSidecar, call};

#[tokio::test]
async fn the_binary_serves_its_sidecar_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("worker.db").display());
    serve_and_stop(&[
        ("APP_API_TOKEN", "pod-token"),
        ("CONVEYOR_DATABASE_URL", &url),
    ])
    .await;
}

/// As the generated Deployments run it: the database URL and the app token are files of a
/// mounted secret, named by `..._FILE` variables.
#[tokio::test]
async fn the_binary_reads_its_secrets_from_mounted_files() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("database-url");
    let db = dir.path().join("worker.db");
    std::fs::write(&url, format!("sqlite://{}\n", db.display())).unwrap();
    let token = dir.path().join("app-api-token");
    std::fs::write(&token, "pod-token\n").unwrap();
    serve_and_stop(&[
        ("APP_API_TOKEN_FILE", token.to_str().unwrap()),
        ("CONVEYOR_DATABASE_URL_FILE", url.to_str().unwrap()),
    ])
    .await;
    assert!(db.exists(), "the worker opened the database the file names");
}

/// A worker started with a configuration it cannot use says what to set, in one line, and
/// exits with a failure.
#[tokio::test]
async fn a_misconfigured_binary_says_what_to_set_in_one_line() {
    for (env, says) in [
        (
            vec![("CONVEYOR_SERVICE", "billing")],
            "error: unknown service \"billing\": set CONVEYOR_SERVICE (or --service) to order, fulfillment or warehouse",
        ),
        (
            vec![("CONVEYOR_SERVICE", "order")],
            "error: no database given: set CONVEYOR_DATABASE_URL (or --database), or CONVEYOR_DATABASE_URL_FILE to a file holding it, to a postgres:// URL",
        ),
        (
            vec![
                ("CONVEYOR_SERVICE", "order"),
                ("CONVEYOR_DATABASE_URL", "sqlite::memory:"),
                ("APP_API_TOKEN_FILE", "/nonexistent/app-api-token"),
            ],
            "error: APP_API_TOKEN_FILE names /nonexistent/app-api-token, which cannot be read (No such file or directory (os error 2)): mount the secret there or correct APP_API_TOKEN_FILE",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_conveyor"))
            .arg("worker")
            .env_remove("CONVEYOR_SERVICE")
            .env_remove("CONVEYOR_DATABASE_URL")
            .env_remove("APP_API_TOKEN")
            .envs(env)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr, format!("{says}\n"));
    }
}

/// The worker's database and listener fail at start with a line naming what to set: the
/// database's URL (its password masked), or the app port.
#[tokio::test]
async fn an_unreachable_database_or_a_taken_port_says_what_to_set() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = format!("postgres://app:hunter2@127.0.0.1:{closed_port}/app");
    for (database, says) in [
        (
            "sqlite::memory:".to_owned(),
            format!(
                "error: cannot listen on 127.0.0.1:{port} (Address already in use (os error 98)): stop what uses it or set CONVEYOR_APP_PORT (or --port) to another port, 0 for a free one"
            ),
        ),
        (
            unreachable,
            format!(
                "error: cannot connect to the database at postgres://app:***@127.0.0.1:{closed_port}/app"
            ),
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_conveyor"))
            .arg("worker")
            .env("CONVEYOR_SERVICE", "order")
            .env("CONVEYOR_APP_PORT", port.to_string())
            .env("CONVEYOR_DATABASE_URL", &database)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(&says), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        if database.starts_with("postgres") {
            assert!(
                stderr.trim_end().ends_with(": check CONVEYOR_DATABASE_URL (or the file CONVEYOR_DATABASE_URL_FILE names), that the server is reachable, and the user's password"),
                "{stderr}"
            );
        }
    }
    drop(taken);
}

async fn serve_and_stop(env: &[(&str, &str)]) {
    let sidecar = FakeSidecar::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .arg("worker")
        .env("CONVEYOR_SERVICE", "fulfillment")
        .env("CONVEYOR_APP_PORT", "0")
        .env("DAPR_HTTP_PORT", sidecar.port.to_string())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("conveyor starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    let mut banner = String::new();
    while base.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the worker prints its address")
            .unwrap()
            .expect("the worker is running");
        banner.push_str(&line);
        banner.push('\n');
        base = line
            .strip_prefix("app on ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned);
    }
    let base = base.unwrap();
    assert!(
        banner.contains("fulfillment-worker (mode event)"),
        "{banner}"
    );

    assert_eq!(
        call("GET", &format!("{base}/healthz"), &[], b"")
            .await
            .status,
        200
    );
    let token = [("dapr-api-token", "pod-token")];
    assert_eq!(
        call("GET", &format!("{base}/dapr/subscribe"), &[], b"")
            .await
            .status,
        401
    );
    let subs = call("GET", &format!("{base}/dapr/subscribe"), &token, b"").await;
    let routes: Vec<String> = subs
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["route"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        routes.contains(&"/fulfillment-order-status-changed".to_owned()),
        "{routes:?}"
    );
    assert!(
        routes.contains(&"/fulfillment-picklist-status-changed".to_owned()),
        "{routes:?}"
    );

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the worker stops within its grace period")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(rest.contains("worker stopped"), "{rest}");
}

/// With `APP_PROTOCOL=grpc` (what daprd's injector sets from `dapr.io/app-protocol: grpc`) the
/// binary serves daprd's gRPC services on its port, names the sidecar's gRPC API as where it
/// publishes, and still stops cleanly on SIGTERM.
#[tokio::test]
async fn the_binary_follows_app_protocol_grpc() {
    let api = FakeDaprApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("worker.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .arg("worker")
        .env("CONVEYOR_SERVICE", "fulfillment")
        .env("CONVEYOR_APP_PORT", "0")
        .env("CONVEYOR_DATABASE_URL", &url)
        .env("APP_PROTOCOL", "grpc")
        .env("DAPR_GRPC_PORT", api.port.to_string())
        .env_remove("APP_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("conveyor starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the worker prints its address")
            .unwrap()
            .expect("the worker is running");
        if line.starts_with("app on ") {
            break line;
        }
    };
    assert!(
        banner.ends_with(&format!("publishing through grpc://127.0.0.1:{}", api.port)),
        "{banner}"
    );
    let address = banner
        .strip_prefix("app on grpc://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a gRPC app: {banner}"));
    let mut daprd = Daprd::connect(&format!("http://{address}")).await;
    let routes: Vec<String> = daprd
        .app
        .list_topic_subscriptions(())
        .await
        .expect("daprd's discovery call")
        .into_inner()
        .subscriptions
        .into_iter()
        .filter_map(|s| s.routes.map(|r| r.default))
        .collect();
    assert!(
        routes.contains(&"/fulfillment-order-status-changed".to_owned()),
        "{routes:?}"
    );
    daprd.health.health_check(()).await.expect("healthy");

    let pid = child.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the worker stops within its grace period")
        .unwrap();
    assert!(status.success(), "{status}");
}
