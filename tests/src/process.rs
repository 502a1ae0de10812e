//! `conveyor up` as a child process: the built binary, bound to a free port, with its own
//! database and Redis key prefix, talked to over its HTTP API, killed when dropped.
//!
//! The binary is built once per test process with `cargo build -p conveyor-emulator --bin
//! conveyor` into the target folder the tests run from (a no-op when it is fresh), so a clean
//! clone needs nothing but `cargo test`. `CONVEYOR_BIN` names a prebuilt binary instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::process::{Child, Command};

/// How long a child may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `conveyor` binary, built on first use.
///
/// # Panics
/// When it cannot be built.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("CONVEYOR_BIN") {
            return PathBuf::from(path);
        }
        // <target>/<profile>/deps/flows-<hash>
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target folder");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--offline", "--quiet", "-p", "conveyor-emulator"])
            .args(["--bin", "conveyor", "--profile", profile])
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the conveyor binary failed");
        profile_dir.join("conveyor")
    })
}

/// A free TCP port on 127.0.0.1 (free when this returns; bind it soon).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// What a child `conveyor up` runs on.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// `--database`.
    pub database: String,
    /// `--redis` (the embedded broker when `None`).
    pub redis: Option<String>,
    /// `--redis-prefix`.
    pub prefix: String,
    /// `--functions` (all when empty).
    pub functions: Vec<String>,
    /// Further arguments.
    pub extra: Vec<String>,
    /// Further environment variables.
    pub env: Vec<(String, String)>,
}

/// A running `conveyor up` child; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// An HTTP answer: status and JSON (or the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Emulator {
    /// Starts `conveyor up` with `options` on a free port and waits for its API.
    ///
    /// # Panics
    /// When it does not start.
    pub async fn start(options: &UpOptions) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = dir.path().join("up.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(binary());
        command
            .arg("up")
            .args(["--database", &options.database])
            .args(["--http", "127.0.0.1:0"])
            .args(&options.extra)
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .env_remove("CONVEYOR_FUNCTIONS")
            .env_remove("CONVEYOR_SERVICE")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        if let Some(redis) = &options.redis {
            command.args(["--redis", redis, "--redis-prefix", &options.prefix]);
        }
        if !options.functions.is_empty() {
            command.args(["--functions", &options.functions.join(",")]);
        }
        let mut child = command.spawn().expect("conveyor starts");
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let base = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(base) = text.lines().find_map(|l| {
                l.strip_prefix("HTTP API on ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned)
            }) {
                break base;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("conveyor up exited ({status}):\n{text}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "conveyor up did not start:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let emulator = Self {
            child,
            base,
            log,
            _dir: dir,
        };
        assert_eq!(emulator.get("/healthz").await.status, 200);
        emulator
    }

    /// Everything the child printed so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the child still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, then waits for the exit: no shutdown, nothing flushed.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        call("GET", &format!("{}{path}", self.base), Vec::new()).await
    }

    /// `POST path` with a body.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> Answer {
        call("POST", &format!("{}{path}", self.base), body).await
    }

    /// `POST /invoke/<job>`: one tick of a job now; returns the number of items it processed.
    ///
    /// # Panics
    /// When the tick does not succeed.
    pub async fn run_job(&self, job: &str) -> u64 {
        let answer = self.post(&format!("/invoke/{job}"), Vec::new()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body["outcome"], "handled", "{answer:?}");
        answer.body["report"]["processed"].as_u64().unwrap_or(0)
    }

    /// `POST /publish/<topic>` of a payload or CloudEvent.
    ///
    /// # Panics
    /// When the emulator refuses it.
    pub async fn publish(&self, topic: &str, body: &Value) -> String {
        let answer = self
            .post(&format!("/publish/{topic}"), body.to_string().into_bytes())
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["id"].as_str().unwrap_or_default().to_owned()
    }

    /// The function's dead letters (`GET /dlq/<function>`).
    pub async fn dead_letters(&self, function: &str) -> Vec<Value> {
        let answer = self.get(&format!("/dlq/{function}")).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        match answer.body {
            Value::Array(items) => items,
            Value::Object(mut o) => match o.remove("letters") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One HTTP/1.1 request to 127.0.0.1.
///
/// # Panics
/// When the server cannot be reached.
pub async fn call(method: &str, url: &str, body: Vec<u8>) -> Answer {
    try_call(method, url, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One HTTP/1.1 request to 127.0.0.1; `Err` with what went wrong when no answer came (the
/// server is gone, the connection broke, 30 s passed).
///
/// # Errors
/// No complete answer.
pub async fn try_call(method: &str, url: &str, body: Vec<u8>) -> Result<Answer, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("valid request");
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| format!("{method} {url} timed out"))?
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{method} {url}: the body: {e}"))?
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Answer { status, body })
}
