//! The release Lambda binaries: their sizes, and each one's cold start up to its first poll of
//! the Runtime API (`GET /2018-06-01/runtime/invocation/next`). Each binary is spawned against a
//! loopback stand-in of the Runtime API that records that request and never answers it, then
//! stopped. The cold start covers what a real one does before that poll: reading the
//! configuration, opening the database and running the migrations (on a fresh SQLite file here),
//! building the EventBridge client.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The request a Lambda runtime makes when it is ready for its first event.
const NEXT_INVOCATION: &str = "GET /2018-06-01/runtime/invocation/next ";

/// Longest a binary may take to poll.
const POLL_LIMIT: Duration = Duration::from_secs(10);

/// One function's release binary.
#[derive(Debug, Clone)]
pub struct LambdaBinary {
    /// The function (and binary) name.
    pub name: &'static str,
    /// Its memory setting, passed as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The binaries of every catalog function found under `dir`: `<dir>/<name>/bootstrap` (what
/// `cargo lambda build --release` writes under `target/lambda`) or `<dir>/<name>` (what
/// `cargo build --release` writes under `target/release`).
#[must_use]
pub fn locate(dir: &Path) -> Vec<LambdaBinary> {
    conveyor_catalog::specs()
        .into_iter()
        .filter_map(|spec| {
            let path = [dir.join(spec.name).join("bootstrap"), dir.join(spec.name)]
                .into_iter()
                .find(|p| p.is_file())?;
            let bytes = std::fs::metadata(&path).ok()?.len();
            Some(LambdaBinary {
                name: spec.name,
                memory_mb: spec.memory_mb,
                path,
                bytes,
            })
        })
        .collect()
}

/// Kills the child when dropped, so a failed measurement leaves no process behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `binary` with a fresh SQLite database and measures the time until it asks the
/// Runtime API for its first event, in ms.
///
/// # Errors
/// When it cannot be spawned, exits first, or does not poll within 10 s.
pub fn first_poll(binary: &LambdaBinary) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let api = listener.local_addr().map_err(|e| e.to_string())?;
    let (polled, arrival) = mpsc::channel();
    // Accepts until the poll arrives; the connection is kept open (unanswered) until then.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok()
                && line.starts_with(NEXT_INVOCATION)
            {
                let _ = polled.send(Instant::now());
                return;
            }
        }
    });
    let database = format!("sqlite://{}", dir.path().join("lambda.db").display());
    let started = Instant::now();
    let child = Command::new(&binary.path)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", binary.name)
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            binary.memory_mb.to_string(),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("DATABASE_URL", database)
        .env("CONVEYOR_EVENT_BUS", "conveyor-bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        // Never called before the first event; a loopback address all the same.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.path.display()))?;
    let mut running = Running(child);
    let deadline = started + POLL_LIMIT;
    loop {
        match arrival.recv_timeout(Duration::from_millis(5)) {
            Ok(at) => return Ok(at.duration_since(started).as_secs_f64() * 1000.0),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(format!("{}: the Runtime API stand-in stopped", binary.name));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            let mut stderr = String::new();
            if let Some(mut err) = running.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
            }
            return Err(format!(
                "{} exited ({status}) before polling: {}",
                binary.name,
                stderr.trim()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not poll the Runtime API within {} s",
                binary.name,
                POLL_LIMIT.as_secs()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_layouts_and_ignores_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("order-payment-confirmed")).unwrap();
        std::fs::write(
            dir.path().join("order-payment-confirmed").join("bootstrap"),
            b"12345",
        )
        .unwrap();
        std::fs::write(dir.path().join("order-payment-failed"), b"123").unwrap();
        std::fs::write(dir.path().join("not-a-function"), b"1").unwrap();
        let found = locate(dir.path());
        let names: Vec<(&str, u64)> = found.iter().map(|b| (b.name, b.bytes)).collect();
        assert_eq!(
            names,
            [("order-payment-confirmed", 5), ("order-payment-failed", 3)]
        );
    }

    #[test]
    fn a_binary_that_exits_is_reported_with_its_output() {
        let binary = LambdaBinary {
            name: "false",
            memory_mb: 128,
            path: PathBuf::from("/bin/sh"),
            bytes: 0,
        };
        // `sh` with no script and stdin closed exits at once, without polling.
        let err = first_poll(&binary).unwrap_err();
        assert!(err.contains("exited"), "{err}");
    }
}
