//! `conveyor migrate`: applies the database migrations and exits, for deployments that migrate
//! in a step of their own (a release job, a pipeline stage) and start the functions with
//! `CONVEYOR_MIGRATE=false`. It applies the core set (what Lambdas and the worker use); with
//! `--embedded-broker`, the embedded broker's tables too, for a database a `conveyor up` on that
//! broker will use. See [`conveyor_store::migrate`].

use conveyor_store::migrate::Applied;
use conveyor_store::redact;
use conveyor_store::{PoolOptions, Store, StoreError};

/// Why the migrations could not be applied: each says what to fix, and shows the database URL
/// with its password masked.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The URL names no supported database.
    #[error(
        "--database (CONVEYOR_DATABASE_URL) must be a postgres://... or sqlite:... URL, not {0}"
    )]
    Url(String),
    /// The database could not be reached or refused the login.
    #[error(
        "cannot connect to the database at {url} ({cause}): check --database (CONVEYOR_DATABASE_URL), the server, and the user's password"
    )]
    Connect {
        /// The URL, password masked.
        url: String,
        /// The cause.
        cause: String,
    },
    /// A migration failed; the ones before it stay applied.
    #[error(
        "migration {name} failed on {url} ({cause}): the migrations before it stay applied; fix the cause (often a missing CREATE privilege on the database) and run `conveyor migrate` again"
    )]
    Migration {
        /// The migration.
        name: &'static str,
        /// The URL, password masked.
        url: String,
        /// The cause.
        cause: String,
    },
}

/// Connects to `database` (one connection) and applies what is missing; `embedded_broker` adds
/// the embedded broker's set.
///
/// # Errors
/// [`MigrateError`].
pub async fn run(database: &str, embedded_broker: bool) -> Result<Vec<Applied>, MigrateError> {
    let shown = redact::url(database);
    let store = Store::connect_with(database, PoolOptions::new(1))
        .await
        .map_err(|e| match e {
            StoreError::UnsupportedUrl(_) => MigrateError::Url(shown.clone()),
            other => MigrateError::Connect {
                url: shown.clone(),
                cause: cause(&other),
            },
        })?;
    let applied = if embedded_broker {
        store.migrate_embedded_broker().await
    } else {
        store.migrate().await
    };
    store.close().await;
    applied.map_err(|e| match e {
        StoreError::Migration { name, source, .. } => MigrateError::Migration {
            name,
            url: shown.clone(),
            cause: source.to_string(),
        },
        other => MigrateError::Connect {
            url: shown.clone(),
            cause: cause(&other),
        },
    })
}

/// The innermost cause's text: what the driver said, without the URL a wrapping error may
/// already have printed.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// What `conveyor migrate` prints: one line per migration applied, then the state.
#[must_use]
pub fn report(database: &str, embedded_broker: bool, applied: &[Applied]) -> String {
    let mut out = String::new();
    for m in applied {
        out.push_str(&format!("applied {m}\n"));
    }
    let schema = if embedded_broker {
        "with the embedded broker's tables"
    } else {
        "without the embedded broker's tables"
    };
    let count = match applied.len() {
        0 => "nothing to apply".to_owned(),
        1 => "1 migration applied".to_owned(),
        n => format!("{n} migrations applied"),
    };
    out.push_str(&format!(
        "{count}: {} is up to date ({schema})\n",
        redact::url(database)
    ));
    out
}

#[cfg(test)]
mod tests {
    use conveyor_store::MigrationSet;

    use super::*;

    #[test]
    fn reports_each_migration_and_masks_the_password() {
        let applied = [Applied {
            version: 8,
            name: "0008_inbox_received_at",
            set: MigrationSet::Core,
        }];
        assert_eq!(
            report("postgres://app:secret@db/x", false, &applied),
            "applied 0008_inbox_received_at\n1 migration applied: postgres://app:***@db/x is up to date (without the embedded broker's tables)\n"
        );
        assert_eq!(
            report("sqlite://x.db", true, &[]),
            "nothing to apply: sqlite://x.db is up to date (with the embedded broker's tables)\n"
        );
    }

    #[tokio::test]
    async fn a_bad_url_names_the_option_without_its_password() {
        let e = run("mysql://app:secret@db/x", false).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "--database (CONVEYOR_DATABASE_URL) must be a postgres://... or sqlite:... URL, not mysql://app:***@db/x"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_without_the_password() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let e = run("postgres://app:secret@127.0.0.1:1/x", false)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("cannot connect to the database at postgres://app:***@127.0.0.1:1/x"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
