//! The built `conveyor up` on a non-loopback address: refused without a token or the opt-out,
//! and warned with the opt-out.

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
        "CONVEYOR_LOG_FORMAT",
        "RUST_LOG",
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
