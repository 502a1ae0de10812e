//! Throwaway TLS material for tests: a certificate authority made for one test, a server
//! certificate it signs for `localhost` and `127.0.0.1`, a client certificate, and a second,
//! unrelated authority (the "wrong CA") whose trust must make every connection fail.
//!
//! Everything is written as PEM into a folder the caller owns (usually a `tempfile::TempDir`), so
//! servers started by the test (`postgres`, `redis-server`) and clients read the same files.
//!
//! # Layout
//! - [`TestPki`]: the authorities, certificates and keys
//! - [`postgres`]: a throwaway TLS-only PostgreSQL cluster serving the PKI's server certificate
//! - [`redis`]: a TLS-only `redis-server` on a free loopback port, with the same certificates

pub mod postgres;
pub mod redis;

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// What can go wrong making the material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused the parameters.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The files of one test PKI. Keys are written with mode 0600 (PostgreSQL refuses a key that
/// others can read).
#[derive(Clone)]
pub struct TestPki {
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// The server certificate: `CN=localhost`, SANs `localhost` and `127.0.0.1`.
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
    /// A client certificate (`CN=conveyor-test-client`) signed by the same CA.
    pub client_cert: PathBuf,
    /// The client's private key.
    pub client_key: PathBuf,
    /// A CA that signed nothing here: trusting only it must fail verification.
    pub other_ca_cert: PathBuf,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("ca_cert", &self.ca_cert)
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// Makes a CA, a server and a client certificate and an unrelated CA in `dir`.
    ///
    /// # Errors
    /// [`PkiError`] when generation or writing fails.
    pub fn generate(dir: &Path) -> Result<Self, PkiError> {
        let (ca_params, ca_key) = authority("conveyor test CA")?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let server_key = KeyPair::generate()?;
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client
            .distinguished_name
            .push(DnType::CommonName, "conveyor-test-client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let client_key = KeyPair::generate()?;
        let client_cert = client.signed_by(&client_key, &issuer)?;

        let (other_params, other_key) = authority("an unrelated CA")?;
        let other_cert = other_params.self_signed(&other_key)?;

        let pki = Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            other_ca_cert: dir.join("other-ca.crt"),
        };
        write(&pki.ca_cert, &ca_cert.pem(), false)?;
        write(&pki.server_cert, &server_cert.pem(), false)?;
        write(&pki.server_key, &server_key.serialize_pem(), true)?;
        write(&pki.client_cert, &client_cert.pem(), false)?;
        write(&pki.client_key, &client_key.serialize_pem(), true)?;
        write(&pki.other_ca_cert, &other_cert.pem(), false)?;
        Ok(pki)
    }
}

fn authority(name: &str) -> Result<(CertificateParams, KeyPair), PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok((params, KeyPair::generate()?))
}

fn write(path: &Path, pem: &str, private: bool) -> Result<(), PkiError> {
    let err = |source| PkiError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::write(path, pem).map_err(err)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_and_keeps_keys_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        for path in [
            &pki.ca_cert,
            &pki.server_cert,
            &pki.client_cert,
            &pki.other_ca_cert,
        ] {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{path:?}");
        }
        for key in [&pki.server_key, &pki.client_key] {
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{key:?} is readable by others");
        }
        assert_ne!(
            std::fs::read(&pki.ca_cert).unwrap(),
            std::fs::read(&pki.other_ca_cert).unwrap()
        );
    }
}
