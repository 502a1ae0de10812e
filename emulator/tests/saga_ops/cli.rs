//! `conveyor saga list | show | abort | retry` against a served emulator, as an operator runs
//! them: the binary, `--api` at the emulator's address.

use std::process::Output;

use serde_json::Value;

use super::{App, OpsSaga, START, has_status, saga_when, send, spawn, stdout};

async fn serve(app: &App) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let access = conveyor_emulator::access::Access::local(address);
    let router = conveyor_emulator::api::router(app.state.clone(), access);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (format!("http://{address}"), tx)
}

async fn conveyor(api: &str, args: &[&str]) -> Output {
    super::conveyor(args, &["--api", api]).await
}

#[tokio::test]
async fn an_operator_lists_shows_aborts_and_is_told_why_a_retry_is_refused() {
    let app = spawn(conveyor_runtime::orchestrator(OpsSaga::<1>)).await;
    let s = &app.state;
    send(s, START, "cli-1").await;
    saga_when(s, "cli-1", has_status("running")).await;
    let (api, stop) = serve(&app).await;

    let list = stdout(&conveyor(&api, &["saga", "list", "--status", "running"]).await);
    let line = list
        .lines()
        .find(|l| l.starts_with("cli-1"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains("test-ops-cli") && line.contains("running") && line.contains("first"),
        "{line}"
    );
    let none = stdout(&conveyor(&api, &["saga", "list", "--status", "failed"]).await);
    assert_eq!(none.trim(), "no sagas");

    let shown: Value =
        serde_json::from_str(&stdout(&conveyor(&api, &["saga", "show", "cli-1"]).await)).unwrap();
    assert_eq!(shown["current_step_name"], "first");

    let refused = conveyor(&api, &["saga", "retry", "cli-1"]).await;
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("409") && why.contains("only a failed saga"),
        "{why}"
    );

    let aborted: Value = serde_json::from_str(&stdout(
        &conveyor(
            &api,
            &["saga", "abort", "cli-1", "--reason", "duplicate order"],
        )
        .await,
    ))
    .unwrap();
    assert_eq!(aborted["status"], "compensating");
    assert!(
        aborted["failure"]
            .as_str()
            .unwrap()
            .contains("duplicate order")
    );

    let missing = conveyor(&api, &["saga", "show", "nobody"]).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no saga nobody"));
    let _ = stop.send(());
    app.running.shutdown().await;
}
