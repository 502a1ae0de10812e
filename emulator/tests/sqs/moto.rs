//! A moto server of this test's own: started from the project's `.venv` (or `MOTO_SERVER`) on a
//! free loopback port, stopped when dropped. Without moto the test fails and says how to
//! install it.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conveyor_runtime::lambda::config::AwsSettings;

/// A running `moto_server`.
pub(crate) struct Moto {
    child: Child,
    url: String,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    // The workspace's `.venv`, found from whichever crate includes this file.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join(".venv/bin/moto_server"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| manifest.join("../.venv/bin/moto_server"))
}

impl Moto {
    /// Starts moto and waits until it answers.
    pub(crate) fn start() -> Self {
        let bin = binary();
        assert!(
            bin.is_file(),
            "moto_server not found at {}: the SQS tests need it. Run scripts/install-dev-tools.sh \
             (installs moto[server] into .venv), or set MOTO_SERVER to a moto_server binary",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Settings for clients of this server.
    pub(crate) fn aws(&self) -> AwsSettings {
        AwsSettings::local(&self.url)
    }

    /// The endpoint URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Creates the standard queue `name`; its URL.
    #[allow(
        dead_code,
        reason = "this file is also included by tests that create no queue of their own"
    )]
    pub(crate) async fn queue(&self, name: &str) -> String {
        self.aws()
            .sqs_client()
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
