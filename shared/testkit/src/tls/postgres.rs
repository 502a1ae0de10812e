//! A throwaway PostgreSQL cluster that speaks TLS only, for tests of `sslmode` and
//! `sslrootcert` against a server that behaves like RDS with `rds.force_ssl=1`.
//!
//! [`TlsPostgres::start`] runs `initdb` into a temporary folder (binaries from
//! `pg_config --bindir`) and starts `postgres` on a free port of `127.0.0.1` (and of
//! `127.0.0.2`, an address the certificate does not name), with `ssl = on` and the
//! [`TestPki`]'s server certificate, its unix socket in the same folder, and a `pg_hba.conf`
//! that accepts TCP only over TLS:
//!
//! | connection | authentication |
//! |---|---|
//! | unix socket | trust (setup only) |
//! | `hostssl`, user [`CERT_USER`] | `cert`: the PKI's client certificate |
//! | `hostssl`, any other user | `scram-sha-256`: [`USER`] with a random password |
//! | `hostnossl` | `reject` |
//!
//! ```no_run
//! # use conveyor_testkit::tls::{TestPki, postgres::TlsPostgres};
//! let dir = tempfile::tempdir().unwrap();
//! let pki = TestPki::generate(dir.path()).unwrap();
//! let pg = TlsPostgres::start(&pki).unwrap();
//! let url = pg.url("verify-full", Some(&pki.ca_cert)); // give it to Store::connect
//! ```
//!
//! initdb and postgres refuse to run as root: run as root (as CI does), the cluster's files
//! belong to the `postgres` OS user and both programs run as that user; otherwise they run as
//! the current user. Dropping the value shuts the server down (immediate mode) and removes the
//! folder. One start takes about a second, most of it `initdb`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod process;

use self::process::{Owner, as_owner, free_port, io, output, owner, stop, wait_ready};
use super::TestPki;

/// The password-authenticated superuser of every cluster.
pub const USER: &str = "conveyor";
/// The role that logs in with the PKI's client certificate (its common name).
pub const CERT_USER: &str = "conveyor-test-client";
/// The database the URLs name.
pub const DATABASE: &str = "postgres";

/// Why the cluster did not start.
#[derive(Debug, thiserror::Error)]
pub enum TlsPostgresError {
    /// A file or folder operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A program (`pg_config`, `initdb`, `psql`, `id`) failed.
    #[error("{program} failed: {output}")]
    Program {
        /// The program.
        program: String,
        /// Its exit status and output.
        output: String,
    },
    /// The server exited or did not become ready in time.
    #[error("postgres did not start: {log}")]
    NotReady {
        /// The server's log.
        log: String,
    },
}

/// A running TLS-only PostgreSQL cluster; stopped and removed on drop.
#[derive(Debug)]
pub struct TlsPostgres {
    server: Child,
    port: u16,
    password: String,
    dir: tempfile::TempDir,
}

impl TlsPostgres {
    /// Makes and starts a cluster serving `pki`'s server certificate.
    ///
    /// # Errors
    /// [`TlsPostgresError`] when a PostgreSQL program is missing, fails, or the server does not
    /// become ready within 30 s.
    pub fn start(pki: &TestPki) -> Result<Self, TlsPostgresError> {
        let bindir = PathBuf::from(output(
            "pg_config",
            Command::new("pg_config").arg("--bindir"),
        )?);
        let dir = tempfile::tempdir().map_err(io("creating the cluster's folder"))?;
        let owner = owner(dir.path())?;
        let password = uuid::Uuid::new_v4().simple().to_string();
        let files = Files::write(dir.path(), pki, &password, owner)?;

        let mut initdb = Command::new(bindir.join("initdb"));
        initdb
            .arg("--pgdata")
            .arg(&files.data)
            .args([
                "--username",
                USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args([
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", files.password.display()));
        output("initdb", as_owner(&mut initdb, dir.path(), owner))?;
        std::fs::write(files.data.join("pg_hba.conf"), HBA).map_err(io("writing pg_hba.conf"))?;

        let mut last = String::new();
        // A free port can be taken between the probe and postgres's bind: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let mut server = spawn_server(&bindir, &files, dir.path(), port, owner)?;
            match wait_ready(&mut server, &files.data) {
                Ok(()) => {
                    let cluster = Self {
                        server,
                        port,
                        password,
                        dir,
                    };
                    cluster.create_cert_user(&bindir)?;
                    return Ok(cluster);
                }
                Err(()) => {
                    stop(&mut server);
                    last = std::fs::read_to_string(&files.log).unwrap_or_default();
                }
            }
        }
        Err(TlsPostgresError::NotReady { log: last })
    }

    /// A URL for [`USER`] with its password, `sslmode` and, when given, `sslrootcert`; the host
    /// is `localhost`, a name the server certificate carries (`verify-full` checks it).
    #[must_use]
    pub fn url(&self, sslmode: &str, root_cert: Option<&Path>) -> String {
        self.url_for_host("localhost", sslmode, root_cert)
    }

    /// As [`TlsPostgres::url`] with another host name or address (`127.0.0.1` is in the
    /// certificate too; `127.0.0.2` reaches the same server but is not).
    #[must_use]
    pub fn url_for_host(&self, host: &str, sslmode: &str, root_cert: Option<&Path>) -> String {
        let mut url = format!(
            "postgres://{USER}:{}@{host}:{}/{DATABASE}?sslmode={sslmode}",
            self.password, self.port
        );
        if let Some(root) = root_cert {
            url.push_str(&format!("&sslrootcert={}", root.display()));
        }
        url
    }

    /// A `verify-full` URL for [`CERT_USER`], who logs in with `pki`'s client certificate
    /// (`sslcert`, `sslkey`) and no password.
    #[must_use]
    pub fn client_cert_url(&self, pki: &TestPki) -> String {
        format!(
            "postgres://{CERT_USER}@localhost:{}/{DATABASE}?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
            self.port,
            pki.ca_cert.display(),
            pki.client_cert.display(),
            pki.client_key.display()
        )
    }

    /// The password of [`USER`]: tests assert it never shows in errors or logs.
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The TCP port on `127.0.0.1`.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    fn create_cert_user(&self, bindir: &Path) -> Result<(), TlsPostgresError> {
        let mut psql = Command::new(bindir.join("psql"));
        psql.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            USER,
            "-d",
            DATABASE,
        ])
        .arg("-h")
        .arg(self.dir.path())
        .args(["-p", &self.port.to_string()])
        .args([
            "-c",
            &format!("CREATE ROLE \"{CERT_USER}\" LOGIN SUPERUSER"),
        ])
        .current_dir(self.dir.path());
        output("psql", &mut psql).map(drop)
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        stop(&mut self.server);
    }
}

const HBA: &str = "\
local all all trust
hostssl all \"conveyor-test-client\" 127.0.0.0/8 cert
hostssl all all 127.0.0.0/8 scram-sha-256
hostnossl all all all reject
";

/// The cluster's files, all inside its folder and owned by whoever runs the server.
struct Files {
    data: PathBuf,
    password: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    log: PathBuf,
}

impl Files {
    fn write(
        dir: &Path,
        pki: &TestPki,
        password: &str,
        owner: Option<Owner>,
    ) -> Result<Self, TlsPostgresError> {
        use std::os::unix::fs::PermissionsExt;
        let files = Self {
            data: dir.join("data"),
            password: dir.join("password"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
            ca: dir.join("ca.crt"),
            log: dir.join("postgres.log"),
        };
        std::fs::write(&files.password, password).map_err(io("writing the password file"))?;
        for (from, to) in [
            (&pki.server_cert, &files.cert),
            (&pki.server_key, &files.key),
            (&pki.ca_cert, &files.ca),
        ] {
            std::fs::copy(from, to).map_err(io(format!("copying {}", from.display())))?;
        }
        // postgres refuses a key that others can read.
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600))
            .map_err(io("restricting the server key"))?;
        if let Some(owner) = owner {
            for path in [dir, &files.password, &files.cert, &files.key, &files.ca] {
                std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))
                    .map_err(io(format!("handing {} to postgres", path.display())))?;
            }
        }
        Ok(files)
    }
}

fn spawn_server(
    bindir: &Path,
    files: &Files,
    dir: &Path,
    port: u16,
    owner: Option<Owner>,
) -> Result<Child, TlsPostgresError> {
    let log = std::fs::File::create(&files.log).map_err(io("creating the server log"))?;
    let log_err = log.try_clone().map_err(io("opening the server log"))?;
    let mut postgres = Command::new(bindir.join("postgres"));
    postgres.arg("-D").arg(&files.data);
    for setting in [
        // 127.0.0.2 reaches the server under an address its certificate does not carry; a
        // system without it still starts on 127.0.0.1.
        "listen_addresses=127.0.0.1,127.0.0.2".to_owned(),
        format!("port={port}"),
        format!("unix_socket_directories={}", dir.display()),
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", files.cert.display()),
        format!("ssl_key_file={}", files.key.display()),
        format!("ssl_ca_file={}", files.ca.display()),
        // A throwaway cluster: durability buys nothing and costs start and test time.
        "fsync=off".to_owned(),
        "synchronous_commit=off".to_owned(),
        "full_page_writes=off".to_owned(),
    ] {
        postgres.arg("-c").arg(setting);
    }
    postgres.stdin(Stdio::null()).stdout(log).stderr(log_err);
    as_owner(&mut postgres, dir, owner)
        .spawn()
        .map_err(io("starting postgres"))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn starts_tls_only_and_cleans_up_on_drop() {
        let pki_dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(pki_dir.path()).unwrap();
        let started = Instant::now();
        let pg = TlsPostgres::start(&pki).unwrap();
        eprintln!("TlsPostgres::start took {:?}", started.elapsed());
        let port = pg.port();
        let folder = pg.dir.path().to_owned();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        let hba = std::fs::read_to_string(folder.join("data/pg_hba.conf")).unwrap();
        assert!(hba.contains("hostnossl all all all reject"));
        assert_eq!(pg.password().len(), 32);
        assert!(pg.url("verify-full", Some(&pki.ca_cert)).contains(&format!(
            "@localhost:{port}/postgres?sslmode=verify-full&sslrootcert="
        )));

        drop(pg);
        assert!(!folder.exists(), "the cluster's folder is removed");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
