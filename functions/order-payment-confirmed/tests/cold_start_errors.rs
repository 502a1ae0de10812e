//! The real binary started without its configuration: it exits non-zero and its log says in one
//! sentence what is missing and what to set (not a variant name such as `NoPublisher`).

use std::process::Stdio;
use std::time::Duration;

async fn stderr_of(vars: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_order-payment-confirmed"));
    command
        .env_clear()
        // Never reached: configuration is read before the Runtime API is.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "order-payment-confirmed")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the function exits")
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[tokio::test]
async fn without_a_publisher_it_says_which_variable_to_set() {
    let stderr = stderr_of(&[]).await;
    assert_eq!(
        stderr.trim_end(),
        "Error: CONVEYOR_EVENT_BUS is not set: set it to the EventBridge bus name, or set CONVEYOR_PUBLISH=outbox to leave events in the outbox for a relay"
    );
}

#[tokio::test]
async fn without_a_database_it_says_which_variable_to_set() {
    let stderr = stderr_of(&[("CONVEYOR_PUBLISH", "outbox")]).await;
    assert_eq!(
        stderr.trim_end(),
        "Error: CONVEYOR_DATABASE_SECRET_ARN is not set: set it to the ARN of the Secrets Manager secret holding the database URL (or the RDS JSON), or for a local run set DATABASE_URL to a postgres:// or sqlite: URL"
    );
}

#[tokio::test]
async fn with_a_bad_pool_size_it_says_what_is_accepted() {
    let stderr = stderr_of(&[
        ("CONVEYOR_PUBLISH", "outbox"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("CONVEYOR_DB_POOL_SIZE", "lots"),
    ])
    .await;
    assert_eq!(
        stderr.trim_end(),
        "Error: CONVEYOR_DB_POOL_SIZE is \"lots\": set it to a number of connections from 1 to 100, or unset it for the default of 2"
    );
}
