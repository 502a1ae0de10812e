//! The operator commands of the `conveyor` binary acting on Redis directly (`--redis`), with no
//! emulator running: publish writes the CloudEvent to the topic's stream, `dlq list` / `show`
//! read the function's dead-letter stream, `dlq redrive` moves entries to that function's inbox.

use std::process::{Command, Output};

use conveyor_runtime::CloudEvent;
use serde_json::Value as Json;

use crate::redis_common::{TestRedis, redis_url};

const FUNCTION: &str = "order-payment-confirmed";

fn conveyor(redis: &TestRedis, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(args)
        .args(["--redis", &redis_url(), "--redis-prefix", &redis.prefix])
        .env_remove("CONVEYOR_API")
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Json {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn publish_writes_a_cloudevent_to_the_topic_stream_without_a_running_emulator() {
    let redis = TestRedis::new().await;
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/samples/payment.confirmed.json"
    );
    let answer = json_of(&conveyor(
        &redis,
        &["publish", "payment.confirmed", "--data-file", sample],
    ));
    assert_eq!(answer["topic"], "payment.confirmed");
    let subscribers = answer["subscribers"].as_array().unwrap();
    assert!(subscribers.contains(&Json::from(FUNCTION)), "{answer}");

    let written = redis.entries("payment.confirmed").await;
    assert_eq!(written.len(), 1);
    let data = &written[0].1.iter().find(|(k, _)| k == "data").unwrap().1;
    let event = CloudEvent::decode(data.as_bytes()).unwrap();
    assert_eq!(Json::from(event.id.as_str()), answer["id"]);
    let sent: Json = serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
    let carried: Json = serde_json::from_str(event.data.as_ref().unwrap().get()).unwrap();
    assert_eq!(carried, sent);
}

#[tokio::test]
async fn dead_letters_are_listed_shown_and_redriven_to_their_function_directly() {
    let redis = TestRedis::new().await;
    for id in ["e-1", "e-2"] {
        redis
            .dead_letter(
                FUNCTION,
                id,
                "payload does not decode: order_id is not a string",
            )
            .await;
    }

    let shown = json_of(&conveyor(&redis, &["dlq", "show", FUNCTION]));
    let letters = shown.as_array().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(letters.iter().all(|l| {
        l["error"]
            .as_str()
            .unwrap()
            .contains("order_id is not a string")
    }));
    let list = conveyor(&redis, &["dlq", "list", FUNCTION]);
    assert!(list.status.success());
    let printed = String::from_utf8_lossy(&list.stdout);
    for letter in letters {
        assert!(
            printed.contains(letter["id"].as_str().unwrap()),
            "{printed}"
        );
    }
    let first = letters.iter().find(|l| l["event_id"] == "e-1").unwrap();

    let one = json_of(&conveyor(
        &redis,
        &[
            "dlq",
            "redrive",
            FUNCTION,
            "--id",
            first["id"].as_str().unwrap(),
        ],
    ));
    assert_eq!(one["redriven"], 1);
    let inbox = redis.entries(&format!("{FUNCTION}.inbox")).await;
    assert_eq!(
        inbox.len(),
        1,
        "only the chosen letter goes to the function's inbox"
    );
    let left = json_of(&conveyor(&redis, &["dlq", "show", FUNCTION]));
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["event_id"], "e-2");

    let rest = json_of(&conveyor(&redis, &["dlq", "redrive", FUNCTION]));
    assert_eq!(rest["redriven"], 1);
    assert_eq!(redis.entries(&format!("{FUNCTION}.inbox")).await.len(), 2);
    assert_eq!(
        redis.entries(&format!("{FUNCTION}.dlq")).await.len(),
        0,
        "redriven letters leave the dead-letter stream"
    );
}

#[test]
fn an_unknown_function_or_an_unreachable_redis_is_a_clear_error() {
    let unknown = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(["dlq", "show", "no-such-function", "--redis", &redis_url()])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no function named no-such-function")
    );

    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args([
            "dlq",
            "list",
            "--redis",
            &format!("redis://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(!down.status.success());
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot reach Redis"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}
