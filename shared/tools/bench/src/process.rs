//! Measurements of whole processes: `conveyor up` started as a child (time until `/healthz`
//! answers, resident memory once idle) and `redis-benchmark`'s XADD rate as the ceiling.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Time to ready and idle memory of one `conveyor up` on a fresh SQLite file.
#[derive(Debug, Clone, Copy)]
pub struct Startup {
    /// Spawn to the first `200` from `/healthz`, ms.
    pub ready_ms: f64,
    /// Resident set size one second after ready, MB.
    pub idle_rss_mb: f64,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Resident set size of process `pid` (a number, or `self`), MB; Linux only.
pub(crate) fn rss_mb(pid: impl std::fmt::Display) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Spawns this binary's `up` (all catalog functions, embedded broker) and measures it.
///
/// # Errors
/// When it cannot be spawned or does not get ready within 10 s.
pub fn startup() -> Result<Startup, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port()?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["up", "--http", &format!("127.0.0.1:{port}"), "--database"])
        .arg(format!(
            "sqlite://{}",
            dir.path().join("startup.db").display()
        ))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut ready = None;
    while started.elapsed() < Duration::from_secs(10) {
        if ureq::get(&url).call().is_ok_and(|r| r.status() == 200) {
            ready = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let result = match ready {
        Some(ready) => {
            std::thread::sleep(Duration::from_secs(1));
            let rss = rss_mb(child.id()).unwrap_or(0.0);
            Ok(Startup {
                ready_ms: ready.as_secs_f64() * 1000.0,
                idle_rss_mb: rss,
            })
        }
        None => Err("conveyor up did not answer /healthz within 10 s".to_owned()),
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `redis-benchmark` pipelined XADD requests per second against `host:port`, on a key of its
/// own that is deleted afterwards; `None` when redis-benchmark is not installed.
#[must_use]
pub fn redis_xadd_ceiling(host: &str, port: u16) -> Option<f64> {
    let key = format!("conveyor-bench-ceiling-{}", uuid::Uuid::new_v4().simple());
    let output = Command::new("redis-benchmark")
        .args([
            "-h",
            host,
            "-p",
            &port.to_string(),
            "-n",
            "200000",
            "-P",
            "64",
            "-q",
            "XADD",
            &key,
            "MAXLEN",
            "~",
            "100000",
            "*",
            "data",
            "x",
        ])
        .output()
        .ok()?;
    let _ = Command::new("redis-cli")
        .args(["-h", host, "-p", &port.to_string(), "DEL", &key])
        .output();
    let text = String::from_utf8_lossy(&output.stdout);
    // "XADD ...: 612345.69 requests per second, p50=..." (redis-benchmark 7 prints this per line,
    // after carriage-return progress updates).
    let line = text
        .rsplit('\r')
        .next()?
        .lines()
        .find(|l| l.contains("requests per second"))?;
    line.split(':')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
