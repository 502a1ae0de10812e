//! The Redis no-op drain over TLS beside plain TCP: the bench starts a loopback `redis-server`
//! of its own with a plain and a TLS port (its CA and server certificate made at run time) and
//! drains the same backlog over each in turn, round after round, so both see the same server,
//! machine and moment.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::emulator::Emulator;
use super::plan::{BenchPlan, Scenario};
use super::{Throughput, Transport, Tuning, spread, throughput};
use conveyor_redis::RedisSettings;
use conveyor_redis::tls::{RedisTls, TlsFiles};

/// A `redis-server` with a plain and a TLS port on 127.0.0.1; killed when dropped.
struct BothPorts {
    child: Child,
    plain: String,
    tls: String,
    trust: RedisTls,
    _dir: tempfile::TempDir,
}

impl Drop for BothPorts {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// A CA and a server certificate for `localhost` and `127.0.0.1`, written as PEM into `dir`.
fn certificates(dir: &Path) -> Result<(), String> {
    let made = |e: rcgen::Error| format!("bench certificates: {e}");
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(made)?;
    ca.distinguished_name
        .push(DnType::CommonName, "conveyor bench CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(made)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(made)?;
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(made)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_key = KeyPair::generate().map_err(made)?;
    let server_cert = server.signed_by(&server_key, &issuer).map_err(made)?;
    for (name, pem) in [
        ("ca.crt", ca_cert.pem()),
        ("server.crt", server_cert.pem()),
        ("server.key", server_key.serialize_pem()),
    ] {
        std::fs::write(dir.join(name), pem).map_err(|e| format!("writing {name}: {e}"))?;
    }
    Ok(())
}

impl BothPorts {
    /// Starts the server and waits until both ports answer (at most 10 s).
    async fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        certificates(dir.path())?;
        let (plain, tls) = (free_port()?, free_port()?);
        let child = Command::new("redis-server")
            .args(["--port", &plain.to_string(), "--tls-port", &tls.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(dir.path().join("server.crt"))
            .arg("--tls-key-file")
            .arg(dir.path().join("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(dir.path().join("ca.crt"))
            .args(["--tls-auth-clients", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server (is it installed?): {e}"))?;
        let trust = RedisTls::load(&TlsFiles {
            ca_cert: Some(dir.path().join("ca.crt")),
            ..TlsFiles::default()
        })
        .map_err(|e| e.to_string())?;
        let server = Self {
            child,
            plain: format!("redis://127.0.0.1:{plain}"),
            tls: format!("rediss://127.0.0.1:{tls}"),
            trust,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let tls = RedisSettings {
                tls: server.trust.clone(),
                ..RedisSettings::new(&server.tls)
            };
            let answered = conveyor_redis::connect_plain(&server.plain).await.is_ok()
                && tls.connect_once().await.is_ok();
            if answered {
                return Ok(server);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(
                    "the bench's redis-server with TLS did not answer within 10 s".to_owned(),
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One number of a run.
type Figure = fn(&Throughput) -> f64;

/// Drains `plan.events` no-op events `plan.runs` times over each port in turn and returns a
/// table of medians with the TLS / plain ratio (after the main table, so it starts with a blank
/// line). Without `redis-server` it is skipped with a note, unless asked for by `--only tls`.
///
/// # Errors
/// A failed run, or no `redis-server` when `--only tls` asked for this group.
pub async fn compare(plan: &BenchPlan, emulator: &dyn Emulator) -> Result<Vec<String>, String> {
    let server = match BothPorts::start().await {
        Ok(server) => server,
        Err(why) if !plan.only.contains(&Scenario::Tls) => {
            return Ok(vec![
                String::new(),
                format!("Redis over TLS: skipped, {why}"),
            ]);
        }
        Err(why) => return Err(why),
    };
    let plain = Transport::Redis(server.plain.clone());
    let tls = Transport::RedisTls(server.tls.clone(), server.trust.clone());
    let (mut over_plain, mut over_tls) = (Vec::new(), Vec::new());
    for _ in 0..plan.runs {
        over_plain.push(throughput(emulator, &plain, plan.events, Tuning::default()).await?);
        over_tls.push(throughput(emulator, &tls, plan.events, Tuning::default()).await?);
    }
    let median = |runs: &[Throughput], figure: Figure| {
        let mut values: Vec<f64> = runs.iter().map(figure).collect();
        spread(&mut values).1
    };
    let mut lines = vec![
        String::new(),
        format!(
            "Redis no-op drain of {} events on the bench's own redis-server (loopback), plain TCP and TLS in turn, {} rounds",
            plan.events, plan.runs
        ),
        String::new(),
        "| figure | plain TCP (median) | TLS (median) | TLS / plain |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    let figures: [(&str, &str, Figure); 3] = [
        ("no-op throughput", "events/s", |t| t.events_per_second),
        ("worker CPU per event", "µs", |t| t.cpu_us_per_event),
        ("of which in the kernel", "µs", |t| t.kernel_us_per_event),
    ];
    for (name, unit, figure) in figures {
        let (p, t) = (median(&over_plain, figure), median(&over_tls, figure));
        let ratio = if p > 0.0 { t / p } else { f64::NAN };
        lines.push(format!(
            "| {name} | {p:.1} {unit} | {t:.1} {unit} | {ratio:.2} |"
        ));
    }
    Ok(lines)
}
