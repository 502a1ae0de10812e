//! What a person sees when `conveyor up` or an operator command is configured wrong: one line
//! naming what is missing or wrong and the option (and variable) that sets it. Each case runs the
//! built binary in a folder of its own, with the variables that would change it removed.

use std::process::{Command, Output};

/// Variables of the user's environment that would change what these cases test.
const CLEARED: [&str; 13] = [
    "CONVEYOR_DATABASE_URL",
    "CONVEYOR_REDIS_URL",
    "CONVEYOR_TRANSPORT",
    "CONVEYOR_FUNCTIONS",
    "CONVEYOR_SERVICE",
    "CONVEYOR_HTTP",
    "CONVEYOR_API",
    "CONVEYOR_API_TOKEN",
    "CONVEYOR_HTTP_ALLOWED_HOSTS",
    "CONVEYOR_HTTP_INSECURE_NO_TOKEN",
    "CONVEYOR_SQS_ENDPOINT",
    "CONVEYOR_QUEUE_PREFIX",
    "CONVEYOR_EVENT_BUS",
];

fn conveyor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_conveyor"));
    command.current_dir(dir.path()).args(args);
    for name in CLEARED {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

/// Runs `args`; asserts it fails with one line on stderr holding every one of `said`.
fn refused(args: &[&str], env: &[(&str, &str)], said: &[&str]) -> String {
    let output = conveyor(args, env);
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert!(!output.status.success(), "{args:?} started: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for part in said {
        assert!(stderr.contains(part), "{args:?}: {part:?} not in {stderr}");
    }
    stderr
}

/// A loopback port nothing listens on: bound, then freed.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const ONE: [&str; 4] = ["up", "--functions", "order-payment-confirmed", "--http"];

#[test]
fn a_bad_selection_of_functions_names_the_option() {
    refused(
        &["up", "--functions", "order-payment-confirmd"],
        &[],
        &[
            "\"order-payment-confirmd\"",
            "--functions",
            "CONVEYOR_FUNCTIONS",
            "conveyor functions",
        ],
    );
    refused(
        &["up", "--service", "shipping"],
        &[],
        &[
            "\"shipping\"",
            "--service",
            "CONVEYOR_SERVICE",
            "order, fulfillment or warehouse",
        ],
    );
    refused(
        &[
            "up",
            "--functions",
            "order-payment-confirmed",
            "--service",
            "warehouse",
        ],
        &[],
        &["select no function"],
    );
}

#[test]
fn a_bad_database_names_it_and_the_option() {
    for url in ["mysql://db/app", "postgres//db/app"] {
        refused(
            &[&ONE[..], &["127.0.0.1:0", "--database", url]].concat(),
            &[],
            &[url, "--database", "CONVEYOR_DATABASE_URL"],
        );
    }
    // A file that cannot be created: the URL, the cause, the option.
    refused(
        &[
            &ONE[..],
            &["127.0.0.1:0", "--database", "sqlite:///proc/no-such/x.db"],
        ]
        .concat(),
        &[],
        &[
            "cannot open the database sqlite:///proc/no-such/x.db",
            "--database",
        ],
    );
}

#[test]
fn an_unreachable_transport_names_it_and_the_option() {
    let port = closed_port();
    let said = refused(
        &[
            &ONE[..],
            &["127.0.0.1:0", "--database", "sqlite://up.db", "--redis"],
            &[format!("redis://:hunter2@127.0.0.1:{port}").as_str()],
        ]
        .concat(),
        &[],
        &[
            &format!("127.0.0.1:{port}"),
            "--redis or CONVEYOR_REDIS_URL",
        ],
    );
    assert!(!said.contains("hunter2"), "{said}");
    refused(
        &["up", "--transport", "redis"],
        &[],
        &["--transport redis", "--redis or CONVEYOR_REDIS_URL"],
    );
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    refused(
        &[
            &ONE[..],
            &[
                "127.0.0.1:0",
                "--database",
                "sqlite://up.db",
                "--transport",
                "sqs",
            ],
            &["--sqs-endpoint", &endpoint],
        ]
        .concat(),
        &[
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        &[&endpoint, "--sqs-endpoint or CONVEYOR_SQS_ENDPOINT"],
    );
}

#[test]
fn a_bad_or_taken_http_address_names_the_option() {
    let output = conveyor(&["up", "--http", "localhost"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--http") && stderr.contains("such as 127.0.0.1:8790"),
        "{stderr}"
    );
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = held.local_addr().unwrap().to_string();
    refused(
        &[
            &ONE[..],
            &[address.as_str(), "--database", "sqlite://up.db"],
        ]
        .concat(),
        &[],
        &[
            &format!("cannot listen on {address}"),
            "--http or CONVEYOR_HTTP",
        ],
    );
    refused(
        &["up", "--http-allowed-host", "http://devbox"],
        &[],
        &["--http-allowed-host \"http://devbox\"", "name:port"],
    );
    refused(
        &["up"],
        &[("CONVEYOR_API_TOKEN", "two words")],
        &["CONVEYOR_API_TOKEN", "printable ASCII"],
    );
}

#[test]
fn an_operator_command_names_the_emulator_it_cannot_reach() {
    let api = format!("http://127.0.0.1:{}", closed_port());
    for args in [
        vec!["dlq", "list", "--api", &api],
        vec!["cron", "run", "warehouse-reservation-expiry", "--api", &api],
    ] {
        refused(
            &args,
            &[],
            &[
                &format!("cannot reach a running `conveyor up` at {api}"),
                "--api or CONVEYOR_API",
            ],
        );
    }
    refused(
        &["dlq", "list"],
        &[("CONVEYOR_API", "127.0.0.1:8790")],
        &[
            "\"127.0.0.1:8790\" is not an http:// URL",
            "--api or CONVEYOR_API",
        ],
    );
    refused(
        &[
            "publish",
            "payment.confirmed",
            "--data-file",
            "no-such.json",
            "--api",
            &api,
        ],
        &[],
        &["cannot read --data-file no-such.json"],
    );
}
