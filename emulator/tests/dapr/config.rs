//! `conveyor worker`'s configuration as a pod gives it: flags and environment through clap,
//! secrets from `X` or from the file `X_FILE` names, and one sentence saying what to set for
//! every mistake.

use std::collections::HashMap;

use clap::Parser;
use conveyor_dapr::{AppProtocol, BulkSubscribe, Mode, WorkerConfig};
use conveyor_emulator::cli::args::{Cli, Command, WorkerArgs};
use conveyor_runtime::Service;

fn args(argv: &[&str]) -> WorkerArgs {
    let mut full = vec!["conveyor", "worker"];
    full.extend_from_slice(argv);
    match Cli::try_parse_from(full).expect("the flags parse").command {
        Some(Command::Worker(args)) => args,
        other => panic!("not a worker: {other:?}"),
    }
}

/// The configuration `argv` and `env` give, with a database URL unless `env` names one.
fn config(argv: &[&str], env: &[(&str, &str)]) -> Result<WorkerConfig, String> {
    let mut env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if !env.keys().any(|k| k.starts_with("CONVEYOR_DATABASE_URL")) {
        env.insert(
            "CONVEYOR_DATABASE_URL".to_owned(),
            "sqlite::memory:".to_owned(),
        );
    }
    config_in(argv, &env)
}

/// The configuration `argv` and exactly `env` give.
fn config_in(argv: &[&str], env: &HashMap<String, String>) -> Result<WorkerConfig, String> {
    args(argv)
        .config_from(&|name| env.get(name).cloned())
        .map_err(|e| e.to_string())
}

fn parse_error(argv: &[&str]) -> String {
    let mut full = vec!["conveyor", "worker"];
    full.extend_from_slice(argv);
    Cli::try_parse_from(full)
        .expect_err("the flags are refused")
        .to_string()
}

#[test]
fn the_service_and_mode_are_named_with_what_to_set() {
    assert_eq!(
        config(&[], &[]).unwrap_err(),
        "no service given: set CONVEYOR_SERVICE (or --service) to order, fulfillment or warehouse"
    );
    assert_eq!(
        config(&["--service", "billing"], &[]).unwrap_err(),
        "unknown service \"billing\": set CONVEYOR_SERVICE (or --service) to order, fulfillment or warehouse"
    );
    assert_eq!(
        config(&["--service", "order", "--mode", "both"], &[]).unwrap_err(),
        "unknown worker mode \"both\": set CONVEYOR_WORKER_MODE (or --mode) to cron, event or all"
    );
    let c = config(&["--service", "order", "--mode", "event"], &[]).unwrap();
    assert_eq!((c.service, c.mode), (Service::Order, Mode::Event));
    let c = config(&["--service", "warehouse"], &[]).unwrap();
    assert_eq!(c.mode, Mode::All);
}

#[test]
fn secrets_come_from_their_variable_or_from_the_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let url = write("database-url", "postgres://worker:pw@db:5432/conveyor\n");
    let app = write("app-api-token", "from-a-file\n");
    let dapr = write("dapr-api-token", "sidecar-token");
    let c = config(
        &["--service", "order"],
        &[
            ("CONVEYOR_DATABASE_URL_FILE", &url),
            ("APP_API_TOKEN_FILE", &app),
            ("DAPR_API_TOKEN_FILE", &dapr),
        ],
    )
    .unwrap();
    assert_eq!(c.database, "postgres://worker:pw@db:5432/conveyor");
    assert_eq!(c.app_api_token.as_deref(), Some("from-a-file"));
    assert_eq!(c.dapr_api_token.as_deref(), Some("sidecar-token"));

    // daprd's own variables keep working, and a flag wins over both forms.
    let c = config(
        &["--service", "order"],
        &[
            ("CONVEYOR_DATABASE_URL", "sqlite::memory:"),
            ("APP_API_TOKEN", "from-daprd"),
            ("DAPR_API_TOKEN", ""),
        ],
    )
    .unwrap();
    assert_eq!(c.database, "sqlite::memory:");
    assert_eq!(c.app_api_token.as_deref(), Some("from-daprd"));
    assert_eq!(c.dapr_api_token, None);
    let c = config(
        &["--service", "order", "--database", "sqlite://x.db"],
        &[("CONVEYOR_DATABASE_URL_FILE", "/nowhere")],
    )
    .unwrap();
    assert_eq!(c.database, "sqlite://x.db");
    let c = config(&["--service", "order"], &[]).unwrap();
    assert_eq!(c.app_api_token, None);
    assert_eq!(c.dapr_api_token, None);
}

#[test]
fn a_secret_given_twice_or_unreadable_is_one_sentence_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "t").unwrap();
    let path = path.display().to_string();
    assert_eq!(
        config(
            &["--service", "order"],
            &[("APP_API_TOKEN", "t"), ("APP_API_TOKEN_FILE", &path)]
        )
        .unwrap_err(),
        "APP_API_TOKEN and APP_API_TOKEN_FILE are both set: set only one of them"
    );
    let missing = dir.path().join("database-url").display().to_string();
    assert_eq!(
        config(
            &["--service", "order"],
            &[("CONVEYOR_DATABASE_URL_FILE", &missing)]
        )
        .unwrap_err(),
        format!(
            "CONVEYOR_DATABASE_URL_FILE names {missing}, which cannot be read (No such file or directory (os error 2)): mount the secret there or correct CONVEYOR_DATABASE_URL_FILE"
        )
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.display().to_string();
    assert_eq!(
        config(&["--service", "order"], &[("DAPR_API_TOKEN_FILE", &empty)]).unwrap_err(),
        format!(
            "DAPR_API_TOKEN_FILE names {empty}, which is empty: put the value in the secret or correct DAPR_API_TOKEN_FILE"
        )
    );
    assert_eq!(
        config(&["--service", "order"], &[("CONVEYOR_DATABASE_URL", "")]).unwrap_err(),
        "the database URL is empty: set CONVEYOR_DATABASE_URL, or CONVEYOR_DATABASE_URL_FILE to a file holding it, to a postgres:// URL"
    );
    assert_eq!(
        config(
            &["--service", "order"],
            &[("CONVEYOR_DATABASE_URL", "mysql://app:hunter2@db/app")]
        )
        .unwrap_err(),
        "the database URL \"mysql://app:***@db/app\" names neither PostgreSQL nor SQLite: set CONVEYOR_DATABASE_URL (or CONVEYOR_DATABASE_URL_FILE, or --database) to a postgres:// URL"
    );
    assert_eq!(
        config_in(&["--service", "order"], &HashMap::new()).unwrap_err(),
        "no database given: set CONVEYOR_DATABASE_URL (or --database), or CONVEYOR_DATABASE_URL_FILE to a file holding it, to a postgres:// URL"
    );
}

#[test]
fn a_bad_number_or_name_says_which_variable_to_set() {
    for (argv, says) in [
        (
            ["--port", "http"],
            "set CONVEYOR_APP_PORT (or --port) to a port number, 0 to 65535",
        ),
        (
            ["--host", "localhost"],
            "set CONVEYOR_APP_HOST (or --host) to an IP address such as 127.0.0.1 or 0.0.0.0",
        ),
        (
            ["--dapr-http-port", "3500x"],
            "set DAPR_HTTP_PORT (or --dapr-http-port) to the sidecar's HTTP port number",
        ),
        (
            ["--publish-attempts", "0"],
            "set CONVEYOR_PUBLISH_ATTEMPTS (or --publish-attempts) to a whole number of at least 1",
        ),
        (
            ["--breaker-failures", "many"],
            "set CONVEYOR_BREAKER_FAILURES (or --breaker-failures) to a whole number of at least 1",
        ),
        (
            ["--breaker-open-secs", "NaN"],
            "set CONVEYOR_BREAKER_OPEN_SECS (or --breaker-open-secs) to a number of seconds, 0 or more",
        ),
        (
            ["--relay-every-ms", "1s"],
            "set CONVEYOR_RELAY_EVERY_MS (or --relay-every-ms) to a whole number of at least 1",
        ),
        (
            ["--shutdown-timeout-secs", "soon"],
            "set CONVEYOR_SHUTDOWN_TIMEOUT_SECS (or --shutdown-timeout-secs) to a whole number of seconds",
        ),
        (
            ["--subscriptions", "both"],
            "set CONVEYOR_SUBSCRIPTIONS (or --subscriptions) to programmatic or declarative",
        ),
        (
            ["--log-format", "yaml"],
            "set CONVEYOR_LOG_FORMAT (or --log-format) to text or json",
        ),
        (
            // daprd's other app protocols (https, grpcs, h2c) are not served.
            ["--app-protocol", "grpcs"],
            "set APP_PROTOCOL (or --app-protocol) to http or grpc",
        ),
        (
            ["--dapr-grpc-port", "50001x"],
            "set DAPR_GRPC_PORT (or --dapr-grpc-port) to the sidecar's gRPC port number",
        ),
        (
            ["--bulk-max-messages", "all"],
            "set CONVEYOR_BULK_MAX_MESSAGES (or --bulk-max-messages) to a number of events, 0 for no bulk delivery",
        ),
    ] {
        let text = parse_error(&argv);
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with(&format!(
                "error: invalid value '{}' for '{}",
                argv[1], argv[0]
            )) && first.ends_with(&format!(": {says}")),
            "{argv:?}: {text}"
        );
    }
    let defaults = args(&["--service", "order"]);
    assert_eq!(defaults.port, 5005);
    assert_eq!(defaults.breaker_open_secs, 60.0);
}

#[test]
fn the_app_protocol_and_bulk_subscribe_are_off_the_http_defaults_only_when_asked() {
    let plain = config(&["--service", "order"], &[]).unwrap();
    assert_eq!(plain.app_protocol, AppProtocol::Http);
    assert_eq!(plain.bulk_subscribe, None);
    assert_eq!(plain.publish_endpoint(), "http://127.0.0.1:3500");
    let grpc = config(
        &[
            "--service",
            "order",
            "--app-protocol",
            "grpc",
            "--dapr-grpc-port",
            "50002",
            "--bulk-max-messages",
            "50",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(grpc.app_protocol, AppProtocol::Grpc);
    assert_eq!(grpc.publish_endpoint(), "grpc://127.0.0.1:50002");
    assert_eq!(
        grpc.bulk_subscribe,
        Some(BulkSubscribe {
            max_messages: 50,
            max_await_ms: 1000,
        })
    );
}
