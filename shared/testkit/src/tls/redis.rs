//! A `redis-server` of the test's own that speaks TLS only, on a free loopback port, with the
//! certificates of a [`TestPki`]: the server certificate for `localhost` / `127.0.0.1`, the
//! test CA to check client certificates against, client certificates required or not, and
//! optionally a password. Nothing is persisted; the server is killed when the value is dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::TestPki;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `redis-server` could not be run, or no port was free.
    #[error("cannot start redis-server (is it installed and on PATH?): {0}")]
    Spawn(#[from] std::io::Error),
    /// It exited, or did not answer a TLS `PING` in time.
    #[error("redis-server with TLS on port {port} did not answer: {reason}")]
    NotReady {
        /// Its TLS port.
        port: u16,
        /// The last thing that went wrong.
        reason: String,
    },
}

/// A TLS-only `redis-server`; killed when dropped.
#[derive(Debug)]
pub struct TlsRedis {
    child: Child,
    port: u16,
    password: Option<String>,
}

impl TlsRedis {
    /// Starts `redis-server --port 0 --tls-port <free port>` with `pki`'s certificates; with
    /// `require_client_cert`, clients must present a certificate signed by the test CA. Returns
    /// once the server answers a `PING` over TLS.
    ///
    /// # Errors
    /// [`ServerError`] when it cannot be started or does not answer within 10 s.
    pub fn start(pki: &TestPki, require_client_cert: bool) -> Result<Self, ServerError> {
        Self::launch(pki, require_client_cert, None)
    }

    /// As [`TlsRedis::start`], with `requirepass <password>`.
    ///
    /// # Errors
    /// As [`TlsRedis::start`].
    pub fn with_password(
        pki: &TestPki,
        require_client_cert: bool,
        password: &str,
    ) -> Result<Self, ServerError> {
        Self::launch(pki, require_client_cert, Some(password))
    }

    fn launch(
        pki: &TestPki,
        require_client_cert: bool,
        password: Option<&str>,
    ) -> Result<Self, ServerError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(&pki.server_cert)
            .arg("--tls-key-file")
            .arg(&pki.server_key)
            .arg("--tls-ca-cert-file")
            .arg(&pki.ca_cert)
            .args([
                "--tls-auth-clients",
                if require_client_cert { "yes" } else { "no" },
            ]);
        if let Some(dir) = pki.ca_cert.parent() {
            command.arg("--dir").arg(dir);
        }
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = Self {
            child,
            port,
            password: password.map(str::to_owned),
        };
        server.wait_ready(pki)?;
        Ok(server)
    }

    /// `rediss://127.0.0.1:<port>`, with `:<password>@` when the server has one.
    #[must_use]
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("rediss://:{password}@127.0.0.1:{}", self.port),
            None => format!("rediss://127.0.0.1:{}", self.port),
        }
    }

    /// Its TLS port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    fn wait_ready(&mut self, pki: &TestPki) -> Result<(), ServerError> {
        let not_ready = |reason: String| ServerError::NotReady {
            port: self.port,
            reason,
        };
        let config = Arc::new(client_config(pki).map_err(not_ready)?);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(not_ready(format!("it exited with {status}")));
            }
            let reason = match ping(self.port, &config) {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            };
            if Instant::now() > deadline {
                return Err(not_ready(reason));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Trusts the test CA and presents the test client certificate (accepted whether the server
/// requires one or not).
fn client_config(pki: &TestPki) -> Result<ClientConfig, String> {
    let read = |path: &std::path::Path| std::fs::read(path).map_err(|e| e.to_string());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&read(&pki.ca_cert)?) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let chain = CertificateDer::pem_slice_iter(&read(&pki.client_cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(&read(&pki.client_key)?).map_err(|e| e.to_string())?;
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())
}

/// One `PING` over TLS: a `+PONG`, or `-NOAUTH` from a server with a password, means it serves.
fn ping(port: u16, config: &Arc<ClientConfig>) -> Result<(), String> {
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let session = ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let socket = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut stream = StreamOwned::new(session, socket);
    stream
        .write_all(b"PING\r\n")
        .and_then(|()| stream.flush())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if line.starts_with("+PONG") || line.starts_with("-NOAUTH") {
        Ok(())
    } else {
        Err(format!("it answered {line:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_tls_only_with_the_test_certificates_and_stops_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        let server = TlsRedis::with_password(&pki, true, "s3cret").unwrap();
        let port = server.port();
        assert_eq!(server.url(), format!("rediss://:s3cret@127.0.0.1:{port}"));
        let config = Arc::new(client_config(&pki).unwrap());
        assert_eq!(ping(port, &config), Ok(()));
        drop(server);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server is gone"
        );
    }
}
