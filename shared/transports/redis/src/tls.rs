//! TLS for Redis (`rediss://`): the trust and the client identity every Redis connection of the
//! process uses, read once at start from PEM files.
//!
//! Two kinds of connection share them: the redis crate's (publishing, dead letters, the tick
//! lock, the operator commands), given the PEM the way the crate takes it
//! (`Client::build_with_tls` with `TlsCertificates`), and the read loop's own socket
//! ([`super::reader`]), given a rustls configuration built here once. Both trust the same roots
//! (the CA file when one is given, and then only it; else the webpki roots compiled into the
//! binary, so no CA files are needed at run time) and present the same client certificate.
//!
//! `rediss://...#insecure`, the redis crate's switch that skips verification, is refused: a
//! server with a private CA is reached by giving that CA.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

use ::redis::{ClientTlsConfig, ConnectionAddr, IntoConnectionInfo, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Where the PEM files are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA (or bundle) that signed the server's certificate, trusted instead of the public
    /// roots.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (chain) to present, for servers that require one.
    pub client_cert: Option<PathBuf>,
    /// Its private key.
    pub client_key: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether no file is given (public roots, no client certificate).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ca_cert.is_none() && self.client_cert.is_none() && self.client_key.is_none()
    }
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the {what} {path}: {source}")]
    Read {
        /// Which file (e.g. "Redis CA certificate").
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM of the expected kind.
    #[error("the {what} {path} holds no {expected} in PEM form{detail}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// The parser's reason, when it gave one.
        detail: String,
    },
    /// Only one of the client certificate and key was given.
    #[error(
        "a Redis client certificate needs its key: give both --redis-client-cert and --redis-client-key (CONVEYOR_REDIS_CLIENT_CERT, CONVEYOR_REDIS_CLIENT_KEY) or neither"
    )]
    HalfIdentity,
    /// The client certificate and key do not belong together or are not usable.
    #[error("the Redis client certificate and key are not usable together: {0}")]
    Identity(String),
    /// TLS files given for a server reached without TLS.
    #[error(
        "the Redis TLS options (--redis-ca-cert, --redis-client-cert, --redis-client-key) need a rediss:// URL, and {server} is not one"
    )]
    NotTls {
        /// The server, without credentials.
        server: String,
    },
    /// `#insecure` asks for no verification.
    #[error(
        "{server}#insecure (no certificate verification) is not supported: give the CA that signed the server's certificate with --redis-ca-cert (CONVEYOR_REDIS_CA_CERT)"
    )]
    Insecure {
        /// The server, without credentials.
        server: String,
    },
    /// The URL does not parse.
    #[error("invalid Redis URL: {0}")]
    Url(String),
}

/// The TLS side of every Redis connection of the process: the public roots by default, or what
/// [`RedisTls::load`] read. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct RedisTls {
    custom: Option<Arc<Custom>>,
}

struct Custom {
    files: TlsFiles,
    certificates: TlsCertificates,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Paths only: never the certificates' or the key's contents.
        match &self.custom {
            Some(custom) => f.debug_tuple("RedisTls").field(&custom.files).finish(),
            None => f.write_str("RedisTls(public roots)"),
        }
    }
}

impl PartialEq for RedisTls {
    fn eq(&self, other: &Self) -> bool {
        self.custom.as_ref().map(|c| &c.files) == other.custom.as_ref().map(|c| &c.files)
    }
}

impl Eq for RedisTls {}

impl RedisTls {
    /// Reads and checks `files` (nothing to read: the defaults).
    ///
    /// # Errors
    /// [`TlsError`] naming the file or option at fault.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        if files.is_empty() {
            return Ok(Self::default());
        }
        let root_cert = files
            .ca_cert
            .as_deref()
            .map(|path| read("Redis CA certificate", path))
            .transpose()?;
        let client_tls = match (&files.client_cert, &files.client_key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read("Redis client certificate", cert)?,
                client_key: read("Redis client key", key)?,
            }),
            (None, None) => None,
            _ => return Err(TlsError::HalfIdentity),
        };
        let roots = match (&files.ca_cert, &root_cert) {
            (Some(path), Some(pem)) => trusted(path, pem)?,
            _ => public_roots(),
        };
        let identity = match (&files.client_cert, &files.client_key, &client_tls) {
            (Some(cert), Some(key), Some(pems)) => Some(identity(cert, key, pems)?),
            _ => None,
        };
        let config =
            client_config(roots, identity).map_err(|e| TlsError::Identity(e.to_string()))?;
        Ok(Self {
            custom: Some(Arc::new(Custom {
                files: files.clone(),
                certificates: TlsCertificates {
                    client_tls,
                    root_cert,
                },
                config: Arc::new(config),
            })),
        })
    }

    /// Whether files were given (a private CA or a client certificate).
    #[must_use]
    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }

    /// Checks that `url` can be used with these settings: TLS files only with `rediss://`, and
    /// never `#insecure`.
    ///
    /// # Errors
    /// [`TlsError::NotTls`], [`TlsError::Insecure`] or [`TlsError::Url`].
    pub fn check(&self, url: &str) -> Result<(), TlsError> {
        let info = url
            .into_connection_info()
            .map_err(|e| TlsError::Url(e.to_string()))?;
        match info.addr() {
            ConnectionAddr::TcpTls { insecure: true, .. } => Err(TlsError::Insecure {
                server: server(url),
            }),
            ConnectionAddr::TcpTls { .. } => Ok(()),
            _ if self.is_custom() => Err(TlsError::NotTls {
                server: server(url),
            }),
            _ => Ok(()),
        }
    }

    /// A redis crate client for `url` with this trust and identity.
    ///
    /// # Errors
    /// What [`RedisTls::check`] refuses, or the URL does not parse.
    pub fn client(&self, url: &str) -> Result<::redis::Client, TlsError> {
        self.check(url)?;
        install_provider();
        // `check` let TLS files through with rediss:// URLs only.
        let client = match &self.custom {
            Some(custom) => ::redis::Client::build_with_tls(url, custom.certificates.clone()),
            None => ::redis::Client::open(url),
        };
        client.map_err(|e| TlsError::Url(e.to_string()))
    }

    /// The rustls configuration of the read loop's sockets, built once per process.
    #[must_use]
    pub fn config(&self) -> Arc<ClientConfig> {
        match &self.custom {
            Some(custom) => Arc::clone(&custom.config),
            None => default_config(),
        }
    }
}

/// `url`'s scheme, host and port (or socket path), without user or password: how errors name
/// the server.
#[must_use]
pub fn server(url: &str) -> String {
    match url.into_connection_info() {
        Ok(info) => match info.addr() {
            ConnectionAddr::Tcp(host, port) => format!("redis://{host}:{port}"),
            ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{host}:{port}"),
            ConnectionAddr::Unix(path) => format!("unix://{}", path.display()),
            other => other.to_string(),
        },
        Err(_) => "the Redis server (its URL does not parse)".to_owned(),
    }
}

/// A connection failure to `server` as one sentence, with what to change when the cause is
/// recognisable (the server's certificate, a client certificate it requires, TLS it expects).
#[must_use]
pub fn explain(server: &str, failure: &str) -> String {
    let tls = server.starts_with("rediss:");
    let hint = if failure.contains("invalid peer certificate") {
        if failure.contains("NotValidForName") {
            " (the server's certificate does not name this host)"
        } else {
            " (the server's certificate is not signed by a CA this process trusts: give that CA with --redis-ca-cert)"
        }
    } else if failure.contains("CertificateRequired") || failure.contains("HandshakeFailure") {
        " (the server requires a client certificate: give --redis-client-cert and --redis-client-key)"
    } else if !tls
        && ["reset", "closed", "broken pipe", "eof", "end of file"]
            .iter()
            .any(|w| failure.to_ascii_lowercase().contains(w))
    {
        " (the server hung up: if it expects TLS, use a rediss:// URL)"
    } else {
        ""
    };
    format!("cannot use Redis at {server}: {failure}{hint}")
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The certificates of the CA file, as the only trusted roots.
fn trusted(path: &Path, pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let bad = |detail: String| TlsError::Pem {
        what: "Redis CA certificate",
        path: path.to_owned(),
        expected: "certificate",
        detail,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| bad(format!(": {e}")))?;
        roots.add(cert).map_err(|e| bad(format!(": {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad(String::new()));
    }
    Ok(roots)
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn identity(cert: &Path, key: &Path, pems: &ClientTlsConfig) -> Result<Identity, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&pems.client_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: "Redis client certificate",
            path: cert.to_owned(),
            expected: "certificate",
            detail: format!(": {e}"),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            what: "Redis client certificate",
            path: cert.to_owned(),
            expected: "certificate",
            detail: String::new(),
        });
    }
    // The parser's error names no key material, only what it did not find.
    let key_der = PrivateKeyDer::from_pem_slice(&pems.client_key).map_err(|e| TlsError::Pem {
        what: "Redis client key",
        path: key.to_owned(),
        expected: "private key",
        detail: format!(": {e}"),
    })?;
    Ok((chain, key_der))
}

fn public_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn client_config(
    roots: RootCertStore,
    identity: Option<Identity>,
) -> Result<ClientConfig, rustls::Error> {
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots);
    match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The public roots, no client certificate: made on the first `rediss://` connection without
/// TLS files, then shared.
fn default_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        Arc::new(client_config(public_roots(), None).unwrap_or_else(|e| {
            unreachable!("aws-lc-rs supports the default protocol versions: {e}")
        }))
    }))
}

/// The redis crate builds its rustls configuration with the process's default crypto provider;
/// with more than one provider compiled into rustls there is none until one is installed.
fn install_provider() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Another thread may install one first; either is aws-lc-rs or the caller's choice.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_server_without_credentials() {
        assert_eq!(
            server("rediss://user:s3cret@cache.example:6380/2"),
            "rediss://cache.example:6380"
        );
        assert_eq!(
            server("redis://:s3cret@127.0.0.1"),
            "redis://127.0.0.1:6379"
        );
        assert!(!server("redis://:s3cret@[bad").contains("s3cret"));
    }

    #[test]
    fn tls_files_need_rediss_and_insecure_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&ca, cert.pem()).unwrap();
        let tls = RedisTls::load(&TlsFiles {
            ca_cert: Some(ca),
            ..TlsFiles::default()
        })
        .unwrap();
        assert!(tls.check("rediss://127.0.0.1:6380").is_ok());
        let plain = tls.check("redis://:pw@127.0.0.1:6379").unwrap_err();
        assert!(matches!(plain, TlsError::NotTls { .. }), "{plain}");
        assert!(!plain.to_string().contains("pw@"), "{plain}");
        let insecure = RedisTls::default()
            .check("rediss://:pw@127.0.0.1:6380/#insecure")
            .unwrap_err();
        assert!(matches!(insecure, TlsError::Insecure { .. }), "{insecure}");
        assert!(RedisTls::default().check("redis://127.0.0.1").is_ok());
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let error = RedisTls::load(&TlsFiles {
            ca_cert: Some(junk.clone()),
            ..TlsFiles::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("junk.pem"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = RedisTls::load(&TlsFiles {
            ca_cert: Some(missing),
            ..TlsFiles::default()
        })
        .unwrap_err();
        assert!(matches!(error, TlsError::Read { .. }), "{error}");
        let half = RedisTls::load(&TlsFiles {
            client_cert: Some(junk),
            ..TlsFiles::default()
        })
        .unwrap_err();
        assert!(matches!(half, TlsError::HalfIdentity), "{half}");
    }

    #[test]
    fn explains_what_to_change() {
        let unknown = explain("rediss://h:1", "invalid peer certificate: UnknownIssuer");
        assert!(unknown.contains("--redis-ca-cert"), "{unknown}");
        let plain = explain("redis://h:1", "Connection reset by peer (os error 104)");
        assert!(plain.contains("rediss://"), "{plain}");
        assert!(explain("rediss://h:1", "timed out").ends_with("timed out"));
    }
}
