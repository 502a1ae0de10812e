//! The processes of a [`super::TlsPostgres`]: who runs them (the `postgres` OS user when the
//! tests run as root), waiting for the server to be ready, stopping it, and running the
//! PostgreSQL programs.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::TlsPostgresError;

/// Who runs initdb and postgres: the `postgres` OS user when the tests run as root.
#[derive(Debug, Clone, Copy)]
pub(super) struct Owner {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// `None` when not root; the `postgres` user's ids when root.
pub(super) fn owner(dir: &Path) -> Result<Option<Owner>, TlsPostgresError> {
    use std::os::unix::fs::MetadataExt;
    // A folder this process just made belongs to its effective user.
    let me = std::fs::metadata(dir).map_err(io("reading the cluster's folder"))?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let id = |flag| -> Result<u32, TlsPostgresError> {
        let text = output("id", Command::new("id").args([flag, "postgres"]))?;
        text.parse().map_err(|_| TlsPostgresError::Program {
            program: "id".to_owned(),
            output: format!("unexpected output {text:?}"),
        })
    };
    Ok(Some(Owner {
        uid: id("-u")?,
        gid: id("-g")?,
    }))
}

pub(super) fn as_owner<'a>(
    command: &'a mut Command,
    dir: &Path,
    owner: Option<Owner>,
) -> &'a mut Command {
    use std::os::unix::process::CommandExt;
    // The caller's working folder may be closed to the postgres user.
    command.current_dir(dir);
    if let Some(owner) = owner {
        command.uid(owner.uid).gid(owner.gid);
    }
    command
}

/// Waits until postmaster.pid says `ready`; `Err` when the server exits or takes over 30 s.
pub(super) fn wait_ready(server: &mut Child, data: &Path) -> Result<(), ()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if !matches!(server.try_wait(), Ok(None)) {
            return Err(());
        }
        let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        // Line 8 of postmaster.pid is the server's status.
        if pid_file.lines().nth(7).is_some_and(|s| s.trim() == "ready") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(())
}

/// Immediate shutdown (SIGQUIT, what `pg_ctl stop -m immediate` sends), so the server removes
/// its shared memory; SIGKILL if it is still there after five seconds.
pub(super) fn stop(server: &mut Child) {
    if !matches!(server.try_wait(), Ok(None)) {
        return;
    }
    let quit = Command::new("kill")
        .args(["-s", "QUIT", &server.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while quit.as_ref().is_ok_and(|s| s.success()) && Instant::now() < deadline {
        if !matches!(server.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = server.kill();
    let _ = server.wait();
}

pub(super) fn free_port() -> Result<u16, TlsPostgresError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port();
    Ok(port)
}

/// Runs `command`, returning its trimmed standard output.
pub(super) fn output(program: &str, command: &mut Command) -> Result<String, TlsPostgresError> {
    let out = command.output().map_err(|e| TlsPostgresError::Program {
        program: program.to_owned(),
        output: format!("cannot run it: {e} (are the PostgreSQL server binaries installed?)"),
    })?;
    if !out.status.success() {
        return Err(TlsPostgresError::Program {
            program: program.to_owned(),
            output: format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(super) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TlsPostgresError {
    let what = what.into();
    move |source| TlsPostgresError::Io { what, source }
}
