//! The Redis transport over TLS, against `redis-server`s the tests start with a CA of their
//! own: a function consumes an event through the read loop's TLS socket, the operator commands
//! work on `rediss://`, a client certificate the server requires is presented when given and
//! missed clearly when not, and a wrong CA or a plain connection to the TLS port is refused
//! with an error that names the server and never its password.

use crate::redis_common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_emulator::up;
use conveyor_redis::RedisSettings;
use conveyor_redis::dlq::LetterFields;
use conveyor_redis::reader::{ReadError, StreamReader};
use conveyor_redis::tls::{RedisTls, TlsFiles};
use conveyor_runtime::Function;
use conveyor_testkit::tls::TestPki;
use conveyor_testkit::tls::redis::TlsRedis;
use redis::Value;
use redis_common::{Recorder, config, eventually, ping};

const PASSWORD: &str = "hunter2-do-not-print";

fn pki() -> (tempfile::TempDir, TestPki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    (dir, pki)
}

fn trust(ca: &Path, client: Option<&TestPki>) -> RedisTls {
    RedisTls::load(&TlsFiles {
        ca_cert: Some(ca.to_owned()),
        client_cert: client.map(|p| p.client_cert.clone()),
        client_key: client.map(|p| p.client_key.clone()),
    })
    .unwrap()
}

/// Quick settings on `url` with `tls` and a prefix of the test's own.
fn settings(url: &str, tls: RedisTls) -> RedisSettings {
    RedisSettings {
        tls,
        prefix: format!("tls-{:08x}:", rand::random::<u32>()),
        block: Duration::from_millis(100),
        reclaim_every: Duration::from_millis(100),
        ..RedisSettings::new(url)
    }
}

#[tokio::test]
async fn a_function_consumes_an_event_through_the_read_loop_over_tls_with_a_client_certificate() {
    let (_dir, pki) = pki();
    let server = TlsRedis::start(&pki, true).unwrap();
    let settings = settings(&server.url(), trust(&pki.ca_cert, Some(&pki)));
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.seen);
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(recorder)];
    let running = up::start(config(&dir, functions, settings.clone()))
        .await
        .unwrap();
    let event = ping(1);
    running
        .broker
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    eventually("the event to be handled", || async {
        seen.lock().unwrap().len() == 1
    })
    .await;
    assert_eq!(seen.lock().unwrap()[0], (event.id.clone(), 1));
    // Acknowledged: nothing pending in the function's group, nothing dead-lettered.
    let mut con = settings.connect_once().await.unwrap();
    let stream = settings.topic_key("test.ping");
    eventually("the entry to be acknowledged", || {
        let (mut con, stream) = (con.clone(), stream.clone());
        async move {
            let summary: Value = redis::cmd("XPENDING")
                .arg(&stream)
                .arg("test-recorder")
                .query_async(&mut con)
                .await
                .unwrap();
            matches!(summary, Value::Array(ref s) if s.first() == Some(&Value::Int(0)))
        }
    })
    .await;
    assert!(
        running
            .broker
            .dead_letters(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Its Pong went out over TLS too.
    let pongs: i64 = redis::cmd("XLEN")
        .arg(settings.topic_key("test.pong"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(pongs, 1);
    running.shutdown().await;
}

#[tokio::test]
async fn a_client_certificate_the_server_requires_is_missed_with_a_clear_error() {
    let (_dir, pki) = pki();
    let server = TlsRedis::start(&pki, true).unwrap();
    let without = settings(&server.url(), trust(&pki.ca_cert, None));
    let error = without.connect(Duration::from_secs(2)).await.unwrap_err();
    let text = error.to_string();
    let host = format!("rediss://127.0.0.1:{}", server.port());
    assert!(text.contains(&host), "{text}");
    assert!(text.contains("--redis-client-cert"), "{text}");

    let with = settings(&server.url(), trust(&pki.ca_cert, Some(&pki)));
    with.connect(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn a_wrong_ca_and_a_plain_connection_are_refused_naming_the_host_never_the_password() {
    let (_dir, pki) = pki();
    let server = TlsRedis::with_password(&pki, false, PASSWORD).unwrap();
    let host = format!("127.0.0.1:{}", server.port());
    assert!(server.url().contains(PASSWORD));

    // The right CA and the password: served.
    let right = settings(&server.url(), trust(&pki.ca_cert, None));
    right.connect_once().await.unwrap();

    // A CA that did not sign the server's certificate, on both kinds of connection.
    let wrong = settings(&server.url(), trust(&pki.other_ca_cert, None));
    let text = wrong.connect_once().await.unwrap_err().to_string();
    assert!(text.contains(&format!("rediss://{host}")), "{text}");
    assert!(text.contains("--redis-ca-cert"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let read = StreamReader::connect(
        &server.url(),
        &wrong.tls,
        &["s".to_owned()],
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(matches!(read, ReadError::Tls(_)), "{read}");
    let text = read.to_string();
    assert!(text.contains(&format!("rediss://{host}")), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    // No TLS at all on the TLS port.
    let plain_url = format!("redis://:{PASSWORD}@{host}");
    let plain = settings(&plain_url, RedisTls::default());
    let text = plain.connect_once().await.unwrap_err().to_string();
    assert!(text.contains(&format!("redis://{host}")), "{text}");
    assert!(text.contains("rediss://"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    // The same through the operator command: one line on stderr, the password nowhere.
    let output = conveyor(&["dlq", "list", "--redis", &plain_url]);
    assert!(!output.status.success());
    let both = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(both.contains(&format!("redis://{host}")), "{both}");
    assert!(!both.contains(PASSWORD), "{both}");
    let output = conveyor(&[
        "dlq",
        "list",
        "--redis",
        &server.url(),
        "--redis-ca-cert",
        path(&pki.other_ca_cert),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--redis-ca-cert"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

fn conveyor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(args)
        .env_remove("CONVEYOR_API")
        .env_remove("CONVEYOR_REDIS_URL")
        .env_remove("CONVEYOR_REDIS_CA_CERT")
        .env_remove("CONVEYOR_REDIS_CLIENT_CERT")
        .env_remove("CONVEYOR_REDIS_CLIENT_KEY")
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn the_operator_commands_publish_and_list_dead_letters_over_tls() {
    let (_dir, pki) = pki();
    let server = TlsRedis::start(&pki, true).unwrap();
    let settings = settings(&server.url(), trust(&pki.ca_cert, Some(&pki)));
    let tls_args = [
        "--redis",
        &server.url(),
        "--redis-prefix",
        &settings.prefix,
        "--redis-ca-cert",
        path(&pki.ca_cert),
        "--redis-client-cert",
        path(&pki.client_cert),
        "--redis-client-key",
        path(&pki.client_key),
    ];
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/samples/payment.confirmed.json"
    );
    let mut args = vec!["publish", "payment.confirmed", "--data-file", sample];
    args.extend(tls_args);
    let published = conveyor(&args);
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let mut con = settings.connect_once().await.unwrap();
    let written: i64 = redis::cmd("XLEN")
        .arg(settings.topic_key("payment.confirmed"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(written, 1);

    // A dead letter written as the consumer writes it, listed through `dlq list`; the CA and
    // client certificate come from the environment this time.
    let function = "order-payment-confirmed";
    let mut xadd = redis::cmd("XADD");
    xadd.arg(settings.dlq_key(function)).arg("*");
    LetterFields {
        data: br#"{"id":"e-1","specversion":"1.0","source":"t","type":"payment.confirmed","data":{}}"#,
        error: "order ord-1 not found",
        function,
        attempts: 3,
        first_delivered_at: Timestamp::from_millis(1_000),
        failed_at: Timestamp::from_millis(2_000),
        topic: "payment.confirmed",
        event_id: "e-1",
        source_id: "1-0",
    }
    .write(&mut xadd);
    let _: String = xadd.query_async(&mut con).await.unwrap();
    let listed = Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(["dlq", "show", function, "--redis", &server.url()])
        .args(["--redis-prefix", &settings.prefix])
        .env_remove("CONVEYOR_API")
        .env("CONVEYOR_REDIS_CA_CERT", &pki.ca_cert)
        .env("CONVEYOR_REDIS_CLIENT_CERT", &pki.client_cert)
        .env("CONVEYOR_REDIS_CLIENT_KEY", &pki.client_key)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let letters: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(letters[0]["error"], "order ord-1 not found", "{letters}");
    assert_eq!(letters[0]["attempts"], 3, "{letters}");
}
