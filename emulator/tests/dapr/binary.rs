//! The built `conveyor worker` binary: configured through its environment like in a pod, it
//! serves daprd's callbacks and stops cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::harness::{FakeSidecar, call};

#[tokio::test]
async fn the_binary_serves_its_sidecar_and_stops_on_sigterm() {
    let sidecar = FakeSidecar::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .arg("worker")
        .env("CONVEYOR_SERVICE", "fulfillment")
        .env("CONVEYOR_APP_PORT", "0")
        .env("DAPR_HTTP_PORT", sidecar.port.to_string())
        .env("APP_API_TOKEN", "pod-token")
        .env(
            "CONVEYOR_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("worker.db").display()),
        )
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
