//! One moto server for the whole suite (each test has queues of its own prefix on it), started
//! on first use on a free loopback port. It is found at `MOTO_SERVER`, in the project's `.venv`
//! (`scripts/install-dev-tools.sh` puts it there) or on `PATH`; without it the SQS tests fail
//! and say how to install it. A watchdog shell stops it once the test process is gone.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use conveyor_runtime::lambda::config::AwsSettings;

/// The running server's endpoint.
#[derive(Debug)]
pub(crate) struct Moto {
    url: String,
    /// The watchdog shell (moto's parent); it ends with moto.
    _watchdog: Child,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The suite's moto server, started on first use.
pub(crate) fn moto() -> &'static Moto {
    MOTO.get_or_init(Moto::start)
}

/// `moto_server`: `MOTO_SERVER`, else the workspace's `.venv`, else `PATH`.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = manifest
        .ancestors()
        .map(|dir| dir.join(".venv/bin/moto_server"))
        .find(|path| path.is_file());
    venv.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join("moto_server"))
            .find(|path| path.is_file())
    })
}

impl Moto {
    fn start() -> Self {
        let bin = binary().filter(|b| b.is_file()).unwrap_or_else(|| {
            panic!(
                "moto_server not found (MOTO_SERVER, .venv/bin or PATH): the SQS conformance \
                 tests need it. Run scripts/install-dev-tools.sh (installs moto[server] into \
                 .venv), or set MOTO_SERVER to a moto_server binary"
            )
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // The server outlives no test process: the shell kills it once this process is gone.
        let watchdog = format!(
            "\"$0\" -H 127.0.0.1 -p {port} & server=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done; \
             kill $server 2>/dev/null",
            parent = std::process::id()
        );
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg(&bin)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = shell.try_wait() {
                panic!("{} exited at start: {status}", bin.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} did not listen on port {port} within 30 s",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            url: format!("http://127.0.0.1:{port}"),
            _watchdog: shell,
        }
    }

    /// Settings for clients of this server.
    pub(crate) fn aws(&self) -> AwsSettings {
        AwsSettings::local(&self.url)
    }
}
