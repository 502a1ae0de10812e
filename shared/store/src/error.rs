//! Store errors.

use conveyor_domain::{IdError, QuantityError, UnknownState};

/// Anything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database rejected or could not run a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database could not be reached, refused the TLS handshake or the login.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL with its password masked ([`crate::redact::url`]).
        url: String,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Migration number.
        version: i64,
        /// Migration file.
        name: &'static str,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// The database refused the credentials, also after they were read again.
    #[error(
        "the database refused the credentials from {from}, also after reading them again: {cause}; check that the secret holds the role's current password"
    )]
    CredentialsRefused {
        /// Where the credentials came from.
        from: String,
        /// The refusal.
        #[source]
        cause: sqlx::Error,
    },
    /// The database refused the credentials and reading them again failed.
    #[error(
        "the database refused the credentials and reading them again from {from} failed: {reason}"
    )]
    CredentialsUnavailable {
        /// Where the credentials come from.
        from: String,
        /// Why they could not be read.
        reason: String,
    },
    /// The URL names no supported backend.
    #[error("unsupported database url {0:?}: use postgres://... or sqlite:...")]
    UnsupportedUrl(String),
    /// A stored row does not decode into the domain type (corrupt or foreign data).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What did not decode.
        reason: String,
    },
}

impl StoreError {
    /// A connection to `url` that failed; the password never reaches the message.
    pub fn connect(url: &str, source: sqlx::Error) -> Self {
        Self::Connect {
            url: crate::redact::url(url),
            source,
        }
    }

    /// A URL naming no supported backend, kept without its password.
    pub fn unsupported_url(url: &str) -> Self {
        Self::UnsupportedUrl(crate::redact::url(url))
    }

    /// A row that does not decode.
    pub fn corrupt(table: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            table,
            reason: reason.to_string(),
        }
    }

    /// Whether retrying later may succeed (connection trouble, lock timeouts, serialization
    /// failures) as opposed to a bug or corrupt data.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(e) => !matches!(
                e,
                sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::Decode(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            // A wrong setting (a bad URL option, a certificate that does not verify: rustls
            // reports it as invalid data) stays wrong.
            Self::Connect { source, .. } => match source {
                sqlx::Error::Configuration(_) | sqlx::Error::Tls(_) => false,
                sqlx::Error::Io(e) => e.kind() != std::io::ErrorKind::InvalidData,
                _ => true,
            },
            // The secret may be put right, or its rotation finish: retry, never drop.
            Self::CredentialsRefused { .. } | Self::CredentialsUnavailable { .. } => true,
            Self::Migration { .. } | Self::UnsupportedUrl(_) | Self::Corrupt { .. } => false,
        }
    }

    /// Whether the server refused the login (PostgreSQL `28P01` invalid password, `28000`
    /// invalid authorization, e.g. no `pg_hba.conf` entry): the credentials may have rotated.
    #[must_use]
    pub fn is_authentication_failure(&self) -> bool {
        match self {
            Self::Database(e) | Self::Connect { source: e, .. } => {
                crate::credentials::is_auth_failure(e)
            }
            _ => false,
        }
    }
}

macro_rules! corrupt_from {
    ($($err:ty),+) => {$(
        impl From<$err> for StoreError {
            fn from(e: $err) -> Self {
                Self::Corrupt { table: "row", reason: e.to_string() }
            }
        }
    )+};
}
corrupt_from!(IdError, QuantityError, UnknownState, serde_json::Error);
